"""eqsnn neurons and synapse models in ml_genn networks (``eqsnn.genn``).

The tests marked ``pygenn`` build real ml_genn networks on GeNN's CPU
backend and run where ml_genn and PyGeNN import; the others need neither.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

import eqsnn
from eqsnn import neurons as N
from eqsnn.errors import BackendError, ParameterError
from eqsnn.genn import ml_genn_names
from eqsnn.genn.mlgenn_synapse import genn_layout
from eqsnn.network import synapses as S

HAS_ML_GENN = importlib.util.find_spec("ml_genn") is not None
ml_genn_only = pytest.mark.skipif(not HAS_ML_GENN, reason="needs ml_genn and PyGeNN")


# --- without ml_genn ---------------------------------------------------------------------
def test_ml_genn_names_are_ml_genns_for_the_standard_neurons():
    lif = ml_genn_names(N.LeakyIntegrateFire(tau_refrac=2.0))
    # ml_genn: v = ValueDescriptor("V"); the others name eqsnn's own params
    assert lif["v"] == "V" and lif["V"] == "V" and lif["refractime"] == "RefracTime"
    assert lif["v_thresh"] == "v_thresh" and lif["tau_refrac"] == "tau_refrac"
    alif = ml_genn_names(N.AdaptiveLeakyIntegrateFire())
    assert (alif["v"], alif["a"], alif["beta"]) == ("V", "A", "beta")
    assert ml_genn_names(N.LeakyIntegrate())["v"] == "V"


def test_ml_genn_names_of_a_model_use_lower_case_state_names():
    model = eqsnn.compile("neuron Cell\n    param tau = 10.0\n    state V = 0.0\n"
                          "    state float = 1.0\n    input Isyn = 0.0\n"
                          "    dV/dt = -V / tau + Isyn\n")
    names = ml_genn_names(model)
    assert names["v"] == "V" and names["tau"] == "tau"
    assert names["float"] == "float_"  # GeNN's identifier for a name it cannot take


def test_ml_genn_names_refuse_what_is_not_a_neuron():
    with pytest.raises(BackendError, match="cannot use int as an ml_genn neuron"):
        ml_genn_names(3)
    with pytest.raises(BackendError, match="ExpCond is a synapse model, not a neuron") as error:
        ml_genn_names(S.ExpCond().build()[0])
    assert "ml_genn_synapse" in error.value.hint


def _step_text(model):
    return [str(s) for s in model.step]


@pytest.mark.parametrize("synapse, kept", [
    (S.Delta(), "g"), (S.Exponential(5.0), "g"), (S.ExpCond(), "g"), (S.AlphaCurr(), None)])
def test_the_accumulating_state_is_kept_in_insyn(synapse, kept):
    model, _ = synapse.build()
    layout, accumulator = genn_layout(model.ir)
    assert accumulator == kept
    states = {s.name for s in layout.states}
    if kept:
        # GeNN adds the weights to inSyn itself: no on_spike statement is left
        assert "inSyn" in states and kept not in states
        assert not any("w" in {str(x) for x in s.expr.free_symbols}
                       for s in layout.step if hasattr(s, "expr"))
    else:
        # g is also the name of ml_genn's weight var
        assert states == {"x", "psm_g"} and "inSyn" in {i.name for i in layout.inputs}
        assert layout.step[0].target == "x" and "inSyn" in str(layout.step[0].expr)


def test_a_synapse_that_scales_w_or_starts_nonzero_is_not_kept_in_insyn():
    scaled = eqsnn.compile("synapse Scaled\n    state g = 0.0\n    on_spike: g += 2.0 * w\n"
                           "    output: g\n    after: g = 0.0\n")
    assert genn_layout(scaled.ir)[1] is None
    offset = eqsnn.compile("synapse Offset\n    state g = 1.0\n    on_spike: g += w\n"
                           "    output: g\n    after: g = 0.0\n")
    assert genn_layout(offset.ir)[1] is None


def test_ml_genn_synapse_refuses_bad_input_clearly():
    from eqsnn.genn.mlgenn_synapse import _synapse_ir

    with pytest.raises(ParameterError,
                       match="expected a synapse model, got the neuron model LeakyIntegrateFire"):
        _synapse_ir(N.LeakyIntegrateFire().model(), None)
    with pytest.raises(ParameterError, match="got the neuron LeakyIntegrateFire"):
        _synapse_ir(N.LeakyIntegrateFire(), None)
    with pytest.raises(ParameterError, match="values to its constructor"):
        _synapse_ir(S.Exponential(), {"tau": 2.0})
    named = eqsnn.compile("synapse Bad\n    state inSyn = 0.0\n    on_spike: inSyn += w\n"
                          "    output: inSyn\n")
    with pytest.raises(ParameterError,
                       match="declares 'inSyn', a name the GeNN postsynaptic model uses"):
        _synapse_ir(named, None)
    coba = ("synapse Coba\n    param E = 0 mV\n    post V [mV]\n    state g = 0 {unit}\n"
            "    on_spike: g += w\n    output: g * (E - V)\n")
    with pytest.raises(ParameterError, match=r"takes its weight in nS, but ml_genn's weights "
                       r"\(Dense\(weight=...\)\) are plain numbers, which GeNN would add in "
                       "uS") as refused:
        _synapse_ir(eqsnn.compile(coba.format(unit="nS")), None)
    assert "state g = 0 uS" in refused.value.hint
    model, _ = _synapse_ir(eqsnn.compile(coba.format(unit="uS")), None)  # the internal unit
    assert model.name == "Coba"


@pytest.mark.skipif(HAS_ML_GENN, reason="ml_genn is installed")
def test_the_wrappers_without_ml_genn_name_it():
    from eqsnn.genn import ml_genn_neuron, ml_genn_synapse

    with pytest.raises(BackendError, match="needs ml_genn"):
        ml_genn_neuron(N.LeakyIntegrateFire())
    with pytest.raises(BackendError, match="needs ml_genn"):
        ml_genn_synapse(S.Delta())


@pytest.mark.parametrize("kind", ["int", "bool"])
def test_get_model_refuses_an_isyn_that_ml_genns_connections_would_not_reach(kind):
    # on GeNN an int or bool Isyn is the input var Isyn_: ml_genn's synapses add a float to
    # GeNN's own Isyn, so the neuron never saw its input (documented, not refused before)
    from eqsnn.genn import get_model

    body = "        c += Isyn\n" if kind == "int" else "        if Isyn: c += 1\n"
    model = eqsnn.compile(f"neuron Counting\n    state c: int = 0\n    input Isyn: {kind} = "
                          f"{0 if kind == 'int' else 'false'}\n    after:\n{body}")

    class Population:
        shape = (4,)
    with pytest.raises(BackendError, match=f"Counting's input Isyn is {kind}: ml_genn's "
                       "connections add a float") as err:
        get_model(model, Population(), 1.0, 1)
    assert "declare 'input Isyn' as a float" in err.value.hint


# --- with ml_genn ------------------------------------------------------------------------
def _network(use_eqsnn, hidden, synapses, *, steps=200, batch=1, seed=1):
    """input -> hidden -> LeakyIntegrate readout; ml_genn's callbacks record by ml_genn's names."""
    from ml_genn import Connection, Network, Population
    from ml_genn import neurons as mn
    from ml_genn import synapses as ms
    from ml_genn.callbacks import SpikeRecorder, VarRecorder
    from ml_genn.compilers import InferenceCompiler
    from ml_genn.connectivity import Dense

    from eqsnn.genn import ml_genn_neuron, ml_genn_synapse

    rng = np.random.default_rng(seed)
    w_in, w_out = rng.normal(0, 0.6, (20, 30)), rng.normal(0, 0.4, (30, 5))
    x = rng.uniform(0, 1, (2, 20))  # two examples, one batch each
    net = Network()
    with net:
        if use_eqsnn:
            inputs = Population(ml_genn_neuron(N.IntegrateFireInput()), 20, record_spikes=True)
            hid = Population(ml_genn_neuron(getattr(N, hidden[0])(**hidden[1])), 30,
                             record_spikes=True)
            out = Population(ml_genn_neuron(N.LeakyIntegrate(readout="sum_var")), 5)
            syn = [ml_genn_synapse(getattr(S, name)(**kw)) for name, kw in synapses]
        else:
            inputs = Population(mn.IntegrateFireInput(), 20, record_spikes=True)
            hid = Population(getattr(mn, hidden[0])(**hidden[1]), 30, record_spikes=True)
            out = Population(mn.LeakyIntegrate(readout="sum_var"), 5)
            twin = {"ExpCurr": "Exponential"}  # eqsnn's ExpCurr is Exponential(scale_i=False)
            syn = [getattr(ms, twin.get(name, name))(**kw) for name, kw in synapses]
        Connection(inputs, hid, Dense(weight=w_in), synapse=syn[0])
        Connection(hid, out, Dense(weight=w_out), synapse=syn[1])
    name = f"{'eqsnn' if use_eqsnn else 'mlgenn'}_{hidden[0]}_{synapses[0][0]}"
    compiled = InferenceCompiler(dt=1.0, batch_size=batch, evaluate_timesteps=steps).compile(
        net, name=name)
    callbacks = [VarRecorder(hid, "v", key="v"), SpikeRecorder(hid, key="spikes"),
                 SpikeRecorder(inputs, key="in_spikes"), VarRecorder(out, "v", key="out_v")]
    if hidden[0] == "AdaptiveLeakyIntegrateFire":
        callbacks.append(VarRecorder(hid, "a", key="a"))
    with compiled:
        predictions, recorded = compiled.predict({inputs: x}, [out], callbacks=callbacks)
    return predictions[out], recorded, (w_in, w_out)


@pytest.mark.parametrize("hidden, synapses", [
    (("LeakyIntegrateFire", {"tau_refrac": 2.0}), [("Delta", {}), ("Delta", {})]),
    (("LeakyIntegrateFire", {"tau_mem": 10.0}), [("Exponential", {"tau": 5.0}),
                                                  ("ExpCurr", {"tau": 8.0})]),
    (("AdaptiveLeakyIntegrateFire", {"tau_refrac": 2.0, "beta": 0.05}),
     [("Exponential", {"tau": 5.0, "scale_i": True}), ("Exponential", {"tau": 2.0})]),
])
@pytest.mark.pygenn
@ml_genn_only
@pytest.mark.usefixtures("tmp_path_cwd")
def test_an_eqsnn_network_in_ml_genn_is_bit_identical_to_ml_genns_own(hidden, synapses):
    ours, ours_rec, _ = _network(True, hidden, synapses)
    theirs, their_rec, _ = _network(False, hidden, synapses)
    np.testing.assert_array_equal(ours, theirs)
    keys = ["v", "out_v"] + (["a"] if "a" in ours_rec else [])
    for key in keys:
        assert len(ours_rec[key]) == 2  # one (time, neuron) array per example
        for mine, their in zip(ours_rec[key], their_rec[key]):
            assert mine.shape == (200, 30 if key != "out_v" else 5)
            np.testing.assert_array_equal(mine, their)
    for key in ("spikes", "in_spikes"):  # (times, ids), one array per example each
        times, ids = ours_rec[key]
        assert len(times) == 2 and sum(len(t) for t in times) > 100
        for mine, their in zip(ours_rec[key], their_rec[key]):
            for a, b in zip(mine, their):
                np.testing.assert_array_equal(a, b)


@pytest.fixture
def tmp_path_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # ml_genn builds its code in the working directory


def _synapse_oracle(in_spikes, w_in, steps, tau_syn, tau_mem, *, alpha, cond_e=None):
    """A plain NumPy loop of the target's V behind an exponential or alpha synapse, current-
    or conductance-based (``cond_e``: the reversal potential, read against start-of-step V)."""
    times, ids = in_spikes
    n = w_in.shape[1]
    w_step = np.zeros((steps + 1, n))
    for t, i in zip(np.round(times).astype(int), ids):
        w_step[t + 1] += w_in[i]  # a spike of step t arrives in step t + 1
    decay, leak = math.exp(-1.0 / tau_syn), math.exp(-1.0 / tau_mem)
    x, g, v = np.zeros(n), np.zeros(n), np.zeros(n)
    out = []
    for k in range(steps):
        if alpha:  # x jumps by e w, g follows x (the exact propagator of the pair)
            x = x + math.e * w_step[k]
        else:
            g = g + w_step[k]
        current = g if cond_e is None else g * (cond_e - v)
        if alpha:
            x, g = decay * x, decay * g + (1.0 / tau_syn) * decay * x
        else:
            g = decay * g
        v = leak * v + current
        out.append(v.copy())
    return np.array(out)


@pytest.mark.parametrize("synapse, kwargs, alpha, cond_e", [
    ("AlphaCurr", {"tau": 4.0}, True, None), ("ExpCond", {"tau": 3.0, "E": 2.0}, False, 2.0),
    ("AlphaCond", {"tau": 2.0, "E": 1.5}, True, 1.5)])
@pytest.mark.pygenn
@ml_genn_only
@pytest.mark.usefixtures("tmp_path_cwd")
def test_eqsnn_synapses_without_an_ml_genn_twin_match_a_numpy_loop(synapse, kwargs, alpha,
                                                                   cond_e):
    from ml_genn import Connection, Network, Population
    from ml_genn.callbacks import SpikeRecorder, VarRecorder
    from ml_genn.compilers import InferenceCompiler
    from ml_genn.connectivity import Dense

    from eqsnn.genn import ml_genn_neuron, ml_genn_synapse

    rng = np.random.default_rng(4)
    w_in = rng.uniform(0, 0.15, (10, 4))  # positive: a conductance stays one
    net = Network()
    with net:
        inputs = Population(ml_genn_neuron(N.IntegrateFireInput()), 10, record_spikes=True)
        out = Population(ml_genn_neuron(N.LeakyIntegrate(tau_mem=15.0)), 4)
        Connection(inputs, out, Dense(weight=w_in),
                   synapse=ml_genn_synapse(getattr(S, synapse)(**kwargs)))
    compiled = InferenceCompiler(dt=1.0, batch_size=1, evaluate_timesteps=150).compile(
        net, name=f"eqsnn_{synapse}")
    with compiled:
        _, rec = compiled.predict(
            {inputs: rng.uniform(0, 0.5, (1, 10))}, [],
            callbacks=[SpikeRecorder(inputs, key="in"), VarRecorder(out, "v", key="v")])
    times, ids = rec["in"]
    assert len(times[0]) > 50
    expected = _synapse_oracle((times[0], ids[0]), w_in, 150, kwargs["tau"], 15.0,
                               alpha=alpha, cond_e=cond_e)
    assert np.abs(expected).max() > 0.1
    np.testing.assert_allclose(rec["v"][0], expected, rtol=2e-4, atol=2e-5)


@pytest.mark.pygenn
@ml_genn_only
@pytest.mark.usefixtures("tmp_path_cwd")
def test_var_recorder_takes_ml_genn_names_and_refuses_unknown_ones():
    from ml_genn import Network, Population
    from ml_genn.callbacks import VarRecorder

    from eqsnn.genn import ml_genn_neuron

    with Network():
        pop = Population(ml_genn_neuron(N.AdaptiveLeakyIntegrateFire(v=0.25)), 3)
    assert pop.neuron.v == 0.25  # ml_genn's descriptors read the eqsnn neuron's values
    pop.neuron.v = 0.5
    assert pop.neuron.eqsnn_neuron.v == 0.5
    with pytest.raises(AttributeError, match="no_such_name"):  # as for ml_genn's own neurons
        VarRecorder(pop, "no_such_name")
    with pytest.raises(RuntimeError, match="'readout' is not a ValueDescriptor"):
        VarRecorder(pop, "readout")
    assert repr(pop.neuron).startswith("ml_genn_neuron(AdaptiveLeakyIntegrateFire(")


MY_EXP = """synapse MyExp
    param tau = 5.0 (> 0)
    state g = 0.0
    dg/dt = -g / tau
    on_spike: g += w
    output: g
"""


def _lif_network(name, hidden, synapse, w_in, x, steps=100):
    from ml_genn import Connection, Network, Population
    from ml_genn import neurons as mn
    from ml_genn.callbacks import SpikeRecorder, VarRecorder
    from ml_genn.compilers import InferenceCompiler
    from ml_genn.connectivity import Dense

    net = Network()
    with net:
        inputs = Population(mn.IntegrateFireInput(), w_in.shape[0])
        pop = Population(hidden, w_in.shape[1], record_spikes=True)
        Connection(inputs, pop, Dense(weight=w_in), synapse=synapse)
    compiled = InferenceCompiler(dt=1.0, batch_size=1, evaluate_timesteps=steps).compile(
        net, name=name)
    with compiled:
        _, rec = compiled.predict({inputs: x}, [], callbacks=[
            VarRecorder(pop, "v", key="v"), SpikeRecorder(pop, key="spikes")])
    return rec


@pytest.mark.pygenn
@ml_genn_only
@pytest.mark.usefixtures("tmp_path_cwd")
def test_a_users_own_synapse_and_neuron_model_match_ml_genns_classes():
    """A synapse model written in the language (params given) and a compiled eqsnn.Model."""
    from ml_genn import neurons as mn
    from ml_genn import synapses as ms

    from eqsnn.genn import ml_genn_neuron, ml_genn_synapse

    rng = np.random.default_rng(7)
    w_in, x = rng.normal(0, 0.5, (12, 8)), rng.uniform(0, 1, (1, 12))
    lif = N.LeakyIntegrateFire(tau_mem=10.0).model()  # an eqsnn.Model: its defaults...
    ours = _lif_network("own_models", ml_genn_neuron(lif),
                        ml_genn_synapse(eqsnn.compile(MY_EXP), params={"tau": 3.0}), w_in, x)
    theirs = _lif_network("ml_genn_models", mn.LeakyIntegrateFire(tau_mem=20.0),  # ...tau 20
                          ms.Exponential(tau=3.0), w_in, x)
    assert sum(len(t) for t in ours["spikes"][0]) > 20
    np.testing.assert_array_equal(ours["v"][0], theirs["v"][0])
    for a, b in zip(ours["spikes"], theirs["spikes"]):
        np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.pygenn
@ml_genn_only
@pytest.mark.usefixtures("tmp_path_cwd")
def test_a_conductance_synapse_into_a_neuron_without_v_is_refused():
    from eqsnn.genn import ml_genn_neuron, ml_genn_synapse

    cell = eqsnn.compile("neuron Cell\n    param tau = 10.0\n    state U = 0.0\n"
                         "    input Isyn = 0.0\n    dU/dt = -U / tau + Isyn\n")
    with pytest.raises(ParameterError, match=r"reads the target's var 'V' \('post V'\), which "
                       r"the target's neuron EqsnnNeuron does not have as a float var "
                       r"\(its vars: U\)"):
        _lif_network("no_v", ml_genn_neuron(cell), ml_genn_synapse(S.ExpCond()),
                     np.ones((3, 2)), np.ones((1, 3)))


def test_synapse_values_are_checked_before_anything_is_built():
    from eqsnn.genn.mlgenn_synapse import synapse_model

    with pytest.raises(ParameterError, match="tau must be > 0; got -2.0"):
        synapse_model(S.Exponential(tau=-2.0), 3, 1.0)
    exp_cond = S.ExpCond().build()[0]
    with pytest.raises(ParameterError, match="unknown param 'taux'; did you mean 'tau'"):
        synapse_model(exp_cond, 3, 1.0, params={"taux": 1.0})
    with pytest.raises(ParameterError, match="tau must be > 0; neuron 1 has 0.0"):
        synapse_model(exp_cond, 3, 1.0, params={"tau": [1.0, 0.0, 2.0]})


def test_neuron_values_for_genn_are_checked_against_their_bounds():
    from eqsnn.genn.population import GeNNPopulation

    model = N.LeakyIntegrateFire().model().ir
    with pytest.raises(ParameterError, match="tau_mem must be > 0; neuron 1 has -1.0"):
        GeNNPopulation(model, 3, {"tau_mem": np.array([1.0, -1.0, 2.0])}, {}, "float32", 1.0, 0)


@pytest.mark.pygenn
@ml_genn_only
def test_a_synapse_param_may_be_given_per_target_neuron():
    from eqsnn.genn.mlgenn_synapse import synapse_model

    kwargs, params, variables, refs, kept = synapse_model(
        S.ExpCond().build()[0], 3, 1.0, params={"tau": [1.0, 2.0, 4.0], "E": -1.0})
    assert kept == "g" and params == {"E": -1.0} and refs == {"V": "V"}
    np.testing.assert_array_equal(variables["tau"], [1.0, 2.0, 4.0])
    # the decay, computed per neuron in float64 on the host, is a READ_ONLY var
    decay = next(name for name in variables if name.startswith("phi"))
    np.testing.assert_array_equal(variables[decay], np.exp(-1.0 / np.array([1.0, 2.0, 4.0])))
    assert "injectCurrent(output);" in kwargs["sim_code"]
