"""Weight-update models: the language, pair-based STDP against its closed form, and a
small plastic network against a plain NumPy loop, bit for bit, on numpy and c."""

import numpy as np
import pytest

import eqsnn
from eqsnn.errors import (
    CheckError,
    EqsnnError,
    NumericalError,
    ParameterError,
    ParseError,
    ShapeError,
)
from eqsnn.ir.weight_update import WeightUpdate, from_model
from eqsnn.network import Delta, FromList, Network
from eqsnn.network.stdp import StdpAdditive, StdpMultiplicative

FORCED = eqsnn.compile('''
neuron Forced
    """Spikes exactly in the steps where 'fire' is set."""
    state V = 0.0
    input Isyn = 0.0
    input fire = 0.0
    after: V += Isyn
    threshold: fire > 0.5
    reset: V = 0.0
''')

LIF = eqsnn.compile('''
neuron Lif
    param tau = 10.0 (> 0)
    state V = 0.0
    input Isyn = 0.0
    dV/dt = -V / tau
    after: V += Isyn
    threshold: V >= 1.0
    reset: V = 0.0
''')


def _pair(rule, pre_step, post_step, delay=1, w0=0.5, dt=0.5, backend="numpy", steps=60):
    """One pre spike (emitted at pre_step, arriving delay steps later) and one forced post
    spike at post_step; returns the final weight."""
    net = Network(dt=dt, precision="float64", backend=backend)
    src = net.add_spike_source("src", 1, steps=[pre_step], neurons=[0])
    post = net.add_population("post", FORCED, 1)
    conn = net.connect(src, post, Delta(), weight=w0, delay=delay, target_input="Isyn",
                       weight_update=rule)
    fire = np.zeros((steps, 1, 1))
    fire[post_step] = 1.0
    res = net.run(steps, inputs={"post": {"fire": fire}}, record={"post": ["spikes"]})
    assert list(res["post"].spikes.step) == [post_step]
    return float(conn.weights[0, 0])


LAGS = [-12, -3, -1, 0, 1, 4, 15]


@pytest.mark.parametrize("lag", LAGS)
@pytest.mark.parametrize("delay", [1, 3])
def test_additive_stdp_pair_matches_closed_form(lag, delay):
    tp, tm, ap, am, dt = 8.0, 12.0, 0.02, 0.03, 0.5
    rule = StdpAdditive(tau_plus=tp, tau_minus=tm, a_plus=ap, a_minus=am)
    emitted = 20
    arrival = emitted + delay
    w = _pair(rule, emitted, arrival + lag, delay=delay, dt=dt)
    # lag = t_post - t_arrival in steps: >= 0 potentiates, < 0 depresses
    expected = 0.5 + (ap * np.exp(-lag * dt / tp) if lag >= 0 else -am * np.exp(lag * dt / tm))
    np.testing.assert_allclose(w, expected, rtol=1e-13, atol=0)


@pytest.mark.parametrize("lag", [-2, 0, 5])
def test_additive_stdp_is_clipped_to_its_bounds(lag):
    rule = StdpAdditive(tau_plus=10.0, tau_minus=10.0, a_plus=0.5, a_minus=0.5, w_min=0.2,
                        w_max=0.7)
    w = _pair(rule, 10, 11 + lag, w0=0.6)
    expected = np.clip(0.6 + (0.5 * np.exp(-lag * 0.5 / 10) if lag >= 0
                              else -0.5 * np.exp(lag * 0.5 / 10)), 0.2, 0.7)
    assert w == pytest.approx(expected, rel=1e-13)
    assert w in (0.2, 0.7)  # these lags push past the bounds


@pytest.mark.parametrize("lag", LAGS)
def test_multiplicative_stdp_pair_matches_closed_form(lag):
    tp, tm, ap, am, dt, w0, lo, hi = 15.0, 25.0, 0.3, 0.4, 1.0, 0.35, 0.1, 0.9
    rule = StdpMultiplicative(tau_plus=tp, tau_minus=tm, a_plus=ap, a_minus=am, w_min=lo,
                              w_max=hi)
    w = _pair(rule, 20, 21 + lag, w0=w0, dt=dt)
    if lag >= 0:
        expected = w0 + ap * (hi - w0) * np.exp(-lag * dt / tp)
    else:
        expected = w0 - am * (w0 - lo) * np.exp(lag * dt / tm)
    np.testing.assert_allclose(w, expected, rtol=1e-13, atol=0)
    assert lo < w < hi


def test_pair_on_c_gives_the_numpy_weights():
    rule = StdpAdditive(a_plus=0.02, a_minus=0.03)
    for lag in (-4, 0, 6):
        assert _pair(rule, 8, 9 + lag, backend="c") == _pair(rule, 8, 9 + lag)


def _oracle(w0, drive, steps, dt, tau, tp, tm, ap, am, lo, hi):
    """The plastic network by hand: n Lif neurons, Dense recurrent Delta connection with
    delay 1 and additive STDP, per lane; the step order of docs/network.md."""
    batch, n = drive.shape[1], drive.shape[2]
    phi, phi_p, phi_m = np.exp(-dt / tau), np.exp(-dt / tp), np.exp(-dt / tm)
    w = np.broadcast_to(w0, (batch, n, n)).copy()
    V = np.zeros((batch, n))
    x = np.zeros((batch, n))
    y = np.zeros((batch, n))
    last = [[] for _ in range(batch)]  # who spiked in the previous step
    spikes, ws = [], []
    for k in range(steps):
        for b in range(batch):
            arriving = last[b]
            summed = np.zeros(n)
            for i in arriving:          # delivered: the weight before on_pre
                for j in range(n):
                    summed[j] += w[b, i, j]
            for i in arriving:          # on_pre reads the post trace of this step
                for j in range(n):
                    w[b, i, j] = min(hi, max(lo, w[b, i, j] - am * y[b, j]))
            for i in arriving:          # pre_spike
                x[b, i] += 1.0
            g = 0.0 + summed
            isyn = drive[k, b] + g
            V[b] = phi * V[b]
            V[b] = V[b] + isyn
            fired = [j for j in range(n) if V[b, j] >= 1.0]
            for j in fired:
                V[b, j] = 0.0
            for j in fired:             # on_post reads the pre trace of this step
                for i in range(n):
                    w[b, i, j] = min(hi, max(lo, w[b, i, j] + ap * x[b, i]))
            for j in fired:             # post_spike
                y[b, j] += 1.0
            x[b] = phi_p * x[b]
            y[b] = phi_m * y[b]
            spikes += [(k, b, j) for j in fired]
            last[b] = fired
        ws.append(w.copy())
    return sorted(spikes), w, np.array(ws)


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_small_plastic_network_matches_a_numpy_loop_bit_for_bit(backend):
    n, steps, dt = 10, 120, 0.5
    p = dict(tau_plus=6.0, tau_minus=9.0, a_plus=0.015, a_minus=0.02, w_min=0.0, w_max=0.3)
    rng = np.random.default_rng(3)
    w0 = rng.uniform(0.0, 0.25, (n, n))
    drive = rng.uniform(0.0, 0.35, (steps, 2, n))
    net = Network(dt=dt, precision="float64", batch_size=2, backend=backend)
    pop = net.add_population("pop", LIF, n)
    conn = net.connect(pop, pop, Delta(), weight=w0, delay=1, weight_update=StdpAdditive(**p))
    half = steps // 2  # two runs give what one run gives
    got = []
    for k0 in (0, half):
        res = net.run(half, inputs={"pop": {"Isyn": drive[k0:k0 + half]}},
                      record={"pop": ["spikes"], conn.name: ["w"]})
        sp = res["pop"].spikes
        got += list(zip((sp.step + k0).tolist(), sp.batch.tolist(), sp.neuron.tolist()))
        rec_w = res[conn.name].vars["w"]
    spikes, w_end, ws = _oracle(w0, drive, steps, dt, 10.0, p["tau_plus"], p["tau_minus"],
                                p["a_plus"], p["a_minus"], p["w_min"], p["w_max"])
    assert len(spikes) > 40
    assert sorted(got) == spikes
    mine = conn.weights.reshape(2, -1)  # Dense: CSR order is (pre, post) row-major
    assert np.array_equal(mine, w_end.reshape(2, -1))
    assert np.array_equal(rec_w[-1], w_end.reshape(2, -1))
    assert np.array_equal(rec_w[0], ws[half].reshape(2, -1))
    # lanes with different inputs learn different weights
    assert not np.array_equal(mine[0], mine[1])
    assert not np.array_equal(mine[0], w0.reshape(-1))


def test_reset_keeps_learned_weights_unless_asked_and_weights_can_be_set():
    rule = StdpAdditive(a_plus=0.1, a_minus=0.1)
    net = Network(dt=1.0, precision="float64")
    src = net.add_spike_source("src", 2, steps=[2, 3], neurons=[0, 1])
    post = net.add_population("post", FORCED, 1)
    conn = net.connect(src, post, Delta(), weight=[0.5, 0.4], delay=1, weight_update=rule)
    fire = np.zeros((10, 1, 1))
    fire[6] = 1.0
    net.run(10, inputs={"post": {"fire": fire}})
    learned = conn.weights
    assert learned.shape == (1, 2) and np.all(learned > [0.5, 0.4])
    assert conn.plastic_state["x"].shape == (1, 2) and conn.plastic_state["x"].max() > 0
    net.reset()
    assert np.array_equal(conn.weights, learned)
    assert conn.plastic_state["x"].max() == 0 and conn.plastic_state["y"].max() == 0
    net.reset(restore_weights=True)
    assert np.array_equal(conn.weights, [[0.5, 0.4]])
    conn.weights = [0.1, 0.2]
    assert np.array_equal(conn.weights, [[0.1, 0.2]])
    conn.set_plastic_state("w", [[0.3, 0.25]])
    assert np.array_equal(conn.weights, [[0.3, 0.25]])
    with pytest.raises(EqsnnError, match="shape"):
        conn.set_plastic_state("w", [1.0, 2.0, 3.0])
    with pytest.raises(EqsnnError, match="unknown plastic state 'q'"):
        conn.set_plastic_state("q", 1.0)


def test_a_custom_weight_update_model_and_its_ir():
    model = eqsnn.compile('''
weight_update Capped
    """Potentiate on every post spike, by a trace that saturates."""
    param tau = 5.0 (> 0)
    param gain = 0.1
    state w = 0.0
    state count: int = 0
    pre state x = 0.0
    post state y = 0.0
    dx/dt = -x / tau
    dy/dt = -y / tau
    pre_spike: x = 1.0
    post_spike: y = 1.0
    on_pre:
        count += 1
    on_post:
        if x > 0.5:
            w += gain * x
''')
    wu = from_model(model.ir)
    assert isinstance(wu, WeightUpdate)
    assert [s.name for s in wu.synapse_states] == ["w", "count"]
    assert [s.name for s in wu.pre_traces] == ["x"] and wu.role("y") == "post"
    hash(wu)  # a frozen value
    net = Network(dt=1.0, precision="float64")
    src = net.add_spike_source("src", 1, steps=[0, 1, 4], neurons=[0, 0, 0])
    post = net.add_population("post", FORCED, 1)
    conn = net.connect(src, post, Delta(), weight=0.0, delay=1, weight_update=model,
                       weight_update_params={"gain": 2.0})
    fire = np.zeros((12, 1, 1))
    fire[[2, 9]] = 1.0
    net.run(12, inputs={"post": {"fire": fire}})
    # post at 2 sees x = 1 (arrival at 2), post at 9 sees exp(-4/5) < 0.5 (arrival at 5)
    assert conn.plastic_state["count"][0, 0] == 3
    assert conn.weights[0, 0] == pytest.approx(2.0)


BASE = '''weight_update W
    param tau = 10.0
    state w = 0.5
    pre state x = 0.0
    post state y = 0.0
    dx/dt = -x / tau
    dy/dt = -y / tau
'''


@pytest.mark.parametrize("text, kind, message, line", [
    (BASE + "    on_post: x += 1.0\n", CheckError, "'on_post:' writes 'x' (a pre trace)", 8),
    (BASE + "    on_pre: y = 0.0\n", CheckError, "'on_pre:' writes 'y' (a post trace)", 8),
    (BASE + "    post_spike: w += 1.0\n", CheckError, "'post_spike:' writes 'w'", 8),
    (BASE + "    pre_spike: x += w\n", CheckError, "'pre_spike:' reads 'w' (a per-synapse", 8),
    (BASE + "    post_spike: y += x\n", CheckError, "'post_spike:' reads 'x' (a pre trace)", 8),
    (BASE + "    on_pre: w += zz\n", EqsnnError, "unknown name 'zz'", 8),
    (BASE.replace("state w = 0.5", "state v = 0.5"), CheckError, "needs the per-synapse "
     "state 'w'", 2),
    (BASE.replace("    dy/dt = -y / tau\n", ""), CheckError, "'y' (a post trace) has no "
     "dynamics", 5),
    (BASE + "    dw/dt = -w\n", CheckError, "'w' (a per-synapse state) has an ODE", 8),
    (BASE.replace("-x / tau", "-x / tau + y"), CheckError, "the dynamics of 'x' (a pre "
     "trace) read 'y'", 6),
    (BASE.replace("post state", "mid state"), ParseError, "unexpected 'mid' before 'state'",
     5),
    (BASE + "    input I = 0.0\n", CheckError, "'input' is not allowed in a weight-update", 8),
    (BASE + "    on_spike: w += 1.0\n", CheckError, "'on_spike:' is not allowed", 8),
    (BASE + "    on_pre: 1.0\n", ParseError, "'on_pre:' takes statements", 8),
    ("neuron N\n    state V = 0.0\n    on_pre: V += 1.0\n", CheckError,
     "'on_pre:' belongs to a weight-update model", 3),
    ("neuron N\n    pre state V = 0.0\n", CheckError, "'pre state' belongs to a weight-update",
     2),
])
def test_weight_update_errors_name_the_place(text, kind, message, line):
    with pytest.raises(kind) as err:
        eqsnn.compile(text)
    assert message in str(err.value)
    assert err.value.line == line
    assert err.value.hint


def test_a_nonlinear_trace_says_that_the_adaptive_method_is_what_is_not_supported():
    """dx/dt = -x² / tau reads only x, its own side, but the default (adaptive) method
    integrates every trace in one substep loop: the error said 'a step of the trace dynamics
    mixes pre and post traces', with the hint that a trace's ODE must read its own side only.
    A fixed-step method is supported (its stages split by side) and named in the hint."""
    text = BASE.replace("dx/dt = -x / tau", "dx/dt = -x * x / tau") + "    pre_spike: x += 1.0\n"
    model = eqsnn.compile(text)
    assert model.method == "adaptive"
    with pytest.raises(CheckError) as caught:
        from_model(model.ir)
    assert caught.value.message == ("W: the trace dynamics need substeps or random numbers "
                                    "(adaptive), which weight-update models do not support")
    assert caught.value.hint.endswith("or name a fixed-step method ('method: rk4')")
    rule = from_model(eqsnn.compile(text + "    method: rk4\n").ir)
    assert rule.pre_dynamics and rule.method.name == "rk4"


def _net():
    net = Network(dt=1.0, precision="float64")
    src = net.add_spike_source("src", 2, steps=[0], neurons=[0])
    post = net.add_population("post", FORCED, 2)
    return net, src, post


def test_connect_rejects_bad_weight_update_values_before_changing_anything():
    net, src, post = _net()
    with pytest.raises(ParameterError, match="'nope' is not a param of StdpAdditive"):
        wu, _ = StdpAdditive().build()
        net.connect(src, post, Delta(), weight_update=wu, weight_update_params={"nope": 1.0})
    with pytest.raises(ParameterError, match="initial weight with weight="):
        net.connect(src, post, Delta(), weight_update=StdpAdditive().build()[0],
                    weight_update_init={"w": 1.0})
    with pytest.raises(ParameterError, match="standard-library weight update's values"):
        net.connect(src, post, Delta(), weight_update=StdpAdditive(),
                    weight_update_params={"a_plus": 1.0})
    with pytest.raises(ParameterError, match="weight_update must be a weight-update model"):
        net.connect(src, post, Delta(), weight_update=LIF)
    with pytest.raises(ParameterError, match="is a weight-update model, not a synapse"):
        net.connect(src, post, StdpAdditive().build()[0])
    with pytest.raises(ParameterError, match="all synapses of a presynaptic neuron need one "
                       "delay"):
        net.connect(src, post, Delta(), connectivity=FromList([0, 0], [0, 1]), delay=[1, 2],
                    weight_update=StdpAdditive())
    with pytest.raises(ParameterError, match="tau_plus = -1.0 violates"):
        net.connect(src, post, Delta(), weight_update=StdpAdditive(tau_plus=-1.0))
    assert not net.connections and not post.incoming
    # a delay per presynaptic neuron is fine
    net.connect(src, post, Delta(), connectivity=FromList([0, 0, 1], [0, 1, 1]),
                delay=[2, 2, 1], weight_update=StdpAdditive())


def test_static_connection_has_no_plastic_state():
    net, src, post = _net()
    conn = net.connect(src, post, Delta(), weight=0.5)
    assert dict(conn.plastic_state) == {}
    with pytest.raises(ParameterError, match="no weight-update model"):
        conn.set_plastic_state("w", 1.0)
    assert conn.weights.shape == (conn.n_synapses,) == (4,)


def test_weight_update_models_are_not_neurons_and_read_only_what_the_host_has():
    wu = StdpAdditive().build()[0]
    with pytest.raises(ParameterError, match="cannot run a weight-update model"):
        eqsnn.Simulator(wu, 2)
    net, src, post = _net()
    with pytest.raises(ParameterError, match="is a weight-update model, not a neuron"):
        net.add_population("bad", wu, 2)
    reads_t = eqsnn.compile(BASE + "    on_post: w += t\n")
    with pytest.raises(ParameterError, match="reads 't', which a weight-update model cannot"):
        net.connect(src, post, Delta(), weight_update=reads_t)
    draws = eqsnn.compile(BASE + "    on_pre: w += rand_uniform()\n")
    with pytest.raises(ParameterError, match="cannot draw random numbers"):
        net.connect(src, post, Delta(), weight_update=draws)
    assert not net.connections


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_plastic_network_gives_the_same_bits_on_numpy_and_c(precision):
    out = []
    rng = np.random.default_rng(5)
    w0 = rng.uniform(0.0, 0.3, (8, 8))
    drive = rng.uniform(0.0, 0.4, (80, 3, 8))
    for backend in ("numpy", "c"):
        net = Network(dt=0.5, precision=precision, batch_size=3, backend=backend)
        pop = net.add_population("pop", LIF, 8)
        conn = net.connect(pop, pop, Delta(), weight=w0, delay=2,
                           weight_update=StdpMultiplicative(w_max=0.4, a_plus=0.05))
        res = net.run(80, inputs={"pop": {"Isyn": drive}},
                      record={"pop": ["spikes", "V"], conn.name: ["x", "y"]})
        out.append((res["pop"].vars["V"], res[conn.name].vars["x"], conn.weights))
    for a, b in zip(*out):
        assert a.dtype == np.dtype(precision)
        assert np.array_equal(a, b)
    assert out[0][1].shape == (80, 3, 8)


def test_a_plastic_state_that_overflows_is_reported_after_the_run():
    blowup = eqsnn.compile(BASE + "    on_post: w = w * 1e300\n    pre_spike: x += 1.0\n")
    net = Network(dt=1.0, precision="float64")
    src = net.add_spike_source("src", 1, steps=[0], neurons=[0])
    post = net.add_population("post", FORCED, 1)
    net.connect(src, post, Delta(), weight=1e10, delay=1, weight_update=blowup)
    fire = np.zeros((6, 1, 1))
    fire[[2, 4]] = 1.0
    with pytest.raises(NumericalError, match="state 'w' became NaN or infinite at step "
                       "2") as err:
        net.run(6, inputs={"post": {"fire": fire}})
    assert err.value.result is not None and err.value.lane == 0
    assert net.step == 6  # the network advanced, as a Simulator does


def test_a_plastic_state_is_not_checked_in_a_network_without_the_check():
    blowup = eqsnn.compile(BASE + "    on_post: w = w * 1e300\n    pre_spike: x += 1.0\n")
    fire = np.zeros((6, 1, 1))
    fire[[2, 4]] = 1.0
    net = Network(dt=1.0, precision="float64", check=False)
    src = net.add_spike_source("src", 1, steps=[0], neurons=[0])
    post = net.add_population("post", FORCED, 1)
    conn = net.connect(src, post, Delta(), weight=1e10, delay=1, weight_update=blowup)
    net.run(6, inputs={"post": {"fire": fire}})  # raised with the check (the test above)
    assert np.isinf(conn.weights).all()
    net.run(1)  # nothing was left to be raised by a later run either


def test_a_constant_infinity_written_to_many_synapses_is_reported():
    net = Network(dt=1.0, precision="float32")
    src = net.add_spike_source("src", 3, steps=[0, 0, 0], neurons=[0, 1, 2])
    post = net.add_population("post", FORCED, 2)
    net.connect(src, post, Delta(), weight=0.1, delay=1,
                weight_update=eqsnn.compile(BASE + "    on_pre: w = 1e40\n"))
    with pytest.raises(NumericalError, match=r"at step 1 \(lane 0, synapse 0\)"):
        net.run(3)


def test_params_with_units_are_given_in_their_declared_unit_and_states_have_none():
    text = BASE.replace("param tau = 10.0", "param tau = 10 ms (> 0 ms)\n    param a = 1.0")
    model = eqsnn.compile(text + "    on_post: w += a * x\n    pre_spike: x += 1.0\n")
    net = Network(dt=1.0, precision="float64")
    src = net.add_spike_source("src", 1, steps=[0], neurons=[0])
    post = net.add_population("post", FORCED, 1)
    conn = net.connect(src, post, Delta(), weight=0.0, delay=1, weight_update=model,
                       weight_update_params={"a": 2.0, "tau": "1 s"})
    assert conn._plastic.params == {"tau": 1000.0, "a": 2.0}  # in ms
    with pytest.raises(CheckError, match="'w' \\(a per-synapse state\\) has a unit"):
        eqsnn.compile(BASE.replace("state w = 0.5", "state w [nS] = 0.5"))


def test_pre_traces_jump_when_the_spike_arrives_not_when_it_is_emitted():
    net = Network(dt=1.0, precision="float64")
    src = net.add_spike_source("src", 1, steps=[5], neurons=[0])
    post = net.add_population("post", FORCED, 1)
    conn = net.connect(src, post, Delta(), weight=0.5, delay=3,
                       weight_update=StdpAdditive(tau_plus=10.0))
    res = net.run(12, record={conn.name: ["x"], "post": ["V"]})
    x = res[conn.name].vars["x"][:, 0, 0]  # end of each step, after the traces advanced
    assert np.all(x[:8] == 0.0)
    assert x[8] == np.exp(-0.1) and x[9] == np.exp(-0.1) * np.exp(-0.1)
    v = res["post"].vars["V"][:, 0, 0]
    assert v[7] == 0.0 and v[8] == 0.5  # delivered in the arrival step too


def test_compare_on_a_plastic_network_file_checks_weights_too():
    import os

    from eqsnn.network.tools import compare_networks
    path = os.path.join(os.path.dirname(__file__), "..", "examples", "networks",
                        "stdp_small.py")
    report = compare_networks(path, ("numpy", "c"), steps=200)
    assert report.ok, str(report)
    from eqsnn.network.tools import load_network_file
    net = load_network_file(path).build("numpy", "float64", 0)
    conn = next(iter(net.connections.values()))
    start = conn.weights
    res = net.run(200, record={"pop": ["spikes"], conn.name: ["w"]})
    assert res["pop"].spikes.step.size > 20
    assert not np.array_equal(conn.weights, start)
    assert not np.array_equal(conn.weights[0], conn.weights[1])


def test_int_and_bool_params_keep_their_types():
    model = eqsnn.compile(BASE + '''    param every: int = 2
    param learn: bool = true
    state seen: int = 0
    pre_spike: x += 1.0
    on_pre:
        seen += 1
        if learn and seen % every == 0:
            w += 0.25
''')
    net = Network(dt=1.0, precision="float32")
    src = net.add_spike_source("src", 1, steps=[0, 1, 2, 3, 4], neurons=[0] * 5)
    post = net.add_population("post", FORCED, 1)
    on = net.connect(src, post, Delta(), weight=0.0, delay=1, weight_update=model)
    off = net.connect(src, post, Delta(), weight=0.0, delay=1, weight_update=model,
                      weight_update_params={"learn": False, "every": 3})
    net.run(8)
    assert on.weights[0, 0] == 0.5 and on.plastic_state["seen"][0, 0] == 5
    assert off.weights[0, 0] == 0.0
    with pytest.raises(ParameterError, match="is an int"):
        net2, s2, p2 = _net()
        net2.connect(s2, p2, Delta(), weight_update=model,
                     weight_update_params={"every": 1.5})


def test_additive_stdp_sums_every_pair_of_a_spike_train():
    """All-to-all pairing: the change is the sum of the pair rule over every (arrival,
    post) pair, as the trace formulation implies (no clipping reached)."""
    tp, tm, ap, am, dt, delay = 7.0, 11.0, 0.004, 0.005, 0.5, 2
    emitted = [3, 9, 10, 25, 31]
    posts = [6, 10, 12, 20, 33, 34]
    net = Network(dt=dt, precision="float64")
    src = net.add_spike_source("src", 1, steps=emitted, neurons=[0] * len(emitted))
    post = net.add_population("post", FORCED, 1)
    conn = net.connect(src, post, Delta(), weight=0.5, delay=delay,
                       weight_update=StdpAdditive(tau_plus=tp, tau_minus=tm, a_plus=ap,
                                                  a_minus=am))
    fire = np.zeros((50, 1, 1))
    fire[posts] = 1.0
    net.run(50, inputs={"post": {"fire": fire}})
    expected = 0.5
    for e in emitted:
        for p in posts:
            lag = p - (e + delay)
            expected += ap * np.exp(-lag * dt / tp) if lag >= 0 else -am * np.exp(lag * dt / tm)
    np.testing.assert_allclose(conn.weights[0, 0], expected, rtol=1e-12)


def test_initial_states_and_traces_per_synapse_neuron_and_lane():
    model = eqsnn.compile(BASE + "    state c = 0.0\n    pre_spike: x += 1.0\n"
                          "    on_pre: c += 1.0\n")
    net = Network(dt=1.0, precision="float64", batch_size=2)
    src = net.add_spike_source("src", 2, steps=[0], neurons=[1])
    post = net.add_population("post", FORCED, 2)
    conn = net.connect(src, post, Delta(), weight=0.5, delay=1, weight_update=model,
                       weight_update_init={"c": [1.0, 2.0, 3.0, 4.0], "y": [[0.5, 0.0],
                                                                           [0.0, 0.5]]})
    state = conn.plastic_state
    assert np.array_equal(state["c"], [[1, 2, 3, 4], [1, 2, 3, 4]])
    assert np.array_equal(state["y"], [[0.5, 0.0], [0.0, 0.5]])
    net.run(3)
    c = conn.plastic_state["c"]
    assert np.array_equal(c, [[1, 2, 4, 5], [1, 2, 4, 5]])  # pre 1's synapses: 2 and 3
    y = 0.5
    for _ in range(3):
        y = np.exp(-1.0 / 10.0) * y  # one exact step of dy/dt = -y / tau per step
    assert conn.plastic_state["y"][0, 0] == y
    net.reset()
    assert np.array_equal(conn.plastic_state["c"], c)  # per-synapse states are kept
    assert conn.plastic_state["y"][0, 0] == 0.5       # traces restart
    net.reset(restore_weights=True)
    assert np.array_equal(conn.plastic_state["c"][0], [1, 2, 3, 4])
    net2 = Network(dt=1.0, precision="float64", batch_size=2)
    src2 = net2.add_spike_source("src", 2, steps=[0], neurons=[1])
    post2 = net2.add_population("post", FORCED, 2)
    with pytest.raises(ShapeError, match=r"expected a scalar, \(4,\) or \(2, 4\)"):
        net2.connect(src2, post2, Delta(), weight_update=model, weight_update_init={"c": [1.0]})


def test_a_rule_that_never_changes_w_delivers_exactly_what_a_static_weight_does():
    with pytest.warns(eqsnn.EqsnnWarning, match="leaves w as it is"):  # on purpose here
        frozen = eqsnn.compile(BASE + "    pre_spike: x += 1.0\n    on_post: w = w\n")
    rng = np.random.default_rng(11)
    w0 = rng.uniform(0.0, 0.3, (12, 12))
    delays = rng.integers(2, 5, 12)[np.repeat(np.arange(12), 12)]  # one delay per pre
    drive = rng.uniform(0.0, 0.3, (90, 2, 12))
    out = []
    for rule in (None, frozen):
        net = Network(dt=0.5, precision="float32", batch_size=2, backend="c")
        pop = net.add_population("pop", LIF, 12)
        net.connect(pop, pop, Delta(), weight=w0, delay=delays, weight_update=rule)
        res = net.run(90, inputs={"pop": {"Isyn": drive}}, record={"pop": ["V", "spikes"]})
        out.append((res["pop"].vars["V"], res["pop"].spikes.step.size))
    assert np.array_equal(out[0][0], out[1][0])
    assert out[0][1] == out[1][1] > 20


def test_recording_plastic_states_beyond_memory_is_refused_before_running(monkeypatch):
    from eqsnn.runtime import guard
    net = Network(dt=1.0, precision="float64")
    src = net.add_spike_source("src", 10, steps=[0], neurons=[0])
    post = net.add_population("post", FORCED, 10)
    conn = net.connect(src, post, Delta(), weight_update=StdpAdditive())
    # after connecting: its 100 synapses would not fit in 1000 bytes either
    monkeypatch.setattr(guard, "available_memory", lambda: 1000)
    with pytest.raises(ParameterError, match=r"needs 859.4 KiB \(c0.w the most\)"):
        net.run(1000, record={conn.name: ["w", "x"]})
    assert net.step == 0
    net.run(5, record={conn.name: ["x"]})  # 400 bytes
