"""No silently wrong state: the in-kernel check, state bounds and float32 overflow."""

from __future__ import annotations

import numpy as np
import pytest

import eqsnn
from eqsnn.errors import CheckError, EqsnnError, NumericalError, ParameterError

BACKENDS = ["numpy", pytest.param("c", marks=pytest.mark.c)]

# V overflows to inf at step 1; the threshold holds on inf and the reset makes V finite
# again, so only a check inside the step sees it
HEALED = """
neuron Healed
    param k = 1e200
    state V = 1.0
    state n: int = 0
    after:
        V *= k
        n += 1
    threshold: V > 1e300
    reset: V = 1.0
"""

BOUNDED = """
neuron Bounded
    state V = 0.0 (> -1, < 5)
    state w = 0.0
    input I = 1.0
    after: V += I
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_value_that_a_reset_makes_finite_again_is_still_reported(backend):
    sim = eqsnn.Simulator(eqsnn.compile(HEALED), 3, batch_size=2, dt=0.5, backend=backend,
                          precision="float64")
    with pytest.raises(NumericalError) as caught:
        sim.run(6, record=["V"])
    error = caught.value
    assert isinstance(error, EqsnnError) and isinstance(error, ArithmeticError)
    assert (error.state, error.step, error.lane, error.neuron, error.count) == ("V", 1, 0, 0, 6)
    assert "V became NaN or infinite at step 1 (t = 0.5), lane 0, neuron 0" in str(error)
    assert "(and 5 other neuron-lanes)" in str(error)  # 3 neurons in each of 2 lanes
    assert "hint: the model has no ODEs" in str(error)
    # with the check, the reset keeps a NaN (runtime.checks.keep_nonfinite_states): the
    # result of the run comes with the error and shows where it went wrong
    values = error.result.vars["V"]
    assert values.shape == (6, 2, 3)
    assert np.all(values[0] == 1e200) and np.all(np.isnan(values[1:]))
    # the population stays advanced, with the NaN; the next run reports its own failure
    assert sim.step == 6 and np.all(sim.state["n"] == 6) and np.all(np.isnan(sim.state["V"]))
    with pytest.raises(NumericalError) as again:
        sim.run(2)
    assert again.value.step == 6  # steps count from the last reset
    # without the check the reset makes V finite again, and the run looks fine: only a
    # test inside the step could have seen it
    plain = eqsnn.Simulator(eqsnn.compile(HEALED), 3, batch_size=2, dt=0.5, backend=backend,
                            precision="float64", check=False)
    assert np.all(np.isfinite(plain.run(6, record=["V"]).vars["V"]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_declared_bounds_are_checked_every_step(backend):
    sim = eqsnn.Simulator(eqsnn.compile(BOUNDED), 4, dt=1.0, backend=backend,
                          precision="float32")
    current = np.array([1.0, 0.5, 0.0, -0.1], np.float32)
    with pytest.raises(NumericalError) as caught:
        sim.run(10, inputs={"I": current})
    error = caught.value
    # neuron 0 at step 4, neuron 1 at step 9, neuron 3 at step 9 (10 x -0.1 < -1 in float32)
    assert (error.state, error.step, error.neuron, error.count) == ("V", 4, 0, 3)
    assert "V left its bounds (> -1, < 5) at step 4 (t = 4), lane 0, neuron 0" in str(error)
    assert "already" not in str(error)
    with pytest.raises(NumericalError) as again:  # V of neuron 0 is still 10
        sim.run(1, inputs={"I": 0.0})
    assert again.value.step == 10 and again.value.neuron == 0
    assert "(it was already out of its bounds when this run began" in str(again.value)


def test_check_false_leaves_the_test_out():
    model = eqsnn.compile(HEALED)
    sim = eqsnn.Simulator(model, 2, precision="float64", check=False)
    sim.run(4)
    assert "_check_step" not in sim.source.text
    checked = eqsnn.Simulator(model, 2, precision="float64")
    assert "_check_step" in checked.source.text
    assert list(checked.state) == ["V", "n"]  # the record is hidden
    with pytest.raises(ParameterError, match="check must be True or False"):
        eqsnn.Simulator(model, 2, check=1)


def test_multi_dimensional_population_names_the_neuron_by_its_index():
    sim = eqsnn.Simulator(eqsnn.compile(HEALED), (2, 3), precision="float64")
    with pytest.raises(NumericalError, match=r"neuron 0 \(0, 0\)"):
        sim.run(3)


def test_the_adaptive_integrator_that_cannot_keep_a_state_finite_says_so():
    text = """
neuron Runaway
    state v = 1.0
    dv/dt = v * v
"""  # blows up at t = 1 and no threshold catches it
    sim = eqsnn.Simulator(eqsnn.compile(text + "    method: adaptive(max_substeps=50)\n"), 1,
                          dt=0.5, precision="float64")
    with pytest.warns(eqsnn.EqsnnWarning, match="reached its bound of 50 substeps"):
        with pytest.raises(NumericalError) as caught:
            sim.run(4)
    assert caught.value.state == "v" and caught.value.step in (1, 2, 3)
    assert "runaway" in caught.value.hint


@pytest.mark.parametrize("where", ["params", "init", "inputs"])
def test_float32_overflow_of_values_is_rejected(where):
    model = eqsnn.compile(BOUNDED.replace("(> -1, < 5)", "") + "    param g = 1.0\n")
    big = {"params": {"g": 1e39}, "init": {"w": [1.0, -1e39]}, "inputs": {"I": 1e39}}[where]
    with pytest.raises(ParameterError, match="overflows float32") as caught:
        sim = eqsnn.Simulator(model, 2, precision="float32",
                              **({where: big} if where != "inputs" else {}))
        sim.run(1, inputs=big if where == "inputs" else None)
    assert "precision='float64'" in caught.value.hint
    # float64 takes them, and so does float32 the largest float32
    sim = eqsnn.Simulator(model, 2, precision="float64", **({where: big} if where != "inputs"
                                                            else {}))
    eqsnn.Simulator(model, 2, precision="float32", params={"g": 3.4028234e38})


@pytest.mark.parametrize("where", ["params", "init", "inputs", "set_state"])
def test_values_beyond_float64_are_rejected_and_python_ints_beyond_int64_taken(where):
    """A long double 1e4000 passed the finiteness test and became inf in float64 (the run
    then failed, blaming the model); 10**40, a Python int too large for int64, was 'not
    numeric (dtype object)' though it is a float64 number."""
    model = eqsnn.compile(BOUNDED.replace("(> -1, < 5)", "") + "    param g = 1.0\n")
    name = {"params": "g", "init": "w", "inputs": "I", "set_state": "w"}[where]

    def use(value, precision="float64"):
        sim = eqsnn.Simulator(model, 2, precision=precision,
                              **({where: {name: value}} if where in ("params", "init") else {}))
        if where == "set_state":
            sim.set_state(name, value)
        result = sim.run(1, inputs={name: value} if where == "inputs" else None,
                         record=["w", "V"])
        return result.vars["V" if where == "inputs" else "w"][0, 0], sim

    if np.finfo(np.longdouble).max > np.finfo(np.float64).max:  # an x87 long double
        huge = np.array([1.0, np.longdouble("-1.5e4000")], np.longdouble)
        with pytest.raises(ParameterError, match=r"overflows float64: -1\.5e\+4000 at index "
                           r"\(1,\) is beyond 1\.797693e\+308") as caught:
            use(huge)
        assert caught.value.hint == "rescale the value (other units)"
    with pytest.raises(ParameterError, match=r"overflows float64: 3e\+400 is beyond"):
        use(3 * 10**400)
    if where != "params":  # g multiplies nothing recorded
        value, _ = use(10**40)
        np.testing.assert_array_equal(value, 1e40)
        value, _ = use(np.array([2.0, 10**40], dtype=object))  # Python numbers
        np.testing.assert_array_equal(value, [2.0, 1e40])
    else:
        _, sim = use(10**40)
        assert sim._params["g"] == 1e40
    with pytest.raises(ParameterError, match=r"overflows float32: 1e\+40 is beyond"):
        use(10**40, "float32")


def test_a_float32_overflow_shows_the_value_in_the_unit_it_was_given():
    """1e42 pA is 1e39 nA inside: the message showed only 1e39, a number the user never
    wrote; it shows both now, each with its unit."""
    model = eqsnn.compile("neuron A\n    param c = 200 pF\n    state V = 0 mV\n"
                          "    input I = 0 pA\n    dV/dt = I / c\n")
    sim = eqsnn.Simulator(model, 2, dt=0.1, precision="float32")
    with pytest.raises(ParameterError, match=r"input 'I' overflows float32: 1e\+42 pA "
                       r"\(1\.0+1e\+39 nA\) is beyond 3\.402823e\+38 nA"):
        sim.run(2, inputs={"I": 1e42})
    with pytest.raises(ParameterError, match=r"param 'c' overflows float32: 1e\+42 pF \("):
        eqsnn.Simulator(model, 2, dt=0.1, precision="float32", params={"c": 1e42})
    with pytest.raises(ParameterError, match=r"state 'V' overflows float32: 1e\+40 is beyond"):
        sim.set_state("V", 1e40)  # mV is the internal unit: one number
    sim.run(2, inputs={"I": 1e30})  # nothing half-changed: the simulator still runs


def test_values_that_leave_their_bounds_once_stored_in_float32_are_refused():
    """1e-50 satisfies '> 0' but is 0 in float32: accepted, it failed the run's check at
    step 0 as if the model had driven the state there.  Values that stay within the bounds
    once rounded (0.1 with '<= 0.1', rounded as the bound is) are taken."""
    model = eqsnn.compile("neuron M\n    param v0 = 1.0\n    state V = v0 (> 0)\n"
                          "    state w = 0.1 (<= 0.1)\n    state a = 0.0 (> -1e-50)\n")
    message = (r"the value of state 'V' violates its bound '> 0' in float32: 1e-50 at index "
               r"\(1,\) is 0.0 in float32")
    with pytest.raises(ParameterError, match=message) as caught:
        eqsnn.Simulator(model, 2, precision="float32", init={"V": [1.0, 1e-50]})
    assert caught.value.hint == ("give V values that are > 0 in float32, or simulate with "
                                 "precision='float64'")
    with pytest.raises(ParameterError, match="bound '> 0' in float32: 1e-50 is 0.0"):
        eqsnn.Simulator(model, 2, precision="float32", params={"v0": 1e-50})
    sim = eqsnn.Simulator(model, 2, precision="float32", init={"w": 0.1, "a": -1e-60})
    with pytest.raises(ParameterError, match="bound '> 0' in float32: 1e-46 is 0.0"):
        sim.set_state("V", 1e-46)
    sim.set_state("V", 2e-45)  # a subnormal float32 above 0
    result = sim.run(2, record=["V", "w", "a"])
    assert np.all(result.vars["V"] > 0) and np.all(result.vars["a"] == 0.0)
    float64 = eqsnn.Simulator(model, 2, precision="float64", init={"V": 1e-50})
    assert np.all(float64.run(1, record=["V"]).vars["V"] == 1e-50)


@pytest.mark.parametrize("text, message", [
    ("state n: int = 0 (> -1)", "bounds are checked on float states only"),
    ("state V = 0.0 (!= 3)", "a state bound must be >, >=, < or <="),
    ("state V = 0.0 (> 1)", "the initial value 0.0 of V violates '> 1'"),
])
def test_bad_bounds_are_reported_at_their_place(text, message):
    with pytest.raises(CheckError, match=message) as caught:
        eqsnn.compile(f"neuron M\n    {text}\n")
    assert caught.value.line == 2 and "^" in str(caught.value)


def test_bounds_follow_an_initial_value_that_is_a_name():
    model = eqsnn.compile("neuron M\n    param v0 = -70.0\n    state V = v0 (> -1000, < 1000)\n")
    assert [str(c) for c in model.ir.states[0].bounds] == ["> -1000", "< 1000"]


@pytest.mark.parametrize("backend", ["numpy", pytest.param("c", marks=pytest.mark.c)])
def test_a_number_in_the_model_that_overflows_float32_is_refused(backend):
    """1e50 in float32 would be inf: a threshold that never fires (numpy) or C that does not
    compile; it is refused before anything is built, and float64 takes it."""
    model = eqsnn.compile("neuron Big\n    state V = 1.0\n    after: V *= 2.0\n"
                          "    threshold: V > 1e50\n    reset: V = 1.0\n")
    with pytest.raises(ParameterError, match=r"Big: the number 1e\+50 in the model overflows "
                       r"float32") as error:
        eqsnn.Simulator(model, n=2, backend=backend, precision="float32")
    assert "precision='float64'" in error.value.hint
    sim = eqsnn.Simulator(model, n=2, backend=backend, precision="float64")
    assert sim.run(3, record=["V"]).vars["V"][-1, 0, 0] == 8.0


@pytest.mark.parametrize("text, message", [
    ("state V = -70 mV (> -100 ms)", r"the bound of V is a time \(ms\), but V is a voltage"),
    ("state V = -70 mV (> -1000)", "the bound -1000 of V has no unit, but V is a voltage"),
])
def test_a_state_bound_in_the_wrong_unit_is_refused(text, message):
    # the bound would otherwise be read in the state's internal unit: '(> -1 s)' on a
    # voltage would silently be '> -1000' mV
    with pytest.raises(CheckError, match=message) as caught:
        eqsnn.compile(f"neuron M\n    {text}\n")
    assert caught.value.line == 2
    converted = eqsnn.compile("neuron M\n    state V = -70 mV (> -1 V, < 1000 mV)\n")
    assert [str(c) for c in converted.ir.states[0].bounds] == ["> -1000", "< 1000"]


@pytest.mark.parametrize("backend", ["numpy", pytest.param("c", marks=pytest.mark.c)])
def test_array_data_that_overflows_float32_is_refused(backend):
    text = ("neuron Table\n    array tab\n    state w = 0.0\n    input k: int = 0\n"
            "    after: w = tab[k]\n")
    model = eqsnn.compile(text)
    with pytest.raises(ParameterError, match=r"array 'tab' overflows float32: 1e\+39 at "
                       r"index \(1,\)") as caught:
        eqsnn.Simulator(model, 2, backend=backend, precision="float32",
                        params={"tab": [1.0, 1e39]})
    assert "precision='float64'" in caught.value.hint
    sim = eqsnn.Simulator(model, 2, backend=backend, precision="float64",
                          params={"tab": [1.0, 1e39]})
    assert sim.run(1, inputs={"k": [0, 1]}, record=["w"]).vars["w"][0, 0].tolist() == [1.0, 1e39]


@pytest.mark.parametrize("backend", BACKENDS)
def test_values_given_to_a_state_outside_its_bounds_are_refused(backend):
    # the run's check would fail at its first step, blaming the model's statements
    model = eqsnn.compile("neuron M\n    param v0 = 0 mV\n    state V = v0 (> -1 V, < 100 mV)\n"
                          "    state w = 0.0 (>= 0)\n    after: w += 1.0\n")
    with pytest.raises(ParameterError, match=r"state 'V' violates its bound '< 100 mV': "
                       r"150 mV at index \(1,\)"):
        eqsnn.Simulator(model, 3, backend=backend, init={"V": [0.0, 150.0, 0.0]})
    with pytest.raises(ParameterError, match=r"state 'V' violates its bound '> -1000 mV'"):
        eqsnn.Simulator(model, 3, backend=backend, params={"v0": -2000.0})  # its declared value
    sim = eqsnn.Simulator(model, 3, backend=backend)
    sim.run(2)
    with pytest.raises(ParameterError, match=r"state 'w' violates its bound '>= 0': -1.0") as e:
        sim.set_state("w", -1.0)
    assert "widen the bounds" in e.value.hint
    np.testing.assert_array_equal(sim.state["w"], 2.0)  # nothing changed
    sim.set_state("V", -999.0)
    sim.run(1)
    np.testing.assert_array_equal(sim.state["V"], -999.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_warnings_raised_as_errors_leave_no_record_for_the_next_run(backend):
    """Under ``-W error`` the adaptive integrator's warning raised before the records were
    cleared: the NumericalError of the run was lost, and the next, healthy run raised the
    old warning again."""
    import warnings
    text = ("neuron Runaway\n    input r = 1.0\n    state v = 1.0\n    dv/dt = r * v * v\n"
            "    method: adaptive(max_substeps=50)\n")  # blows up at t = 1 where r = 1
    sim = eqsnn.Simulator(eqsnn.compile(text), 2, dt=0.5, backend=backend,
                          precision="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(NumericalError) as caught:
            sim.run(4, inputs={"r": [1.0, 0.0]})
        assert caught.value.neuron == 0
        assert isinstance(caught.value.__context__, eqsnn.EqsnnWarning)  # said, not lost
        assert "reached its bound of 50 substeps" in str(caught.value.__context__)
        sim.set_state("v", 0.5)
        result = sim.run(4, inputs={"r": 0.0}, record=["v"])  # healthy: nothing to say
    np.testing.assert_array_equal(result.vars["v"], 0.5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_failing_step_of_a_second_run_counts_from_the_start(backend):
    model = eqsnn.compile("neuron M\n    state V = 0.0 (< 5)\n    input I = 1.0\n"
                          "    after: V += I\n")
    sim = eqsnn.Simulator(model, 2, backend=backend, dt=0.5)
    sim.run(3)
    with pytest.raises(NumericalError, match=r"at step 4 \(t = 2\)") as caught:
        sim.run(4, record=["V"])
    error = caught.value
    assert error.step == 4 and error.result.info.first_step == 3
    np.testing.assert_array_equal(error.result.vars["V"][error.step - 3], 5.0)  # left < 5
    np.testing.assert_array_equal(error.result.vars["V"][error.step - 4], 4.0)


def test_a_precomputed_value_that_overflows_is_named_by_its_expression():
    # the internal name alone (_c0, _phi_V) says nothing to the model's author
    grow = eqsnn.compile("neuron M\n    param a = 1e30\n    state V = 1.0\n"
                         "    after: V = V * a * a\n")
    with pytest.raises(ParameterError, match=r"the precomputed value _c0 = a\*\*2 \(params "
                       r"and dt\) overflows float32"):
        eqsnn.Simulator(grow, 2, precision="float32")
    unstable = eqsnn.compile("neuron M\n    param tau = 1.0\n    state V = 1.0\n"
                             "    dV/dt = V / tau\n")
    with pytest.raises(ParameterError, match=r"the precomputed value _phi_V = exp\(dt/tau\) "
                       r"is not finite \(neurons \[1\]\)"):
        eqsnn.Simulator(unstable, 2, precision="float64", params={"tau": [1.0, 1e-3]})
    with pytest.raises(ParameterError, match=r"exp\(dt/tau\) is not finite\n"):
        eqsnn.Simulator(unstable, 2, precision="float64", params={"tau": 1e-3})


@pytest.mark.parametrize("name", ["_check_step", "_check_code"])
def test_the_record_of_the_check_cannot_be_set_as_an_initial_value(name):
    # init={'_check_step': 3} made a healthy run fail 'V became NaN or infinite at step 3'
    model = eqsnn.compile("neuron M\n    state V = 0.0 (< 10)\n    input I = 0.0\n"
                          "    after: V += I\n")
    with pytest.raises(ParameterError, match=f"unknown state '{name}'") as caught:
        eqsnn.Simulator(model, 2, init={name: 3})
    assert caught.value.hint == "known states: V"


@pytest.mark.parametrize("text", ["input I = 0.0 (> 0)", "input I (> 0)", "let x = 1.0 (> 0)"])
def test_bounds_where_none_are_taken_say_where_they_are(text):
    with pytest.raises(eqsnn.errors.ParseError, match=r"unexpected '\('") as caught:
        eqsnn.compile(f"neuron M\n    {text}\n    state V = 0.0\n")
    assert caught.value.hint == ("constraints and bounds, such as (> 0), follow a param's "
                                 "default or a state's initial value (inputs, lets and arrays "
                                 "take none)")
    assert caught.value.line == 2


@pytest.mark.parametrize("bounds, message, column", [
    ("(> 10, < -10)", "the bounds of V, '> 10' and '< -10', admit no value", 25),
    ("(< 0, > 0)", "the bounds of V, '> 0' and '< 0', admit no value", 24),
])
def test_bounds_that_admit_no_value_are_refused(bounds, message, column):
    # with an initial value from a param nothing else caught them: every run failed at once
    with pytest.raises(CheckError, match=message) as caught:
        eqsnn.compile(f"neuron M\n    param v0 = 0.0\n    state V = v0 {bounds}\n")
    assert caught.value.line == 3 and caught.value.column == column  # the second bound
    equal = eqsnn.compile("neuron M\n    param v0 = 0.0\n    state V = v0 (>= 0, <= 0)\n")
    assert len(equal.ir.states[0].bounds) == 2  # one value: V must stay 0


@pytest.mark.parametrize("declaration, message, column", [
    ("param a (> 10, < -10)", "the constraints of a, '> 10' and '< -10', admit no value", 20),
    ("param a (< 0, > 0)", "the constraints of a, '> 0' and '< 0', admit no value", 19),
    ("param a (> 5, < 5)", "the constraints of a, '> 5' and '< 5', admit no value", 19),
    ("param k: int (> 1, < 2)", "the constraints of k, '> 1' and '< 2', admit no int value",
     24),
    ("param k: int (> 1.2, < 1.8)",
     "the constraints of k, '> 1.2' and '< 1.8', admit no int value", 26),
])
def test_param_constraints_that_admit_no_value_are_refused(declaration, message, column):
    """A param without a default whose constraints admit no value compiled, and then every
    Simulator refused every value given for it."""
    with pytest.raises(CheckError, match=message) as caught:
        eqsnn.compile(f"neuron M\n    {declaration}\n    state V = 0.0\n")
    assert caught.value.line == 2 and caught.value.column == column  # the later bound
    assert "write the lower bound with > or >=" in caught.value.hint
    for fine in ("param a (>= 5, <= 5)", "param k: int (>= 1, < 2)", "param k: int (> 1.5, < 2.5)"):
        eqsnn.compile(f"neuron M\n    {fine}\n    state V = 0.0\n")
