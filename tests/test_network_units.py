"""Network weights and delays with units: plain numbers in the declared unit, quantities
and strings converted, mismatched dimensions rejected with a clear error."""

from __future__ import annotations

import numpy as np
import pytest

import eqsnn
from eqsnn import units
from eqsnn.errors import ParameterError
from eqsnn.network import Exponential, Network

NEURON = """neuron LifUnits
    param tau = 10.0 ms
    param R = 1.0 MOhm
    state V = 0.0 mV
    input Isyn = 0.0 nA
    dV/dt = (-V + R * Isyn) / tau
    threshold: V >= 1000.0 mV
    reset: V = 0.0 mV
"""

SYNAPSE = """synapse ExpCurrUnits
    param tau = 5.0 ms
    state I = 0.0 {unit}
    dI/dt = -I / tau
    on_spike: I += w
    output: I
"""


@pytest.fixture(scope="module")
def models():
    return (eqsnn.compile(NEURON), eqsnn.compile(SYNAPSE.format(unit="pA")),
            eqsnn.compile(SYNAPSE.format(unit="nA")))


def _net(models, synapse, weight, delay=2, backend="numpy"):
    neuron = models[0]
    net = Network(dt=0.1, precision="float64", backend=backend)
    net.add_spike_source("s", 2, steps=[0, 4], neurons=[0, 1])
    net.add_population("p", neuron, 2)
    conn = net.connect("s", "p", synapse, weight=weight, delay=delay)
    return net, conn


@pytest.mark.parametrize("backend", ["numpy", pytest.param("c", marks=pytest.mark.c)])
def test_weights_in_the_declared_unit_or_converted(models, backend):
    _, in_pa, in_na = models
    reference, _ = _net(models, in_na, 0.5, backend=backend)  # 0.5 nA, the internal unit
    want = reference.run(40, record={"p": ["V"]})["p"].vars["V"]
    assert want.max() > 0.01  # mV: the current arrived
    for weight in (500.0, "0.5 nA", 0.5 * units.nA, "500 pA", np.full(4, 500.0)):
        net, conn = _net(models, in_pa, weight, backend=backend)
        np.testing.assert_allclose(conn.weights, 500.0, rtol=1e-12)  # in pA, as declared
        got = net.run(40, record={"p": ["V"]})["p"].vars["V"]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    conn.weights = "1 nA"
    np.testing.assert_allclose(conn.weights, 1000.0, rtol=1e-12)


def test_mismatched_weight_units_are_rejected(models):
    _, in_pa, _ = models
    net = Network(dt=0.1)
    net.add_spike_source("s", 1, steps=[0], neurons=[0])
    net.add_population("p", models[0], 1)
    with pytest.raises(ParameterError, match=r"weight is in pA \(current\); got 6(\.0)? nS"):
        net.connect("s", "p", in_pa, weight="6 nS")
    with pytest.raises(ParameterError, match=r"has no unit; got 1(\.0)? nA"):
        net.connect("s", "p", Exponential(5.0), weight=1 * units.nA)
    assert not net.connections
    conn = net.connect("s", "p", in_pa, weight=3.0)
    with pytest.raises(ParameterError, match="in pA"):
        conn.weights = "2 mV"
    np.testing.assert_array_equal(conn.weights, [3.0])


def test_delays_given_as_times(models):
    _, in_pa, _ = models
    net = Network(dt=0.1)
    net.add_spike_source("s", 1, steps=[0], neurons=[0])
    net.add_population("p", models[0], 1)
    assert net.connect("s", "p", in_pa, delay="0.3 ms").delays.tolist() == [3]
    assert net.connect("s", "p", in_pa, delay=1.5 * units.ms).delays.tolist() == [15]
    assert net.connect("s", "p", in_pa, delay="300 us").delays.tolist() == [3]
    with pytest.raises(ParameterError, match=r"number of steps or a time; got 1(\.0)? mV"):
        net.connect("s", "p", in_pa, delay="1 mV")
    with pytest.raises(ParameterError, match="at least 1 step"):
        net.connect("s", "p", in_pa, delay="0.01 ms")
    assert len(net.connections) == 3


@pytest.mark.parametrize("backend", ["numpy", pytest.param("c", marks=pytest.mark.c)])
def test_population_inputs_in_units_as_the_simulator_takes_them(models, backend):
    neuron = models[0]
    sim = eqsnn.Simulator(neuron, 2, dt=0.1, precision="float64")
    want = sim.run(30, inputs={"Isyn": "0.5 nA"}, record=["V"]).vars["V"]
    for drive in ("500 pA", 0.5, 0.5 * units.nA):
        net = Network(dt=0.1, precision="float64", backend=backend)
        net.add_population("p", neuron, 2)
        net.add_population("q", neuron, 1)
        net.connect("p", "q", models[1], weight=1.0)
        got = net.run(30, inputs={"p": {"Isyn": drive}}, record={"p": ["V"]})["p"].vars["V"]
        np.testing.assert_allclose(got, want, rtol=1e-12)


VOLT_NEURON = """neuron LifVolt
    param tau = 10.0 ms
    param R = 1.0 MOhm
    state V = 0.0 [V]
    input Isyn = 0.0 nA
    dV/dt = (-V + R * Isyn) / tau
    threshold: V >= 1.0 [V]
    reset: V = 0.0 [V]
"""


@pytest.mark.parametrize("backend", ["numpy", pytest.param("c", marks=pytest.mark.c),
                                     pytest.param("pygenn", marks=pytest.mark.pygenn)])
def test_recorded_states_are_in_their_declared_units_as_on_a_simulator(models, backend):
    """V declared in volts, the synapse current in pA (the internal units are mV and nA):
    what a run records, and ``state``, are in the declared units, on every backend."""
    if backend == "pygenn":
        pytest.importorskip("pygenn")
    net = Network(dt=0.1, precision="float64", backend=backend)
    net.add_spike_source("s", 2, steps=[0, 4], neurons=[0, 1])
    net.add_population("p", eqsnn.compile(VOLT_NEURON), 2)
    conn = net.connect("s", "p", models[1], weight=500.0, delay=2)  # 500 pA
    res = net.run(40, record={"p": ["V"], conn.name: ["I"]})
    current, v = res[conn.name].vars["I"], res["p"].vars["V"]
    # the current: 500 pA arrives at step 2 and decays with tau = 5 ms
    assert current[2, 0, 0] == pytest.approx(500.0 * np.exp(-0.1 / 5.0), rel=1e-12)
    assert 1e-5 < v[-1, 0, 0] < 1e-3  # volts: about 0.2 mV
    np.testing.assert_allclose(net.state["p"]["V"], v[-1], rtol=1e-12)
