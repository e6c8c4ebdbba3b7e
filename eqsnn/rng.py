r"""Counter-based random numbers: Philox4x32-10, vectorised over NumPy arrays.

Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
SC11; the algorithm of D. E. Shaw Research's Random123) maps a 128-bit counter
``(c0, c1, c2, c3)`` and a 64-bit key ``(k0, k1)`` to 128 random bits.  One
round, with ``M0 = 0xD2511F53`` and ``M1 = 0xCD9E8D57``, is

    hi0:lo0 = M0 * c0,   hi1:lo1 = M1 * c2        (32 x 32 -> 64-bit products)
    (c0, c1, c2, c3) <- (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)

and between rounds the key gets the Weyl increments ``k0 += 0x9E3779B9``,
``k1 += 0xBB67AE85`` (mod 2**32); ten rounds, nine key bumps.

eqsnn's layout: counter = ``(step, neuron, lane, draw)`` (each taken mod 2**32;
``draw`` numbers the draws made by one neuron in one step) and key =
``(seed mod 2**32, seed >> 32)`` for a 64-bit ``seed``.  The output words
``w0..w3`` become floats by exact integer -> float arithmetic, so the C and CUDA
code of :func:`c_source` gives the same bits:

* uniform float32:  ``u = float((w0 >> 8) | 1) * 2**-24``
* uniform float64:  ``u = double(((w0 << 21) | (w1 >> 11)) | 1) * 2**-53``
  (a 53-bit integer built in uint64)

Forcing the lowest bit to 1 gives the odd multiples of ``2**-24`` (``2**-53``),
i.e. the centres of ``2**23`` (``2**52``) equal bins: every value lies in the
open interval (0, 1), the smallest is ``2**-24`` (``2**-53``), the largest
``1 - 2**-24`` (``1 - 2**-53``), the mean is exactly 1/2, and both the integer
(< 2**24, resp. < 2**53) and the power-of-two scaling are exact in the target
precision.  Normals come from Box-Muller on the same block, computed in the
target precision in exactly this order:

    z = sqrt(-2 * log(u1)) * cos(2pi * u2)

with ``u1`` from ``(w0, w1)`` and ``u2`` from ``(w2, w3)`` in float64, ``u1``
from ``w0`` and ``u2`` from ``w2`` in float32; ``2pi`` is rounded to the target
precision and every operation rounds to it, except that in float32 ``log``
and ``cos`` are the float64 results rounded to float32, in NumPy (whose own
float32 ``log`` is up to 3.5 ulp off near 1) and in C and CUDA alike.  log
and cos come from different libraries in NumPy, libm and CUDA: float64
normals agree across backends to a few ulp; float32 normals almost always
bit for bit (they differ only where two float64 results round differently);
uniforms and the raw words agree bit for bit.
"""

from __future__ import annotations

import operator

import numpy as np

__all__ = [
    "c_source",
    "normal",
    "normal_from_bits",
    "philox4x32_10",
    "random_bits",
    "uniform",
    "uniform_from_bits",
]

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
_MASK32 = np.uint64(0xFFFFFFFF)
_U8, _U11, _U21, _U32, _ONE = (np.uint64(k) for k in (8, 11, 21, 32, 1))


def _philox_words(c0, c1, c2, c3, k0, k1, rounds=10):
    """Philox4x32 on words held in uint64 arrays (values < 2**32); returns 4 such arrays."""
    for r in range(rounds):
        if r:
            k0, k1 = (k0 + _W0) & _MASK32, (k1 + _W1) & _MASK32
        p0, p1 = _M0 * c0, _M1 * c2  # exact: both factors < 2**32
        c0, c1, c2, c3 = (p1 >> _U32) ^ c1 ^ k0, p1 & _MASK32, (p0 >> _U32) ^ c3 ^ k1, p0 & _MASK32
    return c0, c1, c2, c3


def philox4x32_10(counter, key, *, rounds: int = 10) -> np.ndarray:
    """Philox4x32-10 of uint32 ``counter`` ``(..., 4)`` and ``key`` ``(..., 2)`` (broadcast).

    Returns uint32 ``(..., 4)``.  ``rounds`` exists only to check Random123's
    7-round known answers; eqsnn always uses 10.

    >>> philox4x32_10(np.zeros(4, np.uint32), np.zeros(2, np.uint32))
    array([1713891541, 3781805453, 3159862348, 2600524760], dtype=uint32)
    """
    c = np.asarray(counter, dtype=np.uint32).astype(np.uint64)
    k = np.asarray(key, dtype=np.uint32).astype(np.uint64)
    if c.shape[-1:] != (4,) or k.shape[-1:] != (2,):
        raise ValueError(f"counter must end in 4 words and key in 2, got {c.shape} and {k.shape}")
    words = _philox_words(c[..., 0], c[..., 1], c[..., 2], c[..., 3], k[..., 0], k[..., 1], rounds)
    return np.stack(np.broadcast_arrays(*words), axis=-1).astype(np.uint32)


def _seed_key(seed) -> tuple[np.uint64, np.uint64]:
    seed = operator.index(seed)
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed}")
    return np.uint64(seed & 0xFFFFFFFF), np.uint64(seed >> 32)


def _counter_word(value, name: str) -> np.ndarray:
    """One counter word as uint64 holding ``value mod 2**32``."""
    a = np.asarray(value)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer (array), got dtype {a.dtype}")
    return a.astype(np.uint32).astype(np.uint64)


def _block(seed, step, neuron, lane, draw):
    k0, k1 = _seed_key(seed)
    counter = (
        _counter_word(x, name)
        for x, name in ((step, "step"), (neuron, "neuron"), (lane, "lane"), (draw, "draw"))
    )
    return np.broadcast_arrays(*_philox_words(*counter, k0, k1))


def random_bits(seed: int, step, neuron, lane, draw) -> np.ndarray:
    """Philox block of counter ``(step, neuron, lane, draw)``, key ``seed``: uint32 ``(..., 4)``.

    The four counter words broadcast together (e.g. ``neuron`` of shape
    ``(1, n)`` and ``lane`` of shape ``(batch, 1)`` give ``(batch, n, 4)``).
    """
    return np.stack(_block(seed, step, neuron, lane, draw), axis=-1).astype(np.uint32)


def _uniform_from_words(w0, w1, dtype) -> np.ndarray:
    if dtype == np.float32:
        return ((w0 >> _U8) | _ONE).astype(np.float32) * np.float32(2.0**-24)
    return (((w0 << _U21) | (w1 >> _U11)) | _ONE).astype(np.float64) * 2.0**-53


def _float_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def uniform_from_bits(bits, dtype=np.float64) -> np.ndarray:
    """Map a uint32 Philox block ``(..., 4)`` to uniforms in (0, 1), as in the module doc."""
    w = np.asarray(bits, dtype=np.uint32).astype(np.uint64)
    return _uniform_from_words(w[..., 0], w[..., 1], _float_dtype(dtype))


def normal_from_bits(bits, dtype=np.float64) -> np.ndarray:
    """Box-Muller ``sqrt(-2 log u1) cos(2pi u2)`` of a Philox block, in precision ``dtype``."""
    dtype = _float_dtype(dtype)
    w = np.asarray(bits, dtype=np.uint32).astype(np.uint64)
    u1 = _uniform_from_words(w[..., 0], w[..., 1], dtype)
    u2 = _uniform_from_words(w[..., 2], w[..., 3], dtype)
    minus_two, two_pi = dtype.type(-2.0), dtype.type(2.0 * np.pi)
    return np.sqrt(minus_two * _rounded(np.log, u1)) * _rounded(np.cos, two_pi * u2)


def _rounded(f, x: np.ndarray) -> np.ndarray:
    """``f(x)`` rounded to ``x``'s precision; float32 goes through float64 because NumPy's
    SIMD float32 log is up to ~3.5 ulp off near 1, where libm's ``logf`` is within 1."""
    if x.dtype == np.float32:
        return f(x.astype(np.float64)).astype(np.float32)
    return f(x)


def uniform(seed: int, step, neuron, lane, draw, dtype=np.float64) -> np.ndarray:
    """Uniform in the open interval (0, 1) for each broadcast counter, exactly as in C/CUDA."""
    w0, w1, _, _ = _block(seed, step, neuron, lane, draw)
    return _uniform_from_words(w0, w1, _float_dtype(dtype))


def normal(seed: int, step, neuron, lane, draw, dtype=np.float64) -> np.ndarray:
    """Standard normal (Box-Muller) for each broadcast counter, computed in ``dtype``."""
    return normal_from_bits(random_bits(seed, step, neuron, lane, draw), dtype)


_C_SOURCE = r"""
/* eqsnn counter-based RNG: Philox4x32-10 (Random123's algorithm) and its
 * exact bit -> float mapping; generated by eqsnn/rng.py, must match it bit
 * for bit.  C99 and NVRTC: define EQSNN_FN before including to change the
 * function qualifiers (CUDA: static __device__ __forceinline__). */
#ifndef EQSNN_RNG_H
#define EQSNN_RNG_H
#ifndef __CUDACC_RTC__
#include <math.h>
#endif
#ifndef EQSNN_FN
#define EQSNN_FN static inline
#endif

/* out = Philox4x32-10(ctr, key); out may alias ctr. */
EQSNN_FN void eqsnn_philox4x32_10(const unsigned int ctr[4], const unsigned int key[2],
                                  unsigned int out[4])
{
    unsigned int c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    unsigned int k0 = key[0], k1 = key[1];
    int r;
    for (r = 0; r < 10; ++r) {
        unsigned long long p0, p1;
        if (r > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        p0 = 0xD2511F53ull * c0;
        p1 = 0xCD9E8D57ull * c2;
        c0 = (unsigned int)(p1 >> 32) ^ c1 ^ k0;
        c1 = (unsigned int)p1;
        c2 = (unsigned int)(p0 >> 32) ^ c3 ^ k1;
        c3 = (unsigned int)p0;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* counter = (step, neuron, lane, draw), key = (seed_lo, seed_hi) */
EQSNN_FN void eqsnn_random_bits(unsigned int seed_lo, unsigned int seed_hi, unsigned int step,
                                unsigned int neuron, unsigned int lane, unsigned int draw,
                                unsigned int out[4])
{
    unsigned int ctr[4], key[2];
    ctr[0] = step; ctr[1] = neuron; ctr[2] = lane; ctr[3] = draw;
    key[0] = seed_lo; key[1] = seed_hi;
    eqsnn_philox4x32_10(ctr, key, out);
}

/* odd multiples of 2^-24 / 2^-53: exact, strictly inside (0, 1) */
EQSNN_FN float eqsnn_u01_f32(unsigned int w0)
{
    return (float)((w0 >> 8) | 1u) * 5.9604644775390625e-8f;
}

EQSNN_FN double eqsnn_u01_f64(unsigned int w0, unsigned int w1)
{
    unsigned long long m = ((unsigned long long)w0 << 21) | (unsigned long long)(w1 >> 11);
    return (double)(m | 1ull) * 1.1102230246251565404236316680908203125e-16;
}

#define EQSNN_RNG_ARGS unsigned int seed_lo, unsigned int seed_hi, unsigned int step, \
                       unsigned int neuron, unsigned int lane, unsigned int draw

EQSNN_FN float eqsnn_uniform_f32(EQSNN_RNG_ARGS)
{
    unsigned int w[4];
    eqsnn_random_bits(seed_lo, seed_hi, step, neuron, lane, draw, w);
    return eqsnn_u01_f32(w[0]);
}

EQSNN_FN double eqsnn_uniform_f64(EQSNN_RNG_ARGS)
{
    unsigned int w[4];
    eqsnn_random_bits(seed_lo, seed_hi, step, neuron, lane, draw, w);
    return eqsnn_u01_f64(w[0], w[1]);
}

/* Box-Muller: sqrt(-2 log u1) * cos(2 pi u2), 2 pi rounded to the precision */
EQSNN_FN float eqsnn_normal_f32(EQSNN_RNG_ARGS)
{
    unsigned int w[4];
    float u1, u2;
    eqsnn_random_bits(seed_lo, seed_hi, step, neuron, lane, draw, w);
    u1 = eqsnn_u01_f32(w[0]);
    u2 = eqsnn_u01_f32(w[2]);
    /* log and cos in double, rounded to float: what NumPy does in float32 */
    return sqrtf(-2.0f * (float)log((double)u1))
           * (float)cos((double)(6.28318548202514648438f * u2));
}

EQSNN_FN double eqsnn_normal_f64(EQSNN_RNG_ARGS)
{
    unsigned int w[4];
    double u1, u2;
    eqsnn_random_bits(seed_lo, seed_hi, step, neuron, lane, draw, w);
    u1 = eqsnn_u01_f64(w[0], w[1]);
    u2 = eqsnn_u01_f64(w[2], w[3]);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

#undef EQSNN_RNG_ARGS
#endif /* EQSNN_RNG_H */
"""


def c_source() -> str:
    """C99 / CUDA (NVRTC) source of the same generator: ``eqsnn_philox4x32_10``,
    ``eqsnn_random_bits``, ``eqsnn_uniform_f32/_f64`` and ``eqsnn_normal_f32/_f64``
    taking ``(seed_lo, seed_hi, step, neuron, lane, draw)`` as ``unsigned int``.
    Qualifiers come from the macro ``EQSNN_FN`` (default ``static inline``).
    """
    return _C_SOURCE
