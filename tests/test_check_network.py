"""The numerical check in a network: the earliest failure of any population names it, every
population's record is cleared (none is left for the next run to raise), and a population
the network runs through its Simulator (a readout) fails without stopping the run."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import eqsnn
from eqsnn.errors import NumericalError, ParameterError
from eqsnn.network import Delta, Network
from eqsnn.neurons import LeakyIntegrate

BACKENDS = ["numpy", pytest.param("c", marks=pytest.mark.c)]
PYGENN = pytest.param("pygenn", marks=[pytest.mark.pygenn, pytest.mark.skipif(
    importlib.util.find_spec("pygenn") is None, reason="needs PyGeNN")])

BOUNDED = eqsnn.compile("""
neuron Bounded
    state V = 0.0 (< 100)
    input Isyn = 0.0
    after: V += Isyn
    threshold: V >= 1
    reset: V = 0.0
""")


@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_earliest_failure_of_any_population_is_named_and_every_record_cleared(
        backend, fuse):
    net = Network(dt=1.0, precision="float64", backend=backend)
    net._fuse = fuse
    src = net.add_spike_source("s", 2, steps=[2, 5], neurons=[0, 1])
    # three populations of one model: only the population tells them apart
    for name in ("a", "b", "c"):
        net.add_population(name, BOUNDED, 3)
    net.connect(src, "a", Delta(), weight=[[0, 0, 0], [0, 1000.0, 0]], delay=1)  # step 6
    net.connect(src, "b", Delta(), weight=[[0, 0, 1000.0], [0, 0, 0]], delay=1)  # step 3
    net.connect(src, "c", Delta(), weight=0.1, delay=1)
    with pytest.raises(NumericalError) as caught:
        net.run(10, record={"b": ["V"]})
    error = caught.value
    assert (error.population, error.state, error.step, error.neuron) == ("b", "V", 3, 2)
    assert str(error).startswith("population 'b': V left its bounds (< 100) at step 3")
    assert error.hint.endswith("(and 1 other population failed in this run)")
    assert error.result["b"].vars["V"].shape == (10, 1, 3)  # the network's result
    assert net.step == 10
    # a's failure (step 6) was cleared with b's: the next run, healthy, raises nothing
    net.run(5)
    assert net.step == 15


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_population_run_through_its_simulator_fails_without_stopping_the_run(backend):
    net = Network(dt=1.0, precision="float32", backend=backend)
    src = net.add_spike_source("s", 1, steps=[2, 3, 4, 6], neurons=[0, 0, 0, 0])
    net.add_population("a", BOUNDED, 2)
    # a readout makes the network run this population through Simulator.run, per window
    out = net.add_population("out", LeakyIntegrate(tau_mem=1e30, readout="sum_var"), 2)
    net.connect(src, "a", Delta(), weight=0.5, delay=1)
    net.connect(src, out, Delta(), weight=[[3e38, 0.0]], delay=2)
    with pytest.raises(NumericalError) as caught:
        net.run(10, record={"a": ["V"], "out": ["V"]})
    error = caught.value
    # 3e38 arrives at step 4, overflows float32 at step 5
    assert (error.population, error.state, error.step, error.neuron) == ("out", "V", 5, 0)
    assert "population 'out': V became NaN or infinite at step 5" in str(error)
    # the whole run happened, for every population, and its result comes with the error
    assert net.step == 10 and net.populations["a"]._sim.step == 10
    recorded = error.result["out"].vars["V"][:, 0, 0]
    assert recorded.shape == (10,) and recorded[4] == np.float32(3e38)
    assert np.isinf(recorded[5:]).all()
    np.testing.assert_array_equal(error.result["a"].vars["V"][:, 0, 0],
                                  [0, 0, 0, 0.5, 0, 0.5, 0.5, 0, 0, 0])


@pytest.mark.parametrize("backend", [*BACKENDS, PYGENN])
def test_the_bounds_of_a_synapse_state_are_checked_and_named_by_their_connection(backend):
    grow = eqsnn.compile("""
synapse Bounded
    param tau = 5.0 (> 0)
    state g = 0.0 (< 1e20)
    dg/dt = -g / tau
    on_spike: g += w
    output: g
""")
    lif = eqsnn.compile("neuron Lif\n    state V = 0.0\n    input Isyn = 0.0\n"
                        "    dV/dt = -V / 10.0\n    after: V += Isyn\n")
    net = Network(dt=1.0, precision="float32", backend=backend)
    src = net.add_spike_source("s", 1, steps=[2], neurons=[0])
    net.add_population("a", lif, 2)
    conn = net.connect(src, "a", grow, weight=[[0.5, 1e30]], delay=1)
    with pytest.raises(NumericalError) as caught:
        net.run(6)
    error = caught.value
    assert (error.population, error.step, error.neuron, error.count) == ("a", 3, 1, 1)
    assert str(error).startswith(f"population 'a': g (synapse of connection {conn.name!r}) "
                                 "left its bounds (< 1e+20) at step 3")
    assert error.hint.startswith(f"look at the weights of connection {conn.name!r}")
    with pytest.raises(ParameterError, match=r"violates its bound '< 1e\+20'"):
        net2 = Network(dt=1.0, precision="float32", backend=backend)
        net2.add_population("a", lif, 2)
        net2.connect(net2.add_spike_source("s", 1, steps=[2], neurons=[0]), "a", grow,
                     synapse_init={"g": 1e21})
        net2.run(1)

#: a synapse state that grows by e per step once a spike arrives (it stays NaN or infinite
#: once it is, so its test waits for the end of the run)
RUNAWAY = """
synapse Runaway
    state g = 0.0
    dg/dt = g / 1.0
    on_spike: g += w
    output: clip(g, 0.0, 1.0)
"""


@pytest.mark.parametrize("backend", [*BACKENDS, PYGENN])
def test_a_synapse_state_that_becomes_infinite_is_named_by_its_connection(backend):
    # g grows by e per step from the arrival at step 2; the output stays within [0, 1], so
    # only the synapse state fails (the target's V stays finite)
    runaway = eqsnn.compile(RUNAWAY)
    lif = eqsnn.compile("neuron Lif\n    state V = 0.0\n    input Isyn = 0.0\n"
                        "    dV/dt = -V / 10.0\n    after: V += Isyn\n")
    net = Network(dt=1.0, precision="float32", backend=backend)
    src = net.add_spike_source("s", 1, steps=[1], neurons=[0])
    net.add_population("a", lif, 3)
    net.add_population("b", lif, 1)
    net.connect(src, "b", Delta(), weight=0.5, delay=1)
    conn = net.connect(src, "a", runaway, weight=[[0.0, 0.0, 1e30]], delay=1, name="fast")
    # the oracle: float32, g = 1e30 e^(k - 1) at the end of step k >= 2, until it overflows
    g, k = np.float32(1e30), 2
    with np.errstate(over="ignore"):
        while np.isfinite(g * np.float32(np.e)):
            g, k = g * np.float32(np.e), k + 1
    assert k == 21
    with pytest.raises(NumericalError) as caught:
        net.run(30, record={"a": ["V"]})
    error = caught.value
    assert (error.population, error.step, error.neuron, error.count) == ("a", k, 2, 1)
    assert error.state == "fast__g"
    assert str(error).startswith("population 'a': g (synapse of connection 'fast') became "
                                 f"NaN or infinite at step {k}")
    assert error.hint.startswith("look at the weights of connection 'fast'")
    assert np.isfinite(error.result["a"].vars["V"]).all()
    assert net.step == 30
    assert np.isinf(conn.state["g"][0, 2]) and np.isfinite(conn.state["g"][0, :2]).all()
    # the record was cleared: the next run reports its own first step
    with pytest.raises(NumericalError, match="at step 30 "):
        net.run(2)
    assert net.step == 32


@pytest.mark.parametrize("declaration, what", [
    ("state w = 0.5 (<= 10)\n    pre state x = 0.0", "'w' (a per-synapse state)"),
    ("state w = 0.5\n    pre state x = 0.0 (< 100)", "'x'"),
])
def test_bounds_on_a_weight_update_state_are_refused_not_ignored(declaration, what):
    # the plastic step tests finiteness only: w grew to 457 past its bound of 10, silently
    text = ("weight_update Grow\n    param a_plus = 1.0\n    " + declaration + "\n"
            "    dx/dt = -x / 20.0\n    pre_spike: x += 1.0\n"
            "    on_post: w = w + a_plus * x\n")
    with pytest.raises(eqsnn.errors.CheckError, match="has bounds; a weight-update model's "
                       "states and traces are checked for NaN and infinity only") as caught:
        eqsnn.compile(text)
    assert what in str(caught.value) and "clip(" in caught.value.hint
    assert caught.value.line == (3 if what.startswith("'w'") else 4)


def _float32_network():
    net = Network(dt=1.0, precision="float32", backend="numpy")
    src = net.add_spike_source("s", 2, steps=[1], neurons=[0])
    net.add_population("a", BOUNDED, 2)
    return net, src


@pytest.mark.parametrize("where", ["weight", "matrix", "weights", "plastic", "input"])
def test_network_values_that_overflow_float32_are_refused(where):
    # each became inf in the cast to float32 (a RuntimeWarning at most)
    from eqsnn.network import StdpAdditive
    net, src = _float32_network()
    with pytest.raises(ParameterError, match=r"overflows float32: 1e\+39") as caught:
        if where == "weight":
            net.connect(src, "a", Delta(), weight=1e39)
        elif where == "matrix":
            net.connect(src, "a", Delta(), weight=[[0.0, 1e39], [0.0, 0.0]])
        elif where == "weights":
            net.connect(src, "a", Delta(), weight=0.5).weights = 1e39
        elif where == "plastic":
            conn = net.connect(src, "a", Delta(), weight=0.5, weight_update=StdpAdditive())
            conn.set_plastic_state("w", 1e39)
        else:
            net.run(2, inputs={"a": {"Isyn": 1e39}})
    assert "precision='float64'" in caught.value.hint
    assert net.step == 0


@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("backend", [*BACKENDS, PYGENN])
def test_a_network_without_the_check_gives_the_same_bits_and_reports_nothing(backend, fuse):
    grow = eqsnn.compile("synapse Grow\n    param tau = 5.0 (> 0)\n    state g = 0.0 (< 1e20)\n"
                         "    dg/dt = -g / tau\n    on_spike: g += w\n    output: g\n")
    lif = eqsnn.compile("neuron Lif\n    state V = 0.0\n    input Isyn = 0.0\n"
                        "    dV/dt = -V / 10.0\n    after: V += Isyn\n"
                        "    threshold: V >= 1\n    reset: V = 0.0\n")

    def network(check, weight):
        net = Network(dt=1.0, precision="float32", backend=backend, check=check)
        net._fuse = fuse
        src = net.add_spike_source("s", 2, steps=[1, 2, 4, 7, 8], neurons=[0, 1, 0, 1, 0])
        net.add_population("a", BOUNDED, 3)
        net.add_population("b", lif, 2)
        net.connect(src, "a", Delta(), weight=[[0.6, 0.2, 0.5], [0.5, 0.7, 0.1]], delay=1)
        net.connect("a", "b", grow, weight=0.4, delay=2)
        net.connect(src, "b", grow, weight=[[0.3, weight], [0.2, 0.1]], delay=1, name="big")
        return net

    record = {"a": ["V", "spikes"], "b": ["V", "spikes"], "c1": ["g"], "big": ["g"]}
    runs = [network(check, 0.3).run(15, record=record) for check in (True, False)]
    for name, states in record.items():
        for state in states:
            if state == "spikes":
                assert len(runs[0][name].spikes.step) > 0
                for field in ("step", "batch", "neuron"):
                    np.testing.assert_array_equal(getattr(runs[1][name].spikes, field),
                                                  getattr(runs[0][name].spikes, field))
            else:
                np.testing.assert_array_equal(runs[1][name].vars[state],
                                              runs[0][name].vars[state])
    # g of 'big' leaves its bounds: reported with the check, not without
    with pytest.raises(NumericalError, match="g \\(synapse of connection 'big'\\) left its"):
        network(True, 1e30).run(15)
    net = network(False, 1e30)
    assert net.check is False
    result = net.run(15, record={"big": ["g"]})
    assert result["big"].vars["g"][:, 0, 1].max() > 1e20
    # the check is not in what the backend runs: no hidden record, no test in the step
    models = ([net._genn.pops[p].model for p in ("a", "b")]
              + [net._genn.conns[c].model for c in net.connections]
              if backend == "pygenn" else [net.populations[p]._sim._emitted for p in ("a", "b")])
    assert all("_check_step" not in {s.name for s in m.states} for m in models)


def test_the_check_switch_of_a_network_is_a_flag():
    with pytest.raises(ParameterError, match="check must be True or False, not 0"):
        Network(check=0)


@pytest.mark.parametrize("backend", BACKENDS + [PYGENN])
def test_a_reset_in_the_last_step_of_a_network_run_that_leaves_a_state_bad_is_reported(
        backend):
    """The reset runs after the step's check: V = -20, out of its bounds, in the run's
    last step went unreported, on every path (the fused c run, the stepped one, GeNN)."""
    model = eqsnn.compile(BOUNDED.text.replace("(< 100)", "(> -10, < 10)")
                          .replace("reset: V = 0.0", "reset: V = -20.0"))
    for fuse in ([True, False] if backend != "pygenn" else [None]):
        net = Network(dt=1.0, precision="float64", backend=backend)
        if fuse is not None:
            net._fuse = fuse
        src = net.add_spike_source("s", 1, steps=[3], neurons=[0])
        net.add_population("a", model, 2)
        net.connect(src, "a", Delta(), weight=[[0, 5.0]], delay=1)  # arrives at step 4
        with pytest.raises(NumericalError) as caught:
            net.run(5, record={"a": ["V"]})
        error = caught.value
        assert (error.population, error.state, error.step, error.neuron) == ("a", "V", 4, 1)
        assert str(error).startswith(
            "population 'a': V left its bounds (> -10, < 10) at step 4 (t = 4), lane 0, "
            "neuron 1; the reset made it so, after the step's check, in that step")
        assert error.result["a"].vars["V"][-1, 0].tolist() == [0.0, -20.0]
        with pytest.raises(NumericalError) as again:  # the record was cleared: its own
            net.run(1)
        assert again.value.step == 5 and "the reset made it so" not in str(again.value)
