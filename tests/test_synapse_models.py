"""Synapse models in the language and the standard-library synapses, against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

import eqsnn
from eqsnn.errors import CheckError, EqsnnError
from eqsnn.network import (
    AlphaCond,
    AlphaCurr,
    Delta,
    ExpCond,
    ExpCurr,
    Exponential,
    FromList,
    Network,
)

# a neuron that shows what it receives: I is this step's input, V a constant
PROBE = """neuron Probe
    param v0 = -60.0
    state I = 0.0
    state V = v0
    input Isyn = 0.0
    after: I = Isyn
    threshold: V > 1000.0
    reset: V = v0
"""


def _received(synapse, weight=0.7, steps=12, dt=0.5, **connect):
    net = Network(dt=dt, precision="float64")
    net.add_spike_source("s", 1, steps=[0], neurons=[0])
    net.add_population("p", eqsnn.compile(PROBE), 1)
    conn = net.connect("s", "p", synapse, weight=weight, delay=1, **connect)
    res = net.run(steps, record={"p": ["I"], conn.name: [s.name for s in
                                                         conn.synapse_model.states]})
    return res["p"].vars["I"][:, 0, 0], res[conn.name]


def test_delta_delivers_the_weight_in_its_arrival_step_only():
    received, syn = _received(Delta())
    expected = np.zeros(12)
    expected[1] = 0.7
    np.testing.assert_array_equal(received, expected)
    assert not syn.vars["g"].any()


@pytest.mark.parametrize("cls", [Exponential, ExpCurr])
def test_exponential_decays_exactly(cls):
    tau, dt = 3.0, 0.5
    received, syn = _received(cls(tau=tau), dt=dt)
    j = np.arange(11)
    np.testing.assert_allclose(received[1:], 0.7 * np.exp(-j * dt / tau), rtol=1e-14)
    assert received[0] == 0.0
    # the state after the step has decayed once more
    np.testing.assert_allclose(syn.vars["g"][1:, 0, 0], 0.7 * np.exp(-(j + 1) * dt / tau),
                               rtol=1e-14)


def test_exponential_scale_i_is_ml_genns_current_scale():
    tau, dt = 3.0, 0.5
    received, _ = _received(Exponential(tau=tau, scale_i=True), dt=dt)
    scale = (tau / dt) * (1.0 - math.exp(-dt / tau))  # ml_genn's IScale
    j = np.arange(11)
    np.testing.assert_allclose(received[1:], 0.7 * scale * np.exp(-j * dt / tau), rtol=1e-14)


def test_alpha_current_matches_the_closed_form_and_peaks_at_tau():
    tau, dt = 2.0, 0.25
    received, _ = _received(AlphaCurr(tau=tau), steps=40, dt=dt)
    t = np.arange(39) * dt
    np.testing.assert_allclose(received[1:], 0.7 * (t / tau) * np.exp(1 - t / tau),
                               rtol=1e-12, atol=1e-15)
    assert received.argmax() == 1 + round(tau / dt)
    assert received.max() == pytest.approx(0.7, rel=1e-12)


@pytest.mark.parametrize("cls", [ExpCond, AlphaCond])
def test_conductance_synapses_read_the_targets_start_of_step_potential(cls):
    tau, dt, E = 4.0, 0.5, 10.0
    received, syn = _received(cls(tau=tau, E=E), dt=dt)
    g_out = np.concatenate([[0.0], syn.vars["g"][:-1, 0, 0]])  # g before this step's decay
    if cls is ExpCond:
        g_out[1:] += np.concatenate([[0.7], np.zeros(10)])  # the jump of the arrival step
    np.testing.assert_allclose(received, g_out * (E - (-60.0)), rtol=1e-14, atol=1e-300)
    assert received.max() > 0


def test_a_synapse_model_written_by_the_user():
    syn = eqsnn.compile('''synapse Scaled
    """An exponential synapse with a gain on arrival."""
    param gain = 2.0
    param tau = 1.0 (> 0)
    state g = 0.0
    dg/dt = -g / tau
    on_spike: g += gain * w
    output: -g
''')
    assert syn.ir.meta["kind"] == "synapse"
    received, _ = _received(syn, synapse_params={"gain": 3.0}, synapse_init={"g": 0.0},
                            connectivity=FromList([0], [0]))
    assert received[1] == pytest.approx(-2.1, rel=1e-15)
    assert received[2] == pytest.approx(-2.1 * math.exp(-0.5), rel=1e-14)


BAD = [
    ("synapse S\n    state g = 0.0\n    on_spike: g += w * g\n    output: g\n",
     "this reads g", 3),
    ("synapse S\n    state g = 0.0\n    on_spike: g += w + 1.0\n    output: g\n",
     "0 when no spike arrives", 3),
    ("synapse S\n    state g = 0.0\n    on_spike: g = w\n    output: g\n",
     "may only add to states", 3),
    ("synapse S\n    state g = 0.0\n    on_spike: g += w\n", "needs 'output: EXPR'", 2),
    ("synapse S\n    state g = 0.0\n    on_spike: g += w\n    output: g\n    output: g\n",
     "one 'output:'", 5),
    ("synapse S\n    state g = 0.0\n    threshold: g > 1.0\n    output: g\n",
     "'threshold' is not allowed in a synapse model", 3),
    ("synapse S\n    input I = 0.0\n    output: I\n", "'input' is not allowed", 2),
    ("synapse S\n    param w = 1.0\n    output: w\n", "summed weight", 2),
    ("synapse S\n    state g = 0.0\n    output: g * V\n", "unknown name 'V'", 3),
    ("synapse S\n    state g = 0.0\n    output: g > 1.0\n", "must be a float value", 3),
    ("synapse S\n    output: 1\n", "must be a float value", 2),
    ("neuron N\n    state V = 0.0\n    on_spike: V += w\n", "belongs to a synapse model", 3),
    ("neuron N\n    state V = 0.0\n    output: V\n", "belongs to a synapse model", 3),
    ("neuron N\n    state V = 0.0\n    post U\n", "belongs to a synapse model", 3),
]


@pytest.mark.parametrize("text, message, line", BAD)
def test_bad_synapse_models_point_at_the_mistake(text, message, line):
    with pytest.raises(EqsnnError, match=message) as info:
        eqsnn.compile(text, filename="bad.eqs")
    assert f"bad.eqs:{line}:" in str(info.value)
    assert "^" in str(info.value) and "hint:" in str(info.value)


def test_on_spike_may_not_add_to_a_param():
    with pytest.raises(CheckError):
        eqsnn.compile("synapse S\n    param a = 1.0\n    on_spike: a += w\n    output: a\n")


@pytest.mark.parametrize("word", ["post", "output", "on_spike", "w"])
def test_the_synapse_words_stay_usable_as_names_in_neurons(word):
    model = eqsnn.compile(f"""neuron N
    state {word} = 0.0
    state V = 0.0
    dV/dt = -V
    after:
        {word} += 1.0
        {word} = {word} * 2.0
    threshold: {word} > 3.0
    reset: {word} = 0.0
""")
    assert model.ir.state(word).name == word


def test_a_misspelt_declaration_gets_a_suggestion():
    with pytest.raises(EqsnnError, match="unexpected 'treshold'") as info:
        eqsnn.compile("neuron N\n    state V = 0.0\n    treshold: V > 1.0\n")
    assert "threshold" in info.value.hint
