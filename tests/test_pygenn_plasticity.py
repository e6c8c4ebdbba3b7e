"""Plastic connections on the ``pygenn`` backend.

Without PyGeNN: the GeNN weight-update model printed from an eqsnn weight-update
model, and what is refused.  Marked ``pygenn`` (real GeNN, CPU backend): STDP pairs
against the closed form and the numpy backend, the ten-neuron plastic network against
the plain NumPy loop of ``test_plasticity.py``, and networks with runs in pieces,
weights and states set between runs, ``reset`` and recorded plastic states, each
against numpy bit for bit.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from test_plasticity import BASE, FORCED, LAGS, LIF, _oracle

import eqsnn
from eqsnn.backends import pygenn_plastic
from eqsnn.errors import BackendError
from eqsnn.ir.weight_update import from_model
from eqsnn.network import Delta, Exponential, FromList, Network
from eqsnn.network.stdp import StdpAdditive, StdpMultiplicative
from eqsnn.printing.genn_plasticity import plastic_parts

pygenn_only = pytest.mark.pygenn


# --- printed models (no PyGeNN) ------------------------------------------------------------

def test_stdp_prints_on_post_before_the_delivery_and_traces_in_eqsnn_order():
    parts = plastic_parts(from_model(StdpAdditive().build()[0].ir), "float32")
    assert parts["vars"] == (("wu_w", "scalar"),)
    assert parts["pre_vars"] == (("wu_x", "scalar"), ("eqsnn_mid_x", "scalar"),
                                 ("eqsnn_arrived", "int"))
    assert parts["post_vars"] == (("wu_y", "scalar"), ("eqsnn_old_y", "scalar"),
                                  ("eqsnn_fired", "int"))
    assert ("wu_phi_x", "scalar") in parts["params"] and ("wu_a_plus", "scalar") in \
        parts["params"]
    # fmin and fmax cast back to float (GeNN's C++ calls the double functions)
    on_post = ("wu_w = (scalar)fmin(wu_w_max, (scalar)fmax(wu_w_min, "
               "wu_w + eqsnn_mid_x * wu_a_plus));")
    # the target's spike of the previous step first, then the weight, then on_pre
    assert parts["pre_spike_syn_code"].splitlines() == [
        "if (eqsnn_fired != 0) {", "    " + on_post, "}", "addToPost(wu_w);",
        "wu_w = (scalar)fmin(wu_w_max, (scalar)fmax(wu_w_min, wu_w - wu_a_minus * wu_y));"]
    # ... and the postsynaptic update leaves out the synapses that did it already
    assert parts["post_spike_syn_code"].splitlines() == [
        "if (eqsnn_fired != 0 && eqsnn_arrived == 0) {", "    " + on_post, "}"]
    # pre trace: the arrival (the emission of the previous step), kept, then decayed
    assert parts["pre_spike_code"] == "eqsnn_arrived = 1;"
    pre = parts["pre_dynamics_code"].splitlines()
    assert pre[:4] == ["if (eqsnn_arrived != 0) {", "    wu_x = 1.0 + wu_x;", "}",
                       "eqsnn_mid_x = wu_x;"]
    assert pre[-1] == "eqsnn_arrived = 0;" and "wu_phi_x * wu_x" in pre[-3]
    # post trace: kept before the step; a spike starts again from it: +1, then decay
    post = parts["post_dynamics_code"].splitlines()
    assert post[:2] == ["eqsnn_fired = 0;", "eqsnn_old_y = wu_y;"]
    spike = parts["post_spike_code"].splitlines()
    assert spike[:3] == ["eqsnn_fired = 1;", "wu_y = eqsnn_old_y;", "wu_y = 1.0 + wu_y;"]
    assert "wu_phi_y * wu_y" in spike[3]


def test_a_rule_without_on_post_needs_no_postsynaptic_update():
    model = eqsnn.compile("weight_update Decay\n    param k = 0.5\n    state w = 0.5\n"
                          "    pre state x = 0.0\n    dx/dt = -x / 10.0\n"
                          "    pre_spike: x += 1.0\n    on_pre: w = w * k + x\n")
    parts = plastic_parts(from_model(model.ir), "float64")
    assert parts["post_spike_syn_code"] is None
    assert parts["pre_spike_syn_code"].splitlines()[0] == "addToPost(wu_w);"


def _fake(backend="single_threaded_cpu"):
    return types.SimpleNamespace(backend=backend)


def _plastic_net(delay):
    net = Network(dt=1.0, precision="float64", backend="numpy")
    src = net.add_spike_source("src", 2, steps=[1], neurons=[0])
    post = net.add_population("post", FORCED, 1)
    return net.connect(src, post, Delta(), weight=0.5, delay=delay,
                       weight_update=StdpAdditive())


def test_what_cannot_match_eqsnn_on_genn_is_refused_with_the_reason():
    conn = _plastic_net(3)
    with pytest.raises(BackendError, match="delays of 3 to 3 steps; on pygenn a plastic "
                       "connection needs a delay of 1 step") as error:
        pygenn_plastic.check(_fake(), conn)
    assert "numpy or c" in error.value.hint
    with pytest.raises(BackendError, match="single-threaded CPU backend only"):
        pygenn_plastic.check(_fake("cuda"), _plastic_net(1))
    pygenn_plastic.check(_fake(), _plastic_net(1))  # delay 1 on the CPU backend: accepted


# --- real GeNN -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pygenn():
    return pytest.importorskip("pygenn")


def _pair(rule, pre_step, post_step, backend, precision="float64", w0=0.5, dt=0.5,
          steps=50):
    net = Network(dt=dt, precision=precision, backend=backend)
    src = net.add_spike_source("src", 1, steps=[pre_step], neurons=[0])
    post = net.add_population("post", FORCED, 1)
    conn = net.connect(src, post, Delta(), weight=w0, delay=1, weight_update=rule)
    fire = np.zeros((steps, 1, 1))
    fire[post_step] = 1.0
    res = net.run(steps, inputs={"post": {"fire": fire}}, record={"post": ["spikes"]})
    assert list(res["post"].spikes.step) == [post_step]
    return conn.weights[0, 0]


@pygenn_only
def test_additive_stdp_pairs_on_genn_match_the_closed_form_and_numpy(pygenn):
    tp, tm, ap, am, dt = 8.0, 12.0, 0.02, 0.03, 0.5
    rule = StdpAdditive(tau_plus=tp, tau_minus=tm, a_plus=ap, a_minus=am)
    for lag in LAGS:
        w = _pair(rule, 20, 21 + lag, "pygenn")
        expected = 0.5 + (ap * np.exp(-lag * dt / tp) if lag >= 0
                          else -am * np.exp(lag * dt / tm))
        np.testing.assert_allclose(w, expected, rtol=1e-13, atol=0)
        assert w == _pair(rule, 20, 21 + lag, "numpy")


@pygenn_only
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_bounded_and_multiplicative_pairs_on_genn_give_the_numpy_bits(pygenn, precision):
    clipped = StdpAdditive(tau_plus=10.0, tau_minus=10.0, a_plus=0.5, a_minus=0.5,
                           w_min=0.2, w_max=0.7)
    for lag in (-2, 0, 5):
        w = _pair(clipped, 10, 11 + lag, "pygenn", precision, w0=0.6)
        assert w in (np.float32(0.2), np.float32(0.7)) if precision == "float32" \
            else w in (0.2, 0.7)
        assert w == _pair(clipped, 10, 11 + lag, "numpy", precision, w0=0.6)
    soft = StdpMultiplicative(tau_plus=15.0, tau_minus=25.0, a_plus=0.3, a_minus=0.4,
                              w_min=0.1, w_max=0.9)
    for lag in LAGS:
        w = _pair(soft, 20, 21 + lag, "pygenn", precision, w0=0.35, dt=1.0)
        assert w == _pair(soft, 20, 21 + lag, "numpy", precision, w0=0.35, dt=1.0)
        expected = (0.35 + 0.3 * 0.55 * np.exp(-lag / 15.0) if lag >= 0
                    else 0.35 - 0.4 * 0.25 * np.exp(lag / 25.0))
        np.testing.assert_allclose(w, expected, rtol=1e-6 if precision == "float32"
                                   else 1e-13)


def _ten(backend, precision, p, w0, drive, half):
    net = Network(dt=0.5, precision=precision, batch_size=2, backend=backend)
    pop = net.add_population("pop", LIF, 10)
    conn = net.connect(pop, pop, Delta(), weight=w0, delay=1, weight_update=StdpAdditive(**p))
    got, recorded = [], []
    for k0 in (0, half):
        res = net.run(half, inputs={"pop": {"Isyn": drive[k0:k0 + half]}},
                      record={"pop": ["spikes", "V"], conn.name: ["w", "x", "y"]})
        sp = res["pop"].spikes
        got += list(zip((sp.step + k0).tolist(), sp.batch.tolist(), sp.neuron.tolist()))
        recorded.append(res)
    return sorted(got), conn.weights, recorded


@pygenn_only
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_the_ten_neuron_plastic_network_on_genn(pygenn, precision):
    n, steps, dt = 10, 120, 0.5
    p = dict(tau_plus=6.0, tau_minus=9.0, a_plus=0.015, a_minus=0.02, w_min=0.0, w_max=0.3)
    rng = np.random.default_rng(3)
    w0 = rng.uniform(0.0, 0.25, (n, n))
    drive = rng.uniform(0.0, 0.35, (steps, 2, n))
    half = steps // 2
    genn = _ten("pygenn", precision, p, w0, drive, half)
    numpy = _ten("numpy", precision, p, w0, drive, half)
    assert genn[0] == numpy[0]
    assert np.array_equal(genn[1], numpy[1]) and genn[1].dtype == np.dtype(precision)
    for a, b in zip(genn[2], numpy[2]):
        conn = [k for k in b if k != "pop"][0]
        assert a[conn].vars["w"].shape == (half, 2, n * n)
        for name in ("w", "x", "y"):
            assert np.array_equal(a[conn].vars[name], b[conn].vars[name]), name
        assert np.array_equal(a["pop"].vars["V"], b["pop"].vars["V"])
    if precision == "float64":  # the plain NumPy loop of test_plasticity
        spikes, w_end, ws = _oracle(w0, drive, steps, dt, 10.0, p["tau_plus"],
                                    p["tau_minus"], p["a_plus"], p["a_minus"], p["w_min"],
                                    p["w_max"])
        assert len(spikes) > 40 and genn[0] == spikes
        assert np.array_equal(genn[1], w_end.reshape(2, -1))
    assert not np.array_equal(genn[1][0], genn[1][1])  # the lanes learned apart


def _mixed(backend, precision):
    """A spike source into a LIF population through a plastic FromList connection, next
    to a static one into the same input; weights, traces and reset between runs."""
    rng = np.random.default_rng(11)
    net = Network(dt=0.5, precision=precision, batch_size=3, backend=backend)
    flat = np.sort(rng.choice(160 * 6, 90, replace=False))
    src = net.add_spike_source("src", 6, steps=flat // 6, neurons=flat % 6)
    pop = net.add_population("pop", LIF, 5)
    pre = [5, 0, 0, 3, 1, 2, 4, 4, 1]
    post = [0, 4, 1, 2, 2, 3, 0, 1, 4]
    plastic = net.connect(src, pop, Exponential(tau=2.0), connectivity=FromList(pre, post),
                          weight=rng.uniform(0.1, 0.5, 9), delay=1,
                          weight_update=StdpMultiplicative(w_max=0.8, a_plus=0.2,
                                                           a_minus=0.25))
    net.connect(pop, pop, Delta(), weight=0.05, delay=2)
    out = []

    def run(steps):
        res = net.run(steps, record={"pop": ["V", "spikes"], plastic.name: ["w", "y"]})
        out.extend([res["pop"].vars["V"], res[plastic.name].vars["w"],
                    res[plastic.name].vars["y"], res["pop"].spikes.step,
                    plastic.weights, plastic.plastic_state["x"]])
    run(50)
    run(30)
    plastic.set_plastic_state("x", np.linspace(0.0, 1.0, 6))
    plastic.set_plastic_state("w", rng.uniform(0.2, 0.6, (3, 9)))
    run(40)
    net.reset()          # learned weights stay, traces restart
    run(40)
    plastic.weights = np.full(9, 0.3)
    net.reset(restore_weights=True)
    run(40)
    return out


@pygenn_only
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_runs_in_pieces_set_states_and_reset_give_the_numpy_bits(pygenn, precision):
    genn, numpy = _mixed("pygenn", precision), _mixed("numpy", precision)
    assert len(genn) == len(numpy)
    for a, b in zip(genn, numpy):
        assert a.shape == b.shape
        assert np.array_equal(a, b)
    assert sum(len(s) for s in numpy[3::6]) > 20  # the target spikes: learning happens


def _across_runs(backend, precision):
    """Target spikes in the last step of a run: their on_post is GeNN's next step."""
    net = Network(dt=1.0, precision=precision, batch_size=2, backend=backend)
    src = net.add_spike_source("src", 2, steps=[3, 3, 9, 9, 19, 29], neurons=[0, 1, 0, 1, 1, 0])
    post = net.add_population("post", FORCED, 1)
    conn = net.connect(src, post, Delta(), weight=0.5, delay=1,
                       weight_update=StdpMultiplicative(a_plus=0.3, a_minus=0.4))
    fire = np.zeros((10, 2, 1))
    fire[9, 0] = 1.0      # lane 0: the last step of each run, one step before the arrival
    fire[5, 1] = 1.0
    out = []
    for _ in range(3):
        res = net.run(10, inputs={"post": {"fire": fire}}, record={conn.name: ["w", "y"]})
        out += [conn.weights, res[conn.name].vars["w"], res[conn.name].vars["y"],
                conn.plastic_state["x"]]
    return out


@pygenn_only
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_the_last_steps_on_post_is_in_the_weights_read_between_runs(pygenn, precision):
    genn, numpy = _across_runs("pygenn", precision), _across_runs("numpy", precision)
    for a, b in zip(genn, numpy):
        assert np.array_equal(a, b)
    assert numpy[0][0, 0] > 0.5 and not np.array_equal(numpy[0], numpy[4])


@pygenn_only
def test_a_delayed_plastic_connection_is_refused_on_genn(pygenn):
    net = Network(backend="pygenn")
    net.add_population("a", LIF, 3)
    net.add_population("b", LIF, 3)
    with pytest.raises(BackendError, match="needs a delay of 1 step"):  # when connecting
        net.connect("a", "b", Delta(), delay=2, weight_update=StdpAdditive())


@pygenn_only
def test_compare_shows_a_plastic_network_on_numpy_c_and_genn_alike(pygenn):
    import os

    from eqsnn.network.tools import compare_networks
    path = os.path.join(os.path.dirname(__file__), "..", "examples", "networks",
                        "stdp_small.py")
    for precision in ("float32", "float64"):
        report = compare_networks(path, ("numpy", "c", "pygenn"), steps=200,
                                  precision=precision)
        assert report.ok, str(report)
        assert "pygenn: identical spikes" in str(report)


CUSTOM = '''
weight_update Cascade
    """Two coupled pre traces, an int count per synapse, conditions in both blocks."""
    param tau = 5.0 (> 0)
    param tau2 = 8.0 (> 0)
    param gain = 0.1
    state w = 0.2
    state count: int = 0
    pre state x = 0.0
    pre state x2 = 0.0
    post state y = 0.0
    dx/dt = -x / tau
    dx2/dt = (x - x2) / tau2
    dy/dt = -y / tau
    pre_spike: x += 1.0
    post_spike: y = y * 0.5 + 1.0
    on_pre:
        count += 1
        if y > 0.3:
            w -= gain * y * w
    on_post:
        if count > 1:
            w += gain * (x2 + 0.25 * x)
'''


def _hostile(backend, precision):
    rng = np.random.default_rng(17)
    net = Network(dt=0.5, precision=precision, batch_size=2, backend=backend)
    flat = np.sort(rng.choice(120 * 4, 70, replace=False))
    src = net.add_spike_source("src", 4, steps=flat // 4, neurons=flat % 4)
    pop = net.add_population("pop", LIF, 6)
    custom = net.connect(src, pop, Delta(), weight=rng.uniform(0.2, 0.6, (4, 6)), delay=1,
                         weight_update=eqsnn.compile(CUSTOM),
                         weight_update_params={"gain": 0.2})
    recurrent = net.connect(pop, pop, Exponential(tau=3.0), weight=0.1, delay=1,
                            weight_update=StdpAdditive(a_plus=0.05, a_minus=0.04, w_max=0.4))
    net.connect(pop, pop, Delta(), weight=-0.05, delay=3)  # pop's spikes are delayed too
    res = net.run(120, record={"pop": ["spikes", "V"], custom.name: ["w", "count", "x2"],
                               recurrent.name: ["w"]})
    return [res["pop"].vars["V"], res[custom.name].vars["w"], res[custom.name].vars["count"],
            res[custom.name].vars["x2"], res[recurrent.name].vars["w"],
            custom.plastic_state["y"], res["pop"].spikes.step]


@pygenn_only
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_a_custom_rule_and_a_recurrent_rule_beside_a_delayed_connection(pygenn, precision):
    genn, numpy = _hostile("pygenn", precision), _hostile("numpy", precision)
    for a, b in zip(genn, numpy):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert numpy[2].max() > 3 and numpy[-1].size > 20
    assert not np.array_equal(numpy[1][0], numpy[1][-1])
    assert not np.array_equal(numpy[4][0], numpy[4][-1])


@pygenn_only
def test_a_synapse_model_that_takes_a_weight_update_name_is_refused(pygenn):
    syn = eqsnn.compile("synapse S\n    state wu_w = 0.0\n    on_spike: wu_w += w\n"
                        "    output: wu_w\n    after: wu_w = 0.0\n")
    net = Network(backend="pygenn")
    net.add_population("a", LIF, 2)
    net.add_population("b", LIF, 2)
    with pytest.raises(BackendError, match="synapse model S uses the name 'wu_w', which the "
                       "pygenn backend keeps for the weight-update model"):  # when connecting
        net.connect("a", "b", syn, weight_update=StdpAdditive())


@pygenn_only
def test_int_and_bool_params_and_an_int_state_on_genn(pygenn):
    model = eqsnn.compile(BASE + '''    param every: int = 2
    param learn: bool = true
    state seen: int = 0
    pre_spike: x += 1.0
    on_pre:
        seen += 1
        if learn and seen % every == 0:
            w += 0.25
''')
    # GeNN passes no bool params: a bool param is printed as an int
    assert ("wu_learn", "int") in plastic_parts(from_model(model.ir))["params"]
    net = Network(dt=1.0, precision="float32", backend="pygenn")
    src = net.add_spike_source("src", 1, steps=[0, 1, 2, 3, 4], neurons=[0] * 5)
    post = net.add_population("post", FORCED, 1)
    on = net.connect(src, post, Delta(), weight=0.0, delay=1, weight_update=model)
    off = net.connect(src, post, Delta(), weight=0.0, delay=1, weight_update=model,
                      weight_update_params={"learn": False, "every": 3})
    net.run(8)
    assert on.weights[0, 0] == 0.5 and on.plastic_state["seen"][0, 0] == 5
    assert on.plastic_state["seen"].dtype == np.int32
    assert off.weights[0, 0] == 0.0 and off.plastic_state["seen"][0, 0] == 5
