"""Networks: the step order against a plain NumPy loop, bit for bit; run/reset/state;
delays; numpy against c; bad inputs rejected before any state changes."""

from __future__ import annotations

import helpers
import numpy as np
import pytest

import eqsnn
from eqsnn.errors import BackendError, EqsnnError, ParameterError, ShapeError
from eqsnn.initializers import Uniform
from eqsnn.network import (
    AlphaCurr,
    Delta,
    Dense,
    ExpCond,
    Exponential,
    FixedProbability,
    FromList,
    Network,
    OneToOne,
)

LIF = """neuron Lif
    param tau = 10.0 (> 0)
    param v_th = 1.0
    state V = 0.0
    input Isyn = 0.0
    dV/dt = -V / tau
    after: V += Isyn
    threshold: V >= v_th
    reset: V = 0.0
"""


@pytest.fixture(scope="module")
def lif():
    return eqsnn.compile(LIF)


def _lif_step(V, drive, phi, v_th):
    """The neuron's step as the test's oracle: V <- V phi; V <- V + drive; spike, reset."""
    V = V * phi
    V = V + drive
    spike = V >= v_th
    V = np.where(spike, 0.0, V)
    return V, spike


def test_two_neurons_delta_synapse_bit_for_bit(lif):
    net = Network(dt=1.0, precision="float64")
    net.add_population("a", lif, 1)
    net.add_population("b", lif, 1)
    net.connect("a", "b", Delta(), weight=0.5, delay=3)
    res = net.run(120, inputs={"a": {"Isyn": 0.25}}, record={"a": ["spikes"],
                                                             "b": ["V", "spikes"]})
    phi = np.exp(-1.0 / 10.0)
    Va = Vb = 0.0
    queue = {}  # arrival step -> summed weight
    a_spikes, b_spikes, b_V = [], [], []
    for k in range(120):
        arriving = 0.0 + queue.pop(k, 0.0)
        Vb, sb = _lif_step(Vb, 0.0 + arriving, phi, 1.0)
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


def _oracle_ten(conns, n, steps, batch, drive, src_spikes, tau_e, tau_c, E_c):
    """A plain loop over steps, spikes and synapses in (emission step, pre, row) order."""
    phi = np.exp(-1.0 / 10.0)
    phi_e, phi_c = np.exp(-1.0 / tau_e), np.exp(-1.0 / tau_c)
    V = np.zeros((batch, n))
    g_e = np.zeros((batch, n))
    g_c = np.zeros((batch, n))
    emitted = {"a": [], "s": []}  # (step, lane, pre)
    for step, neuron in src_spikes:
        for b in range(batch):
            emitted["s"].append((step, b, neuron))
    raster, trace = [], []
    for k in range(steps):
        sums = {}
        for name, (source, pre_ids, post_ids, w, d) in conns.items():
            acc = np.zeros((batch, n))
            for e, b, pre in sorted(emitted[source], key=lambda s: (s[0], s[2], s[1])):
                for syn in np.flatnonzero(pre_ids == pre):  # the row, in order
                    if e + d[syn] == k:
                        acc[b, post_ids[syn]] = acc[b, post_ids[syn]] + w[syn]
            sums[name] = acc
        g_e = g_e + sums["rec"]
        out_e = g_e
        g_e = phi_e * g_e
        g_c = g_c + sums["inp"]
        out_c = g_c * (E_c - V)
        g_c = phi_c * g_c
        total = (drive + out_e) + out_c
        V, spike = _lif_step(V, total, phi, 1.0)
        for b, i in zip(*np.nonzero(spike)):
            emitted["a"].append((k, b, i))
            raster.append((k, b, i))
        trace.append(V.copy())
    return raster, np.array(trace)


@pytest.mark.parametrize("backend", ["numpy", pytest.param("c", marks=pytest.mark.c)])
def test_ten_neurons_heterogeneous_delays_bit_for_bit(lif, backend):
    n, steps, batch = 10, 150, 2
    src_spikes = [(2, 0), (5, 1), (5, 2), (40, 0), (41, 2), (90, 1)]
    rng = np.random.default_rng(0)
    net = Network(dt=1.0, precision="float64", batch_size=batch, backend=backend, seed=3)
    net.add_population("a", lif, n)
    net.add_spike_source("s", 3, steps=[s for s, _ in src_spikes],
                         neurons=[i for _, i in src_spikes])
    pairs = np.argwhere(rng.random((n, n)) < 0.4)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    shuffled = pairs[rng.permutation(len(pairs))]  # the list's order within a row is kept
    w_rec = rng.uniform(-0.2, 0.5, len(shuffled))
    d_rec = rng.integers(1, 5, len(shuffled))
    rec = net.connect("a", "a", Exponential(tau=4.0), name="rec",
                      connectivity=FromList(shuffled[:, 0], shuffled[:, 1]),
                      weight=w_rec, delay=d_rec)
    inp = net.connect("s", "a", ExpCond(tau=6.0, E=2.0), name="inp",
                      connectivity=FixedProbability(0.5), weight=Uniform(0.0, 0.2), delay=2)
    drive = np.stack([np.linspace(0.05, 0.14, n), np.linspace(0.14, 0.05, n)])
    res = net.run(steps, inputs={"a": {"Isyn": drive}}, record={"a": ["V", "spikes"]})
    conns = {
        "rec": ("a", rec.pre, rec.post, rec.weights, rec.delays),
        "inp": ("s", inp.pre, inp.post, inp.weights, inp.delays),
    }
    # the network's synapse order is the list's, stably sorted by pre
    order = np.argsort(shuffled[:, 0], kind="stable")
    np.testing.assert_array_equal(rec.post, shuffled[order, 1])
    np.testing.assert_array_equal(rec.weights, w_rec[order])
    raster, trace = _oracle_ten(conns, n, steps, batch, drive, src_spikes, 4.0, 6.0, 2.0)
    assert len(raster) > 20
    got = sorted(zip(res["a"].spikes.step.tolist(), res["a"].spikes.batch.tolist(),
                     res["a"].spikes.neuron.tolist()))
    assert got == sorted((int(k), int(b), int(i)) for k, b, i in raster)
    np.testing.assert_array_equal(res["a"].vars["V"], trace)


def _cuba_like(backend, precision, seed=1, n=60, delays=(2, 1, 3)):
    lif_text = LIF.replace("neuron Lif", "neuron Lif2")
    model = eqsnn.compile(lif_text)
    net = Network(dt=1.0, precision=precision, backend=backend, seed=seed)
    exc = net.add_population("exc", model, n)
    net.add_population("inh", model, n // 4)
    net.connect(exc, exc, Exponential(5.0), connectivity=FixedProbability(0.2, autapses=False),
                weight=0.08, delay=delays[0])
    net.connect(exc, "inh", AlphaCurr(3.0), connectivity=FixedProbability(0.2), weight=0.1,
                delay=np.int64(delays[1]))
    net.connect("inh", exc, Exponential(10.0), connectivity=FixedProbability(0.3),
                weight=Uniform(-0.4, -0.1), delay=delays[2])
    drive = np.linspace(0.09, 0.13, n)
    return net, {"exc": {"Isyn": drive}, "inh": {"Isyn": 0.095}}


def test_two_runs_equal_one_run_and_reset_keeps_weights():
    net, inputs = _cuba_like("numpy", "float32")
    whole = net.run(200, inputs=inputs, record={"exc": ["V", "spikes"], "c0": ["g"]})
    assert len(whole["exc"].spikes) > 10
    weights = net.connections["c2"].weights
    net.connections["c2"].weights = weights * 2
    net.reset()
    np.testing.assert_array_equal(net.connections["c2"].weights, (weights * 2).astype(
        np.float32))
    net.connections["c2"].weights = weights
    assert net.step == 0
    first = net.run(77, inputs=inputs, record={"exc": ["V", "spikes"], "c0": ["g"]})
    second = net.run(123, inputs=inputs, record={"exc": ["V", "spikes"], "c0": ["g"]})
    assert second["exc"].spikes.first_step == 77
    np.testing.assert_array_equal(
        np.concatenate([first["exc"].vars["V"], second["exc"].vars["V"]]), whole["exc"].vars["V"])
    np.testing.assert_array_equal(
        np.concatenate([first["c0"].vars["g"], second["c0"].vars["g"]]), whole["c0"].vars["g"])
    steps = np.concatenate([first["exc"].spikes.step, second["exc"].spikes.step + 77])
    np.testing.assert_array_equal(steps, whole["exc"].spikes.step)
    np.testing.assert_array_equal(net.state["exc"]["V"], whole["exc"].vars["V"][-1])


def test_weights_set_between_runs_change_the_dynamics(lif):
    net = Network(dt=1.0, precision="float64")
    net.add_population("a", lif, 1)
    net.add_population("b", lif, 1)
    conn = net.connect("a", "b", Delta(), weight=0.1, delay=1)
    inputs = {"a": {"Isyn": 0.5}}
    before = net.run(30, inputs=inputs, record={"b": ["V"]})["b"].vars["V"]
    assert before.max() > 0.1
    conn.weights = [0.05]
    np.testing.assert_array_equal(conn.weights, [0.05])
    net.reset()
    after = net.run(30, inputs=inputs, record={"b": ["V"]})["b"].vars["V"]
    np.testing.assert_allclose(after * 2, before, rtol=1e-12)
    with pytest.raises(ShapeError, match="1 synapses"):
        conn.weights = [0.1, 0.2]
    with pytest.raises(ParameterError, match="set from arrays"):
        conn.weights = Uniform(0.0, 1.0)
    np.testing.assert_array_equal(conn.weights, [0.05])


@pytest.mark.c
def test_numpy_and_c_give_identical_spikes_in_float32():
    results = []
    for backend in ("numpy", "c"):
        net, inputs = _cuba_like(backend, "float32", n=80)
        results.append(net.run(300, inputs=inputs, record={"exc": ["spikes", "V"],
                                                           "inh": ["spikes"]}))
    a, b = results
    assert len(a["exc"].spikes) > 20
    for pop in ("exc", "inh"):
        np.testing.assert_array_equal(a[pop].spikes.step, b[pop].spikes.step)
        np.testing.assert_array_equal(a[pop].spikes.neuron, b[pop].spikes.neuron)
    np.testing.assert_array_equal(a["exc"].vars["V"], b["exc"].vars["V"])


def test_populations_and_connections_get_their_own_random_keys():
    noisy = eqsnn.compile("""neuron Noisy
    state V = 0.0
    input Isyn = 0.0
    dV/dt = -V + xi
    threshold: V >= 100.0
    reset: V = 0.0
""")
    net = Network(dt=0.1, precision="float64", seed=5)
    net.add_population("p", noisy, 4)
    net.add_population("q", noisy, 4)
    net.run(10)
    state = net.state
    assert not np.array_equal(state["p"]["V"], state["q"]["V"])
    again = Network(dt=0.1, precision="float64", seed=5)
    again.add_population("p", noisy, 4)
    again.add_population("q", noisy, 4)
    again.run(10)
    np.testing.assert_array_equal(again.state["p"]["V"], state["p"]["V"])


def test_several_connections_sum_into_one_input_and_user_input_first(lif):
    net = Network(dt=1.0, precision="float64")
    net.add_spike_source("s", 2, steps=[0, 0], neurons=[0, 1])
    net.add_population("b", lif, 1)
    net.connect("s", "b", Delta(), connectivity=FromList([0], [0]), weight=0.25, delay=1)
    net.connect("s", "b", Delta(), connectivity=FromList([1], [0]), weight=0.5, delay=1)
    res = net.run(3, inputs={"b": {"Isyn": 0.125}}, record={"b": ["V"]})
    phi = np.exp(-0.1)
    v0 = 0.0 * phi + 0.125
    v1 = v0 * phi + ((0.125 + 0.25) + 0.5)
    np.testing.assert_array_equal(res["b"].vars["V"][:2, 0, 0], [v0, v1])


def test_synapse_state_and_connectivity_views(lif):
    net = Network(dt=1.0, precision="float64")
    net.add_population("a", lif, 3)
    net.add_population("b", lif, 3)
    conn = net.connect("a", "b", AlphaCurr(2.0), connectivity=OneToOne(), weight=[1, 2, 3])
    np.testing.assert_array_equal(conn.pre, [0, 1, 2])
    np.testing.assert_array_equal(conn.delays, [1, 1, 1])
    assert set(conn.state) == {"x", "g"}
    assert conn.state["g"].shape == (1, 3)
    with pytest.raises(ValueError):
        conn.pre[0] = 1


# --- bad inputs: clear errors, nothing changed --------------------------------------------


def _small(lif, backend="numpy"):
    net = Network(dt=1.0, backend=backend)
    net.add_population("a", lif, 4)
    net.add_population("b", lif, 3)
    return net


@pytest.mark.parametrize("kwargs, error, text", [
    ({"target_input": "Iexc"}, ParameterError, "unknown input 'Iexc'"),
    ({"delay": 0}, ParameterError, "at least 1 step"),
    ({"delay": 1.5}, ParameterError, "whole steps"),
    ({"weight": np.ones(5)}, ShapeError, "12 synapses"),
    ({"weight": np.ones((3, 4))}, ShapeError, "12 synapses"),
    ({"weight": [np.nan] * 12}, ParameterError, "finite"),
    ({"connectivity": FromList([0, 4], [0, 1])}, ParameterError, "pre index 4"),
    ({"connectivity": FromList([0, 1], [0, 3])}, ParameterError, "post index 3"),
    ({"connectivity": OneToOne()}, ParameterError, "same size"),
    ({"connectivity": "dense"}, ParameterError, "connectivity must be"),
])
def test_bad_connections_are_rejected_and_nothing_is_added(lif, kwargs, error, text):
    net = _small(lif)
    with pytest.raises(error, match=text):
        net.connect("a", "b", Exponential(), **kwargs)
    assert net.connections == {}
    assert net.populations["b"].incoming == ()


def test_bad_run_arguments_change_nothing(lif):
    net = _small(lif)
    net.connect("a", "b", Exponential(), weight=0.5, delay=2)
    net.run(5, inputs={"a": {"Isyn": 0.6}})
    state = {k: dict(v) for k, v in net.state.items()}
    with pytest.raises(EqsnnError, match="unknown input 'Iext'"):
        net.run(5, inputs={"a": {"Iext": 1.0}})
    with pytest.raises(EqsnnError, match="unknown input 'c0__w'"):
        net.run(5, inputs={"b": {"c0__w": 1.0}})
    with pytest.raises(ShapeError):
        net.run(5, inputs={"a": {"Isyn": np.ones(7)}})
    with pytest.raises(EqsnnError, match="unknown population 'x'"):
        net.run(5, inputs={"x": {}})
    with pytest.raises(EqsnnError, match="unknown synapse state 'h'"):
        net.run(5, record={"c0": ["h"]})
    with pytest.raises(EqsnnError, match="unknown state 'c0__g'"):
        net.run(5, record={"b": ["c0__g"]})
    assert net.step == 5
    for pop, values in net.state.items():
        for name, value in values.items():
            np.testing.assert_array_equal(value, state[pop][name])
    with pytest.raises(ParameterError, match="has been built"):
        net.add_population("c", lif, 1)


def test_wrong_models_and_backends(lif):
    syn = Exponential().build()[0]
    net = Network()
    with pytest.raises(ParameterError, match="is a synapse model"):
        net.add_population("p", syn, 3)
    net.add_population("a", lif, 2)
    with pytest.raises(ParameterError, match="expected a synapse model"):
        net.connect("a", "a", lif)
    cond = ExpCond()
    other = eqsnn.compile("neuron U\n    state U = 0.0\n    input Isyn = 0.0\n"
                          "    dU/dt = -U\n    threshold: U > 1.0\n    reset: U = 0.0\n")
    net.add_population("u", other, 2)
    with pytest.raises(ParameterError, match="reads the target's state 'V'"):
        net.connect("a", "u", cond)
    with pytest.raises(EqsnnError, match="Simulator cannot run a synapse model"):
        eqsnn.Simulator(syn, 3)
    with pytest.raises(BackendError, match="unknown backend"):
        Network(backend="fortran")


def test_spike_source_times_and_checks():
    net = Network(dt=0.5, precision="float64")
    net.add_spike_source("s", 2, times=[0.0, 0.4, 1.0, 1.2], neurons=[0, 1, 1, 0])
    res = net.run(4, record={"s": ["spikes"]})
    assert res["s"].spikes.step.tolist() == [0, 1, 2, 3]
    assert res["s"].spikes.neuron.tolist() == [0, 1, 1, 0]
    with pytest.raises(ParameterError, match="twice in one step"):
        Network().add_spike_source("t", 2, steps=[1, 1], neurons=[0, 0])
    with pytest.raises(ParameterError, match="outside 0..1"):
        Network().add_spike_source("t", 2, steps=[1], neurons=[2])


def test_dense_weight_matrix_and_homogeneous_delay(lif):
    net = Network(dt=1.0, precision="float64")
    net.add_spike_source("s", 2, steps=[0], neurons=[1])
    net.add_population("b", lif, 3)
    matrix = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    conn = net.connect("s", "b", Delta(), connectivity=Dense(), weight=matrix, delay=4)
    np.testing.assert_array_equal(conn.weights, matrix.ravel())
    res = net.run(6, record={"b": ["V"]})
    arrived = res["b"].vars["V"][:, 0, :]
    assert not arrived[:4].any()
    np.testing.assert_array_equal(arrived[4], [0.4, 0.5, 0.6])


@pytest.mark.parametrize("which", ["cuba", "coba"])
def test_vogels_abbott_examples_run_small(which):
    module = helpers.vogels_abbott()
    net = getattr(module, which)(n=200, seed=2)
    res = net.run(1000, record={"exc": ["spikes"], "inh": ["spikes"]})
    rate, cv = module.rates_and_cv(res["exc"], net.populations["exc"].n, 0.1)
    assert 0.5 < rate < 200 and cv >= 0
    # refractory: no neuron fires twice within 5 ms (50 steps)
    s = res["exc"].spikes
    for i in np.unique(s.neuron):
        assert np.all(np.diff(s.step[s.neuron == i]) >= 50)


def test_standard_library_neurons_in_a_network():
    from eqsnn.neurons import LeakyIntegrateFire, PoissonInput, SpikeInput

    net = Network(dt=1.0, batch_size=2, seed=4)
    src = net.add_population("src", PoissonInput(), 20)
    lif = net.add_population("lif", LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0), 5)
    net.connect(src, lif, Exponential(5.0), weight=0.2, delay=2)
    rates = np.full((2, 20), 0.2)
    res = net.run(100, inputs={"src": {"Input": rates}},
                  record={"src": ["spikes"], "lif": ["V", "spikes"]})
    # about 1 - exp(-0.2) of 4000 lane-neuron-steps
    assert 550 < len(res["src"].spikes) < 900 and len(res["lif"].spikes) > 0
    # the lanes draw different Poisson spikes
    lanes = res["src"].spikes.batch
    assert not np.array_equal(res["src"].spikes.step[lanes == 0][:20],
                              res["src"].spikes.step[lanes == 1][:20])
    quiet = net.run(20, record={"src": ["spikes"]})  # no data input: the neuron's default
    assert quiet["src"].spikes is not None
    with pytest.raises(ParameterError, match="must be held over the run"):
        net.run(100, inputs={"src": {"Input": np.ones((100, 20))}})
    assert net.step == 120
    with pytest.raises(ParameterError, match="add_spike_source"):
        Network().add_population("x", SpikeInput(), 3)


@pytest.mark.parametrize("backend", ["numpy", pytest.param("c", marks=pytest.mark.c)])
def test_recording_a_subset_of_neurons(lif, backend):
    net = Network(dt=1.0, precision="float64", backend=backend)
    net.add_population("a", lif, 6)
    net.add_population("b", lif, 4)
    net.connect("a", "b", Exponential(3.0), weight=0.2, delay=2)
    inputs = {"a": {"Isyn": np.linspace(0.1, 0.3, 6)}}
    full = net.run(40, inputs=inputs, record={"a": ["V"], "b": ["V", "spikes"], "c0": ["g"]})
    net.reset()
    part = net.run(40, inputs=inputs, record={"a": {"V": [5, 1]}, "c0": ["g"]})
    assert part["a"].vars["V"].shape == (40, 1, 2)
    np.testing.assert_array_equal(part["a"].vars["V"], full["a"].vars["V"][:, :, [5, 1]])
    np.testing.assert_array_equal(part["c0"].vars["g"], full["c0"].vars["g"])
    with pytest.raises(ParameterError, match="outside 0..5"):
        net.run(1, record={"a": {"V": [6]}})


TWO_INPUTS = """neuron TwoInputs
    state V = 0.0
    input Ie = 0.5
    input Ii = 0.25
    after: V = 10.0 * Ie - Ii
    threshold: V > 1000.0
    reset: V = 0.0
"""


def test_connections_into_different_inputs_and_defaults():
    model = eqsnn.compile(TWO_INPUTS)
    net = Network(dt=1.0, precision="float64")
    net.add_spike_source("s", 1, steps=[0], neurons=[0])
    net.add_population("p", model, 1)
    net.connect("s", "p", Delta(), weight=2.0, target_input="Ie", delay=1)
    res = net.run(3, record={"p": ["V"]})
    # Ie: a connection targets it, so its default 0.5 no longer applies; Ii keeps 0.25
    np.testing.assert_array_equal(res["p"].vars["V"][:, 0, 0], [-0.25, 19.75, -0.25])
    net.reset()
    res = net.run(3, inputs={"p": {"Ie": 1.0, "Ii": 0.0}}, record={"p": ["V"]})
    np.testing.assert_array_equal(res["p"].vars["V"][:, 0, 0], [10.0, 30.0, 10.0])


def test_windows_of_several_steps_across_run_boundaries():
    """d_min = 3: the windows of the split runs fall elsewhere; the result is the same,
    and the same as with windows of one step (forced by a zero-weight synapse of d = 1)."""
    net, inputs = _cuba_like("numpy", "float32", delays=(4, 3, 5))
    whole = net.run(200, inputs=inputs, record={"exc": ["V", "spikes"]})
    assert len(whole["exc"].spikes) > 10
    net.reset()
    parts = [net.run(k, inputs=inputs, record={"exc": ["V"]}) for k in (7, 50, 1, 142)]
    np.testing.assert_array_equal(np.concatenate([p["exc"].vars["V"] for p in parts]),
                                  whole["exc"].vars["V"])
    single, inputs = _cuba_like("numpy", "float32", delays=(4, 3, 5))
    single.connect("exc", "inh", Delta(), connectivity=FromList([0], [0]), weight=0.0, delay=1)
    stepwise = single.run(200, inputs=inputs, record={"exc": ["V"]})
    assert single._d_min == 1 and net._d_min == 3
    np.testing.assert_array_equal(stepwise["exc"].vars["V"], whole["exc"].vars["V"])


def test_delays_from_an_initializer_are_rounded_whole_steps(lif):
    net = Network(dt=1.0)
    net.add_population("a", lif, 30)
    conn = net.connect("a", "a", Exponential(), connectivity=FixedProbability(0.5),
                       delay=Uniform(0.6, 4.4))
    delays = conn.delays
    assert delays.dtype.kind == "i" and delays.min() == 1 and delays.max() == 4
    assert set(np.unique(delays)) == {1, 2, 3, 4}
    with pytest.raises(ParameterError, match="at least 1 step"):
        net.connect("a", "a", Exponential(), delay=Uniform(-1.0, 0.4))
