"""Which embedded Runge–Kutta pair the whole-step try of the adaptive method should be.

The try (``eqsnn/solve/adaptive.py``, ``_fast_substep``) takes each neuron's whole step in
one substep; where the error estimate exceeds the tolerance (or the threshold is crossed)
the neuron is deferred to the substep loop, which costs some 25 times a try.  A pair with
fewer stages makes the try cheaper but its lower-order error estimate rejects more steps.
This script counts, for AdEx (``tests/test_adaptive.py``, step currents 0.3–1.5 nA) at
dt = 0.1 ms and the float64 default tolerances, the share of steps whose whole-step try
each pair rejects, starting every step from a converged reference state (DOP853,
rtol = atol = 1e-11, reset at the located crossing), after 100 ms of settling.

    python bench/adaptive_pairs.py
    python bench/adaptive_pairs.py --dt 1.0 --ms 400

Pairs: Cash–Karp 5(4) (six stages, the try's), Dormand–Prince 5(4) (seven, the loop's),
Merson 4("5") (five) and Zonneveld 4(3) (five: classical RK4 and one stage more).
"""

from __future__ import annotations

import argparse
import os
import sys
from fractions import Fraction as F

import numpy as np
from scipy.integrate import solve_ivp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from test_adaptive import ADEX_P, adex_rhs  # noqa: E402

from eqsnn.solve import tableaux  # noqa: E402
from eqsnn.solve.adaptive import DEFAULT_TOLERANCES  # noqa: E402

# (stage weights, higher-order weights, error weights = higher - lower order)
PAIRS = {
    "Cash-Karp 5(4), 6 stages": (tableaux.CK_A, tableaux.CK_B, tableaux.CK_E),
    "Dormand-Prince 5(4), 7 stages": (tableaux.DP_A + (tableaux.DP_B[:6],),
                                      tableaux.DP_B + (0,), tableaux.DP_E),
    "Merson 4(5), 5 stages": (
        ((), (F(1, 3),), (F(1, 6), F(1, 6)), (F(1, 8), 0, F(3, 8)), (F(1, 2), 0, F(-3, 2), 2)),
        (F(1, 6), 0, 0, F(2, 3), F(1, 6)),
        tuple(a - b for a, b in zip((F(1, 6), 0, 0, F(2, 3), F(1, 6)),
                                    (F(1, 10), 0, F(3, 10), F(2, 5), F(1, 5))))),
    "Zonneveld 4(3), 5 stages": (
        ((), (F(1, 2),), (0, F(1, 2)), (0, 0, 1), (F(5, 32), F(7, 32), F(13, 32), F(-1, 32))),
        (F(1, 6), F(1, 3), F(1, 3), F(1, 6), 0),
        tuple(a - b for a, b in zip((F(1, 6), F(1, 3), F(1, 3), F(1, 6), 0),
                                    (F(-1, 2), F(7, 3), F(7, 3), F(13, 6), F(-16, 3))))),
}


def scaled_error(pair, y, current, h, rtol, atol) -> tuple[float, np.ndarray]:
    """The try's mean square scaled error (``_error_control``) and its solution."""
    a, b, e = ([float(x) for x in row] for row in pair[0]), pair[1], pair[2]
    stages = []
    for row in a:
        state = y + h * sum((w * k for w, k in zip(row, stages)), np.zeros_like(y))
        stages.append(np.asarray(adex_rhs(0.0, state, current)))
    k = np.array(stages)
    solution = y + h * (np.array([float(x) for x in b]) @ k)
    estimate = h * (np.array([float(x) for x in e]) @ k)
    scale = atol + rtol * np.maximum(np.abs(y), np.abs(solution - y))
    return float(np.mean((estimate / scale) ** 2)), solution


def reference_states(current: float, dt: float, ms: float, settle: float) -> np.ndarray:
    """The converged state at every step start in [settle, ms)."""
    grid = np.arange(0.0, ms, dt)
    at = []
    y, start = np.array([ADEX_P["v_reset"], 0.0]), 0.0

    def crossing(t, y, current):
        return y[0] - ADEX_P["v_peak"]
    crossing.terminal, crossing.direction = True, 1
    while start < ms:
        run = solve_ivp(adex_rhs, (start, ms), y, args=(current,), method="DOP853", rtol=1e-11,
                        atol=1e-11, events=crossing, dense_output=True)
        inside = grid[(grid >= start) & (grid < run.t[-1])]
        at += [run.sol(t) for t in inside]
        if run.status != 1:
            break
        y = run.y[:, -1].copy()
        y[0], y[1] = ADEX_P["v_reset"], y[1] + ADEX_P["b"]
        start = run.t[-1]
    return np.array(at[int(round(settle / dt)):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dt", type=float, default=0.1)
    parser.add_argument("--ms", type=float, default=400.0)
    parser.add_argument("--settle", type=float, default=100.0)
    parser.add_argument("--currents", type=int, default=13, help="currents in 0.3-1.5 nA")
    args = parser.parse_args()
    rtol, atol = DEFAULT_TOLERANCES["float64"]
    rejected = dict.fromkeys(PAIRS, 0)
    steps = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for current in np.linspace(300.0, 1500.0, args.currents):
            states = reference_states(current, args.dt, args.ms, args.settle)
            steps += len(states)
            for name, pair in PAIRS.items():
                rejected[name] += sum(not scaled_error(pair, y, current, args.dt, rtol, atol)[0]
                                      <= 1.0 for y in states)
    print(f"AdEx, dt = {args.dt} ms, rtol = {rtol:g}, atol = {atol:g}, {steps} steps of "
          f"{args.currents} neurons")
    print("| pair | whole-step tries rejected |")
    print("|---|---|")
    for name, count in rejected.items():
        print(f"| {name} | {100.0 * count / steps:.2f} % |")


if __name__ == "__main__":
    main()
