"""A network's numerical check tests the states that stay NaN or infinite once they are
(``runtime.checks.sticky_states``) only at the end of a run, as a Simulator does; where one
is not finite, the whole run is run again from the snapshot taken before it with every
test on (``eqsnn/network/second_pass.py``). These tests hold that second run to what the
first one did: the same failure as a test in every step finds (the step from a float32
oracle), the network ending exactly as a run without the check ends, one run only where
nothing failed, and a second run that does not finish rolled back whole."""

from __future__ import annotations

import numpy as np
import pytest
import test_check_network as check_tests
from test_backend_equivalence import gpu_available

import eqsnn
from eqsnn.errors import NumericalError
from eqsnn.network import Delta, Network
from eqsnn.network.stdp import StdpAdditive

RUNAWAY = eqsnn.compile(check_tests.RUNAWAY)
LIF = eqsnn.compile("neuron Lif\n    state V = 0.0\n    input Isyn = 0.0\n    dV/dt = -V / 10.0\n"
                    "    after: V += Isyn\n    threshold: V >= 1\n    reset: V = 0.0\n")
STEPS = 30
RECORD = {"a": ["V", "spikes"], "b": ["V", "spikes"], "fast": ["g"]}

CASES = [("numpy", False), pytest.param("c", True, marks=pytest.mark.c),
         pytest.param("c", False, marks=pytest.mark.c),
         pytest.param("cupy", False, marks=pytest.mark.gpu if gpu_available() else
                      pytest.mark.c)]


@pytest.fixture(autouse=True)
def _cupy_where_asked(request):
    """The cupy cases on a GPU, else on the CPU emulation of CUDA (conftest.py)."""
    if getattr(request.node, "callspec", None) and request.node.callspec.params.get(
            "backend") == "cupy":
        request.getfixturevalue("emulated_cupy")


def _failing_step() -> int:
    """The float32 oracle: g = 1e30 e^(k - 2) at the end of step k >= 2 (the spike of step 1
    arrives in step 2), until it overflows."""
    g, k = np.float32(1e30), 2
    with np.errstate(over="ignore"):
        while np.isfinite(g * np.float32(np.e)):
            g, k = g * np.float32(np.e), k + 1
    return k


def _network(backend, fuse, check=True, plastic=False, weight=1e30):
    net = Network(dt=1.0, precision="float32", backend=backend, check=check, seed=4)
    net._fuse = fuse
    src = net.add_spike_source("s", 2, steps=[1, 2, 3, 5, 8, 9, 12, 20],
                               neurons=[0, 1, 0, 1, 0, 1, 0, 1])
    kick = net.add_spike_source("kick", 1, steps=[1], neurons=[0])
    net.add_population("a", LIF, 3)
    net.add_population("b", LIF, 2)
    net.connect(src, "a", Delta(), weight=[[0.6, 0.2, 0.5], [0.5, 0.7, 0.1]], delay=1)
    net.connect("a", "b", Delta(), weight=0.6, delay=2, name="ab",
                weight_update=StdpAdditive(a_plus=0.05, a_minus=0.04, w_max=2.0)
                if plastic else None)
    net.connect(kick, "a", RUNAWAY, weight=[[0.0, 0.0, weight]], delay=1, name="fast")
    return net


def _advances(monkeypatch):
    """Count the calls of the network's run loop (``WindowedRun._advance``)."""
    calls = []
    original = Network._advance

    def counted(self, *args):
        calls.append(args[0])
        return original(self, *args)
    monkeypatch.setattr(Network, "_advance", counted)
    return calls


def _same_network(x, y):
    for pop, states in x.state.items():
        for name, value in states.items():
            np.testing.assert_array_equal(value, y.state[pop][name], err_msg=f"{pop}.{name}")
    for name, conn in x.connections.items():
        np.testing.assert_array_equal(conn.weights, y.connections[name].weights)
    assert x.step == y.step


def _same_result(x, y):
    for name, states in RECORD.items():
        for state in states:
            if state == "spikes":
                for field in ("step", "batch", "neuron"):
                    np.testing.assert_array_equal(getattr(x[name].spikes, field),
                                                  getattr(y[name].spikes, field))
            else:
                np.testing.assert_array_equal(x[name].vars[state], y[name].vars[state])


@pytest.mark.parametrize("plastic", [False, True], ids=["static", "plastic"])
@pytest.mark.parametrize("backend, fuse", CASES)
def test_a_sticky_state_fails_at_its_step_and_the_network_ends_as_without_the_check(
        backend, fuse, plastic, monkeypatch):
    if plastic and backend == "cupy":
        pytest.skip("plastic networks run on numpy, c and pygenn")
    calls = _advances(monkeypatch)
    net = _network(backend, fuse, plastic=plastic)
    net.build()
    assert (net.unfused_reason is None) == (backend == "c" and fuse and not plastic)
    with pytest.raises(NumericalError) as caught:
        net.run(STEPS, record=RECORD)
    error = caught.value
    k = _failing_step()
    assert k == 21
    assert (error.population, error.state, error.step, error.neuron, error.count) == (
        "a", "fast__g", k, 2, 1)
    assert str(error).startswith("population 'a': g (synapse of connection 'fast') became "
                                 f"NaN or infinite at step {k}")
    assert calls == [STEPS, STEPS]  # the run, then the run again with every test
    unchecked = _network(backend, fuse, check=False, plastic=plastic)
    expected = unchecked.run(STEPS, record=RECORD)
    assert len(expected["a"].spikes) > 10 and len(expected["b"].spikes) > 2
    assert np.isinf(expected["fast"].vars["g"][-1, 0, 2])
    _same_result(error.result, expected)  # the first run's result, not the second's
    _same_network(net, unchecked)
    # the records were cleared: the next run reports its own first step, at its start
    with pytest.raises(NumericalError, match=f"at step {STEPS} "):
        net.run(2)


@pytest.mark.parametrize("backend, fuse", CASES)
def test_a_run_whose_sticky_states_stay_finite_runs_once(backend, fuse, monkeypatch):
    calls = _advances(monkeypatch)
    net = _network(backend, fuse, weight=1e-3)
    result = net.run(STEPS, record=RECORD)
    assert calls == [STEPS]
    unchecked = _network(backend, fuse, check=False, weight=1e-3)
    _same_result(result, unchecked.run(STEPS, record=RECORD))
    _same_network(net, unchecked)
    # the populations the network steps itself wait for the second pass; in a fused run
    # every population is one
    if backend == "c" and fuse:
        assert all(pop._sim._values["_check_all"] == 0
                   for pop in net.populations.values() if not pop.is_source)


@pytest.mark.parametrize("plastic", [False, True], ids=["static", "plastic"])
@pytest.mark.parametrize("backend, fuse", CASES)
def test_a_second_pass_that_does_not_finish_rolls_the_whole_run_back(
        backend, fuse, plastic, monkeypatch):
    if plastic and backend == "cupy":
        pytest.skip("plastic networks run on numpy, c and pygenn")
    original = Network._advance
    calls = []

    def interrupted(self, *args):
        calls.append(args[0])
        out = original(self, *args)
        if len(calls) == 2:  # Ctrl-C at the end of the second pass
            raise KeyboardInterrupt
        return out
    net = _network(backend, fuse, plastic=plastic)
    fresh = _network(backend, fuse, plastic=plastic)
    net.build()
    fresh.build()
    monkeypatch.setattr(Network, "_advance", interrupted)
    with pytest.raises(KeyboardInterrupt):
        net.run(STEPS)
    monkeypatch.setattr(Network, "_advance", original)
    assert calls == [STEPS, STEPS]
    _same_network(net, fresh)  # as before the run: step 0, the initial states and weights
    # and the next run is the run a fresh network makes
    with pytest.raises(NumericalError) as again:
        net.run(STEPS, record=RECORD)
    with pytest.raises(NumericalError) as expected:
        fresh.run(STEPS, record=RECORD)
    assert again.value.step == expected.value.step == 21
    _same_result(again.value.result, expected.value.result)
    _same_network(net, fresh)
