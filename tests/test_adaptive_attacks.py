"""The adaptive method attacked as a user would: resets whose order matters, thresholds the
method cannot locate inside the step, and what the reports say.

Oracles: scipy's ``solve_ivp`` with event location (:func:`test_adaptive.reference`),
with the model's reset applied at each event in the order written.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from test_adaptive import ADEX, IZHIKEVICH, adex_rhs, compare, reference
from test_pygenn_adaptive import harness as harness  # noqa: F401 (the fixture)

import eqsnn
from eqsnn.errors import NumericalError

pytestmark = pytest.mark.c


# the reset reads a state it assigned before: each spike resets V 5 mV lower than the last
COUNTING_RESET = ADEX.replace(
    "    state w = 0.0\n", "    state w = 0.0\n    state n: int = 0\n").replace(
    "    reset:\n        V = v_reset\n        w += b\n",
    "    reset:\n        n += 1\n        V = v_reset - 5 * n\n        w += b\n")


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_a_reset_that_reads_a_state_it_assigned_before_acts_in_its_written_order(backend):
    """``n += 1`` then ``V = v_reset - 5 * n``: at the crossing inside the step, V is reset
    with the n of this spike (as written), though n itself is counted at the step's end."""
    dt, steps, current = 0.1, 2000, 900.0
    resets = []

    def reset(y):
        resets.append(None)
        return np.array([-70.6 - 5 * len(resets), y[1] + 80.5])
    ref_states, ref_spikes = reference(adex_rhs, [-70.6, 0.0], (current,), -40.4, reset, dt,
                                       steps)
    model = eqsnn.compile(COUNTING_RESET)
    assert "crossings located and reset inside the step" in model.reasons["adaptive"]
    sim = eqsnn.Simulator(model, 1, dt=dt, backend=backend, precision="float64")
    result = sim.run(steps, inputs={"I": current}, record=["V", "w", "n", "spikes"])
    count, _, _ = compare(result, ["V", "w"], 0, ref_states, ref_spikes, dt, steps)
    assert count >= 5
    assert result.vars["n"][-1, 0, 0] == count  # counted once per spike


def test_a_runaway_past_a_threshold_tested_on_the_grid_names_the_reason_in_the_hint():
    """``or`` in the threshold: crossings are not located inside the step, so Izhikevich's
    v² runs away past v_peak at dt = 1 ms; the error says why and what to write instead."""
    text = IZHIKEVICH.replace("threshold: v >= v_peak", "threshold: v >= v_peak or u > 1e6")
    model = eqsnn.compile(text.replace("    threshold", "    method: adaptive(max_substeps=20)\n"
                                       "    threshold"))
    assert "spikes on the step grid" in model.reasons["adaptive"]
    sim = eqsnn.Simulator(model, 1, dt=1.0, precision="float64")
    with pytest.warns(eqsnn.EqsnnWarning, match="bound of 20 substeps"):
        with pytest.raises(NumericalError) as caught:
            sim.run(20, record=["spikes"])
    hint = caught.value.hint
    assert "tested only at the end of each step" in hint
    assert "the threshold is not one comparison" in hint  # the reason, from the analysis
    assert "crossings are reset inside the step" in hint
    # the plain threshold is reset inside the step at the same dt, and stays finite
    plain = eqsnn.Simulator(eqsnn.compile(IZHIKEVICH), 1, dt=1.0, precision="float64")
    assert len(plain.run(20, record=["spikes"]).spikes) >= 1


def test_a_reset_that_leaves_the_threshold_holding_is_named_in_the_warning():
    """``v = 40`` with ``v >= 30``: each reset is a crossing again at once (a smaller dt
    does not help); the warning names that cause."""
    text = IZHIKEVICH.replace("        v = c\n", "        v = 40.0\n")
    sim = eqsnn.Simulator(eqsnn.compile(text), 1, dt=1.0, precision="float64")
    with pytest.warns(eqsnn.EqsnnWarning, match="second threshold crossing") as caught:
        sim.run(5)
    assert any("reset leaves the threshold holding" in str(w.message) for w in caught)


@pytest.mark.parametrize("atol, accepted", [(1.0, True), (25.0, True), (0.0, False),
                                            (-1e-9, False), (1e400, False)])
def test_atol_is_in_the_units_of_the_states_so_it_may_be_one_or_more(atol, accepted):
    """A state counted in hundreds (w in pA here) may want an atol of 1 or more; only a
    positive finite atol makes sense."""
    text = ADEX + f"    method: adaptive(atol={atol!r})\n".replace("inf", "1e400")
    if not accepted:
        with pytest.raises(eqsnn.EqsnnError, match=r"atol must be a positive finite number")\
                as caught:
            eqsnn.compile(text)
        assert caught.value.line is not None and "units of the states" in caught.value.hint
        return
    sim = eqsnn.Simulator(eqsnn.compile(text), 1, dt=0.1, precision="float64")
    assert sim._params["_atol"] == atol
    assert len(sim.run(2000, inputs={"I": 900.0}, record=["spikes"]).spikes) >= 5


@pytest.mark.parametrize("name", ["counting_reset", "countdown"])
def test_the_copies_and_frozen_conditions_run_the_same_on_the_genn_code(harness, name):
    """The reset's copies at a crossing and the step-start ``unless`` conditions are GeNN
    code too (compiled here by the C stand-in for GeNN): the same spikes and states as
    numpy."""
    text, drive = {"counting_reset": (COUNTING_RESET, [600.0, 900.0, 1500.0]),
                   "countdown": (COUNTDOWN, [5.0, 10.0, 15.0])}[name]
    model = eqsnn.compile(text)
    states = [state for state in model.states if not state.startswith("_")]
    runs = []
    for backend in ("numpy", harness):
        sim = eqsnn.Simulator(model, 3, dt=0.5, backend=backend, precision="float64")
        runs.append(sim.run(600, inputs={"I": np.array(drive)}, record=states + ["spikes"]))
    reference, genn = runs
    assert len(reference.spikes) >= 10
    np.testing.assert_array_equal(genn.spikes.step, reference.spikes.step)
    np.testing.assert_array_equal(genn.spikes.neuron, reference.spikes.neuron)
    for state in states:
        np.testing.assert_allclose(genn.vars[state], reference.vars[state], rtol=0,
                                   atol=1e-7 * np.ptp(reference.vars[state]))


def test_fixed_substeps_on_a_model_whose_default_is_adaptive_are_refused():
    """``substeps: 4`` without ``method:`` on AdEx: the default adaptive method chooses its
    own substeps (the unrolled loop ran four adaptive steps of dt/4 with one set of hidden
    states on numpy, and did not compile on c); a named fixed-step method takes them."""
    with pytest.raises(eqsnn.EqsnnError, match="'substeps:' does not apply to the adaptive "
                                               "method") as caught:
        eqsnn.compile(ADEX + "    substeps: 4\n")
    assert caught.value.line == ADEX.count("\n") + 1 and "substeps: 4" in str(caught.value)
    assert "method: rk4" in caught.value.hint and "max_substeps" in caught.value.hint
    model = eqsnn.compile(ADEX + "    method: rk4\n    substeps: 4\n")
    assert model.method == "rk4" and "in 4 substeps per step" in model.reasons["rk4"]


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_a_state_set_above_the_threshold_spikes_at_the_start_of_the_first_step(backend):
    """``set_state`` puts V above v_peak before the run: the crossing is the step's start
    (offset 0), where V is reset, and the neuron below it is left alone."""
    sim = eqsnn.Simulator(eqsnn.compile(ADEX), 2, dt=1.0, backend=backend,
                          precision="float64")
    sim.set_state("V", np.array([10.0, -60.0]))
    result = sim.run(3, inputs={"I": 0.0}, record=["V", "w", "spikes", "spike_offset"])
    assert list(result.spikes.step) == [0] and list(result.spikes.neuron) == [0]
    assert result.spikes.offset[0] == 0.0
    V, w = result.vars["V"][:, 0], result.vars["w"][:, 0]
    assert -72.0 < V[0, 0] < -70.0 and w[0, 0] == pytest.approx(80.5, abs=1.0)  # reset at 0
    assert np.all(np.diff(V[:, 1]) < 0) and np.all(V[:, 1] > -70.6)  # decays, no spike


def test_an_unknown_recorded_name_is_answered_with_the_model_s_own_states_only():
    """The adaptive method's hidden states (``_substep``, ...) are not offered to a user
    who mistyped a state's name; they can still be recorded by their name."""
    sim = eqsnn.Simulator(eqsnn.compile(ADEX), 1, precision="float64")
    with pytest.raises(eqsnn.EqsnnError, match="unknown state 'VV'") as caught:
        sim.run(1, record=["VV"])
    assert caught.value.hint == "known states: V, spikes, w"
    assert sim.run(1, record=["_substep"]).vars["_substep"].shape == (1, 1, 1)
    with pytest.raises(eqsnn.EqsnnError, match="unknown state 'VV'") as caught:
        sim.set_state("VV", 0.0)
    assert caught.value.hint == "known states: V, w"
    with pytest.raises(eqsnn.EqsnnError, match="unknown state 'VV'") as caught:
        eqsnn.Simulator(eqsnn.compile(ADEX), 1, init={"VV": 0.0})
    assert caught.value.hint == "known states: V, w"


def test_a_tolerance_passed_as_a_param_points_to_the_method_option():
    with pytest.raises(eqsnn.EqsnnError, match=r"unknown param 'rtol'\n") as caught:
        eqsnn.Simulator(eqsnn.compile(ADEX), 1, params={"rtol": 1e-3})
    assert caught.value.hint == ("rtol is an option of the adaptive method, set in the model "
                                 "text: method: adaptive(rtol=...)")


def izhikevich_rhs(t, y, I):
    v, u = y
    return [0.04 * v * v + 5 * v + 140 - u + I, 0.02 * (0.2 * v - u)]


@pytest.mark.parametrize("threshold", ["abs(v + 100) >= v_peak + 100", "max(v, u) >= v_peak",
                                       "min(v, 2 * v_peak) >= v_peak"])
@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_thresholds_with_abs_max_or_min_are_located_inside_the_step(threshold, backend):
    """The Newton slope of such a threshold is piecewise (a sign, a step); it failed to
    compile (an internal error, or a Heaviside the printers cannot lower).  Here each is
    Izhikevich's v >= v_peak written another way: the spikes of the solve_ivp reference."""
    dt, steps = 1.0, 400
    ref_states, ref_spikes = reference(izhikevich_rhs, [-65.0, -13.0], (10.0,), 30.0,
                                       lambda y: np.array([-65.0, y[1] + 8.0]), dt, steps)
    model = eqsnn.compile(IZHIKEVICH.replace("threshold: v >= v_peak", f"threshold: {threshold}"))
    assert "crossings located and reset inside the step" in model.reasons["adaptive"]
    sim = eqsnn.Simulator(model, 1, dt=dt, backend=backend, precision="float64")
    result = sim.run(steps, inputs={"I": 10.0}, record=["v", "u", "spikes", "spike_offset"])
    count, _, _ = compare(result, ["v", "u"], 0, ref_states, ref_spikes, dt, steps)
    assert count >= 5
    np.testing.assert_allclose(result.spikes.times + result.spikes.offset, ref_spikes,
                               rtol=0, atol=1e-4)


def test_a_failure_after_the_substep_bound_was_reached_points_to_the_bound():
    """Izhikevich at dt = 1 ms with at most 3 substeps a step: the bound is reached, and the
    step taken in one substep runs away; the error's hint names the bound, not tighter
    tolerances (which need more substeps)."""
    text = IZHIKEVICH.replace("    threshold",
                              "    method: adaptive(max_substeps=3)\n    threshold")
    sim = eqsnn.Simulator(eqsnn.compile(text), 1, dt=1.0, precision="float64")
    with pytest.warns(eqsnn.EqsnnWarning, match="reached its bound of 3 substeps"):
        with pytest.raises(NumericalError) as caught:
            sim.run(20)
    assert "raise adaptive(max_substeps=...)" in caught.value.hint
    assert "tighten" not in caught.value.hint
    # with the default bound the same model runs finite
    assert len(eqsnn.Simulator(eqsnn.compile(IZHIKEVICH), 1, dt=1.0,
                               precision="float64").run(20, record=["spikes"]).spikes) >= 1


def test_compare_and_run_show_the_model_s_own_states_not_the_hidden_ones(capsys):
    """``eqsnn compare`` compared (and listed) the carried substep size and the spike
    offset of a one-state nonlinear model; they are not the model's states."""
    from eqsnn.tools.comparison import compare, float_states

    qif = eqsnn.compile("""
neuron Qif
    state v = -1.0
    input I = 0.5
    dv/dt = v * v + I
    threshold: v >= 10
    reset: v = -1.0
""")
    assert qif.method == "adaptive" and "_substep" in qif.states
    assert float_states(qif) == ["v"]
    report = compare(qif, backends=["numpy", "c"], steps=50, n=2, dt=0.5,
                     precision="float64")
    assert "_substep" not in str(report) and "v:" in str(report)


@pytest.mark.parametrize("value", ["nan", "inf", "tight"])
def test_a_method_option_that_is_not_a_number_is_answered_for_method_options(value):
    with pytest.raises(eqsnn.EqsnnError) as caught:
        eqsnn.compile(ADEX + f"    method: adaptive(rtol={value})\n")
    assert caught.value.line == ADEX.count("\n") + 1
    assert "e.g. adaptive(rtol=1e-6)" in str(caught.value)


def test_show_says_the_tolerances_and_the_bound_each_precision_runs_with():
    text = str(eqsnn.compile(ADEX))
    assert ("rtol 1e-08 (0.0001 in float32), atol 1e-09 (1e-06 in float32), at most 1000 "
            "substeps a step; crossings located and reset inside the step") in text
    given = eqsnn.compile(ADEX + "    method: adaptive(rtol=1e-6, max_substeps=50)\n")
    assert "rtol 1e-06, atol 1e-09 (1e-06 in float32), at most 50 substeps a step" in (
        given.reasons["adaptive"])


def test_a_random_draw_in_the_rest_of_a_counting_reset_keeps_crossings_in_the_step():
    """Only the states the reset's assignments to ODE states read are copied at the
    crossing: a draw for another state stays at the step's end, so crossings are still
    located inside the step (a draw at the crossing would put them on the grid)."""
    text = COUNTING_RESET.replace("    state n: int = 0\n",
                                  "    state n: int = 0\n    state jitter = 0.0\n").replace(
        "        n += 1\n", "        n += 1\n        jitter = rand_uniform()\n")
    model = eqsnn.compile(text)
    assert "crossings located and reset inside the step" in model.reasons["adaptive"]
    runs = {}
    for name, source in (("plain", COUNTING_RESET), ("draw", text)):
        sim = eqsnn.Simulator(eqsnn.compile(source), 1, dt=0.1, precision="float64")
        runs[name] = sim.run(2000, inputs={"I": 900.0}, record=["V", "spikes"])
    np.testing.assert_array_equal(runs["draw"].vars["V"], runs["plain"].vars["V"])
    assert len(runs["draw"].spikes) >= 5


# a countdown written as an ODE frozen by a condition on itself
COUNTDOWN = IZHIKEVICH.replace(
    "    state u = b * -65.0\n", "    state u = b * -65.0\n    state r = 0.0\n").replace(
    "    du/dt", "    dr/dt = -1.0 unless r <= 0\n    du/dt").replace(
    "        u += d\n", "        u += d\n        r = 2.5\n")


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_an_unless_condition_on_an_ode_state_freezes_for_whole_steps(backend):
    """``unless r <= 0`` holds at the start of the spike step: r keeps its value for the
    whole step, though the crossing's reset sets it to 2.5 inside it (it counted down from
    the crossing, the condition being re-evaluated at every substep), and counts down from
    the next step, as the language says and the fixed-step methods do."""
    dt, steps = 1.0, 300
    runs = {}
    for name, text in (("countdown", COUNTDOWN), ("plain", IZHIKEVICH)):
        sim = eqsnn.Simulator(eqsnn.compile(text), 1, dt=dt, backend=backend,
                              precision="float64")
        runs[name] = sim.run(steps, record=["v", "u", "spikes"] + ["r"] * (name != "plain"))
    ours, plain = runs["countdown"], runs["plain"]
    # r feeds nothing back (it enters the error norm only: the substeps may differ)
    np.testing.assert_allclose(ours.vars["v"], plain.vars["v"], rtol=0,
                               atol=1e-5 * np.ptp(plain.vars["v"]))
    np.testing.assert_array_equal(ours.spikes.step, plain.spikes.step)
    assert len(plain.spikes) >= 3
    expected, r = [], 0.0  # a plain loop: frozen where r <= 0 at the step's start
    for k in range(steps):
        r = r if r <= 0 else r - dt
        if k in set(plain.spikes.step.tolist()):
            r = 2.5
        expected.append(r)
    np.testing.assert_allclose(ours.vars["r"][:, 0, 0], expected, rtol=0, atol=1e-9)


def test_the_substep_bound_warning_names_a_neuron_of_a_shaped_population_by_its_index():
    """As a numerical error does: neuron 4 of a (2, 3) population is (1, 1)."""
    text = IZHIKEVICH.replace("    threshold",
                              "    method: adaptive(rtol=1e-3, atol=1e-3, max_substeps=3)\n"
                              "    threshold")
    sim = eqsnn.Simulator(eqsnn.compile(text), (2, 3), dt=1.0, precision="float64",
                          check=False)
    drive = np.zeros((2, 3))
    drive[1, 1] = 10.0  # only this neuron moves fast enough to need more than 3 substeps
    with pytest.warns(eqsnn.EqsnnWarning, match=r"\(lane 0, neuron 4 \(1, 1\)\)"):
        sim.run(20, inputs={"I": drive})


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_a_failure_of_a_model_without_threshold_after_the_bound_points_to_the_bound(backend):
    """With no threshold the analysis says 'spikes on the step grid: the model has no
    threshold'; that reason kept the usual hint, 'tighten its tolerances' (which needs more
    substeps), though the bound was reached: v hits 0 at t = 0.4 and sqrt(v) is NaN."""
    text = ("neuron Sqrt\n    state v = 1.0\n    input I = 0.0\n    dv/dt = -sqrt(v) * I\n"
            "    method: adaptive(max_substeps=20)\n")
    sim = eqsnn.Simulator(eqsnn.compile(text), 2, dt=1.0, backend=backend,
                          precision="float64")
    with pytest.warns(eqsnn.EqsnnWarning, match="reached its bound of 20 substeps"):
        with pytest.raises(NumericalError) as caught:
            sim.run(3, inputs={"I": [0.1, 5.0]})
    assert caught.value.neuron == 1 and caught.value.step == 0
    assert caught.value.hint.startswith("the adaptive integrator reached its bound of "
                                        "substeps in this run")
    assert "tighten" not in caught.value.hint


def test_a_bound_left_under_the_adaptive_method_is_not_called_a_failure_to_stay_finite():
    text = ("neuron Grow\n    state v = 0.0 (< 3)\n    input I = 0.0\n"
            "    dv/dt = I - 1e-6 * v * v\n")
    sim = eqsnn.Simulator(eqsnn.compile(text), 1, dt=1.0, precision="float64")
    with pytest.raises(NumericalError, match=r"v left its bounds \(< 3\) at step 0") as caught:
        sim.run(2, inputs={"I": 5.0})
    assert caught.value.hint.startswith("the adaptive integrator could not keep it within its "
                                        "bounds; look for a runaway")


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_an_ode_whose_right_hand_side_is_a_constant_runs_with_crossings_inside_the_step(
        backend):
    """Izhikevich with an extra state held by dx/dt = 0 (and one driven by dy/dt = 2): the
    numpy backend's crossing location indexed the one number every neuron shares (the
    stage k of x, 0) as if it were an array, an IndexError.  The spikes and v are the
    plain model's; x stays, y grows as 2 t."""
    text = IZHIKEVICH.replace(
        "    state u = b * -65.0\n",
        "    state u = b * -65.0\n    state x = 1.5\n    state y = 0.0\n").replace(
        "    du/dt", "    dx/dt = 0.0\n    dy/dt = 2.0\n    du/dt")
    runs = {}
    for name, source in (("held", text), ("plain", IZHIKEVICH)):
        sim = eqsnn.Simulator(eqsnn.compile(source), 2, dt=1.0, backend=backend,
                              precision="float64")
        runs[name] = sim.run(100, inputs={"I": [10.0, 15.0]},
                             record=["v", "spikes"] + ["x", "y"] * (name == "held"))
    held, plain = runs["held"], runs["plain"]
    assert len(plain.spikes) >= 5
    np.testing.assert_array_equal(held.spikes.step, plain.spikes.step)
    np.testing.assert_allclose(held.vars["v"], plain.vars["v"], rtol=0,
                               atol=1e-5 * np.ptp(plain.vars["v"]))
    np.testing.assert_array_equal(held.vars["x"], 1.5)
    np.testing.assert_allclose(held.vars["y"][:, 0, 0], 2.0 * np.arange(1, 101), rtol=1e-12)


def test_an_atol_that_is_zero_in_float32_is_refused_for_float32_only():
    """adaptive(atol=1e-50) is positive and finite, but 0 in float32: where a state stays 0
    (w with a = b = 0) the error test was 0/0, every step ran to the substep bound, and only
    the bound's warning was said."""
    model = eqsnn.compile(ADEX + "    method: adaptive(atol=1e-50)\n")
    params = {"a": 0.0, "b": 0.0}
    with pytest.raises(eqsnn.errors.ParameterError) as caught:
        eqsnn.Simulator(model, 2, dt=1.0, precision="float32", params=params)
    assert str(caught.value).startswith(
        "adaptive(atol=1e-50) is below the smallest normal float32, 1.175494e-38: the error "
        "test of a substep would divide by 0 where a state stays 0")
    assert "precision='float64'" in caught.value.hint
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # float64 takes it, without reaching the bound
        sim = eqsnn.Simulator(model, 2, dt=1.0, precision="float64", params=params)
        result = sim.run(50, inputs={"I": [500.0, 900.0]}, record=["w", "spikes"])
    assert len(result.spikes) >= 1 and np.all(result.vars["w"] == 0.0)


@pytest.mark.parametrize("name, value", [("_rtol", 0.0), ("_atol", -1.0), ("_atol", [1e-9, 5.0])])
def test_the_hidden_tolerance_params_cannot_be_set_by_name(name, value):
    """params={'_atol': -1.0} bypassed the checks of adaptive(atol=...) and ran without a
    word; like the check's hidden states, the tolerances are not the user's to set so."""
    model = eqsnn.compile(ADEX)
    option = name[1:]
    with pytest.raises(eqsnn.errors.ParameterError, match=f"unknown param '{name}'") as caught:
        eqsnn.Simulator(model, 2, dt=1.0, precision="float64", params={name: value})
    assert caught.value.hint == (f"{option} is an option of the adaptive method, set in the "
                                 f"model text: method: adaptive({option}=...)")
    from eqsnn.network import Network
    net = Network(dt=1.0, precision="float64")
    with pytest.raises(eqsnn.errors.ParameterError, match=f"unknown param '{name}'"):
        net.add_population("a", model, 2, params={name: value})
    assert not net.populations  # nothing added


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_a_reset_at_a_crossing_that_makes_a_state_nan_is_named_and_ends_the_neuron_s_step(
        backend):
    """``w += b * log(w / b - 100)`` is NaN at the first spike (w is far below 100 b).  The
    reset runs at the crossing inside the step; the integrator stops there instead of
    rejecting substep after substep up to its bound (which it did, and then warned about the
    bound and blamed V).  The error names w, the step of the first crossing (from
    ``solve_ivp``, which the NaN cannot move) and the reset in its hint; V keeps its reset
    value."""
    dt, steps, current = 0.1, 600, 900.0
    _, ref_spikes = reference(adex_rhs, [-70.6, 0.0], (current,), -40.4,
                              lambda y: np.array([-70.6, y[1] + 80.5]), dt, steps)
    first = int(np.floor(ref_spikes[0] / dt))
    assert 0.01 < ref_spikes[0] / dt - first < 0.99  # not within rounding of a step's end
    text = ADEX.replace("        w += b\n", "        w += b * log(w / b - 100)\n")
    sim = eqsnn.Simulator(eqsnn.compile(text), 1, dt=dt, backend=backend, precision="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("error", eqsnn.EqsnnWarning)  # no substep-bound warning
        with pytest.raises(NumericalError) as caught:
            sim.run(steps, inputs={"I": current})
    error = caught.value
    assert (error.state, error.step, error.neuron) == ("w", first, 0)
    assert "the reset assigns w at a crossing inside the step" in error.hint
    assert "max_substeps" not in error.hint
    assert sim.state["V"][0] == -70.6 and np.isnan(sim.state["w"][0])


MODULUS = """neuron Modulus
    param tau = 10.0 (> 0)
    state V = 0.0
    state W = 0.5
    dV/dt = (-V + 0.3 * (W % 0.3)) / tau
    dW/dt = -(W % 0.3) / tau - 0.01
"""


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_a_float_modulus_of_a_state_in_an_ode_compiles_and_is_integrated_adaptively(backend):
    """``W % 0.3`` in the equations: SymPy's derivative of a modulus by a float recursed
    without end, and the model was refused as "nested too deeply".  It is not linear, so the
    adaptive method integrates it, through the jump of ``W % 0.3`` at W = 0.3 (against
    ``solve_ivp`` with small steps)."""
    from scipy.integrate import solve_ivp

    model = eqsnn.compile(MODULUS)
    assert model.reasons["adaptive"].startswith("chosen")
    assert "not linear in W" in model.reasons["exponential_euler"]

    def rhs(t, y):
        return [(-y[0] + 0.3 * np.mod(y[1], 0.3)) / 10.0, -np.mod(y[1], 0.3) / 10.0 - 0.01]
    ref = solve_ivp(rhs, (0, 20), [0.0, 0.5], rtol=1e-11, atol=1e-12, dense_output=True,
                    max_step=0.01)
    result = eqsnn.Simulator(model, 1, dt=0.1, backend=backend, precision="float64").run(
        200, record=["V", "W"])
    expected = ref.sol(np.arange(1, 201) * 0.1)
    assert np.nanmin(expected[1]) < 0.3 < expected[1][0]  # the jump is inside the run
    assert np.max(np.abs(result.vars["V"][:, 0, 0] - expected[0])) < 1e-5
    assert np.max(np.abs(result.vars["W"][:, 0, 0] - expected[1])) < 1e-5
