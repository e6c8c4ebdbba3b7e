"""Running a large NumPy population tile by tile, so that its working set stays in cache.

A neuron's step reads only its own states, its own params and inputs, the
scalars of the step and read-only arrays; neurons and lanes are independent.
So a run may advance one *tile* (a block of lanes and neurons) through a
block of steps, then the next tile through the same steps, and so on: every
element goes through the same ops in the same order as in one
whole-population pass, only at another moment, and every value comes out the
same to the bit.  What a tile needs is a view of the population:

* states, per-neuron values, ``id`` and ``batch`` sliced to the tile (ids
  stay global, so random draws use the same counters);
* inputs sliced to the tile and to the block of steps (held ones stay held);
* work buffers of the tile's shape, allocated once per shape;
* recorded states written into their place in the run's output arrays, and
  spike flags into their place in the :class:`SpikeBuffer` block, which is
  converted to index arrays once all tiles have written it.

Tiles are whole rows of lanes when a lane is smaller than a tile, else parts
of one lane, so every tile view of a contiguous array is contiguous (NumPy
then runs the same loops on it as on the whole array).  A tile holds about
``elements`` values of each array; the default fills about
:data:`CACHE_BYTES` with the states and work buffers.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .. import ir
from ..runtime.recording import SpikeBuffer

__all__ = ["Tiling", "run_tiled", "CACHE_BYTES", "MIN_ELEMENTS", "ENVIRONMENT"]

#: memory the states and work buffers of one tile may take by default
CACHE_BYTES = 1 << 20
#: fewest elements per tile by default: below, a ufunc call costs more than its work
MIN_ELEMENTS = 16384
#: elements per tile, overriding the default (``0``: one tile, the whole population)
ENVIRONMENT = "EQSNN_NUMPY_TILE"


class Tiling:
    """The tiles of a ``(batch, n)`` population; one tile when it fits ``elements``."""

    def __init__(self, batch: int, n: int, elements: int):
        self.elements = elements
        if elements <= 0 or batch * n <= elements:
            self.tiles = [(slice(0, batch), slice(0, n))]
        elif n <= elements:
            rows = _even(batch, elements // n)
            self.tiles = [(slice(b, min(b + rows, batch)), slice(0, n))
                          for b in range(0, batch, rows)]
        else:
            cols = _even(n, elements)
            self.tiles = [(slice(b, b + 1), slice(c, min(c + cols, n)))
                          for b in range(batch) for c in range(0, n, cols)]

    @classmethod
    def for_runner(cls, runner) -> Tiling:
        """From ``$EQSNN_NUMPY_TILE``, else sized so that a tile's arrays fill CACHE_BYTES."""
        setting = os.environ.get(ENVIRONMENT, "").strip()
        if setting:
            return cls(runner.batch, runner.n, int(setting))
        if any(isinstance(s, ir.While) for s in ir.walk_statements(runner.model.step)):
            # a loop (the adaptive method's substeps) runs on the neurons still in it
            # (printing/numpy_compact.py): its iterations cost per call, not per element,
            # and a tile would run as many as its slowest neuron needs: one tile
            return cls(runner.batch, runner.n, 0)
        per_element = sum(a.itemsize for a in runner.states.values())
        per_element += sum(b.itemsize for b in runner.program.allocate(1, 1).values())
        return cls(runner.batch, runner.n, max(MIN_ELEMENTS, CACHE_BYTES // max(per_element, 1)))


def _even(total: int, most: int) -> int:
    """Size of ``ceil(total / most)`` nearly equal parts of ``total``."""
    return math.ceil(total / math.ceil(total / max(most, 1)))


class TileView:
    """The part ``(rows, cols)`` of a runner's population, as the emitted ``run`` reads it."""

    def __init__(self, runner, rows: slice, cols: slice, buffers: dict):
        self.rows, self.cols = rows, cols
        self.states = {name: value[rows, cols] for name, value in runner.states.items()}
        self.values = {name: value[cols] if name in runner.per_neuron else value
                       for name, value in runner.values.items()}
        self.arrays = runner.arrays
        self.buffers = buffers
        self.neuron_id, self.lane = runner.neuron_id[:, cols], runner.lane[rows]
        self.seed, self.dt = runner.seed, runner.dt

    def inputs(self, inputs: dict, first: int, stop: int) -> dict:
        """Each input's part for steps ``first:stop``; a dimension of 1 is broadcast, kept."""
        def part(value):
            every = slice(None)
            return value[slice(first, stop) if len(value) > 1 else every,
                         self.rows if value.shape[1] > 1 else every,
                         self.cols if value.shape[2] > 1 else every]
        return {name: part(value) for name, value in inputs.items()}


def run_tiled(runner, tiling: Tiling, steps: int, step0: int, inputs: dict, record: dict,
              outputs: dict, spikes: SpikeBuffer | None) -> None:
    """Advance ``runner``'s population tile by tile, in blocks of the spike buffer's steps.

    ``record`` maps a state to ``None`` (all neurons) or neuron indices,
    ``outputs`` that state to its ``(steps, batch, k)`` output array.
    """
    views = []
    for rows, cols in tiling.tiles:
        shape = (rows.stop - rows.start, cols.stop - cols.start)
        if shape not in runner.tile_buffers:
            runner.tile_buffers[shape] = runner.program.allocate(*shape)
        views.append(TileView(runner, rows, cols, runner.tile_buffers[shape]))
    block = len(spikes.block) if spikes is not None else max(steps, 1)
    for first in range(0, steps, block):
        stop = min(first + block, steps)
        for view in views:
            recorders, scatter = _recorders(view, record, outputs, first, stop)
            writer = spikes.region(view.rows, view.cols) if spikes is not None else None
            runner.program.run(view, stop - first, step0 + first,
                               view.inputs(inputs, first, stop), recorders, writer)
            for out, (rows, positions), values in scatter:
                out[first:stop, rows, positions] = values
        if spikes is not None:
            spikes.commit(first, stop - first)


def _recorders(view: TileView, record: dict, outputs: dict, first: int, stop: int):
    """The tile's recorders for steps ``first:stop`` and what to scatter after them.

    All neurons: straight into the output's part.  Chosen neurons: those in
    the tile into a small array, copied to their columns of the output
    afterwards (the columns need not be contiguous, nor in order).
    """
    recorders, scatter = [], []
    lo, hi = view.cols.start, view.cols.stop
    for name, index in record.items():
        out, state = outputs[name], view.states[name]
        if index is None:
            recorders.append((state, None, out[first:stop, view.rows, view.cols]))
            continue
        positions = np.flatnonzero((index >= lo) & (index < hi))
        if positions.size:
            values = np.empty((stop - first, state.shape[0], positions.size), out.dtype)
            recorders.append((state, index[positions] - lo, values))
            scatter.append((out, (view.rows, positions), values))
    return recorders, scatter
