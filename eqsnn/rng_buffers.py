"""The NumPy backend's random draws, computed in preallocated buffers.

:func:`eqsnn.rng.uniform` and :func:`eqsnn.rng.normal` build a dozen new
``uint64`` arrays of the population's size per draw.  :class:`Draws` holds
those buffers for one population (or tile) shape and runs the same Philox
rounds and the same bit-to-float arithmetic with ``out=`` ufuncs, so a step
allocates nothing and every value has exactly the bits of
:mod:`eqsnn.rng` (``tests/test_rng.py`` checks it).

A draw's result is a buffer of the workspace, overwritten by the next draw of
the same index: the emitted step uses it before the step ends.
"""

from __future__ import annotations

import numpy as np

from .rng import _M0, _M1, _MASK32, _U8, _U11, _U21, _U32, _W0, _W1, _seed_key

__all__ = ["Draws", "workspace"]


def workspace(buffers: dict, dtype) -> Draws:
    """The :class:`Draws` kept in a population's (or tile's) work ``buffers`` dict."""
    dtype = np.dtype(dtype)
    key = ("_draws", dtype.name)
    if key not in buffers:
        buffers[key] = Draws(dtype)
    return buffers[key]


class Draws:
    """Uniform and normal draws of precision ``dtype`` for counters ``(step, neuron, lane,
    draw)``, broadcast over ``neuron_id (1, n)`` and ``lane (batch, 1)``."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self.shape = None
        self.outputs: dict = {}

    def _allocate(self, shape) -> None:
        self.shape = shape
        self.c = [np.empty(shape, np.uint64) for _ in range(4)]
        self.p0, self.p1, self.t = (np.empty(shape, np.uint64) for _ in range(3))
        self.f1, self.f2 = (np.empty(shape, self.dtype) for _ in range(2))
        self.wide = np.empty(shape, np.float64) if self.dtype == np.float32 else None
        self.outputs = {}

    def _philox(self, seed, step, neuron_id, lane, draw) -> list[np.ndarray]:
        shape = np.broadcast_shapes(np.shape(neuron_id), np.shape(lane))
        if shape != self.shape:
            self._allocate(shape)
        c0, c1, c2, c3 = self.c
        p0, p1, t = self.p0, self.p1, self.t
        k0, k1 = _seed_key(seed)
        # counter words mod 2**32, as rng._counter_word
        c0.fill(np.uint64(np.uint32(step % 2**32)))
        np.copyto(c1, neuron_id, casting="unsafe")  # ids and lanes are >= 0: exact
        np.copyto(c2, lane, casting="unsafe")
        c3.fill(np.uint64(np.uint32(draw % 2**32)))
        for r in range(10):
            if r:
                k0, k1 = (k0 + _W0) & _MASK32, (k1 + _W1) & _MASK32
            np.multiply(c0, _M0, out=p0)
            np.multiply(c2, _M1, out=p1)
            # (c0, c1, c2, c3) <- ((p1 >> 32) ^ c1 ^ k0, p1 & mask, (p0 >> 32) ^ c3 ^ k1,
            #                      p0 & mask)
            np.right_shift(p1, _U32, out=t)
            np.bitwise_xor(t, c1, out=t)
            np.bitwise_xor(t, k0, out=t)
            np.bitwise_and(p1, _MASK32, out=c1)
            np.right_shift(p0, _U32, out=c2)
            np.bitwise_xor(c2, c3, out=c2)
            np.bitwise_xor(c2, k1, out=c2)
            np.bitwise_and(p0, _MASK32, out=c3)
            c0, t = t, c0
        self.c[0], self.t = c0, t
        return [c0, c1, c2, c3]

    def _uniform_into(self, out, w0, w1) -> None:
        """rng._uniform_from_words: the integer and the power-of-two scale are exact."""
        t = self.p0
        if self.dtype == np.float32:
            np.right_shift(w0, _U8, out=t)
        else:
            np.left_shift(w0, _U21, out=t)
            np.right_shift(w1, _U11, out=self.p1)
            np.bitwise_or(t, self.p1, out=t)
        np.bitwise_or(t, np.uint64(1), out=t)
        np.copyto(out, t, casting="unsafe")
        scale = 2.0**-24 if self.dtype == np.float32 else 2.0**-53
        np.multiply(out, self.dtype.type(scale), out=out)

    def _output(self, kind: str, draw) -> np.ndarray:
        key = (kind, draw)
        if key not in self.outputs:
            self.outputs[key] = np.empty(self.shape, self.dtype)
        return self.outputs[key]

    def uniform(self, seed, step, neuron_id, lane, draw) -> np.ndarray:
        w0, w1, _, _ = self._philox(seed, step, neuron_id, lane, draw)
        out = self._output("uniform", draw)
        self._uniform_into(out, w0, w1)
        return out

    def normal(self, seed, step, neuron_id, lane, draw) -> np.ndarray:
        """``sqrt(-2 log u1) * cos(2pi u2)`` in ``dtype``, log and cos rounded from float64
        in float32, exactly as :func:`eqsnn.rng.normal_from_bits`."""
        w0, w1, w2, w3 = self._philox(seed, step, neuron_id, lane, draw)
        u1, u2, dtype = self.f1, self.f2, self.dtype
        self._uniform_into(u1, w0, w1)
        self._uniform_into(u2, w2, w3)
        np.multiply(dtype.type(2.0 * np.pi), u2, out=u2)
        if self.wide is None:
            np.log(u1, out=u1)
            np.cos(u2, out=u2)
        else:
            for part, function in ((u1, np.log), (u2, np.cos)):
                np.copyto(self.wide, part)
                function(self.wide, out=self.wide)
                np.copyto(part, self.wide, casting="same_kind")
        np.multiply(dtype.type(-2.0), u1, out=u1)
        np.sqrt(u1, out=u1)
        out = self._output("normal", draw)
        np.multiply(u1, u2, out=out)
        return out
