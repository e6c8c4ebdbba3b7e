"""The NumPy backend's in-place draws: the bits of eqsnn.rng, and no allocation per step."""

from __future__ import annotations

import tracemalloc

import helpers
import numpy as np
import pytest

from eqsnn import rng
from eqsnn.backends import EmitOptions, Instance
from eqsnn.backends import numpy as numpy_backend
from eqsnn.rng_buffers import Draws, workspace


def same_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    width = {4: np.uint32, 8: np.uint64}[a.dtype.itemsize]
    np.testing.assert_array_equal(a.view(width), b.view(width))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", [0, 12345, 2**64 - 1])
def test_draws_have_the_bits_of_rng(dtype, seed):
    draws = Draws(dtype)
    neuron_id = np.arange(37, dtype=np.int32).reshape(1, 37)
    lane = np.arange(3, dtype=np.int32).reshape(3, 1)
    for step in (0, 1, 999, 2**32 + 5, 2**40 + 3):
        for draw in (0, 1, 7):
            same_bits(draws.uniform(seed, step, neuron_id, lane, draw),
                      rng.uniform(seed, step, neuron_id, lane, draw, dtype))
            same_bits(draws.normal(seed, step, neuron_id, lane, draw),
                      rng.normal(seed, step, neuron_id, lane, draw, dtype))


def test_tiles_of_other_ids_and_shapes_reuse_one_workspace():
    buffers = {}
    draws = workspace(buffers, np.float32)
    assert workspace(buffers, np.float32) is draws
    ids = np.arange(1000, dtype=np.int32).reshape(1, 1000)
    lanes = np.arange(4, dtype=np.int32).reshape(4, 1)
    for cols, rows in ((slice(0, 256), slice(0, 2)), (slice(256, 512), slice(2, 4)),
                       (slice(512, 1000), slice(0, 4)), (slice(0, 256), slice(0, 2))):
        got = draws.normal(9, 17, ids[:, cols], lanes[rows], 2)
        same_bits(got, rng.normal(9, 17, ids[:, cols], lanes[rows], 2, np.float32))


def test_the_result_of_one_draw_index_is_not_overwritten_by_another():
    draws = Draws(np.float64)
    ids, lanes = np.arange(10).reshape(1, 10), np.zeros((1, 1), np.int64)
    first = draws.uniform(1, 3, ids, lanes, 0)
    kept = first.copy()
    draws.uniform(1, 3, ids, lanes, 1)
    draws.normal(1, 4, ids, lanes, 1)
    np.testing.assert_array_equal(first, kept)


def start(model, n, precision="float32"):
    program = numpy_backend.load(numpy_backend.emit(model, EmitOptions(precision)))
    values = {p.name: np.float64(p.default) for p in model.params}
    values.update({"sigma": np.float64(0.5), "rate": np.float64(0.1)})
    init = {s.name: np.zeros((1, n)) for s in model.states}
    return program.start(Instance(n, 1, 1.0, precision, values, init, {}, seed=3))


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_a_noisy_run_draws_what_rng_draws(precision):
    """V <- V + sigma * normal(draw 1), U <- uniform(draw 0): the old per-step calls of
    eqsnn.rng are the oracle."""
    n, steps = 50, 6
    runner = start(helpers.noisy(), n, precision)
    raw = runner.run(steps, 0, {}, {"V": None, "U": None}, False)
    dtype = np.dtype(precision)
    ids, lanes = np.arange(n).reshape(1, n), np.zeros((1, 1), np.int64)
    V = np.zeros((1, n), dtype)
    for i in range(steps):
        V = V + dtype.type(0.5) * rng.normal(3, i, ids, lanes, 1, dtype)
        same_bits(raw.vars["V"][i], V)
        same_bits(raw.vars["U"][i], rng.uniform(3, i, ids, lanes, 0, dtype))


def test_draws_allocate_nothing_per_step():
    n = 20_000
    runner = start(helpers.noisy(), n)
    runner.run(5, 0, {}, {}, False)  # buffers allocated on the first steps
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        runner.run(100, 5, {}, {}, False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak - before < n * 4 // 2  # not even one (n,) float32 array per step
