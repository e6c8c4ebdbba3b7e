"""The ``pygenn`` backend against NumPy on the edges of the language: param types, names.

Real PyGeNN builds each model (a few seconds); the tests skip where ``import pygenn`` fails.
"""

from __future__ import annotations

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
