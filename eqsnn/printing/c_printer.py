"""The C spelling of eqsnn's values: identifiers, types, literals and math functions.

What every C and CUDA text of eqsnn is printed from: :func:`c_names` gives
each name the step reads a C identifier that shadows no keyword or math
function; :data:`VALUE_TYPES` and :data:`STORAGE_TYPES` are the C types of a
value in registers and in memory; :class:`CPrinter` prints a float literal
rounded to the precision and read back exactly, and a math function by
SymPy's C99 name for the precision (``expf`` in float32), or in double where
the numpy backend computes it so; :func:`wrap_items` breaks a parameter or
argument list into lines.  The step function is :mod:`eqsnn.printing.c`.
"""

from __future__ import annotations

import math

import numpy as np
import sympy
from sympy.codegen.ast import float32, real
from sympy.codegen.cfunctions import expm1, log1p
from sympy.printing.c import C99CodePrinter

from .. import ir
from .ops import WIDE_FUNCTIONS

__all__ = ["CPrinter", "c_names", "wrap_items", "STORAGE_TYPES", "VALUE_TYPES"]

#: C type of values held in registers (temporaries, locals, states while stepping)
VALUE_TYPES = {"float": "FLOAT", "int": "int", "bool": "int"}
#: C type of an element of a state, input, value or data array in memory
STORAGE_TYPES = {"float": "FLOAT", "int": "int", "bool": "unsigned char"}

_SYMPY_FUNCTIONS = {
    "exp": sympy.exp, "expm1": expm1, "log": sympy.log, "log1p": log1p,
    "abs": sympy.Abs, "sin": sympy.sin, "cos": sympy.cos, "tanh": sympy.tanh,
    "floor": sympy.floor, "ceil": sympy.ceiling,
}
# C99, C++ (CUDA) and preprocessor names a model name must not shadow
_RESERVED = frozenset("""
    auto break case char const continue default do double else enum extern float for goto if
    inline int long register restrict return short signed sizeof static struct switch typedef
    union unsigned void volatile while bool true false class delete new this template typename
    namespace operator private public protected friend virtual explicit mutable using try catch
    throw asm export nullptr constexpr decltype noexcept alignas alignof static_assert
    thread_local wchar_t char16_t char32_t and or not xor bitand bitor compl and_eq or_eq xor_eq
    not_eq dynamic_cast static_cast const_cast reinterpret_cast typeid FLOAT NULL NAN INFINITY
    EQSNN_FN exp expf expm1 expm1f log logf log1p log1pf sqrt sqrtf fabs fabsf sin sinf cos cosf
    tanh tanhf floor floorf ceil ceilf pow powf fmin fminf fmax fmaxf fmod fmodf copysign
    copysignf abs main
""".split())


def c_names(model: ir.Model) -> dict[str, str]:
    """A distinct C identifier for every name the step can read.

    Model names are kept unless they start with ``_`` (printed ``m_...``; the
    printer's own names all start with ``_`` or ``eqsnn_``) or would shadow a
    keyword or a math function (a ``_`` is appended).
    """
    names = {name: name for name in ("t", "step", "dt", "id", "batch")}
    taken = set(names.values()) | _RESERVED
    for name in model.name_types():
        if name in names:
            continue
        candidate = "m" + name if name.startswith("_") else name
        if candidate.startswith("eqsnn_") or candidate.startswith("EQSNN_"):
            candidate = "m_" + candidate
        while candidate in taken:
            candidate += "_"
        names[name] = candidate
        taken.add(candidate)
    return names


class CPrinter(C99CodePrinter):
    """SymPy's C99 printer in the model precision: ``expf``/``1.0f`` in float32.

    Float literals are rounded to the precision in Python and printed so that
    the compiler reads exactly that value back (NumPy rounds the float64
    constant once; a decimal literal read directly as float could round
    differently).
    """

    def __init__(self, precision: str, wide_math: bool = True):
        settings = {"type_aliases": {real: float32}} if precision == "float32" else {}
        super().__init__(settings)
        self.precision = precision
        # float32 transcendental functions as the double function rounded to float, as the
        # numpy backend computes them (see WIDE_FUNCTIONS); fast_math turns this off
        self.wide = wide_math and precision == "float32"
        self._templates: dict[str, str] = {}

    def _print_Float(self, expr):
        return self.float_literal(float(expr))

    def float_literal(self, value: float) -> str:
        """``value`` (a float64) rounded to the precision, as an exact C literal."""
        if math.isnan(value):
            return "((FLOAT)NAN)"
        if self.precision == "float32":
            with np.errstate(over="ignore"):  # as numpy rounds it: 1e39 is inf in float32
                value = value if math.isinf(value) else float(np.float32(value))
        if math.isinf(value):
            return "((FLOAT)INFINITY)" if value > 0 else "(-(FLOAT)INFINITY)"
        if self.precision == "float32":
            text = repr(value)  # a float32 value, read back exactly
        else:
            text = repr(value)
        if "e" not in text and "." not in text:
            text += ".0"
        text = text if self.precision == "float64" else text + "f"
        return f"({text})" if value < 0 or text.startswith("-") else text

    def math_function(self, fn: str, args: list[str]) -> str:
        """``fn(args)`` with SymPy's C99 name for the precision (``exp`` -> ``expf``); in
        float32 a :data:`WIDE_FUNCTIONS` one is ``(float)exp((double)x)``."""
        if self.wide and fn in WIDE_FUNCTIONS:
            wide = CPrinter("float64").math_function(fn, [f"(double){a}" for a in args])
            return f"((float){wide})"
        if fn not in self._templates:
            symbols = sympy.symbols("_x0 _x1")
            if fn == "pow":
                expr = sympy.Pow(*symbols, evaluate=False)
            elif fn == "sqrt":
                expr = sympy.sqrt(symbols[0])
            elif fn in ("min", "max"):
                expr = (sympy.Min if fn == "min" else sympy.Max)(*symbols)
            else:
                expr = _SYMPY_FUNCTIONS[fn](symbols[0])
            self._templates[fn] = self.doprint(expr).replace("_x0", "{0}").replace("_x1", "{1}")
        return self._templates[fn].format(*args)


def wrap_items(items, indent: int, width: int = 96) -> list[str]:
    """``items`` joined by ``", "`` into lines of at most ``width``, broken between items."""
    lines, line = [], ""
    for item in items:
        if line and len(line) + len(item) + 2 > width - indent:
            lines.append(" " * indent + line + ",")
            line = ""
        line = f"{line}, {item}" if line else item
    return lines + [" " * indent + line]
