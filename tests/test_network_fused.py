"""The fused network run on c (eqsnn/network/fused.py) against the windowed run and the
numpy backend, bit for bit; its state between runs; where it falls back to windows."""

from __future__ import annotations

import numpy as np
import pytest

import eqsnn
from eqsnn.errors import NumericalError
from eqsnn.initializers import Uniform
from eqsnn.network import (
    AlphaCurr,
    Delta,
    ExpCond,
    Exponential,
    FixedProbability,
    FromList,
    Network,
)

pytestmark = pytest.mark.c

LIF = """neuron FusedLif
    param tau = 10.0 (> 0)
    param v_th = 1.0
    state V = 0.0
    input Isyn = 0.0
    dV/dt = -V / tau
    after: V += Isyn
    threshold: V >= v_th
    reset: V = 0.0
"""


def _network(backend, precision, batch=2, fuse=True, seed=5):
    """Two populations, a spike source, recurrent and heterogeneous delays, several synapse
    models and inputs per population."""
    model = eqsnn.compile(LIF)
    rng = np.random.default_rng(seed)
    net = Network(dt=1.0, precision=precision, backend=backend, batch_size=batch, seed=seed)
    net._fuse = fuse
    net.add_population("a", model, 70)
    net.add_population("b", model, 17)
    net.add_spike_source("s", 5, steps=[0, 3, 3, 30, 31, 90], neurons=[0, 1, 4, 2, 2, 3])
    net.connect("a", "a", Exponential(4.0), connectivity=FixedProbability(0.15, autapses=False),
                weight=Uniform(0.0, 0.2), delay=Uniform(0.6, 6.4), name="aa")
    net.connect("a", "b", AlphaCurr(3.0), connectivity=FixedProbability(0.3), weight=0.12,
                delay=3, name="ab")
    net.connect("b", "a", Exponential(8.0), connectivity=FixedProbability(0.3),
                weight=Uniform(-0.1, -0.02), delay=2, name="ba")
    net.connect("s", "b", ExpCond(5.0, E=3.0), connectivity=FixedProbability(0.6), weight=0.3,
                delay=1, name="sb")
    pairs = rng.integers(0, 17, (40, 2))
    net.connect("b", "b", Delta(), connectivity=FromList(pairs[:, 0], pairs[:, 1]),
                weight=rng.uniform(-0.05, 0.1, 40), delay=rng.integers(2, 5, 40), name="bb")
    drive = np.stack([np.linspace(0.1, 0.2, 70), np.linspace(0.2, 0.1, 70)])[:batch]
    per_step = np.linspace(0.0, 0.09, 150)[:, None, None] * np.ones((1, batch, 17))
    return net, drive, per_step


RECORD = {"a": ["V", "spikes"], "b": {"V": [3, 1]}, "s": ["spikes"], "ab": ["g", "x"],
          "bb": ["g"]}


def _run(net, drive, per_step, first, count):
    return net.run(count, inputs={"a": {"Isyn": drive},
                                  "b": {"Isyn": per_step[first:first + count]}},
                   record={**RECORD, "b": {"V": [3, 1], "spikes": None}})


def _same(x, y):
    for pop in ("a", "b", "s"):
        for field in ("step", "batch", "neuron"):
            np.testing.assert_array_equal(getattr(x[pop].spikes, field),
                                          getattr(y[pop].spikes, field))
    np.testing.assert_array_equal(x["a"].vars["V"], y["a"].vars["V"])
    np.testing.assert_array_equal(x["b"].vars["V"], y["b"].vars["V"])
    for conn, state in (("ab", "g"), ("ab", "x"), ("bb", "g")):
        np.testing.assert_array_equal(x[conn].vars[state], y[conn].vars[state])


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_fused_equals_windowed_and_numpy_bit_for_bit(precision):
    fused, drive, per_step = _network("c", precision)
    windowed, _, _ = _network("c", precision, fuse=False)
    reference, _, _ = _network("numpy", precision)
    got = _run(fused, drive, per_step, 0, 150)
    windowed.build()
    reference.build()
    assert fused.unfused_reason is None and fused._fused is not None
    assert windowed._fused is None and "switched off" in windowed.unfused_reason
    assert reference._fused is None and "numpy" in reference.unfused_reason
    assert len(got["a"].spikes) > 100 and len(got["b"].spikes) > 20
    _same(got, _run(windowed, drive, per_step, 0, 150))
    if precision == "float32":  # the same spikes and states as the numpy backend
        _same(got, _run(reference, drive, per_step, 0, 150))
    for name in ("a", "b"):
        np.testing.assert_array_equal(fused.state[name]["V"], windowed.state[name]["V"])
    np.testing.assert_array_equal(fused.connections["ab"].state["x"],
                                  windowed.connections["ab"].state["x"])


def test_split_runs_reset_and_weights_between_runs():
    net, drive, per_step = _network("c", "float64")
    whole = _run(net, drive, per_step, 0, 150)
    net.reset()
    assert net.step == 0
    parts = [_run(net, drive, per_step, first, count)
             for first, count in ((0, 1), (1, 48), (49, 0), (49, 101))]
    assert parts[2]["a"].vars["V"].shape == (0, 2, 70) and len(parts[2]["a"].spikes) == 0
    np.testing.assert_array_equal(np.concatenate([p["a"].vars["V"] for p in parts]),
                                  whole["a"].vars["V"])
    np.testing.assert_array_equal(np.concatenate([p["ab"].vars["x"] for p in parts]),
                                  whole["ab"].vars["x"])
    steps = np.concatenate([p["b"].spikes.step + p["b"].spikes.first_step for p in parts])
    np.testing.assert_array_equal(steps, whole["b"].spikes.step)
    assert parts[3]["s"].spikes.first_step == 49
    assert parts[3]["s"].spikes.step.tolist() == [90 - 49] * 2  # both lanes
    # weights set between runs: the same as a windowed network given the same weights
    other, _, _ = _network("c", "float64", fuse=False)
    for target in (net, other):
        target.reset()
        conn = target.connections["ba"]
        conn.weights = conn.weights * 3
        target.connections["aa"].weights = 0.0
    _same(_run(net, drive, per_step, 0, 150), _run(other, drive, per_step, 0, 150))
    assert not np.array_equal(_run(net, drive, per_step, 0, 10)["a"].vars["V"],
                              whole["a"].vars["V"][:10])


def test_spikes_in_flight_cross_a_run_boundary():
    """A spike emitted in the last step of a run arrives in the next run, d steps later."""
    model = eqsnn.compile(LIF)
    net = Network(dt=1.0, precision="float64", backend="c")
    net.add_spike_source("s", 1, steps=[4], neurons=[0])
    net.add_population("p", model, 1)
    net.connect("s", "p", Delta(), weight=0.25, delay=7)
    first = net.run(5, record={"p": ["V"]})
    second = net.run(10, record={"p": ["V"]})
    assert net._fused is not None
    assert not first["p"].vars["V"].any()
    v = second["p"].vars["V"][:, 0, 0]
    assert v[6] == 0.25 and v[5] == 0.0  # step 11 = 4 + 7 is step 6 of the second run
    net.reset()
    assert not net.run(15, record={"p": ["V"]})["p"].vars["V"][:11].any()


def test_a_population_the_driver_cannot_step_runs_in_windows():
    from eqsnn.neurons import PoissonInput

    net = Network(dt=1.0, backend="c", seed=2)
    net.add_population("src", PoissonInput(), 10)
    net.add_population("lif", eqsnn.compile(LIF), 3)
    net.connect("src", "lif", Exponential(5.0), weight=0.3, delay=2)
    res = net.run(50, inputs={"src": {"Input": np.full(10, 0.3)}},
                  record={"src": ["spikes"], "lif": ["V"]})
    assert net._fused is None and "'src'" in net.unfused_reason
    assert "data input" in net.unfused_reason
    assert len(res["src"].spikes) > 50 and res["lif"].vars["V"].max() > 0


def test_standard_library_neurons_run_fused():
    from eqsnn.neurons import AdaptiveLeakyIntegrateFire, LeakyIntegrateFire

    results = []
    for fuse in (True, False):
        net = Network(dt=1.0, backend="c", precision="float64", seed=3)
        net._fuse = fuse
        net.add_population("a", LeakyIntegrateFire(v_thresh=1.0, tau_mem=20.0), 30)
        net.add_population("b", AdaptiveLeakyIntegrateFire(v_thresh=1.0, tau_mem=15.0), 10)
        net.connect("a", "b", Exponential(5.0), connectivity=FixedProbability(0.4), weight=0.3,
                    delay=2)
        net.connect("b", "a", Exponential(5.0), connectivity=FixedProbability(0.4),
                    weight=-0.2, delay=1)
        res = net.run(200, inputs={"a": {"Isyn": np.linspace(0.04, 0.09, 30)}},
                      record={"a": ["spikes"], "b": ["V", "spikes"]})
        results.append((net.unfused_reason, res))
    (reason, fused), (_, windowed) = results
    assert reason is None and len(fused["a"].spikes) > 20 and len(fused["b"].spikes) > 5
    for pop in ("a", "b"):
        np.testing.assert_array_equal(fused[pop].spikes.step, windowed[pop].spikes.step)
        np.testing.assert_array_equal(fused[pop].spikes.neuron, windowed[pop].spikes.neuron)
    np.testing.assert_array_equal(fused["b"].vars["V"], windowed["b"].vars["V"])


def test_ring_slots_with_more_adds_than_listed_are_zeroed_whole(monkeypatch):
    from eqsnn.backends import c_network

    monkeypatch.setattr(c_network, "TOUCHED_CAPACITY", 3)
    fused, drive, per_step = _network("c", "float64")
    windowed, _, _ = _network("c", "float64", fuse=False)
    got = _run(fused, drive, per_step, 0, 150)
    assert fused._fused.touched["aa"].shape[1] == 3
    assert len(got["a"].spikes) > 100
    _same(got, _run(windowed, drive, per_step, 0, 150))


@pytest.mark.parametrize("backend", ["numpy", "c"])
@pytest.mark.parametrize("fuse", [True, False])
def test_the_numerical_check_reports_a_population_that_overflows(backend, fuse):
    from eqsnn.errors import NumericalError

    growing = eqsnn.compile("""neuron Growing
    state V = 1.0
    input Isyn = 0.0
    dV/dt = 40.0 * V
    after: V += Isyn
    threshold: V > 1e300
    reset: V = 1.0
""")
    net = Network(dt=1.0, precision="float64", backend=backend)
    net._fuse = fuse
    net.add_spike_source("s", 1, steps=[0], neurons=[0])
    net.add_population("p", growing, 2)
    net.connect("s", "p", Delta(), weight=1.0)
    with pytest.raises(NumericalError, match="V"):
        net.run(40)
    assert net.step == 40  # advanced, as a Simulator is


def test_a_network_without_synapses_runs_each_population_in_one_call():
    net = Network(dt=1.0, backend="c", precision="float64")
    net.add_population("p", eqsnn.compile(LIF), 3)
    net.add_spike_source("s", 1, steps=[2], neurons=[0])
    res = net.run(20, inputs={"p": {"Isyn": 0.2}}, record={"p": ["spikes"], "s": ["spikes"]})
    assert net._fused is None and "whole run in one call" in net.unfused_reason
    v, want = 0.0, []  # the neuron's step as a plain loop: V <- V exp(-1/10) + 0.2
    for k in range(20):
        v = v * np.exp(-0.1) + 0.2
        if v >= 1.0:
            want += [k] * 3
            v = 0.0
    assert want and res["p"].spikes.step.tolist() == want
    assert res["s"].spikes.step.tolist() == [2]


GROW = """
neuron Grow
    state V = 1.0
    input Isyn = 0.0
    param a = 1e10
    after: V *= a
    after: V += Isyn
    threshold: V > 1e30
    reset: V -= 1.0
"""


@pytest.mark.parametrize("backend", ["numpy", pytest.param("c", marks=pytest.mark.c)])
def test_a_state_that_stays_infinite_is_reported_in_a_network(backend):
    """A state that, once infinite, stays so (every assignment a sum or product with
    itself) has its test deferred to a second pass in a Simulator; a network cannot run a
    population's steps again, so it tests such states in every step instead."""
    net = Network(backend=backend, precision="float32")
    src = net.add_spike_source("s", 1, steps=[1], neurons=[0])
    net.add_population("p", eqsnn.compile(GROW), 2)
    net.connect(src, "p", Delta(), weight=0.5, delay=1)
    with pytest.raises(NumericalError, match=r"V became NaN or infinite at step 3 .*lane 0, "
                       r"neuron 0 \(and 1 other neuron\)"):
        net.run(20)
    assert net._step == 20  # the network stays advanced, as a Simulator does


def test_a_held_input_that_is_one_value_per_lane_runs_fused_bit_for_bit():
    """A held input not contiguous along neurons (a scalar) is laid out once per run for
    the driver: the fused run equals the windowed one and numpy (float32) bit for bit."""
    runs = []
    for backend, fuse in (("c", True), ("c", False), ("numpy", True)):
        net, _, per_step = _network(backend, "float32", fuse=fuse)
        runs.append(net.run(150, inputs={"a": {"Isyn": 0.16}, "b": {"Isyn": per_step}},
                            record={**RECORD, "b": {"V": [3, 1], "spikes": None}}))
        if backend == "c":
            assert (net._fused is not None) == fuse
    assert len(runs[0]["a"].spikes) > 100
    _same(runs[0], runs[1])
    _same(runs[0], runs[2])
