"""Data inputs of the input neurons in ml_genn's shapes (spec §4.1, §4.4).

* Static input: ``(batch,) + shape`` (``shape`` or ``(1,) + shape`` when the
  batch size is 1); a partial batch is zero-padded.
* Frames: ``(batch, frames) + shape`` (``(frames,) + shape`` when the batch
  size is 1); step ``i`` of a run uses frame
  ``min(i // input_frame_timesteps, input_frames - 1)``, exact integer
  arithmetic (ml_genn divides floating-point times, which can be off by one
  at frame boundaries).
* Spike times: :class:`PreprocessedSpikes` per example, built by
  :func:`preprocess_spikes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..errors import LibraryError

__all__ = ["PreprocessedSpikes", "batch_spikes", "frame_index", "framed_input",
           "preprocess_spikes", "static_input"]


def _split(value, shape) -> tuple[np.ndarray, tuple]:
    try:
        x = np.asarray(value)
        if x.dtype.kind == "c":  # numpy's cast would keep the real part with only a warning
            raise LibraryError("input must be real numbers, not complex",
                               hint="give the data input as real numbers")
        x = x.astype(np.float64)
    except (TypeError, ValueError):
        raise LibraryError(
            f"input must be an array of numbers, not {type(value).__name__}") from None
    k = len(shape)
    if x.ndim < k or tuple(x.shape[x.ndim - k:]) != tuple(shape):
        raise LibraryError(f"input shape {x.shape} does not match population shape {shape}")
    return x, tuple(x.shape[:x.ndim - k])


def _pad(x: np.ndarray, batch_size: int, n: int) -> np.ndarray:
    """``x`` of shape ``(m, ...) `` zero-padded to ``(batch_size, ...)``, neurons flattened."""
    out = np.zeros((batch_size,) + x.shape[1:x.ndim - 1] + (n,), dtype=np.float64)
    out[:x.shape[0]] = x
    return out


def static_input(value, *, shape, batch_size) -> np.ndarray:
    """A static input in ml_genn's shapes as ``(batch, n)``."""
    x, lead = _split(value, shape)
    n = int(np.prod(shape, dtype=np.int64))
    if batch_size == 1:
        if lead not in ((), (1,)):
            raise LibraryError(f"input shape {x.shape} does not match batch size 1",
                               hint=f"give {shape} or {(1,) + tuple(shape)}")
    elif len(lead) != 1 or lead[0] > batch_size:
        raise LibraryError(f"input shape {x.shape} does not match batch size {batch_size}",
                           hint=f"give (m,) + {shape} with m <= {batch_size}")
    return _pad(x.reshape((-1, n)), batch_size, n)


def frame_index(steps: int, frames: int, frame_timesteps: int) -> np.ndarray:
    """The frame each step of a run uses.

    >>> frame_index(8, 3, 2).tolist()
    [0, 0, 1, 1, 2, 2, 2, 2]
    """
    return np.minimum(np.arange(steps) // frame_timesteps, frames - 1)


def framed_input(value, *, shape, batch_size, frames, frame_timesteps, steps) -> np.ndarray:
    """A time-varying input of ``frames`` frames as ``(steps, batch, n)``."""
    x, lead = _split(value, shape)
    n = int(np.prod(shape, dtype=np.int64))
    if not lead or lead[-1] != frames:
        raise LibraryError(f"input shape {x.shape} does not match timesteps {frames}",
                           hint=f"give {frames} frames: (batch, {frames}) + {shape}")
    if batch_size == 1:
        if lead not in ((frames,), (1, frames)):
            raise LibraryError(f"input shape {x.shape} does not match batch size 1")
    elif len(lead) != 2 or lead[0] > batch_size:
        raise LibraryError(f"input shape {x.shape} does not match batch size {batch_size}",
                           hint=f"give (m, {frames}) + {shape} with m <= {batch_size}")
    x = _pad(x.reshape((-1, frames, n)), batch_size, n)  # (batch, frames, n)
    return np.ascontiguousarray(
        x[:, frame_index(steps, frames, frame_timesteps)].transpose(1, 0, 2))


class PreprocessedSpikes(NamedTuple):
    """Spike times of one example grouped by neuron (ml_genn's layout).

    ``end_spikes[i]`` is the number of spikes of neurons ``0..i``, so neuron
    ``i`` owns ``spike_times[end_spikes[i-1]:end_spikes[i]]``, ascending.
    """

    end_spikes: np.ndarray
    spike_times: np.ndarray


def preprocess_spikes(times, ids, num_neurons: int) -> PreprocessedSpikes:
    """Group spikes ``(times[j], ids[j])`` by neuron.

    >>> p = preprocess_spikes([5.0, 1.0, 2.0], [2, 0, 2], 3)
    >>> p.end_spikes.tolist(), p.spike_times.tolist()
    ([1, 1, 3], [1.0, 2.0, 5.0])
    """
    if isinstance(num_neurons, bool) or not isinstance(num_neurons, (int, np.integer)) \
            or num_neurons < 1:
        raise LibraryError(f"num_neurons must be a positive integer, not {num_neurons!r}")
    try:
        times = np.asarray(times)
        if times.dtype.kind == "c":
            raise LibraryError("spike times must be real numbers (ms), not complex")
        times = times.astype(np.float64).ravel()
    except (TypeError, ValueError):
        raise LibraryError("spike times must be numbers (ms)") from None
    ids = np.asarray(ids).ravel()
    if times.shape != ids.shape:
        raise LibraryError(f"{times.size} spike times but {ids.size} neuron ids")
    if np.isnan(times).any():
        raise LibraryError(f"spike time {int(np.argmax(np.isnan(times)))} is NaN",
                           hint="a spike that should never come is left out, not given a NaN")
    if np.isinf(times).any():
        first = int(np.argmax(np.isinf(times)))
        raise LibraryError(f"spike time {first} is {times[first]}",
                           hint="a spike that should never come is left out, not given an "
                                "infinite time")
    if ids.size and (ids.dtype.kind not in "iu" and not (
            ids.dtype.kind == "f" and np.array_equal(ids, np.round(ids)))):
        raise LibraryError(f"neuron ids must be integers; got values of dtype {ids.dtype}",
                           hint="ids are flat neuron indices 0, 1, 2, ...")
    if ids.size and (ids.min() < 0 or ids.max() >= num_neurons):
        raise LibraryError(f"neuron ids must lie in [0, {num_neurons})")
    ids = ids.astype(np.int64)
    end = np.cumsum(np.bincount(ids, minlength=num_neurons))
    order = np.lexsort((times, ids))
    return PreprocessedSpikes(end.astype(np.int64), times[order])


def batch_spikes(value, *, num_neurons: int, batch_size: int, max_spikes: int):
    """Examples of :class:`PreprocessedSpikes` → ``(start, end, times)`` for all lanes.

    ``start`` and ``end`` are ``(batch, n)`` indices into the concatenated
    ``times``; lanes without an example are empty.
    """
    examples = [value] if isinstance(value, PreprocessedSpikes) else value
    if not isinstance(examples, Sequence) or not all(
            isinstance(e, PreprocessedSpikes) for e in examples):
        raise LibraryError("SpikeInput takes a sequence of PreprocessedSpikes, one per example",
                           hint="build them with eqsnn.neurons.preprocess_spikes")
    if len(examples) > batch_size:
        raise LibraryError(f"{len(examples)} examples of spikes do not fit batch size "
                           f"{batch_size}")
    checked = [_checked_example(b, e) for b, e in enumerate(examples)]
    counts = {len(e) for e, _ in checked}
    if len(counts) > 1:
        raise LibraryError(f"examples of spikes have different numbers of neurons: "
                           f"{sorted(counts)}")
    if counts and counts != {num_neurons}:
        raise LibraryError(f"spikes are given for {counts.pop()} neurons, the population has "
                           f"{num_neurons}")
    end = np.empty((batch_size, num_neurons), dtype=np.int64)
    offset = 0
    for b, (example_end, example_times) in enumerate(checked):
        end[b] = example_end + offset
        offset += len(example_times)
    end[len(examples):] = offset
    if offset > max_spikes:
        raise LibraryError(f"{offset} spikes in this batch exceed max_spikes={max_spikes}",
                           hint="construct SpikeInput(max_spikes=...) with a larger capacity")
    start = np.empty_like(end)
    start[:, 1:] = end[:, :-1]
    start[0, 0] = 0
    start[1:, 0] = end[:-1, -1]
    times = np.concatenate([t for _, t in checked] or [np.zeros(0)])
    return start, end, times


def _checked_example(b: int, example: PreprocessedSpikes) -> tuple[np.ndarray, np.ndarray]:
    """``example``'s ``(end_spikes, spike_times)`` as int64 and float64 arrays, once they are
    known to follow the layout: ``end_spikes`` non-decreasing from 0 to the number of times,
    each neuron's times finite and ascending.  A layout broken by hand would otherwise make
    neurons read other neurons' times, or none, without a word."""
    where = f"SpikeInput example {b}"
    hint = "build each example with eqsnn.neurons.preprocess_spikes(times, ids, num_neurons)"
    end = np.asarray(example.end_spikes)
    if end.ndim != 1:
        raise LibraryError(f"{where}: end_spikes must be 1-D, not shaped {end.shape}", hint=hint)
    if end.size and (end.dtype.kind not in "iuf" or (
            end.dtype.kind == "f" and not np.array_equal(end, np.round(end)))):
        raise LibraryError(f"{where}: end_spikes must be integers, got {end.tolist()[:8]}",
                           hint=hint)
    end = end.astype(np.int64)
    times = np.asarray(example.spike_times)
    if times.dtype.kind == "c":
        raise LibraryError(f"{where}: spike times must be real numbers (ms)", hint=hint)
    try:
        times = times.astype(np.float64).ravel()
    except (TypeError, ValueError):
        raise LibraryError(f"{where}: spike times must be numbers (ms), not "
                           f"{times.dtype}", hint=hint) from None
    bad = np.flatnonzero(~np.isfinite(times))
    if bad.size:
        raise LibraryError(f"{where}: spike time {bad[0]} is {times[bad[0]]}",
                           hint="a spike that should never come is left out; " + hint)
    if end.size and end.min() < 0:
        raise LibraryError(f"{where}: end_spikes must not be negative, got {end.min()}",
                           hint=hint)
    if np.any(np.diff(end) < 0):
        i = int(np.flatnonzero(np.diff(end) < 0)[0])
        raise LibraryError(f"{where}: end_spikes must not decrease (neuron {i + 1}: "
                           f"{end[i + 1]} after {end[i]}); end_spikes[i] counts the spikes "
                           "of neurons 0 to i", hint=hint)
    last = int(end[-1]) if end.size else 0
    if last != times.size:
        raise LibraryError(f"{where}: end_spikes ends at {last} but there are {times.size} "
                           "spike times", hint=hint)
    down = np.flatnonzero(np.diff(times) < 0) + 1  # positions where a time goes back
    down = down[~np.isin(down, end)]  # ... not where the next neuron starts
    if down.size:
        neuron = int(np.searchsorted(end, down[0], side="right"))
        raise LibraryError(f"{where}: the spike times of neuron {neuron} are not in "
                           "ascending order", hint=hint)
    return end, times
