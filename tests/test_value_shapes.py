"""The shapes ``params=``, ``init=``, ``set_state`` and ``inputs=`` take: NumPy
broadcasting onto the population's shape (with a batch axis for states, and a step axis
for inputs) or onto its neurons flat in C order; every message lists them all, and a
value of a wrong shape changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

import eqsnn
from eqsnn.errors import ShapeError

MODEL = """neuron Shaped
    param p = 1.0
    param q = 0.0
    state v = p
    state u = 0.0
    input drive = 0.0
    input other = 0.0
    after:
        v += drive + other
        u += q
"""


def _sim(shape=(2, 3), batch=2, **kwargs):
    return eqsnn.Simulator(eqsnn.compile(MODEL), shape, batch_size=batch,
                           precision="float64", **kwargs)


@pytest.mark.parametrize("value", [np.arange(3.0), np.arange(2.0)[:, None],
                                   np.arange(6.0).reshape(2, 3), np.arange(6.0),
                                   np.array([7.0]), 7.0])
def test_a_param_broadcasts_onto_the_population_shape_or_is_flat(value):
    sim = _sim(params={"p": value})
    flat = np.asarray(value).reshape(-1) if np.size(value) == 6 else None
    expected = (flat.reshape(2, 3) if flat is not None
                else np.broadcast_to(value, (2, 3)))
    for lane in range(2):  # a param has no batch axis: every lane alike
        np.testing.assert_array_equal(sim.state["v"][lane], expected)


@pytest.mark.parametrize("value", [np.ones(4), np.ones((3, 2)), np.ones((2, 3, 1)),
                                   np.ones((2, 2, 3))])
def test_a_param_of_a_wrong_shape_names_every_shape_it_could_have(value):
    with pytest.raises(ShapeError) as info:
        _sim(params={"p": value})
    message = str(info.value)
    assert f"param 'p' has shape {value.shape}" in message
    assert "one value per neuron, shape (2, 3) or (6,)" in message
    assert "broadcastable to (2, 3)" in message and "NumPy broadcasting" in message
    assert "same in every batch lane" in info.value.hint


def test_a_one_dimensional_population_lists_one_shape():
    with pytest.raises(ShapeError) as info:
        _sim(shape=4, params={"p": np.ones(3)})
    assert info.value.message == ("param 'p' has shape (3,); expected a scalar or one value "
                                  "per neuron, shape (4,)")


@pytest.mark.parametrize("value, expected", [
    (np.arange(3.0), np.broadcast_to(np.arange(3.0), (2, 2, 3))),
    (np.arange(6.0), np.broadcast_to(np.arange(6.0).reshape(2, 3), (2, 2, 3))),
    (np.arange(2.0)[:, None], np.broadcast_to(np.arange(2.0)[:, None], (2, 2, 3))),  # rows
    (np.arange(2.0)[:, None, None],  # lanes
     np.broadcast_to(np.arange(2.0)[:, None, None], (2, 2, 3))),
    (np.arange(12.0).reshape(2, 6), np.arange(12.0).reshape(2, 2, 3)),
])
def test_set_state_takes_the_documented_shapes(value, expected):
    sim = _sim()
    sim.set_state("u", value)
    np.testing.assert_array_equal(sim.state["u"], expected)


def test_a_lane_vector_needs_its_own_axis_where_batch_equals_n():
    """(batch,) aligns with the neurons (NumPy's trailing alignment), not the lanes."""
    sim = _sim(shape=3, batch=3)
    sim.set_state("u", np.arange(3.0))
    np.testing.assert_array_equal(sim.state["u"], np.tile(np.arange(3.0), (3, 1)))
    sim.set_state("u", np.arange(3.0)[:, None])
    np.testing.assert_array_equal(sim.state["u"], np.repeat(np.arange(3.0)[:, None], 3, 1))


def test_a_wrong_set_state_shape_changes_nothing():
    sim = _sim()
    sim.run(2, inputs={"drive": 1.0})
    before = {name: sim.state[name] for name in ("v", "u")}
    with pytest.raises(ShapeError) as info:
        sim.set_state("u", np.ones(5))
    message = str(info.value)
    assert "broadcastable to (batch, *shape) = (2, 2, 3) or to (batch, n) = (2, 6)" in message
    assert "one value per lane is (2, 1, 1)" in info.value.hint
    for name, value in before.items():
        np.testing.assert_array_equal(sim.state[name], value)
    assert sim.step == 2


def test_a_wrong_input_shape_runs_nothing_even_after_a_good_input():
    sim = _sim()
    sim.run(1, inputs={"drive": 1.0})
    before = sim.state["v"]
    with pytest.raises(ShapeError) as info:
        sim.run(3, inputs={"drive": np.ones((3, 2, 6)), "other": np.ones((3, 5))})
    assert ("input 'other' has shape (3, 5); expected a shape broadcastable to (steps, "
            "batch, *shape) = (3, 2, 2, 3) or to (steps, batch, n) = (3, 2, 6)") in str(
        info.value)
    assert sim.step == 1
    np.testing.assert_array_equal(sim.state["v"], before)
    result = sim.run(3, inputs={"drive": np.ones((3, 2, 6)), "other": 0.5}, record=["v"])
    np.testing.assert_array_equal(result.vars["v"][-1], before + 4.5)


def test_a_wrong_init_shape_is_refused_after_a_good_one():
    with pytest.raises(ShapeError, match=r"state 'v' got shape \(4,\)"):
        _sim(init={"u": 1.0, "v": np.ones(4)})
