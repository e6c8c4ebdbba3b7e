"""Networks on the ``pygenn`` backend.

The printed GeNN models (postsynaptic, weight-update, target neuron) are checked
without PyGeNN; the tests marked ``pygenn`` build real GeNN networks (CPU
backend) and compare them with a plain NumPy loop and with the numpy backend.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import sympy
from test_network import LIF, _cuba_like, _lif_step, _oracle_ten

import eqsnn
from eqsnn import ir
from eqsnn.errors import BackendError, EqsnnError, NumericalError
from eqsnn.initializers import Uniform
from eqsnn.network import (
    AlphaCurr,
    Delta,
    ExpCond,
    Exponential,
    FixedProbability,
    FromList,
    Network,
    StdpAdditive,
)
from eqsnn.printing.genn_network import (
    DELAY_VAR,
    WEIGHT_VAR,
    connection_input,
    network_neuron,
    postsynaptic_spec,
    weight_update_spec,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def lif():
    return eqsnn.compile(LIF)


# --- printed models (no PyGeNN) ------------------------------------------------------------

def test_postsynaptic_model_reads_the_step_sum_and_targets_its_own_input():
    spec = postsynaptic_spec(ExpCond(tau=2.0, E=3.0).build()[0].ir, "float32")
    lines = spec.sim_code.splitlines()
    # inSyn is only the step's accumulator: read once, cleared, then the synapse's step
    assert lines[:3] == ["const scalar w = inSyn;", "inSyn = 0.0;", "g = g + w;"]
    assert lines[3] == "const scalar output = g * (E - V);"
    assert lines[-1] == "injectCurrent(output);"
    assert spec.neuron_var_refs == (("V", "scalar", "V"),)
    assert spec.params == (("tau", "scalar"), ("E", "scalar"))
    assert spec.vars == (("g", "scalar", "READ_WRITE"),)
    assert spec.derived_params == ("phi_g_",)
    delta = postsynaptic_spec(Delta().build()[0].ir, "float64")
    assert delta.sim_code.splitlines()[-2:] == ["g = 0.0;", "injectCurrent(output);"]
    alpha = postsynaptic_spec(AlphaCurr(3.0).build()[0].ir, "float32")
    assert "x = x + 2.7182817 * w;" in alpha.sim_code


def test_weight_update_models_static_and_with_per_synapse_delays():
    static = weight_update_spec()
    assert static.vars == ((WEIGHT_VAR, "scalar"),)
    assert static.pre_spike_syn_code == f"addToPost({WEIGHT_VAR});"
    hetero = weight_update_spec(heterogeneous_delay=True)
    assert hetero.pre_spike_syn_code == f"addToPostDelay({WEIGHT_VAR}, {DELAY_VAR});"
    assert hetero.delay_var == DELAY_VAR
    with pytest.raises(BackendError, match="prints the static rule only, not 'stdp'") as error:
        weight_update_spec(rule=type("Rule", (), {"name": "stdp"})())
    assert "plastic_parts" in error.value.hint


def test_network_neuron_sums_connections_in_connection_order(lif):
    model = network_neuron(lif.ir, (("c0", "Isyn"), ("c1", "Isyn")))
    names = [i.name for i in model.inputs]
    assert names == ["Isyn", connection_input("c0"), connection_input("c1")]
    first, second = model.step[:2]
    assert first.expr == sympy.Symbol("Isyn") + sympy.Symbol("c0__in")
    assert second.expr == sympy.Symbol(first.name) + sympy.Symbol("c1__in")
    # the neuron reads the sum where it read Isyn
    assert sympy.Symbol(second.name) in model.step[-1].expr.free_symbols or any(
        sympy.Symbol(second.name) in s.expr.free_symbols for s in model.step[2:]
        if isinstance(s, (ir.Assign, ir.Local)))
    assert network_neuron(lif.ir, ()) is lif.ir


def test_synapse_names_that_clash_with_the_weight_update_model_are_refused():
    syn = eqsnn.compile("synapse Clash\n    state eqsnn_weight = 0.0\n"
                        "    on_spike: eqsnn_weight += w\n    output: eqsnn_weight\n")
    with pytest.raises(BackendError, match="keeps for the weight-update model"):
        postsynaptic_spec(syn.ir)
    with pytest.raises(BackendError, match="is not a synapse model"):
        postsynaptic_spec(eqsnn.compile(LIF).ir)


def test_without_pygenn_a_network_says_what_it_needs(lif):
    try:
        import pygenn  # noqa: F401
        pytest.skip("PyGeNN is installed here")
    except ImportError:
        pass
    net = Network(backend="pygenn")
    net.add_population("a", lif, 2)
    with pytest.raises(BackendError, match="needs PyGeNN") as error:
        net.run(5)
    assert "numpy or c" in error.value.hint


# --- real PyGeNN ---------------------------------------------------------------------------

pygenn_only = pytest.mark.pygenn


@pytest.fixture(scope="module")
def pygenn():
    return pytest.importorskip("pygenn")


@pygenn_only
def test_two_neurons_against_a_plain_loop(pygenn, lif):
    net = Network(dt=1.0, precision="float64", backend="pygenn")
    net.add_population("a", lif, 1)
    net.add_population("b", lif, 1)
    net.connect("a", "b", Delta(), weight=0.5, delay=3)
    res = net.run(120, inputs={"a": {"Isyn": 0.25}}, record={"a": ["spikes"],
                                                             "b": ["V", "spikes"]})
    phi = np.exp(-1.0 / 10.0)
    Va = Vb = 0.0
    queue, a_spikes, b_spikes, b_V = {}, [], [], []
    for k in range(120):
        Vb, sb = _lif_step(Vb, 0.0 + queue.pop(k, 0.0), phi, 1.0)
        Va, sa = _lif_step(Va, 0.25, phi, 1.0)
        if sa:
            a_spikes.append(k)
            queue[k + 3] = queue.get(k + 3, 0.0) + 0.5
        if sb:
            b_spikes.append(k)
        b_V.append(float(Vb))
    assert a_spikes and b_spikes
    np.testing.assert_array_equal(res["a"].spikes.step, a_spikes)
    np.testing.assert_array_equal(res["b"].spikes.step, b_spikes)
    np.testing.assert_array_equal(res["b"].vars["V"][:, 0, 0], b_V)


@pygenn_only
def test_ten_neurons_heterogeneous_delays_against_a_plain_loop(pygenn, lif):
    n, steps, batch = 10, 150, 2
    src_spikes = [(2, 0), (5, 1), (5, 2), (40, 0), (41, 2), (90, 1)]
    rng = np.random.default_rng(0)
    net = Network(dt=1.0, precision="float64", batch_size=batch, backend="pygenn", seed=3)
    net.add_population("a", lif, n)
    net.add_spike_source("s", 3, steps=[s for s, _ in src_spikes],
                         neurons=[i for _, i in src_spikes])
    pairs = np.argwhere(rng.random((n, n)) < 0.4)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    shuffled = pairs[rng.permutation(len(pairs))]  # rows not sorted by post
    rec = net.connect("a", "a", Exponential(tau=4.0), name="rec",
                      connectivity=FromList(shuffled[:, 0], shuffled[:, 1]),
                      weight=rng.uniform(-0.2, 0.5, len(shuffled)),
                      delay=rng.integers(1, 5, len(shuffled)))
    inp = net.connect("s", "a", ExpCond(tau=6.0, E=2.0), name="inp",
                      connectivity=FixedProbability(0.5), weight=Uniform(0.0, 0.2), delay=2)
    drive = np.stack([np.linspace(0.05, 0.14, n), np.linspace(0.14, 0.05, n)])
    res = net.run(steps, inputs={"a": {"Isyn": drive}}, record={"a": ["V", "spikes"]})
    conns = {"rec": ("a", rec.pre, rec.post, rec.weights, rec.delays),
             "inp": ("s", inp.pre, inp.post, inp.weights, inp.delays)}
    raster, trace = _oracle_ten(conns, n, steps, batch, drive, src_spikes, 4.0, 6.0, 2.0)
    assert len(raster) > 20
    got = sorted(zip(res["a"].spikes.step.tolist(), res["a"].spikes.batch.tolist(),
                     res["a"].spikes.neuron.tolist()))
    assert got == sorted((int(k), int(b), int(i)) for k, b, i in raster)
    np.testing.assert_array_equal(res["a"].vars["V"], trace)


def _two_ways(build, steps, inputs, record):
    out = {}
    for backend in ("numpy", "pygenn"):
        net = build(backend)
        out[backend] = (net, net.run(steps, inputs=inputs, record=record))
    return out


def _same(a, b, pops):
    for pop in pops:
        sa, sb = a[pop].spikes, b[pop].spikes
        assert len(sa) > 0, pop
        np.testing.assert_array_equal(sa.step, sb.step)
        np.testing.assert_array_equal(sa.batch, sb.batch)
        np.testing.assert_array_equal(sa.neuron, sb.neuron)
        for state in a[pop].vars:
            np.testing.assert_array_equal(a[pop].vars[state], b[pop].vars[state])


@pygenn_only
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_cuba_like_network_same_spikes_as_numpy(pygenn, precision):
    nets = {}
    for backend in ("numpy", "pygenn"):
        net, inputs = _cuba_like(backend, precision, n=60)
        record = {"exc": ["V", "spikes"], "inh": ["spikes"], "c0": ["g"]}
        first = net.run(70, inputs=inputs, record=record)
        second = net.run(50, inputs=inputs, record=record)
        nets[backend] = (net, first, second)
    _same(nets["numpy"][1], nets["pygenn"][1], ["exc", "inh"])
    _same(nets["numpy"][2], nets["pygenn"][2], ["exc", "inh"])
    np.testing.assert_array_equal(nets["numpy"][1]["c0"].vars["g"],
                                  nets["pygenn"][1]["c0"].vars["g"])
    # state, synapse state, weights set between runs, reset
    for backend in ("numpy", "pygenn"):
        net = nets[backend][0]
        conn = net.connections["c2"]
        conn.weights = conn.weights * 0.5
    third = {b: nets[b][0].run(60, inputs=_cuba_like(b, precision)[1],
                               record={"exc": ["V", "spikes"]}) for b in nets}
    _same(third["numpy"], third["pygenn"], ["exc"])
    np.testing.assert_array_equal(nets["numpy"][0].state["exc"]["V"],
                                  nets["pygenn"][0].state["exc"]["V"])
    np.testing.assert_array_equal(nets["numpy"][0].connections["c1"].state["g"],
                                  nets["pygenn"][0].connections["c1"].state["g"])
    for b in nets:
        nets[b][0].reset()
        assert nets[b][0].step == 0
    again = {b: nets[b][0].run(70, inputs=_cuba_like(b, precision)[1],
                               record={"exc": ["spikes"], "inh": ["spikes"]}) for b in nets}
    _same(again["numpy"], again["pygenn"], ["exc", "inh"])


TWO_INPUTS = """neuron TwoIn
    state V = -0.2
    input Isyn = 0.0
    input Iext = 0.0
    dV/dt = -V / 10.0
    after: V += Isyn + 0.5 * Iext
    threshold: V >= 1.0
    reset: V = 0.0
"""


@pygenn_only
def test_several_connections_into_one_named_input_with_batch_lanes(pygenn):
    model = eqsnn.compile(TWO_INPUTS)

    def build(backend):
        net = Network(dt=0.5, precision="float32", backend=backend, seed=5, batch_size=2)
        a = net.add_population("a", model, 12)
        b = net.add_population("b", model, 8)
        s = net.add_spike_source("s", 4, steps=[0, 3, 3, 7, 20, 50],
                                 neurons=[0, 1, 2, 2, 0, 3])
        net.connect(a, b, Exponential(5.0), connectivity=FixedProbability(0.5), weight=0.6,
                    delay=Uniform(1, 6))
        net.connect(s, b, ExpCond(tau=2.0, E=3.0), weight=0.4, delay=1, target_input="Iext")
        net.connect(s, b, Delta(), weight=0.3, delay=2, target_input="Iext")
        net.connect(b, a, AlphaCurr(3.0), connectivity=FromList([3, 1, 1, 0], [2, 5, 0, 7]),
                    weight=[0.5, 0.9, 0.2, 0.4], delay=[2, 2, 5, 3])
        return net

    both = _two_ways(build, 120, {"a": {"Isyn": np.linspace(0.1, 0.3, 12)}},
                     {"a": ["V", "spikes"], "b": ["V", "spikes"], "c1": ["g"]})
    _same(both["numpy"][1], both["pygenn"][1], ["a", "b"])
    assert set(both["pygenn"][1]["b"].spikes.batch.tolist()) == {0, 1}
    np.testing.assert_array_equal(both["numpy"][1]["c1"].vars["g"],
                                  both["pygenn"][1]["c1"].vars["g"])


@pygenn_only
def test_vogels_abbott_cuba_small_same_spikes_as_numpy(pygenn):
    sys.path.insert(0, os.path.join(ROOT, "examples", "networks"))
    try:
        import vogels_abbott
    finally:
        sys.path.pop(0)
    out = {}
    for backend in ("numpy", "pygenn"):
        net = vogels_abbott.cuba(n=400, seed=1, backend=backend, precision="float32")
        out[backend] = net.run(300, record={"exc": ["spikes"], "inh": ["spikes"]})
    _same(out["numpy"], out["pygenn"], ["exc", "inh"])


@pygenn_only
def test_vogels_abbott_coba_small_same_spikes_as_numpy(pygenn):
    """Conductance synapses read the target's V through GeNN neuron var references."""
    sys.path.insert(0, os.path.join(ROOT, "examples", "networks"))
    try:
        import vogels_abbott
    finally:
        sys.path.pop(0)
    out = {}
    for backend in ("numpy", "pygenn"):
        net = vogels_abbott.coba(n=400, seed=2, backend=backend, precision="float32")
        out[backend] = net.run(600, record={"exc": ["spikes", "V"], "inh": ["spikes"],
                                            "exc_inh": ["g"]})
    _same(out["numpy"], out["pygenn"], ["exc", "inh"])
    np.testing.assert_array_equal(out["numpy"]["exc_inh"].vars["g"],
                                  out["pygenn"]["exc_inh"].vars["g"])


@pygenn_only
def test_what_genn_cannot_build_is_refused_clearly(pygenn, lif):
    net = Network(backend="pygenn")
    net.add_population("a", lif, 3)
    net.add_population("b", lif, 3)
    with pytest.raises(BackendError, match="has no synapses"):  # when connecting
        net.connect("a", "b", Delta(), connectivity=FromList([], []))
    from eqsnn.neurons import PoissonInput

    net = Network(backend="pygenn")
    with pytest.raises(EqsnnError, match="data input"):  # when added
        net.add_population("src", PoissonInput(), 3)
    assert net.populations == {}


@pygenn_only
def test_set_state_between_runs_and_per_neuron_synapse_params(pygenn, lif):
    runs = {}
    for backend in ("numpy", "pygenn"):
        net = Network(backend=backend, precision="float32")
        net.add_population("a", lif, 4)
        net.add_population("b", lif, 4)
        net.connect("a", "b", Delta(), weight=0.7)
        net.run(10, inputs={"a": {"Isyn": 0.3}})
        net.set_state("b", "V", [0.1, 0.9, 0.95, 0.2])
        runs[backend] = net.run(20, inputs={"a": {"Isyn": 0.3}}, record={"b": ["V", "spikes"]})
    _same(runs["numpy"], runs["pygenn"], ["b"])
    syn = eqsnn.compile("synapse S\n    param k = 1.0\n    state g = 0.0\n"
                        "    on_spike: g += k * w\n    output: g\n    after: g = 0.0\n")
    net = Network(backend="pygenn")
    net.add_population("a", lif, 4)
    net.add_population("b", lif, 4)
    with pytest.raises(BackendError, match="synapse params per target neuron do not run on "
                       "pygenn"):  # when connecting
        net.connect("a", "b", syn, synapse_params={"k": np.arange(4.0)})


@pygenn_only
def test_a_plastic_connection_with_a_longer_delay_is_refused_before_genn_builds(pygenn, lif):
    net = Network(backend="pygenn")
    net.add_population("a", lif, 3)
    net.add_population("b", lif, 3)
    with pytest.raises(BackendError, match="plastic connection 'c0' \\(StdpAdditive\\) has "
                       "delays of 1 to 3 steps; on pygenn a plastic connection needs a delay "
                       "of 1 step"):  # when connecting, before anything is built
        net.connect("a", "b", Delta(), delay=[1, 1, 1, 3, 3, 3, 2, 2, 2],
                    weight_update=StdpAdditive(tau_plus=20.0, tau_minus=20.0, a_plus=0.01,
                                               a_minus=0.0105))
    assert net.connections == {}
    net.run(3)
    assert net.step == 3


@pygenn_only
def test_a_state_that_becomes_infinite_is_reported_as_on_numpy(pygenn):
    """The numerical check runs inside GeNN too, every state in every step: the same
    NumericalError, at the same step, lane and neuron, as on numpy."""
    grow = eqsnn.compile("neuron Grow\n    state V = 1.0\n    input Isyn = 0.0\n"
                         "    param a = 1e10\n    after: V *= a\n    after: V += Isyn\n"
                         "    threshold: V > 1e30\n    reset: V -= 1.0\n")
    messages = {}
    for backend in ("numpy", "pygenn"):
        net = Network(backend=backend, precision="float32")
        src = net.add_spike_source("s", 1, steps=[1], neurons=[0])
        net.add_population("p", grow, 2)
        net.connect(src, "p", Delta(), weight=0.5, delay=1)
        with pytest.raises(NumericalError) as error:
            net.run(20)
        messages[backend] = str(error.value)
        assert (error.value.step, error.value.lane, error.value.neuron) == (3, 0, 0)
        with pytest.raises(NumericalError) as again:  # V is still infinite: the next run
            net.run(2)                                # reports it from its own first step
        assert again.value.step == 20
    assert messages["pygenn"] == messages["numpy"]
