"""What the compiled backends (``c`` and ``cupy``) share.

* :class:`Layout`: the order in which a population's states, inputs, values
  and arrays cross into compiled code; both the emitted code and the runner
  derive it from the model, so they agree by construction.
* Host-side preparation of one run: input strides (held inputs stay
  unexpanded: a dimension of length 1 gets stride 0), recorded neuron
  indices.
* The C helpers of the ``c`` backend's library (storing spike words, bit
  packing, record index search); spike planes are listed by
  :mod:`eqsnn.runtime.spike_bits`.  The C toolchain is :mod:`._toolchain`.

Spike planes are ``uint32`` arrays ``(steps, batch, stride)``: bit ``k`` of
word ``w`` is neuron ``32 w + k``, ``ceil(n / 32)`` words a row padded with 0
to ``stride`` (whole 64-byte lines for the ``c`` backend).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ir
from ..errors import BackendError

__all__ = [
    "Layout", "layout", "input_strides", "check_input_shape", "rounded_value", "record_plan",
    "spike_words", "C_RUN_HELPERS",
]

@dataclass(frozen=True)
class Layout:
    """Ordered ``(name, dtype)`` of states, inputs, values and arrays of a population.

    ``values`` are the params, the runtime params, the precompute values and
    ``dt``, each with a flag saying whether it is given per neuron.
    """

    states: tuple[tuple[str, str], ...]
    inputs: tuple[tuple[str, str], ...]
    values: tuple[tuple[str, str, bool], ...]
    arrays: tuple[tuple[str, str], ...]

    @property
    def value_types(self) -> tuple[tuple[str, str], ...]:
        return tuple((name, dtype) for name, dtype, _ in self.values)

    @property
    def uniform_values(self) -> frozenset:
        """The values that are one for all neurons."""
        return frozenset(name for name, _, per_neuron in self.values if not per_neuron)

    def uniform_call(self, value_name) -> str:
        """The arguments of the uniform function after ``t, step``: the uniform values,
        each named by ``value_name(k)`` (its position in :attr:`values`)."""
        return "".join(f", {value_name(k)}" for k, (_, _, per) in enumerate(self.values)
                       if not per)


def layout(model: ir.Model, per_neuron=frozenset(), precision: str = "float32") -> Layout:
    if precision not in ("float32", "float64"):
        raise BackendError(f"unknown precision {precision!r}", hint="choose float32 or float64")
    types = model.name_types()
    names = [p.name for p in model.params] + list(model.runtime_params)
    names += list(model.precompute_names)
    values = tuple((name, types[name], name in per_neuron) for name in dict.fromkeys(names))
    return Layout(
        states=tuple((s.name, s.dtype) for s in model.states),
        inputs=tuple((i.name, i.dtype) for i in model.inputs),
        values=values + (("dt", "float", False),),
        arrays=tuple((a.name, a.dtype) for a in model.arrays),
    )


def input_strides(array: np.ndarray, name: str) -> tuple[np.ndarray, tuple[int, int, int]]:
    """``array`` (steps or 1, batch or 1, n or 1) and its element strides, 0 where the length is 1.

    Broadcast views keep their zero strides; nothing is expanded.
    """
    if array.ndim != 3:
        raise BackendError(f"input {name} must be 3-D (steps, batch, n), got shape {array.shape}")
    if any(stride % array.itemsize for stride in array.strides):
        array = np.ascontiguousarray(array)
    strides = tuple(0 if length == 1 else stride // array.itemsize
                    for length, stride in zip(array.shape, array.strides))
    return array, strides


def check_input_shape(shape, name: str, steps: int, batch: int, n: int) -> None:
    if len(shape) != 3 or shape[0] not in (1, steps) or shape[1] not in (1, batch) \
            or shape[2] not in (1, n):
        raise BackendError(f"input {name} has shape {tuple(shape)}; expected "
                           f"(1 or {steps}, 1 or {batch}, 1 or {n})")


def rounded_value(name: str, value, dtype: np.dtype, per_neuron: bool, n: int) -> np.ndarray:
    """A param or precompute value in its run-time type: ``(n,)`` per neuron, else 0-d.

    float64 values are rounded once, here, as the ``numpy`` backend does.
    """
    value = np.asarray(value)
    if not per_neuron and value.size != 1:
        raise BackendError(
            f"{name} was emitted as one value for all neurons but got shape {value.shape}",
            hint="emit with EmitOptions(per_neuron=...) naming it",
        )
    out = np.empty((n,) if per_neuron else (), dtype)
    np.copyto(out, np.broadcast_to(value.reshape(-1)[0] if value.size == 1 else value, out.shape),
              casting="unsafe")
    return out


@dataclass(frozen=True)
class RecordPlan:
    """Neurons one state records: ``index`` sorted and unique (``None``: all ``width``
    neurons in order); ``expand`` re-orders the columns into the order asked for."""

    index: np.ndarray | None
    width: int
    expand: np.ndarray | None

    def result(self, recorded: np.ndarray) -> np.ndarray:
        return recorded if self.expand is None else recorded[..., self.expand]


def record_plan(index, n: int) -> RecordPlan:
    if index is None:
        return RecordPlan(None, n, None)
    index = np.asarray(index, np.int64).reshape(-1)
    unique, inverse = np.unique(index, return_inverse=True)
    if len(unique) == len(index) and np.array_equal(unique, index):
        return RecordPlan(unique, len(unique), None)
    return RecordPlan(unique, len(unique), inverse.reshape(-1))


def spike_words(n: int) -> int:
    return (n + 31) // 32


#: model-independent C of the ``c`` backend's library: packing spike flags into words and
#: storing them, finding recorded neurons of a tile
C_RUN_HELPERS = r"""
#if defined(_WIN32)
#define EQSNN_EXPORT __declspec(dllexport)
#else
#define EQSNN_EXPORT
#endif

#if !defined(__AVX512BW__) && !defined(__AVX2__)
/* bit k of the result: bit `bit` of f[k], k < 32; a shift-or reduction the compiler
 * vectorises */
static unsigned int eqsnn_pack_bits(const unsigned char *f, int bit)
{
    unsigned int word = 0;
    int k;
    for (k = 0; k < 32; ++k) word |= (unsigned int)((f[k] >> bit) & 1u) << k;
    return word;
}
#endif

/* words of one spike row: ceil(n / 32) padded to whole 64-byte lines (tiles of 512 neurons);
 * eqsnn.runtime.spike_bits.row_words */
#define EQSNN_SPIKE_ROW(n) ((((n) + 511) / 512) * 16)

#if defined(__SSE2__) || defined(_M_X64)
#include <immintrin.h>
#define EQSNN_STREAM 1
#endif

/* the `count` spike words (a multiple of 16) of flags' bit `bit`, stored to `out` with
 * non-temporal stores where out is 64-byte aligned (whole lines, never read back here:
 * no read for ownership), else plainly (a network's step row, read back at once) */
static void eqsnn_store_spike_words(unsigned int *out, const unsigned char *flags, int bit,
                                    int count)
{
    unsigned int words[16];
    int first, k;
    for (first = 0; first < count; first += 16) {
        const unsigned char *f = flags + 32 * first;
#if defined(__AVX512BW__)
        {
            /* 64 flags a compare (bit `bit` of each byte); the 16 words go from registers
             * to memory in one store (little-endian x86: word 2k is the low half of mask k) */
            const __m512i probe = _mm512_set1_epi8((char)(1 << bit));
#define EQSNN_MASK(k) \
    (long long)_mm512_test_epi8_mask(_mm512_loadu_si512((const void *)(f + 64 * (k))), probe)
            const __m512i packed = _mm512_set_epi64(
                EQSNN_MASK(7), EQSNN_MASK(6), EQSNN_MASK(5), EQSNN_MASK(4), EQSNN_MASK(3),
                EQSNN_MASK(2), EQSNN_MASK(1), EQSNN_MASK(0));
#undef EQSNN_MASK
            if (((unsigned long long)(out + first) & 63u) == 0)
                _mm512_stream_si512((void *)(out + first), packed);
            else
                _mm512_storeu_si512((void *)(out + first), packed);
            continue;
        }
#elif defined(__AVX2__)
        {
            /* 32 flags a byte mask: bit `bit` of each byte shifted to its top bit (a 16-bit
             * shift moves each byte's own bits there) */
            const __m128i shift = _mm_cvtsi32_si128(7 - bit);
            for (k = 0; k < 16; ++k)
                words[k] = (unsigned int)_mm256_movemask_epi8(_mm256_sll_epi16(
                    _mm256_loadu_si256((const __m256i *)(f + 32 * k)), shift));
        }
#else
        for (k = 0; k < 16; ++k) words[k] = eqsnn_pack_bits(f + 32 * k, bit);
#endif
#if defined(EQSNN_STREAM)
        if (((unsigned long long)(out + first) & 15u) == 0) {
            for (k = 0; k < 16; k += 4)
                _mm_stream_si128((__m128i *)(out + first + k),
                                 _mm_loadu_si128((const __m128i *)(words + k)));
            continue;
        }
#endif
        for (k = 0; k < 16; ++k) out[first + k] = words[k];
    }
}

/* non-temporal stores are weakly ordered: fence them before the tile's thread moves on */
static void eqsnn_store_fence(void)
{
#if defined(EQSNN_STREAM)
    _mm_sfence();
#endif
}

/* first position in the sorted index whose neuron is >= neuron */
static long long eqsnn_lower_bound(const long long *index, long long count, long long neuron)
{
    long long low = 0, high = count;
    while (low < high) {
        long long mid = low + (high - low) / 2;
        if (index[mid] < neuron) low = mid + 1; else high = mid;
    }
    return low;
}
"""
