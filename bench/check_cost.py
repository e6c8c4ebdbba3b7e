"""The cost of the numerical check (``Simulator(check=True)``, the default) on LIF.

Same script, same run: the LIF of ``bench/lif_models.py`` (float32, dt = 1 ms,
per-neuron constant input, nothing recorded) for T steps, with the check and
with ``check=False``, on the ``c`` backend (one thread and the default threads)
and on ``numpy``; runs alternate, best of R.  The ratio checked / unchecked
is the cost.

    python bench/check_cost.py                 # N = 1e6, T = 1000 (the goal: < 2 % on c)
    python bench/check_cost.py --n 1e5 --steps 200 --repeats 3
    python bench/check_cost.py --fast-math --precision float64
    python bench/check_cost.py --hard-reset    # V = v_reset: V is tested in every step
    python bench/check_cost.py --bounds        # V (> -1000, < 1000): tested in every step,
                                               # and by the reset's own test where it spikes
    python bench/check_cost.py --cpu-time      # CPU seconds of the process, not wall time

The LIF's reset ``V -= v_thresh - v_reset`` keeps a NaN or inf in V, so its test waits for
a second pass that runs only where V is not finite at the end of the run
(``eqsnn.runtime.checks.sticky_states``); with ``--hard-reset`` it is made in every step.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lif_models import LIF  # noqa: E402  (bench/ is on sys.path)

import eqsnn  # noqa: E402


def simulator(backend: str, n: int, check: bool, threads: int | None, precision="float32",
              fast_math=False, text=LIF):
    sim = eqsnn.Simulator(eqsnn.compile(text), n, dt=1.0, backend=backend, check=check,
                          precision=precision, fast_math=fast_math)
    if threads is not None:
        sim._runner.threads = threads
    return sim


def best_of(sims, steps: int, current, repeats: int, clock=time.perf_counter) -> list[float]:
    best = [float("inf")] * len(sims)
    for _ in range(repeats):
        for k, sim in enumerate(sims):
            sim.reset()
            began = clock()
            sim.run(steps, inputs={"Isyn": current}, progress=False)
            best[k] = min(best[k], clock() - began)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=float, default=1e6)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--precision", default="float32", choices=["float32", "float64"])
    parser.add_argument("--fast-math", action="store_true")
    parser.add_argument("--hard-reset", action="store_true")
    parser.add_argument("--bounds", action="store_true")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time by the process's CPU seconds (a loaded machine)")
    args = parser.parse_args()
    n = int(args.n)
    current = np.random.default_rng(0).uniform(0.0, 0.1, n).astype(args.precision)
    text = LIF.replace("reset: V -= v_thresh - v_reset", "reset: V = v_reset")
    assert text != LIF
    text = text if args.hard_reset else LIF
    if args.bounds:
        text = text.replace("state V = 0.0", "state V = 0.0 (> -1000, < 1000)")
    print(f"LIF{' (hard reset)' * args.hard_reset}{' (V bounded)' * args.bounds}, "
          f"N = {n:.0e}, T = {args.steps}, "
          f"{args.precision}"
          f"{', fast_math' if args.fast_math else ''}, best of {args.repeats}"
          f"{', CPU time' if args.cpu_time else ''}")
    print("| backend | unchecked (ms/step) | checked (ms/step) | cost |")
    print("|---|---|---|---|")
    for backend, threads in (("c", 1), ("c", None), ("numpy", None)):
        sims = [simulator(backend, n, check, threads, args.precision, args.fast_math, text)
                for check in (False, True)]
        clock = time.process_time if args.cpu_time else time.perf_counter
        plain, checked = best_of(sims, args.steps, current, args.repeats, clock)
        label = backend + ("" if threads is None else f", {threads} thread")
        print(f"| {label} | {1e3 * plain / args.steps:.3f} | {1e3 * checked / args.steps:.3f} "
              f"| {100 * (checked / plain - 1):+.1f} % |", flush=True)


if __name__ == "__main__":
    main()
