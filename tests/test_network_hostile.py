"""The network API attacked by a careless or hostile user: connectivity that cannot be
drawn, flags that are not flags, empty connections given as empty arrays, runs longer than
memory, errors that do not say where, network files whose networks differ by backend.
Each result is checked against a plain NumPy oracle (or the numpy backend), each error
message read, and the network run again after each error."""

from __future__ import annotations

import re

import numpy as np
import pytest
from test_network import LIF

import eqsnn
from eqsnn.errors import EqsnnError, ParameterError, ShapeError
from eqsnn.initializers import Normal, Uniform
from eqsnn.network import (
    Delta,
    Dense,
    Exponential,
    FixedInDegree,
    FixedProbability,
    FromList,
    Network,
    StdpAdditive,
)
from eqsnn.network import running as network_running

BACKENDS = ["numpy", pytest.param("c", marks=pytest.mark.c)]
#: and cupy on the CPU emulation of CUDA the suite carries (tests/fake_cupy.py)
WITH_CUPY = [*BACKENDS, pytest.param("cupy", marks=pytest.mark.c)]


@pytest.fixture
def emulated(request):
    """The CPU emulation of CuPy where the test's backend is cupy."""
    backend = request.node.callspec.params.get("backend")
    if backend != "cupy":
        yield
        return
    import fake_cupy
    with fake_cupy.installed():
        yield


@pytest.fixture(scope="module")
def lif():
    return eqsnn.compile(LIF)


def _pair(lif, backend="numpy", **kwargs):
    net = Network(dt=1.0, precision="float64", backend=backend, **kwargs)
    net.add_population("a", lif, 3)
    net.add_population("b", lif, 4)
    return net


_INPUTS = {"a": {"Isyn": np.array([0.3, 0.25, 0.2])}}


@pytest.mark.parametrize("p", [1e-300, 1e-19])
def test_a_tiny_connection_probability_draws_no_synapse_and_ends(p):
    """The geometric skips of a tiny p are near 2**63: summed, they overflowed int64, the
    positions wrapped below the end and the draw never ended (or made synapses at negative
    indices).  Every gap beyond the end now ends the draw."""
    rng = np.random.default_rng(0)
    pre, post, _ = FixedProbability(p).build(3, 4, False, rng)
    assert pre.size == post.size == 0
    pre, post, _ = FixedProbability(p).build(10**6, 10**6, False, rng)
    assert pre.size == 0  # 1e12 pairs at p <= 1e-19: none expected (P(any) < 1e-7)


def test_a_small_probability_over_many_pairs_keeps_its_statistics():
    """Clipping the gaps changes nothing where they do not reach the end: p = 1e-9 over
    1e12 pairs gives about 1000 synapses, all in range, sorted, without repeats."""
    rng = np.random.default_rng(1)
    pre, post, _ = FixedProbability(1e-9).build(10**6, 10**6, False, rng)
    assert 850 < pre.size < 1150  # Poisson(1000): 4.7 sd either side
    flat = pre * 10**6 + post
    assert flat.min() >= 0 and flat.max() < 10**12
    assert np.all(np.diff(flat) > 0)


@pytest.mark.parametrize("rule", [FixedProbability, FixedInDegree])
@pytest.mark.parametrize("flag", ["no", 0.0, None, "False"])
def test_autapses_must_be_true_or_false(rule, flag):
    """autapses="no" is a non-empty string, so it read as true and kept the autapses the
    user asked to leave out: silently wrong connectivity.  Only a bool is taken."""
    with pytest.raises(ParameterError, match=r"autapses must be True or False, not") as err:
        rule(1 if rule is FixedInDegree else 0.5, autapses=flag)
    assert "autapses=False leaves out i -> i" in err.value.hint
    assert rule(1 if rule is FixedInDegree else 0.5, autapses=np.bool_(False)).autapses is False


@pytest.mark.parametrize("backend", WITH_CUPY)
def test_an_empty_connection_takes_empty_arrays(lif, backend, emulated):
    """A FromList of no pairs takes weight=[] and delay=[] (np.asarray([]) is float64: the
    delays were refused as 'not whole steps'); the network runs as without it."""
    net, oracle = _pair(lif, backend), _pair(lif, backend)
    conn = net.connect("a", "b", Delta(), connectivity=FromList([], []), weight=[], delay=[])
    conn.weights = []
    assert conn.n_synapses == 0 and conn.delays.shape == (0,) and conn.weights.shape == (0,)
    got = net.run(20, inputs=_INPUTS, record={"a": ["V"], "b": ["V"]})
    expected = oracle.run(20, inputs=_INPUTS, record={"a": ["V"], "b": ["V"]})
    np.testing.assert_array_equal(got["a"].vars["V"], expected["a"].vars["V"])
    np.testing.assert_array_equal(got["b"].vars["V"], np.zeros((20, 1, 4)))
    # a non-empty list of delays for an empty connection is still a shape error
    with pytest.raises(ShapeError, match=r"delay has shape \(1,\); the connection has 0"):
        _pair(lif, backend).connect("a", "b", Delta(), connectivity=FromList([], []),
                                    delay=[2])


@pytest.mark.parametrize("record, text", [
    ({"b": {"V": [4]}}, r"^population 'b': record\['V'\] has neuron id 4, outside 0..3"),
    ({"b": ["W"]}, r"^population 'b': unknown state 'W'"),
    ({"ab": {"g": [-1]}}, r"^connection 'ab': record\['g'\] has neuron id -1, outside 0..3"),
    ({"ab": ["V"]}, r"^connection 'ab': unknown synapse state 'V'"),
])
def test_a_bad_record_names_its_population_or_connection(lif, record, text):
    """The error of a bad recording says whose record it is, as a bad input does; the run
    does nothing and the next one runs."""
    net = _pair(lif)
    net.connect("a", "b", Exponential(3.0), weight=0.5, delay=2, name="ab")
    with pytest.raises(ParameterError, match=text):
        net.run(5, inputs=_INPUTS, record=record)
    assert net.step == 0
    assert net.run(5, inputs=_INPUTS, record={"b": {"V": [3]}})["b"].vars["V"].shape == (5, 1, 1)


def test_a_bad_state_names_its_population(lif):
    net = _pair(lif)
    with pytest.raises(ShapeError, match=r"^population 'b': state 'V' got shape \(5,\)"):
        net.set_state("b", "V", np.ones(5))
    with pytest.raises(ParameterError, match=r"^population 'a': state 'V' must be finite"):
        net.set_state("a", "V", np.nan)
    np.testing.assert_array_equal(net.state["b"]["V"], np.zeros((1, 4)))


@pytest.mark.parametrize("backend", WITH_CUPY)
@pytest.mark.parametrize("connected", [False, True])
def test_a_run_longer_than_memory_runs_in_windows(lif, backend, connected, monkeypatch,
                                                  emulated):
    """A run of 1e11 steps (recording nothing) of a network without connections, or whose
    smallest delay is longer than the run, was one window of 1e11 steps: its buffers (5.8
    TiB) raised a MemoryError before the first step, where a Simulator runs it.  Windows
    are now at most LONGEST_WINDOW steps; the run starts, and Ctrl-C in it rolls it back."""
    if backend == "cupy":  # the emulation steps a kernel thread by thread: short windows
        monkeypatch.setattr(network_running, "LONGEST_WINDOW", 64)
    longest = network_running.LONGEST_WINDOW
    net = _pair(lif, backend)
    if connected:
        net.connect("a", "b", Delta(), weight=0.5, delay=2**31 - 1)
    net.run(3, inputs=_INPUTS)
    runner = net.populations["a"]._sim._runner
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(args[0])  # the window's length
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    real = runner.run
    monkeypatch.setattr(runner, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        net.run(10**11, inputs=_INPUTS)
    monkeypatch.undo()
    assert calls == [longest] * 2
    assert net.step == 3


@pytest.mark.parametrize("backend", WITH_CUPY)
def test_windows_of_the_longest_length_give_one_runs_bits(lif, backend, monkeypatch, emulated):
    """Cutting a long run into windows changes nothing: with windows of 7 steps, a run of
    30 steps gives the bits of the numpy network run in one window, spikes included."""
    def run(window):
        monkeypatch.setattr(network_running, "LONGEST_WINDOW", window)
        net = _pair(lif, backend if window == 7 else "numpy")
        net.add_population("c", lif, 2, params={"v_th": 0.6})
        return net.run(30, inputs={**_INPUTS, "c": {"Isyn": 0.1}},
                       record={"a": ["V", "spikes"], "c": ["V", "spikes"]})
    got, expected = run(7), run(10**6)
    for pop in ("a", "c"):
        np.testing.assert_array_equal(got[pop].vars["V"], expected[pop].vars["V"])
        np.testing.assert_array_equal(got[pop].spikes.step, expected[pop].spikes.step)
        assert got[pop].spikes.step.size > 2


def _network_file(tmp_path, body, dt="1.0", steps="10"):
    path = tmp_path / "net.py"
    path.write_text(f"""
import eqsnn
from eqsnn.network import Network
LIF = '''{LIF}'''
STEPS = {steps}
def build(backend, precision, seed):
    net = Network(dt={dt}, backend=backend, precision=precision, seed=seed)
{body}
    return net
""")
    return str(path)


@pytest.mark.c
@pytest.mark.parametrize("body, dt, text", [
    ("    net.add_population('a', eqsnn.compile(LIF), 3 if backend == 'numpy' else 4)", "1.0",
     r"population 'a' has 4 neurons on c and 3 on numpy"),
    ("    net.add_population('a' if backend == 'numpy' else 'z', eqsnn.compile(LIF), 3)",
     "1.0", r"has populations \['z'\] on c and \['a'\] on numpy"),
    ("    net.add_population('a', eqsnn.compile(LIF), 3)", "0.5 if backend == 'c' else 1.0",
     r"dt = 0.5 ms on c and 1.0 ms on numpy"),
])
def test_compare_refuses_a_file_whose_network_differs_by_backend(tmp_path, body, dt, text):
    """A network file whose build() gives another network on another backend made compare
    fail with numpy's 'operands could not be broadcast' (or a KeyError); it now says what
    differs, before comparing anything."""
    from eqsnn.network.tools import compare_networks
    with pytest.raises(EqsnnError, match=text) as err:
        compare_networks(_network_file(tmp_path, body, dt), ["numpy", "c"])
    assert "the same network on every backend" in err.value.hint


@pytest.mark.parametrize("setting, value", [
    ("dt", 0.5), ("batch_size", 3), ("precision", "float32"), ("backend", "c"), ("seed", 5),
    ("check", False), ("fast_math", True)])
def test_a_networks_settings_are_fixed_when_it_is_made(lif, setting, value):
    """net.dt = 0.5 after connecting with delay="2 ms" ran with the delay still 2 steps,
    precision="float32" with the weights still float64, batch_size=3 with plastic states of
    one lane: silently inconsistent.  The settings are read only once made."""
    net = _pair(lif)
    conn = net.connect("a", "b", Delta(), weight=0.5, delay="2 ms")
    before = getattr(net, setting)
    with pytest.raises(ParameterError, match=rf"^Network.{setting} is fixed when the network "
                       rf"is made \(it is {before!r}\)") as err:
        setattr(net, setting, value)
    assert f"make a new Network(..., {setting}=...)" in err.value.hint
    assert getattr(net, setting) == before and conn.delays[0] == 2
    res = net.run(10, inputs=_INPUTS, record={"b": ["V"]})
    assert res["b"].vars["V"].shape == (10, 1, 4) and res["b"].vars["V"].dtype == np.float64


def test_flags_must_be_true_or_false(lif):
    """reset(restore_weights="no") restored the learned weights ("no" is true), and
    Network(fast_math="no") turned fast math on: flags are True or False."""
    with pytest.raises(ParameterError, match=r"^fast_math must be True or False, not 'no'"):
        Network(fast_math="no")
    net = _pair(lif)
    conn = net.connect("a", "b", Delta(), weight=0.5, delay=1,
                       weight_update=StdpAdditive(a_plus=0.1, a_minus=0.1))
    net.run(30, inputs={**_INPUTS, "b": {"Isyn": 0.3}})
    learned = conn.weights
    assert not np.all(learned == 0.5)
    with pytest.raises(ParameterError, match=r"^restore_weights must be True or False, not "
                       r"'no'"):
        net.reset(restore_weights="no")
    np.testing.assert_array_equal(conn.weights, learned)
    assert net.step == 30
    net.reset(restore_weights=False)
    np.testing.assert_array_equal(conn.weights, learned)


@pytest.mark.parametrize("kwargs", [{"weight_update_params": {"a_plus": 0.1}},
                                    {"weight_update_init": {"x": 0.5}}])
def test_weight_update_values_without_a_rule_are_refused(lif, kwargs):
    """weight_update_params without weight_update were ignored: the connection stayed
    static while the user believed it learned."""
    net = _pair(lif)
    with pytest.raises(ParameterError, match=r"^connection 'c0': weight_update_params or "
                       r"weight_update_init without a weight_update model would be ignored"):
        net.connect("a", "b", Delta(), weight=0.5, **kwargs)
    assert not net.connections
    net.connect("a", "b", Delta(), weight=0.5)  # the name is still free


@pytest.mark.parametrize("make, text", [
    (lambda: Uniform(float("nan"), 1.0), r"min must be a finite number, not nan"),
    (lambda: Uniform(1.0, float("inf")), r"max must be a finite number, not inf"),
    (lambda: Uniform(2.0, 1.0), r"min must not be above max"),
    (lambda: Uniform("a", 2.0), r"min must be a finite number, not 'a'"),
    (lambda: Normal(0.0, -1.0), r"sd must be >= 0, not -1.0"),
    (lambda: Normal(float("inf"), 1.0), r"mean must be a finite number, not inf"),
    (lambda: Normal(0.0, float("nan")), r"sd must be a finite number, not nan"),
])
def test_initializers_with_values_that_cannot_be_drawn_are_refused(make, text):
    """Uniform(1, inf) raised NumPy's OverflowError when connecting (Uniform(nan, 1) too),
    Uniform(2, 1) a ValueError, Normal(inf, 1) drew infinite weights: each is refused when
    made, naming the initialiser and the argument."""
    with pytest.raises(EqsnnError, match=text):
        make()


def test_initializers_draw_weights_within_their_range(lif):
    net = _pair(lif)
    conn = net.connect("a", "b", Delta(), weight=Uniform(0.2, 0.3), delay=Uniform(1.0, 4.0))
    assert np.all((conn.weights >= 0.2) & (conn.weights < 0.3))
    assert set(conn.delays.tolist()) <= {1, 2, 3, 4}
    assert Normal(1.0, 0.0).sample(np.random.default_rng(0), 3).tolist() == [1.0] * 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_recording_with_repeated_and_unsorted_ids_gets_them_in_that_order(lif, backend):
    """record={'a': {'V': [2, 0, 2]}} gives the columns of neurons 2, 0 and 2 of the whole
    recording, as a Simulator does; a connection's state too."""
    net = _pair(lif, backend)
    net.connect("a", "b", Exponential(3.0), weight=0.5, delay=2, name="ab")
    whole = _pair(lif, backend)
    whole.connect("a", "b", Exponential(3.0), weight=0.5, delay=2, name="ab")
    got = net.run(15, inputs=_INPUTS, record={"a": {"V": [2, 0, 2]}, "ab": {"g": [3, 1]}})
    full = whole.run(15, inputs=_INPUTS, record={"a": ["V"], "ab": ["g"]})
    np.testing.assert_array_equal(got["a"].vars["V"], full["a"].vars["V"][:, :, [2, 0, 2]])
    np.testing.assert_array_equal(got["ab"].vars["g"], full["ab"].vars["g"][:, :, [3, 1]])
    assert np.any(full["ab"].vars["g"] != 0)


@pytest.mark.parametrize("body, steps, text", [
    ("    net.add_population('a', eqsnn.compile(LIF), 3)\n    net.conect('a', 'a')", "10",
     r"net\.py: build\(backend='numpy'\) raised AttributeError: 'Network' object has no "
     r"attribute 'conect'"),
    ("    net.add_population('a', eqsnn.compile(LIF), 3)", "-3",
     r"net\.py: STEPS must be a positive integer, not -3"),
])
def test_compare_names_the_files_own_mistakes(tmp_path, capsys, body, steps, text):
    """A build() that raises, or a STEPS of -3, is the network file's mistake: the error
    names the file, and the CLI no longer says 'if this looks like a bug in eqsnn, report
    it'."""
    from eqsnn.network.tools import compare_networks, time_networks
    from eqsnn.tools.cli import main
    path = _network_file(tmp_path, body, steps=steps)
    for run in (compare_networks, time_networks):
        with pytest.raises(EqsnnError, match=text):
            run(path, ["numpy"])
    assert main(["compare", path, "--backends", "numpy"]) != 0
    out = capsys.readouterr()
    assert re.search(text, out.out + out.err) and "bug in eqsnn" not in out.out + out.err


@pytest.mark.parametrize("connectivity, count", [
    (Dense(), "4e\\+06"), (FixedProbability(0.5), "2e\\+06"), (FixedInDegree(100), "2e\\+05"),
])
def test_connectivity_beyond_memory_is_refused_before_drawing(lif, monkeypatch, connectivity,
                                                              count):
    """Dense between 1e6 and 1e6 neurons asked NumPy for 7 TiB (a MemoryError), and a size
    just beyond the memory, allocated lazily, could swap or get the process killed: the
    expected synapses are checked against the memory available first (here 1 MiB), and
    nothing is added."""
    from eqsnn.runtime import guard
    monkeypatch.setattr(guard, "available_memory", lambda: 2**20)
    net = Network(dt=1.0, precision="float64")
    net.add_population("a", lif, 2000)
    net.add_population("b", lif, 2000)
    with pytest.raises(ParameterError, match=rf"^connection 'c0': {re.escape(repr(connectivity))}"
                       rf" between 2000 and 2000 neurons makes about {count} synapses, .* "
                       r"more than the 1.0 MiB available; nothing was added") as err:
        net.connect("a", "b", Delta(), connectivity=connectivity)
    assert "sparser connectivity" in err.value.hint
    assert not net.connections and not net.populations["b"].incoming
    conn = net.connect("a", "b", Delta(), connectivity=FixedInDegree(5), weight=0.1)
    assert conn.n_synapses == 10000  # 400 KB: fits


@pytest.mark.parametrize("backend", BACKENDS)
def test_delays_as_a_matrix_as_weights_are(lif, backend):
    """Weights took an (n_source, n_target) matrix and delays refused one, with no hint:
    delays now take it too, read at each synapse's (pre, post), for any connectivity."""
    rng = np.random.default_rng(2)
    matrix = rng.integers(1, 6, (3, 4))
    net = _pair(lif, backend)
    conn = net.connect("a", "b", Delta(), connectivity=FromList([2, 0, 2], [1, 3, 0]),
                       weight=0.7, delay=matrix)
    np.testing.assert_array_equal(conn.delays, matrix[conn.pre, conn.post])
    oracle = _pair(lif, backend)
    oracle.connect("a", "b", Delta(), connectivity=FromList([2, 0, 2], [1, 3, 0]),
                   weight=0.7, delay=[matrix[2, 1], matrix[0, 3], matrix[2, 0]])
    got = net.run(30, inputs=_INPUTS, record={"b": ["V"]})["b"].vars["V"]
    np.testing.assert_array_equal(got, oracle.run(30, inputs=_INPUTS,
                                                  record={"b": ["V"]})["b"].vars["V"])
    assert np.any(got != 0)
    with pytest.raises(ShapeError, match=r"delay has shape \(4, 3\); the connection has 12 "
                       r"synapses") as err:
        _pair(lif, backend).connect("a", "b", Delta(), delay=np.ones((4, 3), int))
    assert "an (n_source, n_target) matrix" in err.value.hint


def test_a_delay_too_long_given_as_a_time_says_its_own_steps(lif):
    """delay="1e20 ms" said 'delay is 4611686018427387904 steps' (the value clipped to
    2**62 on the way), not the 1e20 steps it is."""
    net = _pair(lif)
    with pytest.raises(ParameterError, match=r"^connection 'c0' delay is 1e\+20 ms, 1e\+20 "
                       r"steps of 1.0 ms, more than the 2147483647 a network takes"):
        net.connect("a", "b", Delta(), delay="1e20 ms")
    with pytest.raises(ParameterError, match=r"delay is \[.*\] second, 3e\+15 steps"):
        net.connect("a", "b", Delta(), connectivity=FromList([0, 1], [0, 0]),
                    delay=np.array([1.0, 3e12]) * eqsnn.units.second)
    assert net.connect("a", "b", Delta(), delay="2 s").delays[0] == 2000


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("readout", ["sum_var", "avg_var", "max_var"])
def test_a_readout_spans_windows_of_the_longest_length(backend, readout, monkeypatch):
    """A population with a readout in a network without connections, its run cut into
    windows of 3 steps: the readout is that of the whole run, as a Simulator gives it."""
    from eqsnn.neurons import LeakyIntegrate
    monkeypatch.setattr(network_running, "LONGEST_WINDOW", 3)
    drive = np.sin(np.arange(10))[:, None, None] * np.array([1.0, 0.5])
    net = Network(dt=1.0, precision="float64", backend=backend)
    net.add_population("o", LeakyIntegrate(tau_mem=10.0, readout=readout), 2)
    sim = eqsnn.Simulator(LeakyIntegrate(tau_mem=10.0, readout=readout), 2, dt=1.0,
                          precision="float64", backend=backend)
    name = sim.model.inputs[0].name
    got = net.run(10, inputs={"o": {name: drive}}, record={"o": ["V"]})["o"]
    expected = sim.run(10, inputs={name: drive}, record=["V"])
    np.testing.assert_array_equal(got.vars["V"], expected.vars["V"])
    np.testing.assert_allclose(got.readout, expected.readout, rtol=1e-13)
    assert np.any(got.readout != 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_inputs_and_records_keyed_by_population_or_connection_objects(lif, backend):
    """connect and set_state take a Population as well as its name; run's inputs keyed by
    the Population were silently dropped (the population ran with no input), a record
    keyed by it raised a KeyError after the network had advanced, and one keyed by a
    Connection said 'unknown population'.  Objects now stand for their names."""
    net, oracle = _pair(lif, backend), _pair(lif, backend)
    a, b = net.populations["a"], net.populations["b"]
    conn = net.connect(a, b, Exponential(3.0), weight=0.5, delay=2, name="ab")
    oracle.connect("a", "b", Exponential(3.0), weight=0.5, delay=2, name="ab")
    got = net.run(20, inputs={a: {"Isyn": 0.3}}, record={a: ["V", "spikes"], conn: ["g"]})
    expected = oracle.run(20, inputs={"a": {"Isyn": 0.3}},
                          record={"a": ["V", "spikes"], "ab": ["g"]})
    assert set(got) == {"a", "ab"} and len(expected["a"].spikes) > 3
    np.testing.assert_array_equal(got["a"].vars["V"], expected["a"].vars["V"])
    np.testing.assert_array_equal(got["a"].spikes.step, expected["a"].spikes.step)
    np.testing.assert_array_equal(got["ab"].vars["g"], expected["ab"].vars["g"])
    with pytest.raises(ParameterError, match=r"^inputs names 'a' twice \(by name and by "
                       r"object\)"):
        net.run(5, inputs={a: {"Isyn": 0.3}, "a": {"Isyn": 0.2}})
    other = _pair(lif, backend)
    foreign = other.connect("a", "b", Delta(), name="ab")
    with pytest.raises(ParameterError, match=r"^record: connection 'ab' belongs to another "
                       r"Network"):
        net.run(5, record={foreign: ["g"]})
    with pytest.raises(ParameterError, match=r"^population 'a' belongs to another Network"):
        net.run(5, inputs={other.populations["a"]: {"Isyn": 0.3}})
    assert net.step == 20


def test_a_huge_unsigned_list_index_is_named_as_given():
    """FromList(np.array([2**63], np.uint64), [0]) said 'pre index -9223372036854775808':
    the id wrapped in int64 on its way to the message."""
    with pytest.raises(ParameterError, match=r"^FromList pre index 9223372036854775808 "
                       r"\(entry 1\) is out of range"):
        FromList(np.array([0, 2**63], np.uint64), [0, 0])
    conn = FromList(np.array([1, 0], np.uint64), np.array([0, 2], np.uint32))
    np.testing.assert_array_equal(conn.build(2, 3, False, None)[0], [0, 1])
