"""Recorded spikes as bit planes, and their listing on demand.

Every backend writes the spikes of a run into :class:`SpikeBits`: ``uint32``
planes ``(steps, batch, words)``, ``words = ceil(n / 32)``, bit ``k`` of word
``w`` set when neuron ``32 w + k`` spiked (one plane for positive spikes,
and a second for negative ones in a model with a negative threshold).  That
is one bit per neuron and step, as GeNN records them, written at memory
speed.

A listing is made only when asked for (:func:`list_spikes`): signed
``int32`` neuron ids (``~k`` for a negative spike of neuron ``k``) in
order of (step, lane, neuron), positive before negative, and ``int64``
offsets: the spikes of step ``s``, lane ``b`` are
``ids[offsets[s * batch + b]:offsets[s * batch + b + 1]]``.  A small C
helper (compiled once through :mod:`eqsnn.backends._toolchain`) counts and
lists them; without a C compiler a vectorised NumPy decoder gives the same
arrays.

Large buffers come from the :class:`~eqsnn.runtime.buffer_pool.BufferPool`
``POOL``: the memory of a result that has been freed (no array refers to it
any more) is handed to the next run; :func:`release_buffers` returns it to
the system.
"""

from __future__ import annotations

import ctypes

import numpy as np

from ..errors import BackendError
from .buffer_pool import POOL

__all__ = ["SpikeBits", "list_spikes", "neuron_counts", "spike_count", "release_buffers",
           "decoder"]


def release_buffers() -> int:
    """Free the recording memory that eqsnn keeps for reuse; returns the bytes released."""
    return POOL.release()


class SpikeBits:
    """The spike bit planes of ``steps`` steps of ``batch`` lanes of ``n`` neurons.

    ``planes`` is ``(1 or 2, steps, batch, stride)`` ``uint32``: the positive
    plane, then the negative one where ``signed``; a row holds
    ``ceil(n / 32)`` words and is padded to ``stride`` words.  A backend
    writes every word of ``planes[k]``, padding and bits past ``n`` as 0.
    """

    def __init__(self, planes: np.ndarray, n: int, signed: bool):
        self.planes = planes
        self.n = int(n)
        self.signed = bool(signed)

    @classmethod
    def empty(cls, steps: int, batch: int, n: int, signed: bool) -> SpikeBits:
        """Planes whose rows are padded to whole 64-byte lines (:func:`row_words`)."""
        shape = (1 + bool(signed), int(steps), int(batch), row_words(n))
        return cls(POOL.empty(shape, np.uint32), n, signed)

    @classmethod
    def for_run(cls, record_spikes, steps: int, batch: int, n: int, signed: bool,
                spiking: bool = True) -> SpikeBits | None:
        """The planes a runner writes: those it was given, new ones for ``True``, else None."""
        if not spiking or record_spikes is None or record_spikes is False:
            return None
        if isinstance(record_spikes, SpikeBits):
            if record_spikes.planes.shape[1:] != (steps, batch, row_words(n)):
                raise BackendError(
                    f"spike planes of shape {record_spikes.planes.shape[1:]} given for "
                    f"{steps} steps of {batch} lanes of {n} neurons (a bug in eqsnn)")
            return record_spikes
        return cls.empty(steps, batch, n, signed)

    @property
    def steps(self) -> int:
        return self.planes.shape[1]

    @property
    def batch(self) -> int:
        return self.planes.shape[2]

    @property
    def words(self) -> int:
        return words_of(self.n)

    @property
    def positive(self) -> np.ndarray:
        """``(steps, batch, ceil(n / 32))`` (a view without the rows' padding)."""
        return self.planes[0, ..., : self.words]

    @property
    def negative(self) -> np.ndarray | None:
        return self.planes[1, ..., : self.words] if self.signed else None

    def part(self, start: int, stop: int) -> SpikeBits:
        """Steps ``start:stop`` (a view, written in place)."""
        return SpikeBits(self.planes[:, start:stop], self.n, self.signed)

    def keep_only(self, neurons: np.ndarray) -> None:
        """Clear the bits of every neuron not in ``neurons`` (ids, in place)."""
        mask = np.zeros(self.planes.shape[-1] * 32, np.bool_)
        mask[np.asarray(neurons, np.int64)] = True
        words = np.packbits(mask, bitorder="little").view("<u4").astype(np.uint32)
        np.bitwise_and(self.planes, words, out=self.planes)

    def write_lists(self, step, lane, neuron, sign=None) -> None:
        """Fill the planes from listed spikes (steps counted from this part's start)."""
        self.planes.fill(0)
        step, lane, neuron = (np.asarray(a, np.int64) for a in (step, lane, neuron))
        negative = np.zeros(len(step), bool) if sign is None else np.asarray(sign) < 0
        word = (step * self.batch + lane) * self.planes.shape[-1] + neuron // 32
        bit = np.left_shift(np.uint32(1), (neuron % 32).astype(np.uint32))
        for k, chosen in enumerate((~negative, negative)[: 1 + self.signed]):
            np.bitwise_or.at(self.planes[k].reshape(-1), word[chosen], bit[chosen])


def words_of(n: int) -> int:
    return (int(n) + 31) // 32


def row_words(n: int) -> int:
    """Words of one row of new planes: ``ceil(n / 32)`` padded to whole 64-byte lines, as
    the ``c`` backend's tiles (multiples of 512 neurons) write them (``EQSNN_SPIKE_ROW``).  Padding
    words are 0; the decoders read them as rows of no spikes."""
    return (int(n) + 511) // 512 * 16


# --- the decoders ------------------------------------------------------------------------
_C_SOURCE = r"""
#include <stdint.h>
#if defined(_WIN32)
#define EQSNN_EXPORT __declspec(dllexport)
#else
#define EQSNN_EXPORT
#endif
#if defined(__GNUC__) || defined(__clang__)
#define lowest_bit(x) __builtin_ctz(x)
#define bit_count(x) __builtin_popcount(x)
/* lowest set bit of x, 64 (not undefined) for x == 0, and the number of set bits */
#define lowest64(x) ((x) ? __builtin_ctzll(x) : 64)
#define lowest64_count(x) __builtin_popcountll(x)
#else
static int lowest_bit(uint32_t x) { int k = 0; for (; !(x & 1u); x >>= 1) ++k; return k; }
static int bit_count(uint32_t x) { int k = 0; for (; x; x &= x - 1) ++k; return k; }
static int lowest64(uint64_t x)
{ int k = 0; if (!x) return 64; for (; !(x & 1u); x >>= 1) ++k; return k; }
static int lowest64_count(uint64_t x) { int k = 0; for (; x; x &= x - 1) ++k; return k; }
#endif

/* set bits of each of `rows` rows of `words` words (both planes) */
EQSNN_EXPORT void eqsnn_row_counts(const uint32_t *pos, const uint32_t *neg, long long rows,
                                   long long words, long long *counts, int threads)
{
    long long r;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (r = 0; r < rows; ++r) {
        const uint32_t *p = pos + r * words;
        long long w, c = 0;
        for (w = 0; w < words; ++w) c += bit_count(p[w]);
        if (neg) {
            const uint32_t *q = neg + r * words;
            for (w = 0; w < words; ++w) c += bit_count(q[w]);
        }
        counts[r] = c;
    }
}

/* the ids of every row's set bits from offsets[r]: k, or ~k for a negative spike, in order
 * of neuron, positive before negative.  Unsigned rows are read 64 bits at a time and the
 * first four ids of a word are written whatever its count (branch-light: the writer moves on
 * by the count), so `ids` needs 4 spare entries at its end. */
EQSNN_EXPORT void eqsnn_list_rows(const uint32_t *pos, const uint32_t *neg, long long rows,
                                  long long words, const long long *offsets, int32_t *ids,
                                  int threads)
{
    long long r;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (r = 0; r < rows; ++r) {
        const uint32_t *p = pos + r * words;
        int32_t *out = ids + offsets[r];
        long long w;
        if (!neg) {
            for (w = 0; w + 1 < words; w += 2) {
                uint64_t x = (uint64_t)p[w] | ((uint64_t)p[w + 1] << 32);
                int32_t base = (int32_t)(w * 32);
                int32_t *next = out + lowest64_count(x);
                out[0] = base + lowest64(x); x &= x - 1;
                out[1] = base + lowest64(x); x &= x - 1;
                out[2] = base + lowest64(x); x &= x - 1;
                out[3] = base + lowest64(x); x &= x - 1;
                if (x) {
                    out += 4;
                    for (; x; x &= x - 1) *out++ = base + lowest64(x);
                }
                out = next;
            }
            for (; w < words; ++w) {
                uint32_t x = p[w];
                for (; x; x &= x - 1) *out++ = (int32_t)(w * 32) + lowest_bit(x);
            }
        } else {
            const uint32_t *q = neg + r * words;
            for (w = 0; w < words; ++w) {
                uint32_t x = p[w] | q[w];
                int32_t base = (int32_t)(w * 32);
                for (; x; x &= x - 1) {
                    int b = lowest_bit(x);
                    if ((p[w] >> b) & 1u) *out++ = base + b;
                    if ((q[w] >> b) & 1u) *out++ = ~(base + b);
                }
            }
        }
    }
}

/* counts[lane * n + k] += spikes of neuron k in the lane, over all steps and both planes */
EQSNN_EXPORT void eqsnn_neuron_counts(const uint32_t *pos, const uint32_t *neg, long long steps,
                                      long long batch, long long words, long long n,
                                      long long *counts, int threads)
{
    const long long chunk = 512;
    long long chunks = (words + chunk - 1) / chunk, job;
#pragma omp parallel for schedule(dynamic) num_threads(threads) if (threads > 1)
    for (job = 0; job < batch * chunks; ++job) {
        long long b = job / chunks, first = (job % chunks) * chunk, s, w, plane;
        long long last = first + chunk < words ? first + chunk : words;
        long long *c = counts + b * n;
        for (plane = 0; plane < (neg ? 2 : 1); ++plane) {
            const uint32_t *bits = plane ? neg : pos;
            for (s = 0; s < steps; ++s) {
                const uint32_t *row = bits + (s * batch + b) * words;
                for (w = first; w < last; ++w) {
                    uint32_t x = row[w];
                    for (; x; x &= x - 1) ++c[w * 32 + lowest_bit(x)];
                }
            }
        }
    }
}
"""

_library = None
_library_error: str | None = None
#: "auto" (C where a compiler is found, else NumPy), "c" or "numpy"
DECODER = "auto"


def _c_library():
    """The compiled decoder, or None without a C compiler (then NumPy decodes)."""
    global _library, _library_error
    if _library is None and _library_error is None:
        from ..backends import _toolchain

        try:
            path, _ = _toolchain.compile_shared_library(_C_SOURCE, "eqsnn_spike_bits", False)
            library = ctypes.CDLL(str(path))
        except (BackendError, OSError) as error:
            _library_error = str(error)
            return None
        pointer, long, integer = ctypes.c_void_p, ctypes.c_longlong, ctypes.c_int
        library.eqsnn_row_counts.argtypes = [pointer, pointer, long, long, pointer, integer]
        library.eqsnn_list_rows.argtypes = [pointer, pointer, long, long, pointer, pointer,
                                            integer]
        library.eqsnn_neuron_counts.argtypes = [pointer, pointer] + [long] * 4 + [pointer,
                                                                                  integer]
        for function in (library.eqsnn_row_counts, library.eqsnn_list_rows,
                         library.eqsnn_neuron_counts):
            function.restype = None
        _library = library
    return _library


def decoder() -> str:
    """The decoder in use: ``"c"`` or ``"numpy"``."""
    if DECODER == "numpy":
        return "numpy"
    if DECODER == "c" or _c_library() is not None:
        if _c_library() is None:
            raise BackendError(f"the C spike decoder is not available: {_library_error}")
        return "c"
    return "numpy"


def _threads(work: int) -> int:
    from ..backends import _toolchain

    return _toolchain.default_threads() if work >= (1 << 22) else 1


def _contiguous(bits: SpikeBits) -> tuple[np.ndarray, np.ndarray | None]:
    pos = np.ascontiguousarray(bits.planes[0])
    neg = np.ascontiguousarray(bits.planes[1]) if bits.signed else None
    return pos, neg


def spike_count(bits: SpikeBits) -> int:
    """How many spikes (both signs) the planes hold, without listing them."""
    if bits.planes.size == 0:
        return 0
    if decoder() == "c":
        counts = _row_counts(bits)
        return int(counts.sum())
    return int(_popcount(bits.planes).sum())


def _row_counts(bits: SpikeBits) -> np.ndarray:
    pos, neg = _contiguous(bits)
    rows, words = bits.steps * bits.batch, pos.shape[-1]
    counts = np.empty(rows, np.int64)
    _c_library().eqsnn_row_counts(pos.ctypes.data, None if neg is None else neg.ctypes.data,
                                  rows, words, counts.ctypes.data, _threads(pos.size))
    return counts


def list_spikes(bits: SpikeBits) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, offsets)``: signed int32 ids (``~k`` negative) and int64 offsets per
    (step, lane) row, ``len(offsets) = steps * batch + 1``."""
    rows = bits.steps * bits.batch
    if bits.n >= 2**31:
        raise BackendError(f"spike listings hold int32 neuron ids; {bits.n} neurons are too many")
    if rows == 0 or bits.planes.shape[-1] == 0:
        return np.zeros(0, np.int32), np.zeros(rows + 1, np.int64)
    if decoder() == "c":
        counts = _row_counts(bits)
        offsets = np.empty(rows + 1, np.int64)
        offsets[0] = 0
        np.cumsum(counts, out=offsets[1:])
        total = int(offsets[-1])
        ids = POOL.empty(total + 4, np.int32)  # 4 spare: see eqsnn_list_rows
        pos, neg = _contiguous(bits)
        _c_library().eqsnn_list_rows(pos.ctypes.data, None if neg is None else neg.ctypes.data,
                                     rows, pos.shape[-1], offsets.ctypes.data, ids.ctypes.data,
                                     _threads(pos.size))
        return ids[:total], offsets
    return _numpy_list(bits)


def neuron_counts(bits: SpikeBits) -> np.ndarray:
    """``(batch, n)`` int64 spikes of every lane and neuron (both signs), without a listing."""
    counts = np.zeros((bits.batch, bits.n), np.int64)
    if bits.steps == 0 or bits.n == 0:
        return counts
    if decoder() == "c":
        pos, neg = _contiguous(bits)
        _c_library().eqsnn_neuron_counts(
            pos.ctypes.data, None if neg is None else neg.ctypes.data, bits.steps, bits.batch,
            pos.shape[-1], bits.n, counts.ctypes.data, _threads(pos.size))
        return counts
    words = bits.planes.shape[-1]
    chunk = max(1, (1 << 24) // max(1, bits.batch * words * 32))  # steps unpacked at a time
    for plane in bits.planes:
        for first in range(0, bits.steps, chunk):
            part = plane[first:first + chunk].astype("<u4", copy=False).view(np.uint8)
            flags = np.unpackbits(part, axis=-1, bitorder="little")[..., : bits.n]
            counts += flags.sum(axis=0, dtype=np.int64)
    return counts


def _popcount(words: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(words)
    as_bytes = words.astype("<u4", copy=False).view(np.uint8)
    return np.unpackbits(as_bytes.reshape(-1, 4), axis=1).sum(axis=1, dtype=np.int64)


def _numpy_list(bits: SpikeBits) -> tuple[np.ndarray, np.ndarray]:
    """The NumPy decoder: the set bits of the nonzero words only."""
    rows, words = bits.steps * bits.batch, bits.planes.shape[-1]
    planes = bits.planes.reshape(len(bits.planes), rows * words)
    either = planes[0] | planes[1] if bits.signed else planes[0]
    nonzero = np.flatnonzero(either)
    unpack = [np.unpackbits(p[nonzero].astype("<u4").view(np.uint8).reshape(-1, 4), axis=1,
                            bitorder="little") for p in planes]
    # (word, bit, plane): row-major order is (row, neuron, positive before negative)
    which, bit, sign = np.nonzero(np.stack(unpack, axis=-1))
    word = nonzero[which]
    neuron = ((word % words) * 32 + bit).astype(np.int32)
    ids = np.where(sign == 1, ~neuron, neuron) if bits.signed else neuron
    counts = np.bincount(word // words, minlength=rows)
    offsets = np.zeros(rows + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    return ids.astype(np.int32, copy=False), offsets
