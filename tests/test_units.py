"""Units: the unit table, the language, conversion at compile time, values in and out."""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import eqsnn
from eqsnn import units
from eqsnn.errors import ParameterError
from eqsnn.units import UnitError

ROOT = Path(__file__).resolve().parent.parent


# --- the unit table ---------------------------------------------------------------------

# SI value of one of each unit, written out by hand (the oracle for the table)
SI = {
    "s": 1, "ms": 1e-3, "us": 1e-6, "V": 1, "mV": 1e-3, "A": 1, "nA": 1e-9, "pA": 1e-12,
    "S": 1, "nS": 1e-9, "uS": 1e-6, "F": 1, "nF": 1e-9, "pF": 1e-12, "Ohm": 1, "MOhm": 1e6,
    "kOhm": 1e3, "Hz": 1, "kHz": 1e3, "metre": 1, "m": 1, "um": 1e-6, "cm": 1e-2, "mol": 1,
    "M": 1e3, "mM": 1, "uM": 1e-3,
    # Brian2's spellings
    "volt": 1, "amp": 1, "siemens": 1, "farad": 1, "second": 1, "ohm": 1, "Mohm": 1e6,
    "hertz": 1, "msecond": 1e-3, "mvolt": 1e-3, "namp": 1e-9,
}
# the internal unit of each dimension, in SI: ms, mV, nA, nF, uS, MOhm, 1/ms, um, mM
INTERNAL = {"s": 1e-3, "V": 1e-3, "A": 1e-9, "S": 1e-6, "F": 1e-9, "Ohm": 1e6, "Hz": 1e3,
            "m": 1e-6, "mol/m**3": 1}
BASE_OF = {"s": "s", "ms": "s", "us": "s", "V": "V", "mV": "V", "A": "A", "nA": "A",
           "pA": "A", "S": "S", "nS": "S", "uS": "S", "F": "F", "nF": "F", "pF": "F",
           "Ohm": "Ohm", "MOhm": "Ohm", "kOhm": "Ohm", "Hz": "Hz", "kHz": "Hz", "metre": "m",
           "m": "m", "um": "m", "cm": "m", "M": "mol/m**3", "mM": "mol/m**3",
           "uM": "mol/m**3", "volt": "V", "amp": "A", "siemens": "S", "farad": "F",
           "second": "s", "ohm": "Ohm", "Mohm": "Ohm", "hertz": "Hz", "msecond": "s",
           "mvolt": "V", "namp": "A"}


@pytest.mark.parametrize("name", sorted(BASE_OF))
def test_each_unit_scales_into_the_internal_unit(name):
    unit = units.lookup(name)
    assert float(unit.scale) == pytest.approx(SI[name], rel=1e-15)
    expected = SI[name] / INTERNAL[BASE_OF[name]]
    assert float(unit.factor) == pytest.approx(expected, rel=1e-15)


def test_the_internal_units_are_one_consistent_system():
    """mV = nA * MOhm, nA = nF * mV / ms = uS * mV, 1/ms = 1 / ms: no factor in the code."""
    for product in (units.nA * units.MOhm, units.nF * units.mV / units.ms, units.uS * units.mV,
                    units.Hz * units.ms * units.kHz / units.Hz):
        assert product.factor == 1, product


def test_scales_are_exact_so_conversion_rounds_once():
    assert units.pF.factor == Fraction(1, 1000)
    assert (281 * units.pF).to(units.nF) == 0.281  # one correctly rounded division
    assert units.pA.to_internal(80.5) == 0.0805
    assert units.parse_unit("uF/cm**2").factor == Fraction(1, 10**5)


def test_doctests_of_the_unit_modules():
    import doctest

    from eqsnn.frontend import unit_algebra, unit_system

    for module in (units, unit_algebra, unit_system):
        assert doctest.testmod(module).failed == 0


def test_prefixes_cover_the_SI_set():
    for prefix, power in {"G": 9, "M": 6, "k": 3, "m": -3, "u": -6, "n": -9, "p": -12,
                          "f": -15}.items():
        assert units.lookup(prefix + "V").scale == Fraction(10) ** power


@pytest.mark.parametrize("name", ["degC", "celsius", "degF"])
def test_offset_temperatures_are_rejected(name):
    with pytest.raises(UnitError) as info:
        units.lookup(name)
    assert "offset" in info.value.hint


@pytest.mark.parametrize("text, value, unit_factor", [
    ("20 ms", 20.0, 1), ("20ms", 20.0, 1), ("-65 mV", -65.0, 1), ("1e3 pA", 1000.0,
                                                                   Fraction(1, 1000)),
    ("0.1 mV/ms", 0.1, 1), ("5 [nS]", 5.0, Fraction(1, 1000)), ("2 1/ms", 2.0, 1),
])
def test_quantity_strings(text, value, unit_factor):
    quantity = units.parse_quantity(text)
    assert quantity.value == value and quantity.unit.factor == unit_factor


def test_python_quantities_multiply_numbers_and_arrays():
    q = 20 * units.ms
    assert isinstance(q, units.Quantity) and q.to(units.second) == 0.02
    arr = np.array([1.0, 2.0]) * units.mV
    assert isinstance(arr, units.Quantity)
    np.testing.assert_array_equal(arr.to(units.volt), [1e-3, 2e-3])
    with pytest.raises(UnitError, match="cannot convert mV"):
        arr.to(units.ms)


# --- the language -----------------------------------------------------------------------

def test_unit_names_stay_free_for_model_names():
    """V, m, h, n, A, S name states; only a name right after a number is a unit."""
    model = eqsnn.compile("""neuron Names
    param tau = 10 ms
    state V = 1 mV
    state A = 2 mV
    state S = 0.5
    state m = 0.1
    dV/dt = (A - V) / tau
    dA/dt = -A / tau
    dm/dt = (S - m) / tau
""")
    assert {s.name for s in model.ir.states} == {"V", "A", "S", "m"}


def test_quantities_are_converted_at_compile_time():
    model = eqsnn.compile("""neuron Scaled
    param c_mem = 281 pF (> 0 pF)
    param g = 5 [nS]
    param rate = 10 Hz (< 1 kHz)
    param tau [ms] = 0.02 s
    state V = -65 mV
    state w [pA] = 0
    input I [pA]
    dV/dt = (g * (-65 mV - V) + I - w) / c_mem
    dw/dt = -w / tau + 1 pA * rate
""")
    params = {p.name: p for p in model.ir.params}
    assert params["c_mem"].default == 0.281 and params["g"].default == 0.005
    assert params["rate"].default == 0.01 and params["rate"].constraints[0].bound == 1.0
    assert params["tau"].default == 20.0
    assert {n: str(u) for n, u in model.ir.units} == {
        "c_mem": "pF", "g": "nS", "rate": "Hz", "tau": "ms", "V": "mV", "w": "pA", "I": "pA"}


def test_xi_is_time_to_the_minus_half_and_dt_t_are_times():
    eqsnn.compile("""neuron Noisy
    param tau = 20 ms (> 0 ms)
    param sigma = 2 mV
    state V = 0 mV
    state clock = 0 ms
    dV/dt = -V / tau + sigma * sqrt(2 / tau) * xi
    after:
        clock += dt
        if t > 100 ms: clock = 0
""")


def test_literal_zero_matches_any_dimension_but_other_numbers_do_not():
    eqsnn.compile("neuron Z\n    state R = 0 ms\n    after: R = max(R - dt, 0)\n"
                  "    threshold: R <= 0\n")
    with pytest.raises(eqsnn.EqsnnError, match="a time \\(ms\\) and a dimensionless value"):
        eqsnn.compile("neuron Z\n    state R = 0 ms\n    threshold: R <= 0.5\n")


# --- twins: the examples with units and hand-scaled unitless ones -----------------------

TWINS = {"adex": (0.1, 2000), "hh": (0.01, 3000), "coba_lif": (0.1, 1000),
         "lif_held": (0.1, 1000)}
#: twins written in the internal units where the example declares others: state -> the
#: factor from the twin's unit to the declared one (adex's w: nA -> pA)
TWIN_SCALES = {"adex": {"w": 1000.0}}


@pytest.mark.parametrize("name", sorted(TWINS))
def test_example_with_units_matches_its_unitless_twin(name):
    dt, steps = TWINS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with_units = eqsnn.load(ROOT / "examples" / f"{name}.eqs")
        twin = eqsnn.load(ROOT / "tests" / "twins" / f"{name}.eqs")
    assert with_units.ir.units and not twin.ir.units
    states = [s.name for s in twin.ir.states]
    runs = [eqsnn.Simulator(m, 4, dt=dt, precision="float64").run(steps, record=states)
            for m in (with_units, twin)]
    for state in states:
        got = runs[0].vars[state]
        want = runs[1].vars[state] * TWIN_SCALES.get(name, {}).get(state, 1.0)
        scale = np.abs(want).max()
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * scale, err_msg=state)
    assert runs[0].units["V"] == "mV"


def test_adex_keeps_its_units_w_and_i_in_pA():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adex = eqsnn.load(ROOT / "examples" / "adex.eqs")
    declared = {n: str(u) for n, u in adex.ir.units}
    assert declared["V"] == "mV" and declared["w"] == "pA" and declared["I"] == "pA"
    assert "v_peak" in declared


# --- values in and out ------------------------------------------------------------------

LIF = """neuron Lif
    param tau_mem = 20 ms (> 0 ms)
    param r_mem = 100 MOhm
    param v_rest = -65 mV
    state V = v_rest
    input I = 0 pA
    dV/dt = (v_rest - V + r_mem * I) / tau_mem
"""


def closed_form(t_s, tau_s, r_ohm, i_amp, v_rest_v):
    """V(t) in volts, in SI, worked out by hand: the oracle for the conversions."""
    return v_rest_v + r_ohm * i_amp * (1 - np.exp(-t_s / tau_s))


@pytest.mark.parametrize("tau, current", [
    (20.0, 150.0),                          # plain numbers: declared units (ms, pA)
    (20 * units.ms, 0.15 * units.nA),       # quantities
    ("0.02 s", "150 pA"),                   # strings
    (np.full(3, 20.0) * units.ms, np.full(3, 1.5e-10) * units.amp),  # per-neuron arrays
])
def test_params_and_inputs_with_units_match_the_closed_form(tau, current):
    sim = eqsnn.Simulator(eqsnn.compile(LIF), 3, dt="100 us", precision="float64",
                          params={"tau_mem": tau})
    assert sim.dt == 0.1
    result = sim.run(200, inputs={"I": current}, record=["V"])
    assert result.units == {"V": "mV"}
    t = 1e-4 * np.arange(1, 201)
    expected = closed_form(t, 0.02, 100e6, 150e-12, -0.065) * 1e3  # in mV
    np.testing.assert_allclose(result.vars["V"][:, 0, 0], expected, rtol=1e-12)


def test_results_state_and_init_are_in_the_declared_unit():
    text = LIF.replace("state V = v_rest", "state V = v_rest\n    state w = 0 pA").replace(
        "dV/dt", "dw/dt = -w / tau_mem\n    dV/dt")
    model = eqsnn.compile(text)
    sim = eqsnn.Simulator(model, 2, precision="float64", init={"w": 80.5})
    assert sim.state["w"][0, 0] == 80.5  # pA in, pA out (0.0805 nA inside)
    sim.set_state("w", "1 nA")
    assert sim.state["w"][0, 0] == 1000.0
    result = sim.run(1, record=["w"])
    np.testing.assert_allclose(result.vars["w"][0, 0, 0], 1000.0 * np.exp(-1 / 20), rtol=1e-14)


@pytest.mark.parametrize("params, message", [
    ({"tau_mem": "20 mV"}, "param 'tau_mem' is in ms (time); got 20.0 mV (voltage)"),
    ({"tau_mem": 5 * units.nA}, "param 'tau_mem' is in ms (time); got 5 nA (current)"),
    ({"tau_mem": "20 parsecs"}, "unknown unit 'parsecs'"),
    ({"tau_mem": "-1 ms"}, "tau_mem must be > 0"),
])
def test_a_param_in_the_wrong_unit_is_rejected_at_run_time(params, message):
    with pytest.raises(ParameterError) as info:
        eqsnn.Simulator(eqsnn.compile(LIF), 2, params=params)
    assert message in str(info.value)


def test_wrong_units_for_inputs_init_and_dt_are_rejected():
    model = eqsnn.compile(LIF)
    sim = eqsnn.Simulator(model, 2)
    with pytest.raises(ParameterError, match="input 'I' is in pA"):
        sim.run(1, inputs={"I": 3 * units.mV})
    with pytest.raises(ParameterError, match="state 'V' is in mV"):
        eqsnn.Simulator(model, 2, init={"V": "1 ms"})
    with pytest.raises(ParameterError, match="dt must be a time"):
        eqsnn.Simulator(model, 2, dt="1 mV")
    with pytest.raises(ParameterError, match="has no unit in this model|dimensionless"):
        eqsnn.Simulator(eqsnn.compile("neuron P\n    param a = 1.0\n    state V = 0.0\n"),
                        1, params={"a": "2 ms"})


def test_models_without_units_take_values_unchanged():
    model = eqsnn.load(ROOT / "examples" / "lif_pulse.eqs")
    assert model.ir.units == ()
    result = eqsnn.Simulator(model, 2, params={"tau_mem": 10.0}).run(3, record=["V"])
    assert result.units == {"V": None}


def test_cli_takes_a_param_with_a_unit(capsys):
    from eqsnn.tools.cli import main

    assert main(["run", "examples/lif_held.eqs", "--steps", "50", "--n", "2", "--dt", "100us",
                 "--param", "tau_mem=0.01s", "--input", "I=20000pA"]) == 0
    assert "50 steps of 0.1 ms" in capsys.readouterr().out
    assert main(["run", "examples/lif_held.eqs", "--steps", "5", "--param",
                 "tau_mem=3mV"]) == 1
    assert "param 'tau_mem' is in ms" in capsys.readouterr().err


def test_genn_population_values_are_converted_without_pygenn():
    from eqsnn.genn.population import _in_internal_units
    from eqsnn.initializers import Normal

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adex = eqsnn.load(ROOT / "examples" / "adex.eqs").ir
    params, init = _in_internal_units(adex, {"c_mem": 200.0, "b": "1 nA", "v_t": -50.0},
                                      {"w": 80.5})
    assert params == {"c_mem": 0.2, "b": 1.0, "v_t": -50.0} and init == {"w": 0.0805}
    kept, _ = _in_internal_units(adex, {"v_t": Normal(mean=-50.0, sd=1.0)}, {})
    assert isinstance(kept["v_t"], Normal)  # mV is the internal unit: nothing to convert
    with pytest.raises(ParameterError, match="an initialiser draws in the code's unit"):
        _in_internal_units(adex, {"c_mem": Normal(mean=200.0, sd=1.0)}, {})


def test_show_and_plot_name_the_units():
    pytest.importorskip("matplotlib")
    model = eqsnn.compile(LIF)
    text = str(model)
    assert "tau_mem: float = 20 ms (> 0 ms)" in text and "I: pA (1 pA = 1/1000 nA)" in text
    assert "dV/dt = (I*r_mem - V + v_rest)/tau_mem    [mV/ms]" in text
    result = eqsnn.Simulator(model, 1).run(2, record=["V"])
    figure = result.plot()
    assert figure.axes[0].get_ylabel() == "V (mV)"
