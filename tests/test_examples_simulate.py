"""Every example simulates on the NumPy backend; linear ones match solve_ivp and closed forms."""

from __future__ import annotations

import glob
import math
import os
import warnings

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import eqsnn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(ROOT, "examples/*.eqs")))
SMALL_DT = {"adex": 0.1, "hh": 0.01, "izhikevich": 0.5, "coba_lif": 0.1}


def load(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return eqsnn.load(os.path.join(ROOT, "examples", f"{name}.eqs"))


@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_every_example_runs_and_spikes_with_default_inputs(name, precision):
    model = load(name)
    dt = SMALL_DT.get(name, 1.0)
    sim = eqsnn.Simulator(model, 4, dt=dt, precision=precision, batch_size=2)
    steps = int(round(200.0 / dt))
    result = sim.run(steps, record=["spikes"])
    assert len(result.spikes.step) > 0, f"{name} did not spike in 200 ms"
    for state in model.ir.states:
        assert np.all(np.isfinite(sim.state[state.name].astype(float)))


def trajectory_between_spikes(rhs, result, names, dt, atol, kicks=()):
    """Integrate from every post-reset state to the next spike and compare each step.

    ``kicks`` are steps whose 'after' statements jump a state (pulse input); like a
    reset, they end a stretch of pure ODE flow.
    """
    values = np.stack([result.vars[n][:, 0, 0] for n in names], axis=1)
    spikes = set(result.spikes.step[result.spikes.neuron == 0].tolist()) | set(kicks)
    start = 0
    checked = 0
    while start < len(values) - 1:
        end = start + 1
        while end < len(values) - 1 and end not in spikes:
            end += 1
        times = dt * np.arange(0, end - start + 1)
        sol = solve_ivp(rhs, (0, times[-1]), values[start], t_eval=times, method="DOP853",
                        rtol=1e-12, atol=1e-14)
        # up to the spike step itself the state follows the ODE (reset comes after)
        expected = sol.y.T[1:]
        actual = values[start + 1:end + 1]
        if end in spikes:
            expected, actual = expected[:-1], actual[:-1]
        np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=atol)
        checked += len(actual)
        start = end
    return checked


def test_lif_held_matches_solve_ivp_between_spikes():
    model = load("lif_held")
    sim = eqsnn.Simulator(model, 1, dt=0.1, precision="float64", params={"tau_refrac": 0.0})
    result = sim.run(800, inputs={"I": 20.0}, record=["V", "spikes"])

    def rhs(t, y):
        return [(-65.0 - y[0] + 20.0) / 20.0]

    assert trajectory_between_spikes(rhs, result, ["V"], 0.1, 1e-9) > 500
    # closed form: from v_reset the membrane reaches v_thresh after
    # T = tau ln((v_inf - v_reset) / (v_inf - v_thresh)); spikes on the step grid after it
    v_inf = -65.0 + 20.0
    crossing = 20.0 * math.log((v_inf + 65.0) / (v_inf + 50.0))
    first = int(math.ceil(crossing / 0.1 - 1e-9)) - 1
    assert result.spikes.step[0] == first
    assert np.all(np.diff(result.spikes.step) == first + 1)


@pytest.mark.parametrize("name,names,rhs_of", [
    ("lif_expsyn", ["V", "I"], lambda p: lambda t, y: [(y[1] - y[0]) / 20.0, -y[1] / 5.0]),
    ("lif_alpha", ["V", "I", "x"], lambda p: lambda t, y: [(y[1] - y[0]) / 20.0,
                                                           (y[2] - y[1]) / 5.0, -y[2] / 5.0]),
    ("two_compartment", ["V_soma", "V_dend"], lambda p: lambda t, y: [
        (-y[0] + 0.5 * (y[1] - y[0])) / 10.0, (-y[1] + 0.5 * (y[0] - y[1]) + 30 * 0.2) / 30.0]),
])
def test_coupled_linear_examples_match_solve_ivp_between_spikes(name, names, rhs_of):
    model = load(name)
    sim = eqsnn.Simulator(model, 1, dt=0.25, precision="float64")
    steps = 1200
    inputs = {}
    if name in ("lif_expsyn", "lif_alpha"):
        pulses = np.zeros((steps, 1, 1))
        pulses[::40] = 3.0
        inputs = {"Isyn": pulses}
    result = sim.run(steps, inputs=inputs, record=names + ["spikes"])
    assert len(result.spikes.step) > 0
    # the pulses jump I (or x) after the integration: split the trajectory there too
    kicks = range(0, steps, 40) if inputs else ()
    assert trajectory_between_spikes(rhs_of(None), result, names, 0.25, 1e-10, kicks) > 800


def test_integrator_spikes_at_the_closed_form_steps():
    model = load("integrator")
    sim = eqsnn.Simulator(model, 1, dt=0.5, precision="float64")
    result = sim.run(100, inputs={"I": 0.8}, record=["V", "spikes"])
    # V grows by 0.8/10*0.5 = 0.04 per step; relative reset keeps the remainder
    expected = [k for k in range(100) if math.floor((k + 1) * 0.04 + 1e-12) >
                math.floor(k * 0.04 + 1e-12)]
    assert result.spikes.step.tolist() == expected
    np.testing.assert_allclose(result.vars["V"][:, 0, 0],
                               [((k + 1) * 0.04) % 1.0 for k in range(100)], atol=1e-12)


def test_lif_pulse_spikes_match_the_closed_form():
    # V_n = I (1 - alpha^n) / (1 - alpha): the first crossing of 1, then relative resets
    model = load("lif_pulse")
    sim = eqsnn.Simulator(model, 1, precision="float64")
    result = sim.run(60, record=["spikes"])
    alpha = math.exp(-1 / 20)
    n = next(k for k in range(1, 60) if 0.1 * (1 - alpha**k) / (1 - alpha) >= 1.0)
    assert result.spikes.step[0] == n - 1
    assert result.spikes.step.tolist() == [13, 27, 40, 54]
