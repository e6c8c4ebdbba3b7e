"""eqsnn against its peers on the same LIF: Brian2 (numpy, cython) and PyGeNN.

The model is ml_genn's LeakyIntegrateFire with scale_i=True — the exact
solution of tau dV/dt = I - V with I held over the step — with a constant
per-neuron input, threshold 1 and relative reset, N = 1e4, 1e5, 1e6 neurons,
T = 1000 steps of 1 ms, float32 where the peer allows it (Brian2 is float64).
Each simulator first runs a few warm-up steps (code generation and
compilation are not timed), then the timed T steps, with no recording.
All ratios are eqsnn's speed over the peer's, measured in this one run.

    python bench/peers.py [--quick]

Brian2 comes from the ``bench`` extra (pip install "eqsnn[bench]"); PyGeNN
is used if importable.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import eqsnn  # noqa: E402
from eqsnn.neurons import LeakyIntegrateFire  # noqa: E402

TAU, DT = 20.0, 1.0


def inputs(n):
    return np.random.default_rng(0).uniform(0.9, 1.5, n)


def time_eqsnn(backend, n, steps):
    sim = eqsnn.Simulator(LeakyIntegrateFire(tau_mem=TAU, scale_i=True), n, dt=DT,
                          backend=backend, precision="float32")
    current = inputs(n).astype(np.float32)
    sim.run(10, inputs={"Isyn": current}, progress=False)
    start = time.perf_counter()
    sim.run(steps, inputs={"Isyn": current}, progress=False)
    return time.perf_counter() - start


def time_brian2(target, n, steps):
    import brian2 as b2

    b2.start_scope()
    b2.prefs.codegen.target = target
    b2.defaultclock.dt = DT * b2.ms
    group = b2.NeuronGroup(n, "dv/dt = (I - v) / tau : 1\nI : 1\ntau : second (shared)",
                           threshold="v >= 1", reset="v -= 1", method="exact")
    group.tau = TAU * b2.ms
    group.I = inputs(n)
    net = b2.Network(group)
    net.run(10 * DT * b2.ms)
    start = time.perf_counter()
    net.run(steps * DT * b2.ms)
    return time.perf_counter() - start


def time_pygenn(n, steps):
    import pygenn

    model_def = pygenn.create_neuron_model(
        "lif_scaled", params=["Alpha"], vars=[("V", "scalar"), ("I", "scalar")],
        sim_code="V = (Alpha * V) + ((1.0 - Alpha) * I);",
        threshold_condition_code="V >= 1.0", reset_code="V -= 1.0;")
    with tempfile.TemporaryDirectory() as folder:
        model = pygenn.GeNNModel("float", "peers", backend="single_threaded_cpu",
                                 optimize_code=True)
        model.dt = DT
        model.add_neuron_population("pop", n, model_def, {"Alpha": float(np.exp(-DT / TAU))},
                                    {"V": 0.0, "I": inputs(n)})
        model.build(folder)
        model.load()
        for _ in range(10):
            model.step_time()
        start = time.perf_counter()
        for _ in range(steps):
            model.step_time()
        return time.perf_counter() - start


def available(name):
    try:
        __import__(name)
        return True
    except ImportError:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 1e4, 1e5 and T = 200")
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    steps = 200 if args.quick else 1000
    runners = {"eqsnn numpy": lambda n: time_eqsnn("numpy", n, steps),
               "eqsnn c": lambda n: time_eqsnn("c", n, steps)}
    if available("brian2"):
        runners["brian2 numpy"] = lambda n: time_brian2("numpy", n, steps)
        runners["brian2 cython"] = lambda n: time_brian2("cython", n, steps)
    if available("pygenn"):
        runners["pygenn cpu"] = lambda n: time_pygenn(n, steps)
    print(f"# LIF (scale_i, constant per-neuron input), T = {steps}, dt = {DT} ms; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d')}")
    print(f"{'N':>9s} " + " ".join(f"{name:>14s}" for name in runners) + "   (us/step)")
    rows = []
    for n in sizes:
        times = {name: run(n) / steps * 1e6 for name, run in runners.items()}
        rows.append((n, times))
        print(f"{n:9d} " + " ".join(f"{times[name]:14.1f}" for name in runners))
    print("\nratios (peer time / eqsnn time; > 1 means eqsnn is faster)")
    for n, times in rows:
        parts = []
        for ours, peer in (("eqsnn numpy", "brian2 numpy"), ("eqsnn c", "brian2 cython"),
                           ("eqsnn c", "pygenn cpu"), ("eqsnn numpy", "pygenn cpu")):
            if peer in times:
                parts.append(f"{ours} vs {peer}: {times[peer] / times[ours]:.2f}x")
        print(f"{n:9d}  " + "; ".join(parts))


if __name__ == "__main__":
    main()
