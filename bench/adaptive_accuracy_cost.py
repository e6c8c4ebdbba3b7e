"""Cost at equal accuracy: the adaptive default against RK4 at smaller steps, on AdEx.

``bench/adaptive.py`` compares the two at the same dt, where RK4 is wrong (it resets up
to a step late and puts most spikes in other steps than the reference's).  Here RK4 gets
the dt it needs.  Accuracy (float64, the 5 neurons of ``tests/test_adaptive.py``,
0.3-1.5 nA, 400 ms): against ``solve_ivp`` (DOP853, rtol = atol = 1e-11, the crossing as
an event, the reset applied there), the spike-count error summed over the neurons, the
mean and largest error of the spike times (a step's time plus ``Result.spikes.offset``:
the end of the step for a method that resets on the grid, the located crossing for the
adaptive method), and the share of spikes in the reference's step.  Cost: ``c`` on one
thread, N = 1e5 (I uniform in 0.3-1.5 nA), CPU time per simulated millisecond.

    python bench/adaptive_accuracy_cost.py
    python bench/adaptive_accuracy_cost.py --n 1e4 --steps 20
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from adaptive import arguments, simulator, time_runs  # noqa: E402  (bench/ is on sys.path)
from test_adaptive import ADEX, ADEX_I, ADEX_P, adex_rhs, reference  # noqa: E402

import eqsnn  # noqa: E402
from eqsnn.pipeline import EqsnnWarning  # noqa: E402

RUNS = [("adaptive", 1.0), ("adaptive", 0.1)] + [("rk4", dt) for dt in
                                                  (0.1, 0.05, 0.02, 0.01, 0.005, 0.002)]
DURATION = 400.0  # ms


def accuracy(method: str, dt: float, references) -> tuple[int, float, float, float]:
    """(spike-count error, mean and largest spike-time error in ms, share in the step)."""
    steps = int(round(DURATION / dt))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EqsnnWarning)
        model = eqsnn.compile(ADEX + f"    method: {method}\n")
        sim = eqsnn.Simulator(model, len(ADEX_I), dt=dt, backend="c", precision="float64")
        record = ["spikes", "spike_offset"] if method == "adaptive" else ["spikes"]
        spikes = sim.run(steps, inputs={"I": ADEX_I}, record=record).spikes
    count_error, errors, same, total = 0, [], 0, 0
    for j, ref_times in enumerate(references):
        mine = spikes.neuron == j
        times = spikes.times[mine] + spikes.offset[mine]
        count_error += abs(len(times) - len(ref_times))
        k = min(len(times), len(ref_times))
        errors.extend(np.abs(times[:k] - ref_times[:k]))
        same += int(np.count_nonzero(spikes.step[mine][:k]
                                     == np.floor(ref_times[:k] / dt + 1e-9).astype(int)))
        total += len(ref_times)
    errors = np.asarray(errors)
    return count_error, float(errors.mean()), float(errors.max()), same / total


def cost(method: str, dt: float, n: int, steps: int, repeats: int, current) -> float:
    """CPU ms per simulated ms on ``c``, one thread, best of ``repeats`` runs."""
    return time_runs(simulator(method, "c", n, dt, current), current, steps, repeats, 5) / dt


def main() -> None:
    args, n, current = arguments(__doc__.split("\n")[0], 40, 3)
    # spike times do not depend on the grid: one reference, on the coarsest grid
    references = []
    for amp in ADEX_I:
        _, times = reference(adex_rhs, [-70.6, 0.0], (amp,), ADEX_P["v_peak"],
                             lambda y: np.array([ADEX_P["v_reset"], y[1] + ADEX_P["b"]]),
                             1.0, int(DURATION))
        references.append(times)
    spikes = sum(len(times) for times in references)
    print(f"AdEx, {len(ADEX_I)} neurons, {DURATION:g} ms, {spikes} reference spikes; cost: c, "
          f"one thread, N = {n:.0e}, CPU ms per simulated ms")
    print("| method | dt (ms) | count error | mean spike-time error (ms) | largest (ms) | "
          "in the reference's step | cost | cost / adaptive at dt = 0.1 |")
    print("|---|---|---|---|---|---|---|---|")
    base = None
    for method, dt in RUNS:
        count, mean, worst, share = accuracy(method, dt, references)
        ms = cost(method, dt, n, args.steps, args.repeats, current)
        base = ms if (method, dt) == ("adaptive", 0.1) else base
        relative = f"{ms / base:.2f}" if base else "–"
        print(f"| {method} | {dt:g} | {count} | {mean:.2e} | {worst:.2e} | {100 * share:.0f} % "
              f"| {ms:.2f} | {relative} |", flush=True)


if __name__ == "__main__":
    main()
