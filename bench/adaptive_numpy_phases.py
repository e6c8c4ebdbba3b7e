"""Where the adaptive step's time goes on ``numpy``: the phases of eqsnn.backends.numpy_deferred.

Same model, stimulus and sizes as ``bench/adaptive.py`` (AdEx, N = 1e5, I uniform in
0.3-1.5 nA, float64, default tolerances, dt = 0.1 ms).  Each phase's emitted ``run`` is
wrapped in a CPU-time counter (the step is not changed); the rest of the step (finding
the deferred neurons, gathering and scattering them) is the step's time less the
phases'.  Also counted: the calls of the loop phase and the neurons of each call of the
cross phase.  RK4 is timed in the same run, for the ratios.

    python bench/adaptive_numpy_phases.py
    python bench/adaptive_numpy_phases.py --steps 100 --repeats 3 --n 2e4
"""

from __future__ import annotations

import os
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from adaptive import arguments, simulator, time_runs  # noqa: E402  (bench/ is on sys.path)

from eqsnn.pipeline import EqsnnWarning  # noqa: E402


def counted(programs: dict, totals: dict, counts: dict) -> None:
    """Wrap each phase program's ``run``: CPU seconds into ``totals``, calls and the
    cross phase's neurons into ``counts``."""
    for name, program in programs.items():
        def run(view, *args, _name=name, _run=program.run):
            began = time.process_time()
            out = _run(view, *args)
            totals[_name] = totals.get(_name, 0.0) + time.process_time() - began
            counts[_name] = counts.get(_name, 0) + 1
            if _name == "cross":
                counts["crossings"] = counts.get("crossings", 0) + view.neuron_id.size
            return out
        program.run = run


def main() -> None:
    args, n, current = arguments(__doc__.split("\n")[0], steps=40, repeats=5)
    dt = 0.1
    rk4 = time_runs(simulator("rk4", "numpy", n, dt, current), current, args.steps,
                    args.repeats)
    sim = simulator("adaptive", "numpy", n, dt, current)
    totals: dict = {}
    counts: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EqsnnWarning)
        sim.run(10, inputs={"I": current}, progress=False)
    counted(sim._runner.program.phases.programs, totals, counts)
    best, parts = float("inf"), {}
    for _ in range(args.repeats):
        totals.clear()
        counts.clear()
        began = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EqsnnWarning)
            sim.run(args.steps, inputs={"I": current}, progress=False)
        took = time.process_time() - began
        if took < best:
            best, parts = took, (dict(totals), dict(counts))
    totals, counts = parts
    step = 1e3 * best / args.steps
    print(f"AdEx, N = {n:.0e}, float64, dt = {dt} ms, {args.steps} steps, best of "
          f"{args.repeats}; CPU ms per step; RK4 {rk4:.3f} ms")
    print("| part | ms per step | / RK4 |")
    print("|---|---|---|")
    for name in ("try", "reject", "loop", "cross", "finish"):
        if name in totals:
            value = 1e3 * totals[name] / args.steps
            print(f"| {name} | {value:.3f} | {value / rk4:.2f}x |")
    rest = step - 1e3 * sum(totals.values()) / args.steps
    print(f"| the rest (deferred neurons found, gathered, scattered) | {rest:.3f} | "
          f"{rest / rk4:.2f}x |")
    print(f"| adaptive step | {step:.3f} | {step / rk4:.2f}x |")
    print(f"loop phase calls per step {counts.get('loop', 0) / args.steps:.2f}, cross phase "
          f"calls {counts.get('cross', 0) / args.steps:.2f}, crossings located per step "
          f"{counts.get('crossings', 0) / args.steps:.1f}")


if __name__ == "__main__":
    main()
