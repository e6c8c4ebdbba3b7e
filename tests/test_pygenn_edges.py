"""The ``pygenn`` backend against NumPy on the edges of the language: param types, names.

Real PyGeNN builds each model (a few seconds); the tests skip where ``import pygenn`` fails.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_pygenn_backend import compare, simulators

import eqsnn

pygenn_only = pytest.mark.pygenn


@pytest.fixture(scope="module")
def pygenn():
    return pytest.importorskip("pygenn")


@pygenn_only
def test_pygenn_bool_param_for_the_population(pygenn):
    """A bool param with one value for all neurons: GeNN cannot hold a dynamic bool param,
    so it is built in as a constant; True and False both run as on NumPy."""
    model = eqsnn.compile("""neuron Gated
    param gate: bool = true
    state V = 0.0
    state fired: bool = false
    after:
        if gate: V += 1.0
        else: V -= 0.5
        fired = gate and V > 2
    threshold: fired
    reset: V = 0.0
""")
    for gate in (True, False):
        results = [sim.run(6, None, ["V", "fired", "spikes"])
                   for sim in simulators(model, 3, batch=2, params={"gate": gate})]
        compare(*results, rtol=0)
        assert results[1].vars["V"][-1, 0, 0] == (0.0 if gate else -3.0)


@pygenn_only
def test_pygenn_a_param_named_like_the_lane_param(pygenn):
    """On GeNN's CPU backend each batch lane is a population with the int param
    ``eqsnn_lane``: a model param of that name is renamed, not a second param."""
    model = eqsnn.compile("""neuron Lanes
    param eqsnn_lane = 2.0
    state V = 1.0
    state lane = 0.0
    dV/dt = -V / eqsnn_lane
    after: lane = batch + 0.5 * eqsnn_lane
""")
    results = [sim.run(5, None, ["V", "lane"]) for sim in simulators(model, 3, batch=2)]
    compare(*results, rtol=1e-12)
    assert results[1].vars["lane"][-1, :, 0].tolist() == [1.0, 2.0]


@pygenn_only
@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_pygenn_an_int_or_bool_isyn_keeps_its_type(pygenn, precision):
    """GeNN's own ``Isyn`` is a ``scalar``: an int ``Isyn`` read through it lost ints past
    2**24 in float32 (silently) and could not take ``%``; it is an int input var of its own."""
    model = eqsnn.compile("""neuron IntSyn
    state c: int = 0
    state r: int = 0
    input Isyn: int = 0
    after:
        c = Isyn
        r = Isyn % 3 + Isyn // 2
""")
    drive = np.array([2147483647, -2147483647 - 1, 16777217, -7, 5])[:, None, None]
    results = [sim.run(5, {"Isyn": drive}, ["c", "r"])
               for sim in simulators(model, 2, batch=2, precision=precision)]
    compare(*results, rtol=0)
    assert results[1].vars["c"][:, 1, 0].tolist() == drive.reshape(-1).tolist()
    model = eqsnn.compile("""neuron BoolSyn
    state V = 0.0
    input Isyn: bool = false
    after:
        if Isyn: V += 1.5
""")
    go = np.array([True, False, True, True])[:, None, None]
    results = [sim.run(4, {"Isyn": go}, ["V"])
               for sim in simulators(model, 2, precision=precision)]
    compare(*results, rtol=0)
    assert results[1].vars["V"][-1, 0, 0] == 4.5


@pygenn_only
def test_add_population_keeps_large_int_initial_values_in_a_float_model(pygenn, tmp_path,
                                                                          monkeypatch):
    """GeNN's constant initialiser rounds through the model precision: an int state of
    16777217 started at 16777216 in a float model; eqsnn gives such a value per neuron."""
    from eqsnn.genn import add_population

    monkeypatch.chdir(tmp_path)
    model = eqsnn.compile("""neuron Hash
    param k: int = 2147483647
    state h: int = 16777217
    state m: int = 0
    state V = 0.5
    after: m = k
""")
    genn = pygenn.GeNNModel("float", "int_init", backend="single_threaded_cpu")
    genn.dt = 1.0
    declared = add_population(genn, "declared", model, 3)
    given = add_population(genn, "given", model, 3, init={"h": -2147483647 - 1, "m": 123456789})
    genn.build()
    genn.load()
    for pop, h, m in ((declared, 16777217, 0), (given, -2147483647 - 1, 123456789)):
        for name, expected in (("h", h), ("m", m), ("V", 0.5)):
            pop.vars[name].pull_from_device()
            assert pop.vars[name].values.tolist() == [expected] * 3, name


@pygenn_only
def test_pygenn_network_an_int_isyn_fed_by_the_user(pygenn):
    from eqsnn.network import Delta, Network

    model = eqsnn.compile("""neuron IntSyn
    state V = 0.0
    state c: int = 0
    input Isyn: int = 0
    input drive = 0.0
    after:
        c = Isyn
        V += drive
    threshold: V >= 1.0
    reset: V = 0.0
""")
    out = {}
    for backend in ("numpy", "pygenn"):
        net = Network(dt=0.5, precision="float32", backend=backend, batch_size=2)
        a = net.add_population("a", model, 3)
        b = net.add_population("b", model, 2)
        net.connect(a, b, Delta(), weight=0.6, delay=1, target_input="drive")
        out[backend] = net.run(10, inputs={"a": {"Isyn": np.array([16777217, -5, 2147483647]),
                                                 "drive": 0.4}},
                               record={"a": ["c"], "b": ["V", "spikes"]})
    assert out["pygenn"]["a"].vars["c"][-1, 1].tolist() == [16777217, -5, 2147483647]
    np.testing.assert_array_equal(out["pygenn"]["a"].vars["c"], out["numpy"]["a"].vars["c"])
    np.testing.assert_array_equal(out["pygenn"]["b"].vars["V"], out["numpy"]["b"].vars["V"])
    np.testing.assert_array_equal(out["pygenn"]["b"].spikes.step, out["numpy"]["b"].spikes.step)
