"""Where two runs of a comparison part: the first differing value of a state, and each
neuron's first differing spike (a one-step shift told apart from a spike gained or lost)."""

from __future__ import annotations

import numpy as np

__all__ = ["first_bad", "spike_flags", "spike_cuts", "same_spike_share", "neuron_label",
           "time_label"]


def first_bad(bad: np.ndarray):
    """``(step, lane, flat neuron)`` of the first True of ``bad`` (steps, batch, n) in
    (step, lane, neuron) order, or None."""
    per_step = bad.reshape(len(bad), -1).any(axis=1) if len(bad) else np.zeros(0, bool)
    if not per_step.any():
        return None
    step = int(np.argmax(per_step))
    lane, neuron = np.unravel_index(int(np.argmax(bad[step].reshape(-1))), bad.shape[1:])
    return step, int(lane), int(neuron)


def spike_flags(spikes, n: int) -> np.ndarray:
    """``int8 (steps, batch, n)``: +1 where a neuron spiked (positively), -1 negatively."""
    def unpack(words):
        flat = np.unpackbits(np.ascontiguousarray(words).view(np.uint8), axis=-1,
                             bitorder="little")
        return flat[..., :n].astype(np.int8)

    flags = unpack(spikes.bits)
    if spikes.negative_bits is not None:
        flags -= unpack(spikes.negative_bits)
    return flags


def same_spike_share(mine: np.ndarray, ref: np.ndarray) -> float:
    """The share of the spikes of either run (flags of :func:`spike_flags`) that the other
    has too, with the same sign (a neuron spikes at most one way in a step); 1 where
    neither spikes."""
    either = np.count_nonzero((mine != 0) | (ref != 0))
    same = np.count_nonzero((mine == ref) & (mine != 0))
    return same / either if either else 1.0


def spike_cuts(mine: np.ndarray, ref: np.ndarray):
    """For each (lane, neuron): the step of its first spike difference (``steps`` where
    there is none) and whether that difference is a shift by one step (the other run spikes
    the same way one step later, or the difference is in the last step)."""
    steps = len(mine)
    differs = mine != ref
    has = differs.any(axis=0)
    cut = np.where(has, np.argmax(differs, axis=0), steps)
    lanes, neurons = np.nonzero(has)
    s = cut[lanes, neurons]
    a, b = mine[s, lanes, neurons], ref[s, lanes, neurons]
    later = np.minimum(s + 1, steps - 1)
    na, nb = mine[later, lanes, neurons], ref[later, lanes, neurons]
    shift = (s == steps - 1) | ((a != 0) & (b == 0) & (nb == a)) | ((b != 0) & (a == 0) & (na == b))
    shifted = np.ones(has.shape, bool)
    shifted[lanes, neurons] = shift
    return cut, shifted


def neuron_label(neuron: int, shape: tuple):
    """The neuron as the user addresses it: its flat id, or its index in a 2-D+ shape."""
    if len(shape) > 1:
        return tuple(int(i) for i in np.unravel_index(neuron, shape))
    return int(neuron)


def time_label(t: float) -> str:
    """A time in ms with the digits that tell steps apart (12 significant: 123456.8, not
    6, which made it 123457) and without float noise (0.3, not 0.30000000000000004)."""
    return f"{t:.12g} ms"
