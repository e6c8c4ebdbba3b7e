"""Hodgkin–Huxley (``examples/hh.eqs``) with ``method: adaptive`` against ``solve_ivp``.

HH is conditionally linear, so its default is exponential Euler, which freezes the gates
over a step: a first-order method whose spike times drift (about 5 ms in 200 ms at
dt = 0.1 ms, ``docs/numerics.md``).  A user who needs the spike times opts into the
adaptive method.  HH has no reset (a spike is an upward crossing of 0 mV, tested on the
grid against the state kept before the step), so its spikes stay in their step and the
integration inside the step does the rest.  The reference: DOP853 at rtol = atol = 1e-11
with the crossing of 0 mV as an event (nothing reset there), inputs held over each step.
"""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from test_adaptive import ADEX, compare

import eqsnn
from eqsnn.pipeline import EqsnnWarning

pytestmark = pytest.mark.c

HH = open("examples/hh.eqs").read()
CURRENTS = np.array([7.0, 10.0, 20.0, 40.0])  # uA/cm2: slow to fast firing
START = [-65.0, 0.0529, 0.5961, 0.3177]  # V (mV), m, h, n as in the example


def exprel(x):
    """(e^x - 1) / x, 1 at 0."""
    x = np.asarray(x, dtype=float)
    safe = np.where(x == 0.0, 1.0, x)
    return np.where(np.abs(x) < 1e-8, 1.0 + x / 2, np.expm1(safe) / safe)


def hh_rhs(t, y, current):
    V, m, h, n = y
    alpha_m, beta_m = 1 / exprel(-(V + 40) / 10), 4 * np.exp(-(V + 65) / 18)
    alpha_h, beta_h = 0.07 * np.exp(-(V + 65) / 20), 1 / (1 + np.exp(-(V + 35) / 10))
    alpha_n, beta_n = 0.1 / exprel(-(V + 55) / 10), 0.125 * np.exp(-(V + 65) / 80)
    return [current - 120 * m**3 * h * (V - 50) - 36 * n**4 * (V + 77) - 0.3 * (V + 54.387),
            alpha_m * (1 - m) - beta_m * m, alpha_h * (1 - h) - beta_h * h,
            alpha_n * (1 - n) - beta_n * n]


def run(method: str | None, dt: float, steps: int, record):
    text = HH if method is None else HH.rstrip() + f"\n    method: {method}\n"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EqsnnWarning)
        model = eqsnn.compile(text)
    sim = eqsnn.Simulator(model, len(CURRENTS), dt=dt, backend="c", precision="float64")
    return model, sim.run(steps, inputs={"I": CURRENTS}, record=record)


def references(dt: float, steps: int):
    """Per current: (the state at each step's end (steps, 4), the upward crossings of 0 mV);
    nothing is reset at a crossing, so one dense solution gives both."""
    def crossing(t, y, current):
        return y[0]
    crossing.direction = 1
    grid = np.arange(1, steps + 1) * dt
    out = []
    for current in CURRENTS:
        sol = solve_ivp(hh_rhs, (0.0, steps * dt), START, args=(current,), method="DOP853",
                        rtol=1e-11, atol=1e-11, events=crossing, dense_output=True)
        out.append((sol.sol(grid).T, sol.t_events[0]))
    return out


def test_hodgkin_huxley_with_the_adaptive_method_matches_solve_ivp():
    dt, steps = 0.1, 1500
    model, result = run("adaptive", dt, steps, ["V", "m", "h", "n", "spikes"])
    assert model.method == "adaptive"
    total = 0
    for j, (states, spikes) in enumerate(references(dt, steps)):
        total += compare(result, ("V", "m", "h", "n"), j, states, spikes, dt, steps)[0]
    assert total > 40


def test_the_default_exponential_euler_drifts_where_the_adaptive_method_does_not():
    """The claim of docs/numerics.md: at dt = 0.1 ms exponential Euler's spike times drift
    by milliseconds in 150 ms; the adaptive method's stay within their step (a spike's
    time is the end of its step, so its error is below dt)."""
    dt, steps = 0.1, 1500
    refs = [spikes for _, spikes in references(dt, steps)]
    errors = {}
    for method in (None, "adaptive"):
        model, result = run(method, dt, steps, ["spikes"])
        worst = 0.0
        for j, ref in enumerate(refs):
            mine = result.spikes.times[result.spikes.neuron == j] + dt
            k = min(len(mine), len(ref))
            worst = max(worst, float(np.abs(mine[:k] - ref[:k]).max()))
        errors[model.method] = worst
    assert errors["adaptive"] <= dt
    assert errors["exponential_euler"] > 20 * dt


def test_show_says_exponential_euler_is_first_order_and_points_to_the_adaptive_method():
    model = eqsnn.compile(HH)
    assert model.method == "exponential_euler"
    assert "first order" in model.reasons["exponential_euler"]
    assert "'method: adaptive' where spike times or accuracy matter" in model.reasons["adaptive"]
    # a nonlinear model's default is the adaptive method: nothing to point to
    assert "where spike times matter" not in str(eqsnn.compile(ADEX).reasons)


@pytest.mark.pygenn
@pytest.mark.skipif(importlib.util.find_spec("pygenn") is None, reason="needs PyGeNN")
def test_hodgkin_huxley_with_the_adaptive_method_runs_the_same_on_genn():
    text = HH.rstrip() + "\n    method: adaptive\n"
    runs = {}
    for backend in ("numpy", "pygenn"):
        sim = eqsnn.Simulator(eqsnn.compile(text), len(CURRENTS), dt=0.1, backend=backend,
                              precision="float64")
        runs[backend] = sim.run(500, inputs={"I": CURRENTS}, record=["V", "spikes"])
    assert len(runs["numpy"].spikes.step) > 10
    np.testing.assert_array_equal(runs["pygenn"].spikes.step, runs["numpy"].spikes.step)
    np.testing.assert_array_equal(runs["pygenn"].spikes.neuron, runs["numpy"].spikes.neuron)
    np.testing.assert_allclose(runs["pygenn"].vars["V"], runs["numpy"].vars["V"], rtol=0,
                               atol=1e-9)
