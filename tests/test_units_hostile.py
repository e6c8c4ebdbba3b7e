"""Units as a user porting Brian2 models writes them: strings in every spelling, quantities
of arrays, prefixes, compound and dimensionless units, dt as a quantity, values given in
another unit of the declared dimension, and comparisons and functions across units.
Every number is checked against a hand conversion or a closed form."""

import math
from fractions import Fraction

import numpy as np
import pytest
import test_network_units as network_units_tests

import eqsnn
from eqsnn import units
from eqsnn.errors import CheckError, ParameterError
from eqsnn.units import UnitError, parse_quantity

LEAK = """
neuron Leak
    param tau = 20 ms (> 0 ms)
    param v_th [mV] = -0.05 [V]
    param k = 2
    state V = -0.065 [volt]
    state w = 0 pA
    input I [pA] = 0 pA
    dV/dt = (-V + I * 1 MOhm) / tau
    dw/dt = -w / tau
    threshold: V > v_th
    reset:
        V = -65 mV
"""


@pytest.fixture(scope="module")
def leak():
    return eqsnn.compile(LEAK)


@pytest.mark.parametrize("text", ["20 ms", "0.02 s", "20ms", "20 msecond", "2e1 ms", " 20 ms ",
                                  "20000 us", "20000 µs", "20000 μs", "2e-5 ks", "0.02 second",
                                  "20 [ms]"])
def test_every_spelling_of_twenty_milliseconds_is_twenty_milliseconds(text):
    assert parse_quantity(text).to(units.ms) == pytest.approx(20.0, rel=1e-15)


@pytest.mark.parametrize("text, unit, expected", [
    ("1 [µF/cm**2]", "nF/um**2", 1e-5),   # 1e-6 F / 1e-4 m2 = 1e-2 F/m2; nF/um2 = 1e3 F/m2
    ("1 [uF/cm**2]", "nF/um**2", 1e-5),
    ("1 μA", "nA", 1e3),
    ("2 Mohm", "kOhm", 2e3),              # M is mega, m is milli
    ("2 mohm", "Ohm", 2e-3),
    ("3 kHz", "Hz", 3e3),
    ("1 [1/ms]", "Hz", 1e3),
    ("5 nS*mV", "pA", 5.0),               # 1e-9 S * 1e-3 V = 1e-12 A
    ("2 mV/ms", "V/s", 2.0),
])
def test_prefixes_and_compound_units_convert_by_hand(text, unit, expected):
    assert parse_quantity(text).to(units.parse_unit(unit)) == pytest.approx(expected, rel=1e-14)


def test_the_micro_sign_and_the_greek_mu_are_the_prefix_u_for_every_unit():
    # the micro sign was read only in um: '20 µs' was an unknown unit, '20 μs' unreadable
    assert units.lookup("µs") == units.lookup("μs") == units.lookup("us")
    assert units.lookup("µF").dimension == units.CAPACITANCE
    assert units.µs is units.lookup("us")  # Python reads the identifier µs as μs
    with pytest.raises(UnitError, match="unknown unit 'µq'"):
        units.lookup("µq")


def test_a_micro_sign_in_model_text_is_refused_with_the_ascii_spelling():
    with pytest.raises(eqsnn.EqsnnError) as exc:
        eqsnn.compile("neuron P\n    param tau = 20 µs\n    state x = 0.0\n"
                      "    dx/dt = -x / tau\n")
    assert "'u' for 'µ'" in exc.value.hint


def test_dt_with_a_micro_sign_and_as_a_bare_unit(leak):
    assert eqsnn.Simulator(leak, 1, dt="100 µs").dt == pytest.approx(0.1)
    # eqsnn.units.ms alone is one ms (Brian2's ms is a quantity); it was refused as
    # 'dt must be a positive finite number, not <Unit ms: time>'
    assert eqsnn.Simulator(leak, 1, dt=units.ms).dt == 1.0
    assert eqsnn.Simulator(leak, 1, dt=units.us).dt == pytest.approx(1e-3)


def test_dt_as_an_array_quantity_is_a_parameter_error(leak):
    # it raised a bare TypeError from float()
    with pytest.raises(ParameterError, match=r"dt must be one time step; got 2 values in ms"):
        eqsnn.Simulator(leak, 1, dt=np.array([0.1, 0.2]) * units.ms)


def test_a_bare_unit_is_one_of_that_unit_for_a_param_and_its_dimension_is_checked(leak):
    sim = eqsnn.Simulator(leak, 1, dt=0.1, precision="float64", params={"tau": units.second})
    result = sim.run(100, record=["V"])
    # tau = 1 s = 1000 ms; 10 ms of decay from -65 mV
    assert result.vars["V"][-1, 0, 0] == pytest.approx(-0.065 * math.exp(-10 / 1000), rel=1e-12)
    with pytest.raises(ParameterError, match=r"param 'tau' is in ms \(time\); got 1.0 mV"):
        eqsnn.Simulator(leak, 1, params={"tau": units.mV})


def test_powers_of_quantities():
    assert ((20 * units.um) ** 2).to(units.um ** 2) == 400.0
    assert ((4 * units.ms) ** -1).to(units.kHz) == pytest.approx(0.25)
    area = (np.array([1.0, 2.0]) * units.cm) ** 2
    np.testing.assert_allclose(area.to(units.um ** 2), [1e8, 4e8], rtol=1e-15)
    assert (8 * units.um) ** Fraction(1, 3) == units.Quantity(2.0, units.um ** Fraction(1, 3))
    with pytest.raises(UnitError, match="cannot raise 2 ms to the power 0.123456"):
        (2 * units.ms) ** 0.123456


def test_an_area_given_as_a_squared_quantity_reaches_the_equations():
    model = eqsnn.compile("""
neuron Membrane
    param area [um**2] = 100 [um**2]
    param cm = 1 [uF/cm**2]
    state V = 0 mV
    input I [pA] = 0 pA
    dV/dt = I / (cm * area)
""")
    sim = eqsnn.Simulator(model, 1, dt=0.1, precision="float64",
                          params={"area": (10 * units.um) ** 2})
    result = sim.run(10, inputs={"I": "1 pA"}, record=["V"])
    # C = 1e-2 F/m2 * 1e-10 m2 = 1e-12 F; dV/dt = 1e-12 A / 1e-12 F = 1 V/s = 1 mV/ms
    assert result.vars["V"][-1, 0, 0] == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_values_in_other_units_convert_and_come_back_in_the_declared_unit(leak, backend):
    sim = eqsnn.Simulator(leak, 2, dt=0.1 * units.ms, backend=backend, precision="float64",
                          params={"tau": 0.04 * units.second, "v_th": "0 mV"})
    sim.set_state("V", np.array([-0.06, -0.03]) * units.volt)
    sim.set_state("w", "1 nA")
    np.testing.assert_allclose(sim.state["V"], [[-0.06, -0.03]], rtol=1e-15)
    np.testing.assert_allclose(sim.state["w"], [[1000.0, 1000.0]], rtol=1e-15)
    result = sim.run(10, inputs={"I": np.array([0.5, 1.0]) * units.nA}, record=["V", "w"])
    assert result.units == {"V": "volt", "w": "pA"}
    # V in mV: V_inf = I * R = 0.5 mV, 1 mV; tau 40 ms; 1 ms
    decay = math.exp(-1 / 40)
    expected_mv = np.array([0.5 + (-60 - 0.5) * decay, 1.0 + (-30 - 1.0) * decay])
    np.testing.assert_allclose(result.vars["V"][-1, 0], expected_mv / 1000, rtol=1e-12)
    np.testing.assert_allclose(result.vars["w"][-1, 0], 1000 * decay, rtol=1e-12)


def test_float32_values_with_units(leak):
    sim = eqsnn.Simulator(leak, 1, dt="0.1 ms", precision="float32",
                          params={"tau": np.float32(0.02) * units.second})
    result = sim.run(10, record=["V"])
    assert result.vars["V"].dtype == np.float32
    assert result.vars["V"][-1, 0, 0] == pytest.approx(-0.065 * math.exp(-1 / 20), rel=1e-6)


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_a_threshold_in_millivolts_on_a_state_in_volts_fires_at_the_hand_time(leak, backend):
    sim = eqsnn.Simulator(leak, 1, dt=0.1, backend=backend, precision="float64")
    result = sim.run(100, record=["spikes"])
    # -65 mV decays to 0 with tau 20 ms and crosses -50 mV at 20 ln(65/50) = 5.247 ms:
    # the state at the end of step 52 (t = 5.3 ms) is the first above
    assert 5.2 < 20 * math.log(65 / 50) < 5.3
    assert list(result.spikes.step) == [52]


def test_t_compared_with_seconds_and_a_scaled_dimensionless_ratio():
    model = eqsnn.compile("""
neuron Clock
    state V = 500 mV
    state x = 0 [1]
    dV/dt = 0 [mV/ms]
    dx/dt = exp(V / 1 [V]) / 1 ms
    threshold: t > 0.00055 [s]
    reset:
        x = 0
""")
    sim = eqsnn.Simulator(model, 1, dt=0.1, precision="float64")
    result = sim.run(10, record=["x", "spikes"])
    np.testing.assert_allclose(result.vars["x"][4, 0, 0], 0.5 * math.exp(0.5), rtol=1e-12)
    # t is the start of the step: 0.55 ms = 0.00055 s is first passed at step 6 (t = 0.6 ms)
    assert list(result.spikes.step)[:1] == [6]


@pytest.mark.parametrize("body, message", [
    ("dV/dt = exp(V) * 1 [mV/ms]", r"the argument of exp\(\) is a voltage"),
    ("dV/dt = log(1 ms) * 1 [mV/ms]", r"the argument of log\(\) is a time"),
    ("dV/dt = 0 [mV/ms]\n    threshold: V > -50 ms", "cannot compare a voltage .* and a time"),
    ("dV/dt = 0 [mV/ms]\n    threshold: t > 5", "cannot compare a time .* and a dimensionless"),
    ("dV/dt = 0 [mV/ms]\n    after:\n        V += dt", "assigned to V is a time"),
])
def test_functions_and_comparisons_across_dimensions_are_refused(body, message):
    with pytest.raises(CheckError, match=message):
        eqsnn.compile(f"neuron P\n    state V = -65 mV\n    {body}\n")


@pytest.mark.parametrize("name, value, message", [
    ("tau", "3 K", r"param 'tau' is in ms \(time\); got 3.0 K \(temperature\)"),
    ("tau", 5 * units.nA, r"param 'tau' is in ms \(time\); got 5 nA \(current\)"),
    ("k", "3 mV", r"param 'k' has no unit \(dimensionless\); got 3.0 mV"),
    ("tau", "20 degC", "temperatures with an offset"),
    ("tau", "20 ms extra", "cannot read the unit 'ms extra'"),
])
def test_a_value_of_another_dimension_is_refused(leak, name, value, message):
    with pytest.raises(ParameterError, match=message):
        eqsnn.Simulator(leak, 1, params={name: value})



NET_SYNAPSE = """synapse DeltaPico
    state I = 0.0 pA
    dI/dt = -I / 5 ms
    on_spike: I += w
    output: I
"""


def test_a_bare_unit_as_a_weight_and_a_delay_is_one_of_it():
    from eqsnn.network import Network

    neuron, synapse = eqsnn.compile(network_units_tests.NEURON), eqsnn.compile(NET_SYNAPSE)
    net = Network(dt=0.1)
    net.add_spike_source("s", 1, steps=[0], neurons=[0])
    net.add_population("p", neuron, 1)
    conn = net.connect("s", "p", synapse, weight=units.nA, delay=units.ms)
    np.testing.assert_array_equal(conn.weights, [1000.0])  # pA, as declared
    assert conn.delays.tolist() == [10]  # 1 ms of 0.1 ms steps
    with pytest.raises(ParameterError, match=r"weight is in pA \(current\); got 1.0 nS"):
        net.connect("s", "p", synapse, weight=units.nS)
    with pytest.raises(ParameterError, match=r"dt must be one time step; got 2 values"):
        Network(dt=[0.1, 0.2] * units.ms)


def test_values_for_genn_take_a_bare_unit_as_one_of_it(leak):
    from eqsnn.runtime.quantities import convert_values

    def is_value(v):
        return isinstance(v, (int, float, np.ndarray))

    out = convert_values(leak.ir, "param", {"tau": units.second, "k": 3}, is_value=is_value)
    assert out == {"tau": 1000.0, "k": 3}  # ms, the internal unit
    with pytest.raises(ParameterError, match=r"param 'tau' is in ms \(time\); got 1.0 nA"):
        convert_values(leak.ir, "param", {"tau": units.nA}, is_value=is_value)


def test_quantities_compare_in_one_unit():
    # == compared the dataclass fields: 20 * ms == 0.02 * second was False
    assert 20 * units.ms == 0.02 * units.second
    assert not (20 * units.ms != 0.02 * units.second)
    assert 20 * units.ms > 0.01 * units.second
    assert 1 * units.mV <= 0.001 * units.volt
    assert 20 * units.ms != 20 * units.mV  # another dimension is not equal
    assert (20 * units.ms == 20) is False
    np.testing.assert_array_equal(np.array([1.0, 2.0]) * units.mV
                                  == np.array([0.001, 0.003]) * units.volt, [True, False])
    with pytest.raises(UnitError, match=r"cannot compare 20 ms \(time\) with 1 mV \(voltage\)"):
        20 * units.ms < 1 * units.mV  # noqa: B015


@pytest.mark.parametrize("decl, sigma", [
    ("param sigma = 0.001 [volt]\n    param tau = 0.01 second\n    state V = 0 [volt]", 0.001),
    ("param sigma = 1000 uV\n    param tau = 10000 us\n    state V = 0 uV", 1000.0),
])
def test_noise_with_sigma_and_tau_in_other_units_has_the_stationary_spread_sigma(decl, sigma):
    # xi is time^-1/2: were it scaled in s^-1/2 instead of ms^-1/2 the spread would be
    # off by sqrt(1000); the OU process's stationary standard deviation is sigma
    model = eqsnn.compile(f"neuron OU\n    {decl}\n"
                          "    dV/dt = -V / tau + sigma * sqrt(2 / tau) * xi\n")
    sim = eqsnn.Simulator(model, 20000, dt=0.1, precision="float64", seed=1)
    sim.run(1000)  # 100 ms, ten time constants
    assert np.std(sim.state["V"]) == pytest.approx(sigma, rel=0.03)


def test_dt_inside_an_expression_is_the_step_whatever_unit_it_was_given_in():
    model = eqsnn.compile("neuron Clock\n    state x = 0 second\n    state V = 0 mV\n"
                          "    dV/dt = 0 [mV/ms]\n    after:\n        x += dt\n")
    sim = eqsnn.Simulator(model, 1, dt="100 us", precision="float64")
    result = sim.run(10, record=["x"])
    assert result.units["x"] == "second"
    assert result.vars["x"][-1, 0, 0] == pytest.approx(10 * 100e-6, rel=1e-12)


def test_an_integer_quantity_converts_in_floating_point_without_overflow():
    # 3 s in ns was -1294967296 for an int32 value: the integer product wrapped
    np.testing.assert_array_equal(
        (np.array([3], dtype=np.int32) * units.second).to(units.nsecond), [3e9])
    assert (np.int32(3) * units.second).to(units.nsecond) == 3e9
    assert (np.array([3, 4]) * units.second).to(units.ms).dtype == np.float64
    assert (np.array([1, 3]) * units.ms).to(units.second)[1] == 0.003



def test_an_explicitly_dimensionless_string_is_not_read_in_the_declared_unit(leak):
    # "5 [1]" was taken as 5 mV for a param in mV, as the plain "5" is
    with pytest.raises(ParameterError, match=r"param 'v_th' is in mV \(voltage\); got 5.0 1 "
                       r"\(dimensionless\)"):
        eqsnn.Simulator(leak, 1, params={"v_th": "5 [1]"})
    sim = eqsnn.Simulator(leak, 1, params={"v_th": "5", "k": "5 [1]"}, precision="float64")
    sim.set_state("V", "0.006")  # a plain string: in the declared unit, volt
    np.testing.assert_array_equal(sim.state["V"], [[0.006]])
    # 6 mV decays for 1 ms with tau 20 ms: 6 exp(-1/20) = 5.7 mV passes v_th = 5 mV
    assert 5 < 6 * math.exp(-1 / 20)
    assert list(sim.run(1, record=["spikes"]).spikes.neuron) == [0]


def test_the_typeset_equations_of_a_model_with_units_say_they_are_in_the_internal_units(leak):
    # dV/dt = -V/tau was typeset for a V declared in volt with nothing saying V is in mV
    assert r"\text{in the internal units ms, mV, nA" in leak._repr_latex_()
    plain = eqsnn.compile("neuron Plain\n    state x = 1.0\n    dx/dt = -x\n")
    assert "internal units" not in plain._repr_latex_()


@pytest.mark.parametrize("expr, message", [
    ("floor(V)", r"the argument of floor\(\) is a voltage \(mV\); rounding it depends on"),
    ("ceil(V) * 2", r"the argument of ceil\(\) is a voltage \(mV\); rounding it depends on"),
    ("V // 2", r"'//' of a voltage \(mV\) and a dimensionless value"),
    ("V // (1 [mV/ms])", r"'//' of a voltage \(mV\) and a voltage per time"),
])
def test_rounding_a_value_with_a_dimension_is_refused(expr, message):
    # floor(V) floored the internal mV: for a V declared in volt (as Brian2 floors volts)
    # floor(-0.0653 V) gave -66 mV, not -1 V
    with pytest.raises(CheckError, match=message) as exc:
        eqsnn.compile(f"neuron P\n    state V = -0.0653 [volt]\n    state y = 0 mV\n"
                      f"    dV/dt = 0 [mV/ms]\n    after:\n        y = {expr}\n")
    assert ("/ 1 mV) * 1 mV" if "//" not in expr else "(V / 1 mV) // 2") in exc.value.hint


@pytest.mark.parametrize("expr, expected", [
    ("floor(V / 1 [V]) * 1 [V]", -1.0), ("ceil(V / 1 mV) * 1 mV", -0.065),
    ("(V // 1 mV) * 1 mV", -0.066), ("V % (2 mV) + floor(0)", 0.0007),
])
def test_rounding_a_ratio_is_in_the_unit_written(expr, expected):
    model = eqsnn.compile(f"neuron P\n    state V = -0.0653 [volt]\n    state y = 0 [volt]\n"
                          f"    dV/dt = 0 [mV/ms]\n    after:\n        y = {expr}\n")
    sim = eqsnn.Simulator(model, 1, precision="float64")
    sim.run(1)
    assert sim.state["y"][0, 0] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("text, unit, expected", [
    ("1 [mmol/liter]", "mM", 1.0),         # 1e-3 mol / 1e-3 m3 = 1 mol/m3 = 1 mM
    ("2 [umole/mlitre]", "mM", 2.0),       # 2e-6 mol / 1e-6 m3
    ("1 uM", "mM", 1e-3),
    ("3 mmolar", "mM", 3.0),
    ("300 K", "mK", 3e5),
    ("1 [um**3]", "fliter", 1.0),          # 1e-18 m3 = 1e-15 l
])
def test_concentrations_volumes_and_temperatures_convert_by_hand(text, unit, expected):
    # Brian2's liter and litre were unknown units
    assert parse_quantity(text).to(units.parse_unit(unit)) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("text, expected", [("20*ms", 20.0), ("-65 * mV", -65.0),
                                            ("0.02*second", 20.0), ("2 * mV/ms", 2.0)])
def test_brian2s_string_products_read_as_quantities(text, expected):
    # Brian2 writes values as '20*ms'; it was 'unexpected '*' in the unit'
    quantity = parse_quantity(text)
    unit = units.ms if quantity.unit.dimension == units.TIME else quantity.unit
    assert quantity.to(unit if unit.dimension != units.VOLTAGE else units.mV) == expected


def test_a_product_without_a_unit_is_still_refused():
    with pytest.raises(UnitError, match=r"cannot read '20 \*': '\*' needs a unit after it"):
        parse_quantity("20 *")
    with pytest.raises(UnitError):
        parse_quantity("20 ** ms")


def test_a_unit_divided_by_a_quantity():
    # it was a TypeError; units.mV * (2 * units.ms) already worked
    assert (units.mV / (2 * units.ms)).to(units.parse_unit("V/s")) == 0.5
    assert (units.mV * (2 * units.ms)).to(units.parse_unit("V*s")) == pytest.approx(2e-6)


def test_a_state_started_from_an_expression_is_in_the_internal_unit_of_its_dimension():
    model = eqsnn.compile("neuron P\n    param g = 2 nS\n    param E = 0.01 [V]\n"
                          "    param a = 1 mV\n    state I = g * E\n    state W = a + E\n"
                          "    dW/dt = 0 [mV/ms]\n    dI/dt = 0 [nA/ms]\n")
    sim = eqsnn.Simulator(model, 1, precision="float64")
    result = sim.run(1, record=["I", "W"])
    assert result.units == {"I": "nA", "W": "mV"}
    assert result.vars["I"][0, 0, 0] == pytest.approx(0.02)   # 2 nS * 10 mV = 20 pA
    assert result.vars["W"][0, 0, 0] == pytest.approx(11.0)   # 1 mV + 10 mV


class _DeviceArray(np.ndarray):
    """A host array that says it is on a device, as a CuPy array does."""

    @property
    def __cuda_array_interface__(self):
        return {}


def test_a_device_array_is_scaled_by_the_same_correctly_rounded_division_as_a_host_one(leak):
    # it was multiplied by float(1/1000): 1 ulp off the host's division for 14 % of values
    from eqsnn.runtime.quantities import to_internal

    values = np.arange(1, 2001) * 0.1
    host = to_internal(leak.ir, "input", "I", values)
    device = to_internal(leak.ir, "input", "I", values.view(_DeviceArray))
    np.testing.assert_array_equal(host, values / 1000)
    np.testing.assert_array_equal(np.asarray(device), host)
