"""Spikes recorded as bit planes: listings, counts, subsets and buffer reuse.

The oracle is the listing eqsnn made before spikes were recorded as bits
(``np.nonzero`` of the flags, positive and negative spikes merged by a
stable lexsort on (step, lane, neuron)), written here as plain NumPy.
"""

from __future__ import annotations

import gc

import helpers
import numpy as np
import pytest

from eqsnn.errors import ParameterError
from eqsnn.runtime import Simulator, spike_bits
from eqsnn.runtime.buffer_pool import POOL, BufferPool
from eqsnn.runtime.recording import SpikeBuffer
from eqsnn.runtime.spike_bits import SpikeBits

DECODERS = ["numpy", pytest.param("c", marks=pytest.mark.c)]


@pytest.fixture(params=DECODERS)
def decoder(request, monkeypatch):
    monkeypatch.setattr(spike_bits, "DECODER", request.param)
    if request.param == "c" and spike_bits._c_library() is None:
        pytest.skip("no C compiler")
    return request.param


def old_listing(positive, negative=None):
    """``(step, lane, neuron, sign)`` as eqsnn listed spikes before: nonzero, then a stable
    lexsort of positive-then-negative spikes."""
    p = np.nonzero(positive)
    if negative is None:
        return (*p, None)
    q = np.nonzero(negative)
    step, lane, neuron = (np.concatenate([p[k], q[k]]) for k in range(3))
    sign = np.concatenate([np.ones(len(p[0]), np.int8), -np.ones(len(q[0]), np.int8)])
    order = np.lexsort((neuron, lane, step))
    return step[order], lane[order], neuron[order], sign[order]


def plane_of(flags):
    """``uint32 (steps, batch, words)`` with bit k of word w = flags[..., 32 w + k] (a loop)."""
    steps, batch, n = flags.shape
    words = (n + 31) // 32
    plane = np.zeros((steps, batch, words), np.uint32)
    for k in range(n):
        plane[..., k // 32] |= flags[..., k].astype(np.uint32) << np.uint32(k % 32)
    return plane


def random_bits(seed, steps, batch, n, signed, density=0.1):
    rng = np.random.default_rng(seed)
    positive = rng.random((steps, batch, n)) < density
    negative = rng.random((steps, batch, n)) < density if signed else None
    planes = [plane_of(positive)] + ([plane_of(negative)] if signed else [])
    return SpikeBits(np.stack(planes), n, signed), positive, negative


def listing_of(spikes):
    return spikes.step, spikes.batch, spikes.neuron, spikes.sign


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("shape", [(7, 3, 70), (1, 1, 32), (5, 2, 1), (4, 1, 97), (0, 2, 5)])
def test_listing_is_the_old_listing(decoder, signed, shape):
    from eqsnn.runtime.result import Spikes

    bits, positive, negative = random_bits(sum(shape), *shape, signed)
    spikes = Spikes(bits, 0.5, 3, shape[1], (shape[2],))
    want = old_listing(positive, negative)
    for got, expected, name in zip(listing_of(spikes), want, "step batch neuron sign".split()):
        if expected is None:
            assert got is None
        else:
            np.testing.assert_array_equal(got, expected, err_msg=name)
    assert spikes.neuron.dtype == np.int32 and spikes.step.dtype == np.int32
    assert len(spikes) == len(want[0])
    np.testing.assert_array_equal(spikes.times, (3 + want[0]) * 0.5)
    np.testing.assert_array_equal(spikes.offsets[-1], len(want[0]))
    counts = np.zeros((shape[1], shape[2]), np.int64)
    np.add.at(counts, (want[1], want[2]), 1)
    np.testing.assert_array_equal(spikes.counts(), counts)
    for lane, (times, ids) in enumerate(spikes.per_lane):
        mine = want[1] == lane
        np.testing.assert_array_equal(ids, want[2][mine])
        np.testing.assert_array_equal(times, (3 + want[0][mine]) * 0.5)


def test_counts_need_no_listing(decoder):
    from eqsnn.runtime.result import Spikes

    bits, positive, negative = random_bits(1, 6, 2, 300, True, density=0.3)
    spikes = Spikes(bits, 1.0, 0, 2, (3, 100))
    want = positive.sum(axis=0) + negative.sum(axis=0)
    np.testing.assert_array_equal(spikes.counts(), want.reshape(2, 3, 100))
    assert len(spikes) == want.sum()
    assert spikes._listing is None  # counted from the bits
    np.testing.assert_array_equal(spikes.counts(300 + 5)[:, 300:], 0)
    with pytest.raises(ValueError, match="leaves out spikes"):
        spikes.counts(10)
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="non-negative integer"):
            spikes.counts(bad)
    rows, columns = spikes.index
    assert rows.dtype == np.int64
    np.testing.assert_array_equal(rows * 100 + columns, spikes.neuron)


def test_both_signs_in_one_step_list_positive_first(decoder):
    from eqsnn.runtime.result import Spikes

    flags = np.zeros((1, 1, 40), bool)
    flags[0, 0, [3, 35]] = True
    bits = SpikeBits(np.stack([plane_of(flags), plane_of(flags)]), 40, True)
    spikes = Spikes(bits, 1.0, 0, 1)
    assert spikes.neuron.tolist() == [3, 3, 35, 35]
    assert spikes.sign.tolist() == [1, -1, 1, -1]
    assert spikes.ids.tolist() == [3, ~3, 35, ~35]


def test_bits_are_the_planes_and_read_only():
    bits, positive, _ = random_bits(2, 3, 2, 50, False)
    from eqsnn.runtime.result import Spikes

    spikes = Spikes(bits, 1.0, 0, 2)
    assert spikes.bits.shape == (3, 2, 2) and spikes.bits.dtype == np.uint32
    np.testing.assert_array_equal(spikes.bits, plane_of(positive))
    assert spikes.negative_bits is None
    with pytest.raises(ValueError):
        spikes.bits[0, 0, 0] = 1
    with pytest.raises(ValueError):
        spikes.neuron[:1] = 7


def test_write_lists_round_trip():
    bits, positive, negative = random_bits(3, 5, 3, 45, True)
    step, lane, neuron, sign = old_listing(positive, negative)
    copy = SpikeBits(np.zeros_like(bits.planes), 45, True)
    copy.write_lists(step, lane, neuron, sign)
    np.testing.assert_array_equal(copy.planes, bits.planes)


def test_numpy_spike_buffer_packs_blocks():
    flags = np.random.default_rng(0).random((10, 2, 37)) < 0.3
    negative = (np.random.default_rng(1).random((10, 2, 37)) < 0.2) & ~flags
    buffer = SpikeBuffer(10, 2, 37, signed=True, max_bytes=2 * 37 * 3)
    for i in range(10):
        buffer.write(i, flags[i], negative[i])
    bits = buffer.finish()
    np.testing.assert_array_equal(bits.positive, plane_of(flags))
    np.testing.assert_array_equal(bits.negative, plane_of(negative))
    assert bits.planes.shape[-1] == 16 and not bits.planes[..., 2:].any()  # padded with 0


# --- through the Simulator, on every backend --------------------------------------------
BACKENDS = ["numpy", pytest.param("c", marks=pytest.mark.c)]


def lif_run(backend, record, steps=40, n=300, batch=2, seed=0):
    current = np.random.default_rng(seed).uniform(0.05, 0.3, (batch, n))
    sim = Simulator(helpers.lif(), n, batch_size=batch, backend=backend, precision="float64")
    return sim.run(steps, inputs={"Isyn": current}, record=record)


@pytest.mark.parametrize("backend", BACKENDS)
def test_simulator_spikes_match_the_recorded_threshold_crossings(backend):
    result = lif_run(backend, ["V", "spikes"])
    # V is recorded after reset: with relative reset and v_thresh 1, a spike step is one
    # where V(t-1) * alpha + I >= 1; rebuild the flags from V as the oracle
    V = result.vars["V"]
    current = np.random.default_rng(0).uniform(0.05, 0.3, (2, 300))
    before = np.concatenate([np.zeros((1, 2, 300)), V[:-1]])
    flags = before * np.exp(-1 / 20) + current >= 1.0
    want = old_listing(flags)
    for got, expected in zip(listing_of(result.spikes)[:3], want[:3]):
        np.testing.assert_array_equal(got, expected)
    assert len(result.spikes) > 100


def test_signed_spikes_through_the_simulator_on_c_and_numpy():
    x = np.random.default_rng(4).choice([-1.0, 0.0, 1.0], (9, 2, 70))
    want = old_listing(x > 0, x < 0)
    for backend in ("numpy", "c"):
        sim = Simulator(helpers.binary_signed(), 70, batch_size=2, backend=backend)
        spikes = sim.run(9, inputs={"x": x}, record=["spikes"]).spikes
        for got, expected in zip(listing_of(spikes), want):
            np.testing.assert_array_equal(got, expected, err_msg=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_record_spikes_of_chosen_neurons(backend):
    everything = lif_run(backend, ["spikes"]).spikes
    chosen = [299, 5, 17, 5, 64]
    some = lif_run(backend, {"spikes": chosen}).spikes
    keep = np.isin(everything.neuron, chosen)
    assert 0 < keep.sum() < len(everything)
    for name in ("step", "batch", "neuron"):
        np.testing.assert_array_equal(getattr(some, name), getattr(everything, name)[keep])
    assert set(np.flatnonzero(some.counts().sum(axis=0))) <= set(chosen)
    with pytest.raises(ParameterError, match=r"record\['spikes'\] has neuron id 300"):
        lif_run(backend, {"spikes": [300]})
    with pytest.raises(ParameterError, match="list of integer neuron ids"):
        lif_run(backend, {"spikes": [0.5]})


def test_buffers_are_reused_only_once_nothing_refers_to_them():
    pool = BufferPool(min_bytes=1)
    first = pool.empty((1000,), np.int32)
    address = first.ctypes.data
    kept = first[10:20]
    del first
    second = pool.empty((1000,), np.int32)
    assert second.ctypes.data != address  # a view of the first is still alive
    del kept
    gc.collect()
    third = pool.empty((900,), np.int32)
    assert third.ctypes.data == address
    assert pool.empty((10,), np.int32).ctypes.data not in (address, second.ctypes.data)
    del second, third
    assert pool.release() > 0 and pool.held_bytes == 0


def test_a_kept_listing_survives_later_runs():
    n = 1 << 16  # planes of 40 steps x 2 lanes: 640 KiB; ids over a MiB: pooled
    current = np.random.default_rng(1).uniform(0.05, 0.3, (2, n))
    sim = Simulator(helpers.lif(), n, batch_size=2, backend="numpy")
    first = sim.run(40, inputs={"Isyn": current}, record=["spikes"])
    neuron = first.spikes.neuron
    copy = neuron.copy()
    del first
    sim.reset()
    for _ in range(2):
        other = sim.run(40, inputs={"Isyn": current[::-1]}, record=["spikes"])
        assert len(other.spikes.neuron) > 0
        np.testing.assert_array_equal(neuron, copy)
        del other
    assert POOL.held_bytes > 0


@pytest.mark.c
def test_c_kernel_writes_misaligned_planes_plainly():
    """Planes not on a 64-byte line take the plain stores: the same bits."""
    from eqsnn.runtime.spike_bits import row_words

    n, steps = 700, 12
    current = np.random.default_rng(2).uniform(0.05, 0.4, (1, 1, n))
    sim = Simulator(helpers.lif(), n, backend="c")
    aligned = sim._runner.run(steps, 0, {"Isyn": current}, {}, True).spike_bits
    sim.reset()
    words = row_words(n)
    raw = np.zeros(steps * words + 16, np.uint32)
    start = next(k for k in range(16) if raw[k:].ctypes.data % 64 == 4)
    bits = SpikeBits(raw[start: start + steps * words].reshape(1, steps, 1, words), n, False)
    sim._runner.run(steps, 0, {"Isyn": current}, {}, bits)
    assert bits.planes.ctypes.data % 64 != 0
    assert aligned.planes.any()
    np.testing.assert_array_equal(bits.planes, aligned.planes)
