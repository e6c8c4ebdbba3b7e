"""Recording buffers shared by the runtime and the backends.

:class:`SpikeBuffer` receives the spike flags of every step of a run into a
preallocated block of ``(rows, batch, n)`` flags and packs a full block into
bit planes (:mod:`eqsnn.runtime.spike_bits`), so a step allocates nothing; a
run whose flags fit in ``max_bytes`` is packed once, at its end.  A backend that runs a block of
steps part of the population at a time writes each part through
:meth:`SpikeBuffer.region` and then :meth:`SpikeBuffer.commit` s the block.
:func:`concatenate_runs` joins the :class:`~eqsnn.backends.RawRun` s of
consecutive pieces of one run.
"""

from __future__ import annotations

import numpy as np

from ..backends import RawRun
from .spike_bits import SpikeBits

__all__ = ["SpikeBuffer", "SpikeRegion", "concatenate_runs"]

#: memory one SpikeBuffer block may take
DEFAULT_BLOCK_BYTES = 64 * 2**20


class SpikeBuffer:
    """Spike flags of one run, written step by step, packed into bit planes.

    ``write(i, positive, negative)`` stores the ``(batch, n)`` flags of step
    ``i`` (steps are written in order ``0, 1, ...``); ``positive`` or
    ``negative`` may be ``None`` where the model has no such threshold (a
    neuron flagged both ways spikes negatively).  Each full block of flags is
    packed into ``bits`` (a :class:`~eqsnn.runtime.spike_bits.SpikeBits`, new
    or given).
    """

    def __init__(self, steps: int, batch: int, n: int, signed: bool,
                 max_bytes: int = DEFAULT_BLOCK_BYTES, bits: SpikeBits | None = None):
        rows = max(1, min(steps, max_bytes // max(1, batch * n)))
        self.signed = signed
        self.bits = bits if bits is not None else SpikeBits.empty(steps, batch, n, signed)
        self.block = np.zeros((rows, batch, n), np.int8 if signed else np.bool_)
        self.first = 0  # step index of the block's row 0
        self.rows = 0  # rows written in the block

    def write(self, i: int, positive, negative=None) -> None:
        if self.rows == len(self.block):
            self._flush()
            self.first = i
        _store_flags(self.block[i - self.first], positive, negative)
        self.rows = i - self.first + 1

    def region(self, rows: slice, cols: slice) -> SpikeRegion:
        """A writer of the ``(rows, cols)`` part of the block's steps ``0, 1, ...``."""
        return SpikeRegion(self.block[:, rows, cols])

    def commit(self, first: int, count: int) -> None:
        """The block's first ``count`` steps, written by regions, are steps ``first, ...``."""
        self.first, self.rows = first, count
        self._flush()

    def _flush(self) -> None:
        if self.rows == 0:
            return
        block = self.block[: self.rows]
        flags = [block == 1, block == -1] if self.signed else [block]
        for plane, flag in zip(self.bits.planes, flags):
            packed = np.packbits(flag, axis=-1, bitorder="little")
            target = plane[self.first: self.first + self.rows].view(np.uint8)
            target[..., : packed.shape[-1]] = packed
            target[..., packed.shape[-1]:] = 0
        self.rows = 0

    def finish(self) -> SpikeBits:
        """The planes, once every step is written."""
        self._flush()
        return self.bits

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """``(step, batch, neuron, sign)`` sorted by (step, batch, neuron); sign is ±1 or None."""
        raw = RawRun({}, spike_bits=self.finish())
        return raw.spike_step, raw.spike_batch, raw.spike_neuron, raw.spike_sign


class SpikeRegion:
    """``write(i, positive, negative)``: the flags of step ``i`` of one part of a block."""

    def __init__(self, view: np.ndarray):
        self.view = view

    def write(self, i: int, positive, negative=None) -> None:
        _store_flags(self.view[i], positive, negative)


def _store_flags(out: np.ndarray, positive, negative) -> None:
    if positive is None:
        out.fill(0)
    else:
        np.copyto(out, positive, casting="unsafe")
    if negative is not None:
        np.copyto(out, -1, where=negative)


def concatenate_runs(runs: list[RawRun], lengths: list[int], bits=None) -> RawRun:
    """One RawRun from consecutive pieces of ``lengths[k]`` steps each, whose spikes are in
    ``bits`` (the planes of the whole run) or listed in each piece."""
    if len(runs) == 1 and bits is None:
        return runs[0]
    variables = runs[0].vars if len(runs) == 1 else {
        name: np.concatenate([r.vars[name] for r in runs]) for name in runs[0].vars}
    if bits is not None:
        return RawRun(variables, spike_bits=bits)
    offsets = np.cumsum([0] + list(lengths[:-1]))
    step = np.concatenate([r.spike_step + off for r, off in zip(runs, offsets)])
    sign = None
    if runs[0].spike_sign is not None:
        sign = np.concatenate([r.spike_sign for r in runs])
    return RawRun(
        variables, step, np.concatenate([r.spike_batch for r in runs]),
        np.concatenate([r.spike_neuron for r in runs]), sign,
    )
