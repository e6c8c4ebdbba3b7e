"""The adaptive default against RK4 on AdEx: cost per step, numpy and c.

Same script, same run: AdEx (Brette & Gerstner 2005, V_cut = V_T + 5 Delta_T,
``tests/test_adaptive.py``), N neurons with step currents uniform in
0.3-1.5 nA, float64, default tolerances, at dt = 0.1 and 1 ms.  The neurons
start at random V in [-70.6, -45] mV and w in [0, 100] pA (so they fire out
of phase, as in a network), then T steps are timed, best of R, runs of the
two methods alternating (each repeat continues the run); the ratio
adaptive / RK4 is the cost of the default.  The c backend runs on one
thread.

    python bench/adaptive.py        # N = 1e5; goal at dt = 0.1: <= 3x on c, <= 5x on numpy
    python bench/adaptive.py --n 1e4 --steps 100 --repeats 2
    python bench/adaptive.py --clock cpu   # CPU time: steadier on a shared machine
    python bench/adaptive.py --adaptive "adaptive(rtol=1e-7)"   # other tolerances
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from test_adaptive import ADEX  # noqa: E402  (the model the accuracy tests check)

import eqsnn  # noqa: E402
from eqsnn.pipeline import EqsnnWarning  # noqa: E402


def simulator(method: str, backend: str, n: int, dt: float, current):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EqsnnWarning)
        model = eqsnn.compile(ADEX + f"    method: {method}\n")
    sim = eqsnn.Simulator(model, n, dt=dt, backend=backend, precision="float64", check=False)
    if backend == "c":
        sim._runner.threads = 1
    generator = np.random.default_rng(1)
    sim.set_state("V", generator.uniform(-70.6, -45.0, n))
    sim.set_state("w", generator.uniform(0.0, 100.0, n))
    return sim


def arguments(description: str, steps: int, repeats: int):
    """``(args, n, current)``: the command line's --n, --steps and --repeats, and the step
    currents of the benchmark's neurons (uniform in 0.3-1.5 nA)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--n", type=float, default=1e5)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--repeats", type=int, default=repeats)
    args = parser.parse_args()
    n = int(args.n)
    return args, n, np.random.default_rng(0).uniform(300.0, 1500.0, n)

def time_runs(sim, current, steps: int, repeats: int, warm_up: int = 10) -> float:
    """Best CPU ms per step of ``repeats`` runs of ``steps`` steps, after ``warm_up`` steps."""
    best = float("inf")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EqsnnWarning)
        sim.run(warm_up, inputs={"I": current}, progress=False)
        for _ in range(repeats):
            began = time.process_time()
            sim.run(steps, inputs={"I": current}, progress=False)
            best = min(best, time.process_time() - began)
    return 1e3 * best / steps

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=float, default=1e5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="numpy,c")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: this process's CPU time (steadier on a shared machine)")
    parser.add_argument("--adaptive", default="adaptive",
                        help="the adaptive method as the model text names it, e.g. "
                             "'adaptive(rtol=1e-7)' (default: the default tolerances)")
    args = parser.parse_args()
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    n = int(args.n)
    current = np.random.default_rng(0).uniform(300.0, 1500.0, n)
    print(f"AdEx, N = {n:.0e}, float64, T = {args.steps} steps, best of {args.repeats}; "
          f"ms per step ({args.clock} time)")
    print("| backend | dt (ms) | RK4 | adaptive | adaptive / RK4 |")
    print("|---|---|---|---|---|")
    for backend in args.backends.split(","):
        for dt in (0.1, 1.0):
            sims = {m: simulator(method, backend, n, dt, current)
                    for m, method in (("rk4", "rk4"), ("adaptive", args.adaptive))}
            best = dict.fromkeys(sims, float("inf"))
            for _ in range(args.repeats):
                for method, sim in sims.items():
                    began = clock()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", EqsnnWarning)
                        sim.run(args.steps, inputs={"I": current}, progress=False)
                    best[method] = min(best[method], clock() - began)
            rk4, adaptive = (1e3 * best[m] / args.steps for m in ("rk4", "adaptive"))
            print(f"| {backend} | {dt:g} | {rk4:.3f} | {adaptive:.3f} | {adaptive / rk4:.2f}x |",
                  flush=True)


if __name__ == "__main__":
    main()
