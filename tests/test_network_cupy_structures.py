"""Networks on the ``cupy`` backend against a Network of the same seed on numpy, bit for bit,
where the structure, the sequence of runs or a failure makes the pull kernel's bookkeeping
hard: populations of 1, 33 and 1000 neurons, per-synapse delays from 3 to 500 steps (the
rings' modulo indexing with ``d_max`` not a multiple of ``d_min``), multapses whose float32
sum depends on the order, a connection without synapses, many short runs, weights and states
set while spikes are in flight, interrupts at every point of a window, a numerical failure
mid-run, the kernel's step and graph modes, and the host's fallback.  Without a GPU on the CPU
emulation of ``fake_cupy.py``, as ``test_network_cupy.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import test_network as network_tests
from test_backend_equivalence import gpu_available
from test_check_network import BOUNDED

import eqsnn
from eqsnn.backends import cupy_network
from eqsnn.errors import NumericalError
from eqsnn.network import AlphaCurr, Delta, Exponential, FixedProbability, FromList, Network

# on a GPU the gpu tier (bench/gpu_check.sh); else the CPU emulation of CUDA (the
# emulated_cupy fixture of conftest.py), which compiles with g++
pytestmark = [pytest.mark.gpu if gpu_available() else pytest.mark.c,
              pytest.mark.usefixtures("emulated_cupy")]
BACKENDS = ("numpy", "cupy")
#: weights whose float32 sums depend on their order (1e7 + 0.3 - 1e7 is not 0.3)
SCALE = np.float32([1e7, -1e7, 0.3, 0.11, -0.2, 1.0])


@pytest.fixture(scope="module")
def lif():
    return eqsnn.compile(network_tests.LIF)


def _odd_network(backend, lif, precision="float32", batch=3, seed=5):
    """Populations of 1, 33 and 1000 neurons and a spike source whose spikes go on past
    every run here: a recurrent connection, per-synapse delays of 3 to 500 steps, a target
    fed by four connections, multapses of 1e8 and -1e8, a connection without synapses, and
    a source feeding three targets with delays of 11, 23 and 4 steps."""
    rng = np.random.default_rng(seed)
    net = Network(dt=1.0, precision=precision, backend=backend, batch_size=batch, seed=seed)
    flat = rng.choice(900 * 33, 500, replace=False)
    net.add_spike_source("s", 33, steps=flat // 33, neurons=flat % 33)
    net.add_population("one", lif, 1, params={"v_th": 0.7})
    net.add_population("mid", lif, 33)
    net.add_population("big", lif, 1000)
    net.connect("big", "big", Exponential(4.0), connectivity=FixedProbability(0.004),
                weight=0.3, delay=7, name="bb")
    n = 3000
    net.connect("s", "big", Delta(), connectivity=FromList(rng.integers(0, 33, n),
                                                          rng.integers(0, 1000, n)),
                weight=rng.choice(SCALE, n), delay=rng.integers(3, 501, n), name="sb")
    net.connect("mid", "one", Delta(), connectivity=FromList([0, 0, 5, 5, 32], [0] * 5),
                weight=[0.3, 0.3, 1e8, -1e8, 0.1], delay=[3, 3, 4, 4, 9], name="mo")
    net.connect("s", "one", Delta(), connectivity=FromList([1, 2], [0, 0]), weight=0.4,
                delay=5, name="so")
    net.connect("big", "mid", Delta(), connectivity=FromList([], []), delay=3, name="empty")
    net.connect("one", "mid", AlphaCurr(2.0), weight=0.5, delay=11, name="om")
    net.connect("one", "big", Delta(), connectivity=FixedProbability(0.1), weight=0.6,
                delay=23, name="ob")
    net.connect("big", "mid", Delta(), connectivity=FixedProbability(0.05),
                weight=0.05, delay=4, name="bm")
    inputs = {"mid": {"Isyn": np.linspace(0.05, 0.2, 33)},
              "big": {"Isyn": np.linspace(0.0, 0.06, 1000)}, "one": {"Isyn": 0.01}}
    return net, inputs


ODD_RECORD = {"one": ["V", "spikes"], "mid": ["V", "spikes"], "big": {"V": [0, 31, 32, 999],
                                                                      "spikes": None},
              "s": ["spikes"], "om": ["x"]}


def _same(got, expected, record):
    """Every recorded value and spike of ``got`` is ``expected``'s, bit for bit."""
    for name in record:
        for state, value in expected[name].vars.items():
            np.testing.assert_array_equal(got[name].vars[state], value, err_msg=f"{name}.{state}")
        if expected[name].spikes is not None:
            for field in ("step", "batch", "neuron"):
                np.testing.assert_array_equal(getattr(got[name].spikes, field),
                                              getattr(expected[name].spikes, field),
                                              err_msg=f"{name} spikes")


def _same_state(got, expected):
    for pop, values in expected.state.items():
        for name, value in values.items():
            np.testing.assert_array_equal(got.state[pop][name], value, err_msg=f"{pop}.{name}")


def test_odd_sizes_wide_delays_multapses_and_many_short_runs_give_numpys_bits(lif):
    """One run of 560 steps on numpy; on cupy run(0), run(1) x 12, then the rest, with the
    arrivals summed by the pull kernel: the same spikes, states and synapse states."""
    reference, inputs = _odd_network("numpy", lif)
    net, _ = _odd_network("cupy", lif)
    net.build()
    assert net.host_arrivals_reason is None
    assert (net._d_min, net._d_max) == (3, 500)  # 500 is no multiple of 3
    assert {name: ring.shape[0] for name, ring in net._device.rings.items()} == {
        "s": 500, "big": 7, "mid": 9, "one": 23}
    expected = reference.run(560, inputs=inputs, record=ODD_RECORD)
    assert len(expected["one"].spikes) > 20 and len(expected["mid"].spikes) > 200
    assert len(expected["big"].spikes) > 500 and len(expected["s"].spikes) > 250
    parts = [net.run(0, inputs=inputs, record=ODD_RECORD)]
    parts += [net.run(1, inputs=inputs, record=ODD_RECORD) for _ in range(12)]
    parts.append(net.run(548, inputs=inputs, record=ODD_RECORD))
    assert net.step == 560 and parts[0]["one"].vars["V"].shape == (0, 3, 1)
    for name in ("one", "mid", "big"):
        for state in expected[name].vars:
            np.testing.assert_array_equal(
                np.concatenate([p[name].vars[state] for p in parts]),
                expected[name].vars[state], err_msg=f"{name}.{state}")
        steps = np.concatenate([p[name].spikes.step + first
                                for p, first in zip(parts, _firsts(parts))])
        np.testing.assert_array_equal(steps, expected[name].spikes.step)
    np.testing.assert_array_equal(np.concatenate([p["om"].vars["x"] for p in parts]),
                                  expected["om"].vars["x"])
    _same_state(net, reference)


def _firsts(parts):
    """The first step of each run of ``parts``, run one after the other from step 0."""
    lengths = [p["one"].vars["V"].shape[0] for p in parts]
    return np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)


def _small_network(backend, lif, precision="float32", batch=2, seed=5):
    """A spike source into 37 neurons through per-synapse delays of 2 to 40 steps with
    order-sensitive weights, a recurrent connection and a loop through 5 neurons."""
    rng = np.random.default_rng(seed)
    net = Network(dt=1.0, precision=precision, backend=backend, batch_size=batch, seed=seed)
    flat = rng.choice(300 * 7, 150, replace=False)
    net.add_spike_source("s", 7, steps=flat // 7, neurons=flat % 7)
    net.add_population("a", lif, 37)
    net.add_population("b", lif, 5)
    net.connect("s", "a", Delta(), connectivity=FromList(rng.integers(0, 7, 200),
                                                        rng.integers(0, 37, 200)),
                weight=rng.choice(SCALE, 200), delay=rng.integers(2, 41, 200), name="sa")
    net.connect("a", "a", Exponential(3.0), connectivity=FixedProbability(0.2), weight=0.07,
                delay=5, name="aa")
    net.connect("a", "b", Delta(), connectivity=FixedProbability(0.5), weight=0.3, delay=3,
                name="ab")
    net.connect("b", "a", Delta(), weight=-0.2, delay=7, name="ba")
    inputs = {"a": {"Isyn": np.linspace(0.05, 0.15, 37)}, "b": {"Isyn": 0.02}}
    return net, inputs


SMALL_RECORD = {"a": ["V", "spikes"], "b": ["V", "spikes"], "s": ["spikes"], "aa": ["g"]}


class _Interrupt:
    """Calls ``real``, but raises KeyboardInterrupt at call number ``at``."""

    def __init__(self, real, at):
        self.real, self.at, self.calls = real, at, 0

    def __call__(self, *args):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.real(*args)


@pytest.mark.parametrize("where", ["pull kernel", "spike sink", "runner piece"])
def test_an_interrupt_anywhere_in_a_window_is_rolled_back_to_numpys_run(lif, where,
                                                                       monkeypatch):
    """Ctrl-C in the pull kernel's fourth launch (the second window, some connections
    summed), in the third hand-over of spike bits to a ring, or in the second piece of a
    runner's second window (``window_bytes``: its first piece's bits are in the ring): the
    step, states and rings are as before the run, and the next run is numpy's, bit for
    bit."""
    reference, inputs = _small_network("numpy", lif)
    net, _ = _small_network("cupy", lif)
    for each in (reference, net):
        each.run(23, inputs=inputs, record=SMALL_RECORD)
    device = net._device
    if where == "pull kernel":
        interrupt = _Interrupt(device.kernel, 4)
        monkeypatch.setattr(device, "kernel", interrupt)
    elif where == "spike sink":
        interrupt = _Interrupt(device.push, 3)
        monkeypatch.setattr(device, "push", interrupt)
    else:
        runner = net.populations["a"]._sim._runner
        runner.window_bytes = 1
        interrupt = _Interrupt(runner._window, 4)  # windows of 2 steps, pieces of 1
        monkeypatch.setattr(runner, "_window", interrupt)
    with pytest.raises(KeyboardInterrupt):
        net.run(31, inputs=inputs, record=SMALL_RECORD)
    assert interrupt.calls == interrupt.at
    monkeypatch.undo()
    assert net.step == 23 and all(pop._sim.step == 23 for pop in net.populations.values()
                                  if not pop.is_source)
    _same_state(net, reference)
    expected = reference.run(70, inputs=inputs, record=SMALL_RECORD)
    assert len(expected["a"].spikes) > 100 and len(expected["b"].spikes) > 20
    _same(net.run(70, inputs=inputs, record=SMALL_RECORD), expected, SMALL_RECORD)
    _same_state(net, reference)


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_weights_states_and_resets_between_runs_with_spikes_in_flight(lif, precision):
    """Between runs, with spikes of delays up to 40 steps in flight: weights set (also from
    one array, set, mutated in place and set again), a state set, run(0), a reset; every
    run and the final states are numpy's, bit for bit."""
    nets = {backend: _small_network(backend, lif, precision, batch=3) for backend in BACKENDS}
    inputs = nets["numpy"][1]
    runs = {backend: [] for backend in BACKENDS}
    for backend, (net, _) in nets.items():
        def run(steps, net=net, backend=backend):
            runs[backend].append(net.run(steps, inputs=inputs, record=SMALL_RECORD))
        run(45)
        conn = net.connections["sa"]
        conn.weights = conn.weights[::-1] * np.float32(1.7)
        run(13)
        weights = net.connections["aa"].weights
        net.connections["aa"].weights = weights
        weights *= -3  # not seen until set again
        run(9)
        net.connections["aa"].weights = weights
        run(11)
        net.set_state("a", "V", np.linspace(0.0, 0.9, 37))
        run(0)
        run(17)
        net.reset()
        run(60)
    for got, expected in zip(runs["cupy"], runs["numpy"]):
        _same(got, expected, SMALL_RECORD)
    assert sum(len(r["a"].spikes) for r in runs["numpy"]) > 200
    _same_state(nets["cupy"][0], nets["numpy"][0])


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_numerical_failure_mid_run_leaves_the_rings_as_numpys_spikes(lif):
    """A population leaves its bounds at step 4 (and another, run through its Simulator,
    overflows later): the error names the same population, state, step and neuron as on
    numpy; the network stays advanced, and the next runs are numpy's, bit for bit.  No
    RuntimeWarning of NumPy's comes with the error (the check's float32 sum overflowed)."""
    from eqsnn.neurons import LeakyIntegrate

    def network(backend):
        net = Network(dt=1.0, precision="float32", backend=backend, batch_size=2)
        net.add_spike_source("s", 3, steps=[2, 3, 4, 9, 15, 30, 31], neurons=[0, 1, 2, 0, 1, 2, 0])
        net.add_population("a", BOUNDED, 4)
        net.add_population("l", lif, 5)
        out = net.add_population("out", LeakyIntegrate(tau_mem=1e30, readout="sum_var"), 2)
        net.connect("s", "a", Delta(), weight=[[200.0, 0, 0, 0], [0, 0.6, 0, 0], [0, 0, 0.4, 0]],
                    delay=2)
        net.connect("a", "l", Delta(), weight=0.7, delay=[3, 4, 5, 6] * 5)
        net.connect("a", "a", Delta(), weight=0.3, delay=3)
        net.connect("l", "a", Delta(), weight=0.2, delay=2)
        net.connect("s", out, Delta(), weight=[[3e38, 0.0], [0, 1], [0, 2]], delay=2)
        return net
    record = {"a": ["V", "spikes"], "l": ["V", "spikes"], "out": ["V"]}
    inputs = {"l": {"Isyn": 0.3}, "a": {"Isyn": 0.05}}
    outcomes = {}
    for backend in BACKENDS:
        net = network(backend)
        outcomes[backend] = []
        for steps in (12, 20, 25, 8):  # the last: 'out' began the run infinite
            with pytest.raises(NumericalError) as caught:
                net.run(steps, inputs=inputs, record=record)
            error = caught.value
            outcomes[backend].append(((error.population, error.state, error.step,
                                       error.neuron, str(error)), error.result))
        assert net.step == 65
    assert [o[0][:4] for o in outcomes["numpy"]] == [
        ("a", "V", 4, 0), ("out", "V", 12, 0), ("out", "V", 32, 0), ("out", "V", 57, 0)]
    with np.errstate(invalid="ignore"):
        for (what, got), (what_expected, expected) in zip(outcomes["cupy"], outcomes["numpy"]):
            assert what == what_expected
            for name in record:
                for state, value in expected[name].vars.items():
                    np.testing.assert_array_equal(got[name].vars[state], value)
            _same(got, expected, {"a": 0, "l": 0})
    assert len(outcomes["numpy"][-1][1]["l"].spikes) > 5 and "already NaN" in what[4]


@pytest.mark.parametrize("mode", ["step", "graph"])
def test_the_kernels_step_and_graph_modes_with_cut_windows_give_numpys_bits(lif, mode,
                                                                           monkeypatch):
    """``$EQSNN_CUPY_MODE``: one launch per step, or the steps replayed as a captured graph,
    with population a's runner cutting each window of 2 steps into pieces of 1 step (each
    piece's spike bits handed to the ring on its own)."""
    monkeypatch.setenv("EQSNN_CUPY_MODE", mode)
    reference, inputs = _small_network("numpy", lif, batch=3)
    net, _ = _small_network("cupy", lif, batch=3)
    net.build()
    assert net._d_min == 2
    assert all(net.populations[pop]._sim._runner.mode == mode for pop in ("a", "b"))
    net.populations["a"]._sim._runner.window_bytes = 1
    for steps in (29, 1, 50):
        _same(net.run(steps, inputs=inputs, record=SMALL_RECORD),
              reference.run(steps, inputs=inputs, record=SMALL_RECORD), SMALL_RECORD)
    _same_state(net, reference)


def test_where_the_host_sums_the_arrivals_the_bits_are_numpys(lif, monkeypatch):
    """Rings over the device memory bound (``RING_MEMORY`` made small), and a network whose
    only connection has no synapses: the host sums the arrivals, and every run is numpy's."""
    monkeypatch.setattr(cupy_network, "RING_MEMORY", 1000)
    reference, inputs = _small_network("numpy", lif)
    net, _ = _small_network("cupy", lif)
    net.build()
    assert "device memory" in net.host_arrivals_reason and net._device is None
    for steps in (45, 1, 30):
        _same(net.run(steps, inputs=inputs, record=SMALL_RECORD),
              reference.run(steps, inputs=inputs, record=SMALL_RECORD), SMALL_RECORD)
    _same_state(net, reference)
    out = {}
    for backend in BACKENDS:
        empty = Network(backend=backend, batch_size=2)
        empty.add_population("a", lif, 33)
        empty.connect("a", "a", Delta(), connectivity=FixedProbability(0.0), weight=5.0)
        out[backend] = empty.run(20, inputs={"a": {"Isyn": np.linspace(0.1, 0.3, 33)}},
                                 record={"a": ["V", "spikes"]})
        assert empty.connections["c0"].n_synapses == 0
    assert "no synapses" in empty.host_arrivals_reason
    assert len(out["numpy"]["a"].spikes) > 20
    _same(out["cupy"], out["numpy"], {"a": 0})


def test_the_host_keeps_no_spikes_in_flight_where_the_device_rings_do(lif):
    """With the arrivals summed on the device, the host's queue of spikes in flight (read
    only by the host's sums) stays empty: recorded spikes and a spike source's are not
    copied into it window after window."""
    net, inputs = _small_network("cupy", lif)
    result = net.run(60, inputs=inputs, record=SMALL_RECORD)
    assert net.host_arrivals_reason is None
    assert len(result["a"].spikes) > 50 and len(result["s"].spikes) > 20
    assert all(queue[0].size == 0 for queue in net._history.values())


def test_runs_of_every_length_keep_one_upload_buffer_per_population_from_the_host(lif):
    """A spike source and a population run through its Simulator (PoissonInput) hand their
    spikes to the rings from the host, through a device buffer each: runs of 1 to 11 steps
    (windows of 12 cut short at every length) reuse it rather than keep one per length, and
    give numpy's bits."""
    from eqsnn.neurons import PoissonInput
    runs = {}
    for backend in BACKENDS:
        net = Network(backend=backend, batch_size=2, seed=3)
        net.add_spike_source("s", 40, steps=np.arange(80) % 70, neurons=np.arange(80) % 40)
        net.add_population("p", PoissonInput(), 35)
        net.add_population("a", lif, 10)
        net.connect("s", "a", Delta(), weight=0.3, delay=12)
        net.connect("p", "a", Delta(), connectivity=FromList(np.arange(60) % 35,
                                                            np.arange(60) % 10),
                    weight=0.2, delay=np.arange(60) % 5 + 12)
        runs[backend] = [net.run(k, inputs={"p": {"Input": np.full((2, 35), 0.2)}},
                                 record={"a": ["V", "spikes"], "p": ["spikes"]})
                         for k in range(1, 12)]
    assert net.host_arrivals_reason is None and len(net._device._staging) == 2
    for got, expected in zip(runs["cupy"], runs["numpy"]):
        _same(got, expected, {"a": 0, "p": 0})
    assert sum(len(r["a"].spikes) for r in runs["numpy"]) > 20
