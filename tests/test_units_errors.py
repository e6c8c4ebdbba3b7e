"""Wrong models with units: each is rejected with the place (caret), both dimensions and a hint."""

from __future__ import annotations

import pytest

import eqsnn
from eqsnn.errors import CheckError, EqsnnError, ParseError

HEAD = """neuron Wrong
    param tau = 20 ms (> 0 ms)
    param R = 100 MOhm
    param v_t = -50 mV
    param delta = 2 mV
    param k: int = 3
    state V = -65 mV
    state m = 0.5
    state RefracTime = 0 ms
    input I = 0.1 nA
    array table
"""
OK_ODE = "    dV/dt = (-V + R * I) / tau\n"

# (case, lines after HEAD, error class, text under the caret, message part, hint part)
CASES = [
    ("sum_of_voltage_and_current", "    dV/dt = (-V + I) / tau\n", CheckError, "I)",
     "cannot add a voltage (mV) and a current (nA)", "multiply by a resistance"),
    ("difference_of_time_and_voltage", "    dV/dt = (tau - V) / tau\n", CheckError, "V)",
     "cannot subtract a voltage (mV) from a time (ms)", ""),
    ("exp_of_voltage", "    dV/dt = -V / tau + exp(V) * 1 [mV/ms]\n", CheckError, "V)",
     "the argument of exp() is a voltage (mV), not a dimensionless value",
     "divide by a voltage"),
    ("exp_of_time", "    dV/dt = (-V + R * I) / tau * exp(-t / 10)\n", CheckError, "-t",
     "the argument of exp() is a time (ms)", "divide by a time"),
    ("log_of_time", "    dV/dt = (-V + R * I) / tau * log(tau)\n", CheckError, "tau)",
     "the argument of log() is a time (ms)", "divide by a time"),
    ("exprel_of_voltage", "    dV/dt = (-V + R * I) / tau / exprel(V)\n", CheckError, "V)",
     "the argument of exprel() is a voltage", "divide by a voltage"),
    ("tanh_of_current", "    dV/dt = (-V + R * I) / tau * tanh(I)\n", CheckError, "I)",
     "the argument of tanh() is a current (nA)", "divide by a current"),
    ("ode_missing_time", "    dV/dt = -V + R * I\n", CheckError, "-V",
     "dV/dt, which must be V's unit per time, is a voltage (mV), not a voltage per time "
     "(mV/ms)", "divide by a time"),
    ("ode_of_dimensionless_state", OK_ODE + "    dm/dt = 1 - m\n", CheckError, "1 - m",
     "dm/dt, which must be m's unit per time, is a dimensionless value, not a rate (1/ms)",
     "give the number a unit"),
    ("ode_current_for_voltage", "    dV/dt = I / tau\n", CheckError, "I /",
     "is a current per time (nA/ms), not a voltage per time", "multiply by a resistance"),
    ("noise_without_sqrt", "    dV/dt = (-V + R * I) / tau + 1 mV * xi\n", CheckError, "1 mV",
     "cannot add a voltage per time (mV/ms) and a voltage per square root of time", ""),
    ("threshold_mV_against_nA", OK_ODE + "    threshold: V >= I\n", CheckError, "I",
     "cannot compare a voltage (mV) and a current (nA)", "multiply by a resistance"),
    ("threshold_against_bare_number", OK_ODE + "    threshold: V >= 1\n", CheckError, "1",
     "cannot compare a voltage (mV) and a dimensionless value", "give the number a unit, "
     "e.g. '1 mV'"),
    ("negative_threshold_mismatch", OK_ODE + "    threshold: V >= v_t\n"
     "    negative threshold: V <= -tau\n", CheckError, "-tau",
     "cannot compare a voltage (mV) and a time (ms)", ""),
    ("refractory_mismatch", OK_ODE + "    refractory: RefracTime > V\n", CheckError, "V",
     "cannot compare a time (ms) and a voltage (mV)", ""),
    ("equality_mismatch", OK_ODE + "    after:\n        if V == tau: V = v_t\n", CheckError,
     "tau:", "cannot compare a voltage (mV) and a time (ms)", ""),
    ("unless_mismatch", "    dV/dt = (-V + R * I) / tau unless V > I\n", CheckError, "I\n",
     "cannot compare a voltage (mV) and a current (nA)", ""),
    ("increment_without_unit", OK_ODE + "    after: V += 1\n", CheckError, "1",
     "the value assigned to V is a dimensionless value, not a voltage (mV)",
     "give the number a unit, e.g. '1 mV'"),
    ("reset_to_time", OK_ODE + "    threshold: V > 0 mV\n    reset: V = tau\n", CheckError, "tau",
     "the value assigned to V is a time (ms), not a voltage (mV)", ""),
    ("scale_by_time", OK_ODE + "    after: V *= tau\n", CheckError, "tau",
     "the factor of '*=' is a time (ms), not a dimensionless value", "divide by a time"),
    ("countdown_in_volts", OK_ODE + "    after: RefracTime -= 1 mV\n", CheckError, "1 mV",
     "the value assigned to RefracTime is a voltage (mV), not a time (ms)", ""),
    ("let_mixing", OK_ODE + "    let x = V + tau\n", CheckError, "tau",
     "cannot add a voltage (mV) and a time (ms)", ""),
    ("local_mixing", OK_ODE + "    after:\n        let y = V + I\n        V = y\n", CheckError,
     "I\n", "cannot add a voltage (mV) and a current (nA)", "multiply by a resistance"),
    ("min_mixing", "    dV/dt = (-V + R * min(I, V)) / tau\n", CheckError, "V))",
     "the arguments of min() mix a current (nA) and a voltage (mV)", ""),
    ("clip_mixing", OK_ODE + "    after: V = clip(V, 0, I)\n", CheckError, "I)",
     "the arguments of clip() mix a voltage (mV) and a current (nA)", ""),
    ("remainder_mixing", OK_ODE + "    after: V = V % tau\n", CheckError, "tau",
     "cannot take the remainder of a voltage (mV) and a time (ms)", ""),
    ("power_not_constant", "    dV/dt = (-V + R * I) / tau * (V / delta) ** m\n"
     "    after: V = V ** m\n", CheckError, "m\n",
     "the power of a voltage (mV) must be a constant number", "write a number such as 2"),
    ("exponent_with_unit", OK_ODE + "    after: m = 2 ** V\n", CheckError, "V",
     "an exponent is a voltage (mV), not a dimensionless value", ""),
    ("sqrt_of_voltage_added", OK_ODE + "    let z = sqrt(V) + V\n", CheckError, "V\n",
     "cannot add a square root of a voltage and a voltage (mV)", ""),
    ("square_added_to_its_base", OK_ODE + "    let z = I * I + I\n", CheckError, "I\n",
     "cannot add a square of a current (nA**2) and a current (nA)", "multiply by a current"),
    ("square_added_to_a_number", OK_ODE + "    let z = 1 + V * V\n", CheckError, "V * V",
     "cannot add a dimensionless value and a square of a voltage (mV**2)",
     "divide by a square of a voltage"),
    ("abs_keeps_the_dimension", OK_ODE + "    let z = abs(V) + I\n", CheckError, "I",
     "cannot add a voltage (mV) and a current (nA)", ""),
    ("bound_in_wrong_unit", "    param tau_x = 20 ms (> 0 mV)\n" + OK_ODE, CheckError, "mV)",
     "the bound of tau_x is a voltage (mV), but tau_x is a time (ms)", "write the bound in ms"),
    ("bound_without_unit", "    param tau_x = 20 ms (> 1)\n" + OK_ODE, CheckError, "> 1",
     "the bound 1 of tau_x has no unit, but tau_x is a time (ms)",
     "give the bound a unit: (> 1 ms)"),
    ("annotation_and_default_disagree", "    param g [nS] = 5 mV\n" + OK_ODE, CheckError,
     "5 mV", "the value of g, declared in nS, is a voltage (mV), not a conductance (uS)", ""),
    ("state_annotation_and_init_disagree", "    state w [pA] = 5 mV\n" + OK_ODE, CheckError,
     "5 mV", "the value of w, declared in pA, is a voltage (mV), not a current (nA)", ""),
    ("annotated_default_without_unit", "    input J [pA] = 5\n" + OK_ODE, CheckError, "5",
     "the value of J, declared in pA, has no unit", "write it with its unit: '5 pA'"),
    ("unit_used_as_a_name", "    dV/dt = (-V + R * I) / tau * ms / tau\n", CheckError, "ms",
     "unknown name 'ms'", "'ms' is a unit, and a unit follows a number: write '1 ms'"),
    ("unit_on_an_int", "    param n: int [ms] = 2\n" + OK_ODE, CheckError, "ms]",
     "'n' is int; only float values have units", "drop the unit"),
    ("unit_name_that_is_a_state", "    dV/dt = (-V + R * I) / tau * 2 m\n", CheckError, "m\n",
     "'2 m' reads as 2 of the unit m, but the model also declares 'm'",
     "write '2 * m' for a product, or '2 [m]' for the unit"),
    ("celsius", "    param temp = 6.3 degC\n" + OK_ODE, CheckError, "degC",
     "unknown unit 'degC'", "temperatures with an offset"),
    ("misspelt_unit", "    param tau_x = 5 mSec\n" + OK_ODE, CheckError, "mSec",
     "unknown unit 'mSec'", "did you mean 'ms'?"),
    ("unit_in_the_wrong_case", "    param tau_x = 5 mSecond\n" + OK_ODE, CheckError, "mSecond",
     "unknown unit 'mSecond'", "did you mean 'msecond'?"),
    ("number_in_unit", "    param rate = 5 [2/ms]\n" + OK_ODE, CheckError, "2/ms",
     "a unit cannot hold the number 2", "the only number in a unit is 1"),
    ("sum_in_unit", "    param rate = 5 [mV + ms]\n" + OK_ODE, CheckError, "mV + ms",
     "this is not a unit", "a unit is a name such as mV"),
    ("index_with_a_unit", OK_ODE + "    after: V = V + table[k] * 1 mV + table[k] * I\n",
     CheckError, "table[k] * I", "cannot add a voltage (mV) and a current (nA)", ""),
]


@pytest.mark.parametrize("case, body, error, at, message, hint", CASES,
                         ids=[case[0] for case in CASES])
def test_wrong_model_is_rejected_at_the_place_with_a_hint(case, body, error, at, message, hint):
    source = HEAD + body
    with pytest.raises(error) as info:
        eqsnn.compile(source, filename="wrong.eqs")
    exc = info.value
    assert isinstance(exc, EqsnnError)
    assert message in exc.message, exc.message
    assert hint in (exc.hint or ""), exc.hint
    line = source.split("\n")[exc.line - 1] + "\n"
    assert line[exc.column - 1:].startswith(at), (line, exc.column)
    shown = str(exc)
    assert shown.startswith(f"wrong.eqs:{exc.line}:{exc.column}: ")
    assert "^" in shown and "hint: " in shown


def test_there_are_at_least_thirty_wrong_models():
    assert len(CASES) >= 30


@pytest.mark.parametrize("text, where", [
    ("neuron W\n    param tau = 20 ms ms\n", "ms\n"),
    ("neuron W\n    param tau = 20 [ms\n", "\n"),
])
def test_malformed_quantities_are_parse_errors(text, where):
    with pytest.raises(ParseError):
        eqsnn.compile(text)


def test_a_unit_error_leaves_a_model_without_units_untouched():
    """The dimension check runs only where a model uses units: exp(V) is fine without."""
    model = eqsnn.compile("neuron Plain\n    param tau = 10.0\n    state V = 1.0\n"
                          "    dV/dt = -V / tau + exp(V) * 0.0\n")
    assert model.ir.units == ()
