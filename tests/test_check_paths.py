"""The numerical check on every path that runs it: the numpy backend's guarded check, the c
backend's failure code returned with the spike flags (exact and fast math, and the
fallback to the check's statements for models with many states), the CUDA emulation and
GeNN (the check's statements in the sim code, hidden vars for the record).

Each model fails in a way that only a check inside the step sees: a reset makes the bad
value finite again before the step ends."""

from __future__ import annotations

import contextlib
import importlib.util

import fake_cupy
import numpy as np
import pytest
import sympy

import eqsnn
from eqsnn import ir
from eqsnn.errors import NumericalError
from eqsnn.runtime.checks import deferred_states, sticky_states, with_checks
from eqsnn.runtime.reset_checks import split_reset_checks

PATHS = [
    "numpy",
    pytest.param("c", marks=pytest.mark.c),
    pytest.param("c-fast", marks=pytest.mark.c),
    "cupy",
    pytest.param("pygenn", marks=[pytest.mark.pygenn, pytest.mark.skipif(
        importlib.util.find_spec("pygenn") is None, reason="needs PyGeNN")]),
]

# log of a negative number: NaN from step 2 on; the threshold always holds and the reset
# makes V finite again
NAN_HEALED = """
neuron NanHealed
    state V = 1.0
    state n: int = 0
    after:
        n += 1
        if n >= 3: V = log(V - 2.0)
    threshold: n >= 0
    reset: V = 1.0
"""

# inf in one neuron only (its own gain), at step 4, healed by the reset
INF_ONE = """
neuron InfOne
    param k = 1.0
    state V = 1.0
    state w = 0.0
    state n: int = 0
    after:
        n += 1
        V = V * k
        w = V
    threshold: V > 1e300
    reset: V = 1.0
"""

# w (the second float state) leaves its bounds and is put back by the reset
BOUNDS_HEALED = """
neuron BoundsHealed
    state V = 0.0
    state w = 0.0 (>= -2, < 3)
    input I = 0.0
    after: w += I
    threshold: w >= 3
    reset: w = 0.0
"""


@contextlib.contextmanager
def simulator(path: str, text: str, n: int, **kwargs):
    backend = "cupy" if path == "cupy" else path.removesuffix("-fast")
    options = dict(dt=1.0, backend=backend, fast_math=path == "c-fast", **kwargs)
    with fake_cupy.installed() if path == "cupy" else contextlib.nullcontext():
        yield eqsnn.Simulator(eqsnn.compile(text), n, **options)


def drawn(text: str) -> str:
    """``text`` with a state set from a random draw in every step: a model that draws is
    tested in every step (no second pass), so the test inside the step runs."""
    text = text.replace("    state n: int = 0\n", "    state n: int = 0\n    state u = 0.0\n")
    return text.replace("    after:\n", "    after:\n        u = rand_uniform()\n")


@pytest.mark.parametrize("precision", ["float32", "float64"])
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("every_step", [False, True], ids=["kept", "drawn"])
def test_nan_that_a_reset_makes_finite_is_reported_at_its_first_step(path, precision,
                                                                     every_step):
    text = drawn(NAN_HEALED) if every_step else NAN_HEALED
    with simulator(path, text, 5, batch_size=2, precision=precision) as sim:
        assert ("rand" in sim.source.text) == every_step
        with pytest.raises(NumericalError) as caught:
            sim.run(6, record=["V"])
    error = caught.value
    assert (error.state, error.step, error.lane, error.neuron, error.count) == ("V", 2, 0, 0, 10)
    assert "V became NaN or infinite at step 2" in str(error)
    recorded = error.result.vars["V"]
    if every_step or path == "pygenn":  # tested in the step: the recorded state looks fine
        assert np.all(recorded == 1.0)
    else:  # the reset keeps the NaN (checks.keep_nonfinite_states); a second pass found it
        assert np.all(recorded[:2] == 1.0) and np.all(np.isnan(recorded[2:]))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("every_step", [False, True], ids=["kept", "drawn"])
def test_inf_in_one_neuron_of_a_later_tile_names_that_neuron(path, every_step):
    n, bad = 1300, 1100  # the c backend's tiles hold 512 neurons
    gain = np.ones(n)
    gain[bad] = 1e100
    text = drawn(INF_ONE) if every_step else INF_ONE
    with simulator(path, text, n, precision="float64", params={"k": gain}) as sim:
        with pytest.raises(NumericalError) as caught:
            sim.run(8)
    error = caught.value
    # V: 1e100, 1e200, 1e300, inf at step 3; w = V, but V's code is the smaller
    assert (error.state, error.step, error.neuron, error.count) == ("V", 3, bad, 1)
    assert sim.step == 8 and np.all(sim.state["n"] == 8)


@pytest.mark.parametrize("path", PATHS)
def test_bounds_of_a_second_state_are_checked_where_a_reset_restores_them(path):
    current = np.array([0.0, 1.0, -0.5, 0.75], np.float32)
    with simulator(path, BOUNDS_HEALED, 4, precision="float32") as sim:
        with pytest.raises(NumericalError) as caught:
            sim.run(10, inputs={"I": current})
        error = caught.value
        # neuron 1 reaches 3 at step 2 (reset at once), neuron 3 at step 3, neuron 2 goes
        # below -2 at step 4
        assert (error.state, error.step, error.neuron, error.count) == ("w", 2, 1, 3)
        assert "w left its bounds (>= -2, < 3) at step 2" in str(error)
        assert np.all(sim.state["w"] < 3)
        sim.reset()  # the record starts again
        sim.run(2, inputs={"I": current})


@pytest.mark.parametrize("path", ["numpy", pytest.param("c", marks=pytest.mark.c)])
def test_check_false_runs_the_same_model_without_error(path):
    with simulator(path, NAN_HEALED, 3, precision="float64", check=False) as sim:
        result = sim.run(5, record=["V"])
    assert np.all(result.vars["V"] == 1.0)


def _many_states(count: int) -> str:
    lines = ["neuron Many", "    state n: int = 0"]
    lines += [f"    state s{k} = 0.0" for k in range(count)]
    lines += ["    after:", "        n += 1"]
    lines += [f"        s{k} += 1.0" for k in range(count - 1)]
    lines += [f"        if n >= 2: s{count - 1} = log(-1.0 - s0)"]
    lines += ["    threshold: n >= 0", f"    reset: s{count - 1} = 0.0"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("count", [31, 33])
@pytest.mark.parametrize("path", ["numpy", pytest.param("c", marks=pytest.mark.c)])
def test_the_last_of_many_states_is_named(path, count):
    # 31 float states fit the c backend's failure code in the spike flags; 33 do not, and
    # the check's own statements record it there
    with simulator(path, _many_states(count), 2, precision="float64") as sim:
        with pytest.raises(NumericalError) as caught:
            sim.run(4)
        if path == "c":
            function = sim.source.text.split("eqsnn_neuron_step(")[1].split("\n}\n")[0]
            assert ("check_step" in function) == (count > 31)
    assert (caught.value.state, caught.value.step) == (f"s{count - 1}", 1)


# V stays infinite once it is (a sum and product of itself; the reset subtracts): its test
# waits for a second pass over the run; w has bounds, so it is tested in every step
STICKY = """
neuron Sticky
    param k = 1.0
    state V = 1e-100
    state w = 0.0 (< 10)
    input I = 0.0
    after:
        V = V * k + I
        w += 1.0
    threshold: V > 1e300
    reset: V -= 1.0
"""


def test_only_states_that_stay_nan_or_infinite_wait_for_the_second_pass():
    assert sticky_states(eqsnn.compile(STICKY).ir) == {"V"}
    for text in (NAN_HEALED, INF_ONE):
        assert sticky_states(eqsnn.compile(text).ir) == set()
    assert sticky_states(eqsnn.compile(BOUNDS_HEALED).ir) == {"V"}  # never assigned
    healing = STICKY.replace("reset: V -= 1.0", "reset: V = max(V - 1.0, 0.0)")
    assert sticky_states(eqsnn.compile(healing).ir) == set()  # fmax(NaN, 0) is 0
    assert deferred_states(with_checks(eqsnn.compile(STICKY).ir, "float64")) == ("V",)
    # a second pass repeats the run only where the draws repeat: not on GeNN, so never
    noisy = STICKY.replace("V = V * k + I", "V = V * k + I * rand_normal()")
    assert sticky_states(eqsnn.compile(noisy).ir) == {"V"}
    assert deferred_states(with_checks(eqsnn.compile(noisy).ir, "float64")) == ()


@pytest.mark.parametrize("path", PATHS)
def test_the_second_pass_finds_the_first_step_of_a_state_that_stays_infinite(path):
    n = 700
    gain = np.ones(n)
    gain[600] = 1e100
    with simulator(path, STICKY, n, precision="float64", params={"k": gain}) as sim:
        assert "check_all" in sim.source.text
        with pytest.raises(NumericalError) as caught:
            sim.run(6, inputs={"I": 0.0}, record=["V", "w"])
        error = caught.value
        # V of neuron 600: 1, 1e100, 1e200, 1e300, inf at step 4 (and stays so)
        assert (error.state, error.step, error.neuron, error.count) == ("V", 4, 600, 1)
        assert np.isinf(error.result.vars["V"][4:, 0, 600]).all()
        assert np.isfinite(error.result.vars["V"][:4]).all()
        # the population is where the run left it, and the next run reports its own
        assert sim.step == 6 and np.isinf(sim.state["V"][0, 600])
        np.testing.assert_array_equal(sim.state["w"], 6.0)
        with pytest.raises(NumericalError) as again:  # w reaches 10 at step 9
            sim.run(5)
    # V of neuron 600 is still infinite at the first step of this run; the others' w fails
    assert (again.value.state, again.value.step, again.value.neuron, again.value.count) \
        == ("V", 6, 600, n)
    assert "it was already NaN or infinite when this run began" in str(again.value)
    assert "already" not in str(caught.value)


@pytest.mark.parametrize("path", ["numpy", pytest.param("c", marks=pytest.mark.c)])
def test_the_smallest_code_wins_across_both_passes(path):
    # neuron 0: V = 1e-100, 1e-50, 1, ..., 1e300, inf at step 9, as w reaches 10
    text = STICKY.replace("state V = 1e-100", "state V = 1e-150")
    with simulator(path, text, 2, precision="float64", params={"k": [1e50, 1.0]}) as sim:
        with pytest.raises(NumericalError) as caught:
            sim.run(12)
    assert (caught.value.state, caught.value.step, caught.value.neuron) == ("V", 9, 0)
    assert caught.value.count == 2


def test_an_overwritten_state_is_kept_non_finite_so_its_test_can_wait():
    model = eqsnn.compile(NAN_HEALED).ir
    assert sticky_states(model) == set()
    checked = with_checks(model, "float64")
    assert deferred_states(checked) == ("V",)
    assert split_reset_checks(checked)[0] == (ir.Assign("V", ir.keep_nonfinite(
        sympy.Float(1.0), sympy.Symbol("V"))),)
    # every assignment that overwrites V, in any block and branch, not only the reset
    overwrites = [s for block in (checked.step, checked.reset) for s in ir.walk_statements(block)
                  if isinstance(s, ir.Assign) and s.target == "V"]
    assert len(overwrites) == 2
    assert all(isinstance(s.expr, ir.keep_nonfinite) for s in overwrites)
    # a backend whose compiler may fold 0 * x keeps the test in every step (GeNN)
    assert deferred_states(with_checks(model, "float64", keep=False)) == ()
    from eqsnn.backends import pygenn
    assert pygenn.FOLDS_ZERO_PRODUCTS
    # a state with bounds is tested in every step anyway: its assignments stay as written
    bounded = with_checks(eqsnn.compile(BOUNDS_HEALED).ir, "float32")
    assert "keep_nonfinite" not in str(bounded.reset) and deferred_states(bounded) == ("V",)
    # a model that draws keeps every test in every step, and its assignments as written
    noisy = with_checks(eqsnn.compile(drawn(NAN_HEALED)).ir, "float64")
    assert deferred_states(noisy) == () and "keep_nonfinite" not in str(noisy.reset)


HARD_RESET_LIF = """
neuron HardLif
    param tau = 20.0 (> 0)
    param v_reset = -0.25
    state V = 0.0
    input I = 0.0
    dV/dt = -V / tau
    after: V += I
    threshold: V >= 1.0
    reset: V = v_reset
"""


@pytest.mark.parametrize("precision", ["float32", "float64"])
@pytest.mark.parametrize("path", ["numpy", pytest.param("c", marks=pytest.mark.c),
                                  pytest.param("c-fast", marks=pytest.mark.c), "cupy"])
def test_a_kept_reset_gives_the_same_numbers_as_without_the_check(path, precision):
    current = np.random.default_rng(3).uniform(0.0, 0.2, (60, 1, 700)).astype(precision)
    runs = []
    for check in (True, False):
        with simulator(path, HARD_RESET_LIF, 700, precision=precision, check=check) as sim:
            result = sim.run(60, inputs={"I": current}, record=["V", "spikes"])
        runs.append(result)
    checked, plain = runs
    assert len(checked.spikes.times) > 100
    np.testing.assert_array_equal(checked.vars["V"], plain.vars["V"])
    np.testing.assert_array_equal(checked.spikes.times, plain.spikes.times)
    np.testing.assert_array_equal(checked.spikes.ids, plain.spikes.ids)


@pytest.mark.parametrize("path", PATHS)
def test_a_bound_beyond_float32_is_infinite_in_float32_as_on_numpy(path):
    # 1e39 rounds to inf in float32: the C literal was 'inff', which did not compile
    text = ("neuron Wide\n    state V = 0.0 (> -1e39, < 1e39)\n    state w = 0.0 (< 1e39)\n"
            "    input I = 0.0\n    after:\n        V += I\n        w = V * 0.5\n")
    with simulator(path, text, 3, precision="float32") as sim:
        result = sim.run(2, inputs={"I": np.array([1e30, -1e38, 0.0], np.float32)},
                         record=["V"])
        np.testing.assert_array_equal(result.vars["V"][-1, 0],
                                      np.float32([1e30, -1e38, 0]) * np.float32(2))
        with pytest.raises(NumericalError) as caught:  # inf is not finite, whatever the bound
            sim.run(1, inputs={"I": np.array([0.0, -3e38, 0.0], np.float32)})
    assert (caught.value.state, caught.value.step, caught.value.neuron) == ("V", 2, 1)
    assert "V became NaN or infinite" in str(caught.value)


# V is NaN for a moment inside the step where I < 0, and set again before the step ends
FIXED_UP = """
neuron FixedUp
    state V = 0.0
    input I = 0.0
    after:
        V = sqrt(I)
        if I < 0: V = 0.0
        V += log(I + 2.0)
    threshold: V > 100
    reset: V = 0.0
"""


@pytest.mark.parametrize("path", PATHS)
def test_a_nan_set_again_within_its_step_is_not_a_failure(path):
    # the second overwrite was kept NaN where the first made one: a healthy run failed and
    # its state became NaN; such a state is tested in every step instead
    model = eqsnn.compile(FIXED_UP).ir
    assert "V" not in deferred_states(with_checks(model, "float64"))
    # a clamp after an assignment that carries the state (the dynamics) keeps a NaN or
    # infinity those made: the state still waits for the second pass
    clamped = eqsnn.compile("neuron Clamped\n    param a = 1e300\n    state v = 1.0\n"
                            "    after:\n        v = v * a\n        if v >= 30: v = 30.0\n").ir
    assert deferred_states(with_checks(clamped, "float64")) == ("v",)
    current = np.array([1.0, -1.0, 4.0])
    runs = []
    for check in (True, False):
        with simulator(path, FIXED_UP, 3, precision="float64", check=check) as sim:
            runs.append(sim.run(3, inputs={"I": current}, record=["V"]).vars["V"])
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_allclose(runs[0][-1, 0], [1 + np.log(3.0), 0.0, 2 + np.log(6.0)])
    # a NaN that the step leaves is still found, at its step
    with simulator(path, FIXED_UP, 3, precision="float64") as sim:
        sim.run(2, inputs={"I": current})
        with pytest.raises(NumericalError) as caught:
            sim.run(3, inputs={"I": np.array([1.0, -3.0, 4.0])})
    assert (caught.value.state, caught.value.step, caught.value.neuron) == ("V", 2, 1)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("every_step", [False, True], ids=["kept", "drawn"])
def test_a_failure_in_the_last_step_of_the_last_tile_is_found(path, every_step):
    n = 1300
    gain = np.ones(n)
    gain[n - 1] = 1e100  # V: 1e100, 1e200, 1e300, inf at step 3, the run's last
    text = drawn(INF_ONE) if every_step else INF_ONE
    with simulator(path, text, n, precision="float64", params={"k": gain}) as sim:
        sim.run(3)  # fine so far
        with pytest.raises(NumericalError) as caught:
            sim.run(1)
    assert (caught.value.state, caught.value.step, caught.value.neuron) == ("V", 3, n - 1)
    assert caught.value.count == 1 and "already" not in str(caught.value)


# the reset sets w out of its bounds (neuron 1) and V to NaN (neuron 2, log of a negative
# number): after the step's check, so in the run's last step only the end of the run sees it
RESET_OUT = """
neuron ResetOut
    state V = 0.0
    state w = 0.0 (> -10, < 10)
    input I = 0.0
    after: w += I
    threshold: w > 5
    reset:
        V = log(I - 5.5)
        w = I - 20.0
"""


@pytest.mark.parametrize("path", PATHS)
def test_a_reset_in_the_last_step_that_leaves_a_state_bad_is_reported(path):
    """The check runs before the threshold; a reset that set a state out of its bounds or
    to NaN in the last step of a run went unreported (the next run then blamed 'a failed
    run')."""
    current = np.zeros((2, 2, 3))
    current[1] = [[0.0, 6.0, 7.5], [0.0, 0.0, 0.0]]  # in the second step, lane 0
    with simulator(path, RESET_OUT, 3, batch_size=2, precision="float64") as sim:
        with pytest.raises(NumericalError) as caught:
            sim.run(2, inputs={"I": current}, record=["w"])
        error = caught.value
        # neuron 1: w = -14 (out of its bounds); neuron 2: V = log(2), w = -12.5
        assert (error.state, error.step, error.lane, error.neuron, error.count) == (
            "w", 1, 0, 1, 2)
        assert str(error).startswith(
            "w left its bounds (> -10, < 10) at step 1 (t = 1), lane 0, neuron 1 (and 1 other "
            "neuron-lane); the reset made it so, after the step's check, in that step\n"
            "hint: look at the reset: statements")
        assert error.result.vars["w"][1, 0].tolist() == [0.0, -14.0, -12.5]
        assert sim.step == 2 and sim.state["w"][0].tolist() == [0.0, -14.0, -12.5]
        current[1, 0, 1:] = [0.0, 5.2]  # V = log(-0.3): NaN (and w out of its bounds)
        sim.reset()
        with pytest.raises(NumericalError) as caught:
            sim.run(2, inputs={"I": current})
        assert (caught.value.state, caught.value.neuron, caught.value.step) == ("V", 2, 1)
        assert "V became NaN or infinite at step 1" in str(caught.value)
    with simulator(path, RESET_OUT, 3, batch_size=2, precision="float64", check=False) as sim:
        sim.run(2, inputs={"I": current})  # the check is off


@pytest.mark.parametrize("path", PATHS)
def test_strict_bounds_in_float32_admit_what_they_admit(path):
    """Rounded to the nearest float32, '> -1e-50' was '> -0.0' and '< 1.00000001' was
    '< 1.0': the initial values 0 and 1, which the bounds admit (and the initial values'
    check accepted), failed at step 0.  The bounds still catch the next float32 past them."""
    text = ("neuron Tight\n    state a = 0.0 (> -1e-50)\n    state b = 1.0 (< 1.00000001)\n"
            "    input I = 0.0\n    after:\n        a -= I\n        b += I\n")
    with simulator(path, text, 2, precision="float32") as sim:
        result = sim.run(3, record=["a", "b"])
        assert np.all(result.vars["a"] == 0.0) and np.all(result.vars["b"] == 1.0)
        step = np.float32(1.2e-7)  # b: the float32 after 1; a: -1.2e-7
        with pytest.raises(NumericalError) as caught:
            sim.run(2, inputs={"I": [0.0, step]})
        assert (caught.value.state, caught.value.step, caught.value.neuron) == ("a", 3, 1)
        assert "a left its bounds (> -1e-50) at step 3" in str(caught.value)
