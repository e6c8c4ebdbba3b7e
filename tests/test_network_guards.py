"""A network's structure and values guarded as a Brian2, NEST or ml_genn user would attack
them: its mappings of populations and connections cannot be changed behind its back,
plastic weights outside the rule's bounds are refused, what GeNN cannot build is refused
when it is added, values are checked once and kept; each error message checked."""

from __future__ import annotations

import numpy as np
import pytest
from test_network import LIF

import eqsnn
from eqsnn.errors import ParameterError
from eqsnn.network import Delta, Exponential, Network


@pytest.fixture(scope="module")
def lif():
    return eqsnn.compile(LIF)


def _pair(lif, backend="numpy"):
    net = Network(dt=1.0, precision="float64", backend=backend)
    net.add_population("a", lif, 2)
    net.add_population("b", lif, 3)
    net.connect("a", "b", Exponential(3.0), weight=0.6, delay=2, name="ab")
    return net


# --- 1. populations and connections are read-only views ----------------------------------

@pytest.mark.parametrize("built", [False, True])
def test_populations_and_connections_cannot_be_changed_behind_the_networks_back(lif, built):
    """They were plain dicts: deleting "b" left a connection into a population the network
    no longer listed (a KeyError deep in the run), and replacing one ran a stale Simulator."""
    net = _pair(lif)
    if built:
        net.run(3, inputs={"a": {"Isyn": 0.4}})
    other = Network().add_population("x", lif, 2)
    for mapping, key, what in ((net.populations, "b", "populations"),
                               (net.connections, "ab", "connections")):
        with pytest.raises(ParameterError, match=f"the network's {what} are read only") as info:
            del mapping[key]
        assert "add_population" in info.value.hint and "connect" in info.value.hint
        with pytest.raises(ParameterError, match=f"the network's {what} are read only"):
            mapping[key] = other
        with pytest.raises(ParameterError, match=f"the network's {what} are read only"):
            mapping["new"] = other
        for method in ("pop", "clear", "update", "setdefault", "popitem"):
            assert not hasattr(mapping, method)
    for attribute in ("populations", "connections"):
        with pytest.raises(AttributeError):
            setattr(net, attribute, {})
    # every documented use still works
    assert list(net.populations) == ["a", "b"] and list(net.connections) == ["ab"]
    assert len(net.populations) == 2 and "a" in net.populations and "ab" in net.connections
    assert net.populations["b"].n == 3 and net.connections["ab"].target is net.populations["b"]
    assert [p.name for p in net.populations.values()] == ["a", "b"]
    assert dict(net.connections.items())["ab"].name == "ab"
    assert net.populations.get("zz") is None and net.connections == {"ab": net.connections["ab"]}
    assert "'a'" in repr(net.populations) and "'ab'" in repr(net.connections)
    # and the network keeps running as before
    res = net.run(10, inputs={"a": {"Isyn": 0.4}}, record={"b": ["V"]})
    assert res["b"].vars["V"].shape == (10, 1, 3)


def test_a_new_population_shows_in_a_view_taken_before(lif):
    net = Network()
    view = net.populations
    net.add_population("a", lif, 2)
    assert list(view) == ["a"]


# --- 5. one set of public state names ---------------------------------------------------

def test_a_hidden_state_is_refused_alike_by_a_simulator_and_a_network(lif):
    """The states a user may set are named by one function (runtime.values.public_states),
    for a Simulator and for a network's population: a hidden state of the check is refused
    by both, with the same list of states."""
    from eqsnn.runtime.values import public_states
    assert public_states(lif.ir) == {"V"}
    with pytest.raises(ParameterError) as by_simulator:
        eqsnn.Simulator(lif, 3, init={"_check_step": 0})
    with pytest.raises(ParameterError) as by_network:
        Network().add_population("a", lif, 3, init={"_check_step": 0})
    assert str(by_network.value) == f"population 'a': {by_simulator.value}"
    assert "unknown state '_check_step'" in str(by_simulator.value)
