"""The prelude of the C and CUDA code: the precision, helper functions and SIMD math.

:func:`prelude` is printed before the step function of :mod:`eqsnn.printing.c`
in both the ``c`` and the ``cupy`` backend's code: the ``FLOAT`` type, the
``EQSNN_FN`` qualifiers (``static inline`` in C, ``static __device__
__forceinline__`` in CUDA), the helpers the step uses, the Philox generator of
:mod:`eqsnn.rng` where it draws, and, where the ``c`` backend compiles with
``-DEQSNN_VECTOR_MATH``, declarations of glibc's SIMD math functions.
"""

from __future__ import annotations

from .. import rng

__all__ = ["prelude", "VECTOR_MATH_DECLARATIONS", "VECTOR_MATH_FUNCTIONS"]

#: C source of each helper, by the name :attr:`StepFunction.helpers` uses
_HELPERS = {
    "fmod_floored": """
/* NumPy's remainder: fmod, moved to the sign of the divisor (0 takes the divisor's sign) */
EQSNN_FN FLOAT eqsnn_fmod_floored(FLOAT a, FLOAT b)
{
    FLOAT r = fmod{f}(a, b);
    if (b == 0) return r;
    if (r != 0) {
        if ((b < 0) != (r < 0)) r += b;
    } else {
        r = copysign{f}((FLOAT)0, b);
    }
    return r;
}
""",
    "imod": """
/* floored int modulo; 0 for a zero divisor, as NumPy; 0 for -1 (INT_MIN % -1 traps) */
EQSNN_FN int eqsnn_imod(int a, int b)
{
    int r;
    if (b == 0 || b == -1) return 0;
    r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}
""",
    "ifloordiv": """
/* floored int division; 0 for a zero divisor, as NumPy; -2**31 // -1 wraps to -2**31
 * (in unsigned arithmetic: the signed division would trap) */
EQSNN_FN int eqsnn_ifloordiv(int a, int b)
{
    int q;
    if (b == 0) return 0;
    if (b == -1) return (int)(0u - (unsigned int)a);
    q = a / b;
    if (q * b != a && ((a < 0) != (b < 0))) q -= 1;
    return q;
}
""",
    "keep": """
/* value + 0 * x in one rounding, which is the same number: value where x is finite, NaN
 * where x is NaN or infinite (no compiler flag of eqsnn lets 0 * x fold to 0); one fused
 * instruction where the CPU has FMA */
EQSNN_FN FLOAT eqsnn_keep(FLOAT value, FLOAT x)
{
#if defined(__FMA__) || defined(__CUDACC__)
    return fma{f}((FLOAT)0, x, value);
#else
    return value + (FLOAT)0 * x;
#endif
}
""",
    "nonfinite": """\
/* 1 where x is NaN or infinite, from its exponent bits: no float compare, which
 * -ffinite-math-only (part of -ffast-math) would be free to fold to 0 (C99 unions
 * may reinterpret a value's bits) */
EQSNN_FN int eqsnn_nonfinite(FLOAT x)
{
    union { FLOAT value; {bits} bits; } u;
    u.value = x;
    return (u.bits & {exponent}) == {exponent};
}
""",
    "clamp_index": """
/* an array read past either end reads the nearest element */
EQSNN_FN long long eqsnn_clamp_index(long long index, long long length)
{
    return index < 0 ? 0 : (index >= length ? length - 1 : index);
}
""",
}


#: the math functions with SIMD versions in glibc's libmvec (x86-64, glibc >= 2.35) that the
#: printed step may call: ``(name, arguments)``, each in double and float (``name + "f"``)
VECTOR_MATH_FUNCTIONS = (("exp", 1), ("expm1", 1), ("log", 1), ("log1p", 1), ("sin", 1),
                         ("cos", 1), ("tanh", 1), ("pow", 2))
VECTOR_MATH_DECLARATIONS = "".join(
    f"EQSNN_SIMD {ctype} {name}{suffix}({', '.join([ctype] * arity)});\n"
    for name, arity in VECTOR_MATH_FUNCTIONS
    for ctype, suffix in (("double", ""), ("float", "f")))


def prelude(precision: str, helpers=frozenset()) -> str:
    """Types and the helpers the step uses (:attr:`StepFunction.helpers`), for C and CUDA.

    ``FLOAT`` is the model precision.  Helpers: ``eqsnn_fmod_floored``
    (NumPy's ``remainder``: the sign of the divisor), ``eqsnn_imod`` (the same
    for int, 0 for a zero divisor, as NumPy), ``eqsnn_clamp_index``, and
    ``eqsnn_nonfinite`` (NaN or infinite, from the bits), ``eqsnn_keep`` (the op
    ``keep``: NaN where its second argument is not finite), and
    (``random``) the Philox generator of :mod:`eqsnn.rng`.  Compiled with
    ``-DEQSNN_VECTOR_MATH`` (the ``c`` backend, where libmvec is there), the
    math functions are declared with their SIMD versions.
    """
    ctype = "float" if precision == "float32" else "double"
    text = """\
/* ---- eqsnn prelude: the model precision and helpers shared by C and CUDA ---- */
#ifndef EQSNN_FN
#ifdef __CUDACC__
#define EQSNN_FN static __device__ __forceinline__
#else
#define EQSNN_FN static inline
#endif
#endif
#if defined(__CUDACC_RTC__) && !defined(INFINITY)
#define INFINITY __int_as_float(0x7f800000)
#define NAN __int_as_float(0x7fffffff)
#elif !defined(__CUDACC_RTC__)
#include <math.h>
#endif
#if defined(EQSNN_VECTOR_MATH) && !defined(__CUDACC__)
/* SIMD versions of these exist in glibc's libmvec (linked with -lmvec; within 4 ulp):
 * declaring them lets the compiler vectorise the neuron loop around the calls */
#define EQSNN_SIMD __attribute__((__simd__("notinbranch")))
""" + VECTOR_MATH_DECLARATIONS + f"""#endif

typedef {ctype} FLOAT;
"""
    for name, helper in _HELPERS.items():
        if name in helpers:
            text += helper.replace("{f}", "f" if precision == "float32" else "").replace(
                "{bits}", "unsigned int" if precision == "float32" else "unsigned long long"
            ).replace("{exponent}", "0x7f800000u" if precision == "float32"
                      else "0x7ff0000000000000ull")
    return text + (rng.c_source() if "random" in helpers else "")
