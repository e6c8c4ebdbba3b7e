"""Plastic connections: the cost of STDP against the same network with static weights.

    python bench/bench_plasticity.py [--n 1000] [--steps 1000] [--backend c]

A recurrent network of ``n`` leaky integrate-and-fire neurons (fixed in-degree
100, Delta synapses, weights 0.003) driven by a per-neuron random current, run
with static weights and with StdpAdditive on the same connection, at delays of
1 and 5 steps, float64, spikes recorded, compile time excluded (one untimed
run first).  The ratio is plastic / static in the same run on the same machine.
A plastic network runs in windows of one step, so at d = 5 it also loses the
5-step windows of the static one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("EQSNN_THREADS", "1")

import eqsnn  # noqa: E402
from eqsnn.network import Delta, FixedInDegree, Network, StdpAdditive  # noqa: E402

LIF = eqsnn.compile('''
neuron Lif
    param tau = 10.0 (> 0)
    state V = 0.0
    input Isyn = 0.0
    dV/dt = -V / tau
    after: V += Isyn
    threshold: V >= 1.0
    reset: V = 0.0
''')


def build(n, delay, plastic, backend):
    net = Network(dt=0.5, precision="float64", backend=backend, seed=1)
    pop = net.add_population("pop", LIF, n)
    rule = StdpAdditive(a_plus=0.0001, a_minus=0.000105, w_max=0.006) if plastic else None
    net.connect(pop, pop, Delta(), connectivity=FixedInDegree(100, autapses=False),
                weight=0.003, delay=delay, weight_update=rule)
    return net


def timed(net, steps, drive):
    net.run(10, inputs={"pop": {"Isyn": drive[:10]}})  # compile and warm up
    net.reset()
    t0 = time.perf_counter()
    res = net.run(steps, inputs={"pop": {"Isyn": drive}}, record={"pop": ["spikes"]})
    return time.perf_counter() - t0, res["pop"].spikes.step.size


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--backend", default="c")
    args = ap.parse_args()
    drive = np.random.default_rng(0).uniform(0.0, 0.09, (args.steps, 1, args.n))
    print(f"n={args.n} steps={args.steps} backend={args.backend} in-degree 100")
    print("delay | static s | plastic s | plastic/static | spikes static, plastic")
    for delay in (1, 5):
        static = timed(build(args.n, delay, False, args.backend), args.steps, drive)
        plastic = timed(build(args.n, delay, True, args.backend), args.steps, drive)
        print(f"{delay:5d} | {static[0]:8.3f} | {plastic[0]:9.3f} | {plastic[0] / static[0]:14.2f}"
              f" | {static[1]}, {plastic[1]}")


if __name__ == "__main__":
    main()
