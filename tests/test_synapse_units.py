"""Synapse models written with units: ``post V [mV]`` gives a read of the target a unit, and
at ``connect`` the post states and the output's dimension are checked against the target."""

from __future__ import annotations

import numpy as np
import pytest

import eqsnn
from eqsnn.errors import CheckError, ParameterError
from eqsnn.network import Delta, ExpCond, ExpCurr, Network
from eqsnn.neurons import LeakyIntegrateFire

# an integrate-and-fire neuron written in mV, pF, nS and pA (internally mV, nF, uS, nA)
LIF_UNITS = """neuron LifUnits
    param C = 200 pF (> 0)
    param gL = 10 nS (> 0)
    param EL = -65 mV
    param VT = -50 mV
    param Vr = -65 mV
    state V = EL
    input Isyn = 0 pA
    dV/dt = (gL * (EL - V) + Isyn) / C
    threshold: V >= VT
    reset: V = Vr
"""

# the same neuron by hand in the internal units, without any unit
LIF_PLAIN = """neuron LifPlain
    param C = 0.2 (> 0)
    param gL = 0.01 (> 0)
    param EL = -65.0
    param VT = -50.0
    param Vr = -65.0
    state V = EL
    input Isyn = 0.0
    dV/dt = (gL * (EL - V) + Isyn) / C
    threshold: V >= VT
    reset: V = Vr
"""

COBA_UNITS = """synapse CobaUnits
    param tau = 5 ms (> 0 ms)
    param E = 0 mV
    post V [mV]
    state g = 0 nS
    dg/dt = -g / tau
    on_spike: g += w
    output: g * (E - V)
"""

COBA_PLAIN = """synapse CobaPlain
    param tau = 5.0 (> 0)
    param E = 0.0
    post V
    state g = 0.0
    dg/dt = -g / tau
    on_spike: g += w
    output: g * (E - V)
"""

CURRENT_UNITS = """synapse CurrentUnits
    param tau = 5 ms (> 0 ms)
    state I = 0 pA
    dI/dt = -I / tau
    on_spike: I += w
    output: I
"""

STEPS = [0, 3, 5, 6, 7, 8, 9, 10, 12, 14, 30, 31, 32, 33, 34, 35, 36, 37, 38, 60, 61, 62]


def _coba_net(neuron, synapse, exc_weight, inh_weight, inh_reversal, backend):
    net = Network(dt=0.1, precision="float64", backend=backend)
    net.add_spike_source("src", 2, steps=STEPS + STEPS[::3],
                         neurons=[0] * len(STEPS) + [1] * len(STEPS[::3]))
    net.add_population("pop", neuron, 3)
    exc = net.connect("src", "pop", synapse, weight=exc_weight, delay=2, name="exc")
    inh = net.connect("src", "pop", synapse, weight=inh_weight, delay=3, name="inh",
                      synapse_params={"E": inh_reversal, "tau": 10.0})
    return net, exc, inh


@pytest.mark.parametrize("backend", ["numpy", pytest.param("c", marks=pytest.mark.c),
                                     pytest.param("pygenn", marks=pytest.mark.pygenn)])
def test_a_conductance_synapse_with_units_runs_as_the_same_network_without_units(backend):
    """``g`` in nS, ``E`` in mV, ``post V [mV]`` into a neuron in mV and pA: the same spikes
    and membrane potentials as the network written by hand in the internal units
    (weights in uS there), with conductances a thousand times larger (nS, not uS)."""
    if backend == "pygenn":
        pytest.importorskip("pygenn")
    with_units, _, _ = _coba_net(eqsnn.compile(LIF_UNITS), eqsnn.compile(COBA_UNITS),
                                 np.array([[40.0, 25.0, 0.0], [0.0, 30.0, 60.0]]), 8.0,
                                 "-80 mV", backend)
    plain, _, _ = _coba_net(eqsnn.compile(LIF_PLAIN), eqsnn.compile(COBA_PLAIN),
                            np.array([[0.04, 0.025, 0.0], [0.0, 0.03, 0.06]]), 0.008,
                            -80.0, backend)
    record = {"pop": ["V", "spikes"], "exc": ["g"], "inh": ["g"]}
    got, want = with_units.run(800, record=record), plain.run(800, record=record)
    assert got["pop"].units["V"] == "mV" and got["exc"].units == {"g": "nS"}
    np.testing.assert_allclose(got["pop"].vars["V"], want["pop"].vars["V"], rtol=1e-12)
    for conn in ("exc", "inh"):
        np.testing.assert_allclose(got[conn].vars["g"], 1000.0 * want[conn].vars["g"],
                                   rtol=1e-12, atol=1e-300)
    spikes = got["pop"].spikes
    assert len(spikes) > 0  # the excitation made the neurons fire
    np.testing.assert_array_equal(spikes.step, want["pop"].spikes.step)
    np.testing.assert_array_equal(spikes.neuron, want["pop"].spikes.neuron)
    assert got["inh"].vars["g"].max() > 7.0  # nS: the inhibitory connection acted too


PROBE_UNITS = """neuron ProbeUnits
    param v0 = -60 mV
    state V = v0
    state I = 0 pA
    input Isyn = 0 pA
    after: I = Isyn
    threshold: V > 1 [V]
    reset: V = v0
"""


@pytest.mark.parametrize("backend", ["numpy", pytest.param("c", marks=pytest.mark.c)])
def test_the_output_arrives_in_the_unit_the_target_declares(backend):
    """Closed form: a jump of 6 nS decaying with tau = 5 ms into V = -60 mV held fixed gives
    ``6 nS * exp(-t / tau) * (0 mV - (-60 mV)) = 360 pA * exp(-t / tau)``, read in pA."""
    net = Network(dt=0.5, precision="float64", backend=backend)
    net.add_spike_source("src", 1, steps=[0], neurons=[0])
    net.add_population("pop", eqsnn.compile(PROBE_UNITS), 1)
    net.connect("src", "pop", eqsnn.compile(COBA_UNITS), weight="6 nS", delay=1)
    received = net.run(12, record={"pop": ["I"]})["pop"].vars["I"][:, 0, 0]
    j = np.arange(11)
    np.testing.assert_allclose(received[1:], 360.0 * np.exp(-j * 0.5 / 5.0), rtol=1e-13)
    assert received[0] == 0.0


def test_a_post_state_in_another_unit_of_its_dimension_is_read_in_its_value():
    """V declared in volts is the same voltage: ``post V [mV]`` reads it at its value."""
    probe = PROBE_UNITS.replace("param v0 = -60 mV", "param v0 = -0.06 [V]")
    net = Network(dt=0.5, precision="float64")
    net.add_spike_source("src", 1, steps=[0], neurons=[0])
    net.add_population("pop", eqsnn.compile(probe), 1)
    net.connect("src", "pop", eqsnn.compile(COBA_UNITS), weight=6.0, delay=1)
    received = net.run(3, record={"pop": ["I"]})["pop"].vars["I"][:, 0, 0]
    assert received[1] == pytest.approx(360.0, rel=1e-13)


def test_a_synapse_with_units_into_a_neuron_without_units_delivers_the_internal_unit():
    """A neuron model without units opted out: the output arrives in nA and V is read as mV,
    as for the same synapse written in the internal units by hand."""
    def run(synapse, weight):
        net = Network(dt=0.1, precision="float64")
        net.add_spike_source("src", 1, steps=[0, 2, 4, 6], neurons=[0] * 4)
        net.add_population("pop", eqsnn.compile(LIF_PLAIN), 1)
        net.connect("src", "pop", eqsnn.compile(synapse), weight=weight)
        return net.run(100, record={"pop": ["V"]})["pop"].vars["V"]

    got, want = run(COBA_UNITS, 30.0), run(COBA_PLAIN, 0.03)
    assert got.max() > -64.0  # the conductance depolarised the neuron
    np.testing.assert_allclose(got, want, rtol=1e-12)
    net = Network(dt=0.1)
    net.add_spike_source("src", 1, steps=[0], neurons=[0])
    net.add_population("pop", LeakyIntegrateFire(), 1)
    net.connect("src", "pop", eqsnn.compile(COBA_UNITS), weight=1.0)  # the stdlib LIF's V
    assert len(net.connections) == 1


def test_a_dimensionless_post_state_is_written_with_the_unit_one():
    gated = eqsnn.compile("""synapse Gated
    param E = 0 mV
    post V [mV]
    post m [1]
    state g = 0 nS
    on_spike: g += w
    output: g * m * (E - V)
    after: g = 0 nS
""")
    units = dict(gated.ir.units)
    assert units["V"].symbol == "mV" and units["m"].dimension.dimensionless
    neuron = eqsnn.compile(PROBE_UNITS.replace("state I = 0 pA", "state I = 0 pA\n"
                                               "    state m = 0.5"))
    net = Network(dt=0.5, precision="float64")
    net.add_spike_source("src", 1, steps=[0], neurons=[0])
    net.add_population("pop", neuron, 1)
    net.connect("src", "pop", gated, weight=6.0, delay=1)
    received = net.run(3, record={"pop": ["I"]})["pop"].vars["I"][:, 0, 0]
    np.testing.assert_allclose(received, [0.0, 180.0, 0.0], rtol=1e-13)


# -- errors ---------------------------------------------------------------------------


def _target(neuron_text, n=1):
    net = Network(dt=0.1, precision="float64")
    net.add_spike_source("src", 1, steps=[0], neurons=[0])
    net.add_population("pop", eqsnn.compile(neuron_text), n)
    return net


def test_a_post_name_without_a_unit_in_a_synapse_with_units_is_refused_with_the_fix():
    with pytest.raises(CheckError, match=r"'post V' has no unit, but synapse model CobaU "
                       "uses units") as caught:
        eqsnn.compile(COBA_UNITS.replace("CobaUnits", "CobaU").replace("post V [mV]",
                                                                        "post V"),
                      filename="coba.eqs")
    text = str(caught.value)
    assert "coba.eqs:4:10:" in text and "^" in text
    assert "post V [mV]" in caught.value.hint and "post V [1]" in caught.value.hint


def test_one_post_unit_makes_every_post_name_need_one():
    with pytest.raises(CheckError, match="'post m' has no unit, but synapse model Half uses "
                       "units") as caught:
        eqsnn.compile("synapse Half\n    post V [mV]\n    post m\n    state g = 0.0\n"
                      "    on_spike: g += w\n    output: g * m * V\n")
    assert "post m [1]" in caught.value.hint


@pytest.mark.parametrize("annotation, message", [
    ("[mV/ms]", r"cannot subtract a voltage per time \(mV/ms\) from a voltage \(mV\)"),
    ("[bogus]", "unknown unit 'bogus'"),
])
def test_a_post_unit_that_does_not_fit_the_output_is_a_compile_error(annotation, message):
    with pytest.raises(CheckError, match=message) as caught:
        eqsnn.compile(COBA_UNITS.replace("[mV]", annotation), filename="coba.eqs")
    assert "coba.eqs:" in str(caught.value) and caught.value.hint


def test_the_post_unit_is_parsed_as_an_annotation_only():
    with pytest.raises(eqsnn.EqsnnError, match="unexpected") as caught:
        eqsnn.compile(COBA_UNITS.replace("post V [mV]", "post V mV"), filename="coba.eqs")
    assert "coba.eqs:4:" in str(caught.value)
    with pytest.raises(eqsnn.EqsnnError, match="belongs to a synapse model"):
        eqsnn.compile("neuron N\n    state V = 0 mV\n    post U [mV]\n")


DIMENSIONLESS_V = """neuron LeakyDimensionless
    param tau = 10 ms
    state V = 0.0
    input Isyn = 0.0
    dV/dt = (Isyn - V) / tau
"""


@pytest.mark.parametrize("neuron, words", [
    (DIMENSIONLESS_V, "dimensionless"),
    (PROBE_UNITS.replace("state V = v0", "state V = 0 pA").replace(
        "threshold: V > 1 [V]", "threshold: V > 1 nA").replace("reset: V = v0", "reset: V = 0 pA"),
     r"a current \(pA\)"),
])
def test_a_post_state_of_another_dimension_is_refused_at_connect(neuron, words):
    net = _target(neuron)
    with pytest.raises(ParameterError, match=rf"connection 'c0': synapse model CobaUnits reads "
                       rf"the target's state 'V' as a voltage \(mV\) \('post V \[mV\]'\), but "
                       rf"V of {neuron.split()[1]} is {words}") as caught:
        net.connect("src", "pop", eqsnn.compile(COBA_UNITS), weight=1.0)
    assert "voltage" in caught.value.hint
    assert not net.connections


def test_a_post_state_the_target_does_not_have_is_refused_at_connect():
    net = _target(LIF_UNITS)
    synapse = eqsnn.compile(COBA_UNITS.replace("post V", "post Vm").replace("- V)", "- Vm)"))
    with pytest.raises(ParameterError, match="reads the target's state 'Vm' .'post Vm'., which "
                       "neuron model LifUnits does not have") as caught:
        net.connect("src", "pop", synapse, weight=1.0)
    assert "'post' name" in caught.value.hint
    assert not net.connections


TARGET = """neuron Target
    param tau = 10 ms
    param R = 1 MOhm
    state V = 0 mV
    input Isyn = 0 pA
    input drive = {default}
    dV/dt = (-V + R * Isyn + SCALE * drive) / tau
"""


@pytest.mark.parametrize("default, scale, words", [
    ("0 mV", "1", r"a voltage \(mV\)"),
    ("0 nS", "1 [mV/nS]", r"a conductance \(nS\)"),
    ("0.0", "1 mV", "dimensionless"),
])
@pytest.mark.parametrize("synapse, output", [
    (CURRENT_UNITS, r"a current \(nA\)"), (COBA_UNITS, r"a current \(nA\)")])
def test_an_output_of_another_dimension_than_the_target_input_is_refused(
        default, scale, words, synapse, output):
    text = TARGET.replace("SCALE", scale).format(default=default)
    net = _target(text)
    model = eqsnn.compile(synapse)
    with pytest.raises(ParameterError, match=rf"connection 'c0': the output of synapse model "
                       rf"{model.name} is {output}, but input 'drive' of Target is "
                       rf"{words}") as caught:
        net.connect("src", "pop", model, weight=1.0, target_input="drive")
    assert "target_input" in caught.value.hint
    assert not net.connections
    net.connect("src", "pop", model, weight=1.0)  # into Isyn, a current: taken
    assert list(net.connections) == ["c0"]


def test_a_conductance_output_into_a_conductance_input_is_taken():
    jump = eqsnn.compile("""synapse ConductanceJump
    state g = 0 nS
    on_spike: g += w
    output: g
    after: g = 0 nS
""")
    net = _target(TARGET.replace("SCALE", "1 [mV/nS]").format(default="0 nS"))
    net.connect("src", "pop", jump, weight=6.0, target_input="drive")
    V = net.run(3, record={"pop": ["V"]})["pop"].vars["V"][:, 0, 0]
    np.testing.assert_allclose(V[1], 6.0 * -np.expm1(-0.01), rtol=1e-12)  # 6 mV for 0.1 ms


def test_the_standard_library_synapses_keep_their_meaning():
    """Unitless: no output unit, no post units; into the unitless LIF as before."""
    for synapse in (Delta(), ExpCurr(5.0), ExpCond(5.0, 0.0)):
        net = Network(dt=0.1, precision="float64")
        net.add_spike_source("src", 1, steps=[0], neurons=[0])
        net.add_population("pop", LeakyIntegrateFire(), 1)
        conn = net.connect("src", "pop", synapse, weight=1.0)
        assert conn.synapse_model.units == () or not dict(conn.synapse_model.units)
        assert conn.synapse_model.meta.get("output_unit") is None
