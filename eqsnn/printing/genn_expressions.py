"""How eqsnn names and lowered expressions read in GeNN 5's code strings.

GeNN's code strings are C-like and checked by GeNN's own transpiler: bare
names, ``scalar`` for the model precision, unsuffixed float literals of type
``scalar``, identifiers that start with a letter.  :func:`genn_names` gives
every model name a GeNN identifier (a leading ``_``, a keyword, a GeNN
built-in or library function renamed: ``_phi_V`` becomes ``phi_V_``);
:func:`float_literal` prints a ``scalar`` literal exactly;
:class:`GeNNExpressionPrinter` prints each expression, from the shared lowering
(:mod:`eqsnn.printing.lower`), as one nested C expression whose parentheses
keep the lowered evaluation order, so float64 arithmetic matches the
``numpy`` backend.  The code strings themselves are
:mod:`eqsnn.printing.genn_code`.
"""

from __future__ import annotations

import math
import re

import numpy as np

from .. import ir
from ..errors import EqsnnError
from .lower import lower
from .ops import WIDE_FUNCTIONS, WRAPPING_INT, Lowered, Ref, Temp

__all__ = ["GeNNExpressionPrinter", "GENN_TYPES", "RESERVED", "float_literal", "genn_names"]

#: GeNN type of each IR type
GENN_TYPES = {"float": "scalar", "int": "int", "bool": "bool"}

#: identifiers a model name cannot take in GeNN code (renamed with a trailing ``_``);
#: ``eqsnn_lane`` is the runners' lane param (one population per batch lane on the CPU)
RESERVED = frozenset("""
    auto break case char const continue default do double else enum extern float for goto if
    inline int long register restrict return short signed sizeof static struct switch typedef
    union unsigned void volatile while bool true false scalar timepoint size_t
    int8_t uint8_t int16_t uint16_t int32_t uint32_t int64_t uint64_t for_each_synapse
    t dt id batch Isyn num_neurons num_batch st prev_st set prev_set injectCurrent
    exp expm1 exp2 log log1p log2 log10 sqrt cbrt hypot pow sin cos tan asin acos atan atan2
    sinh cosh tanh asinh acosh atanh ceil floor fmod round rint trunc nearbyint nextafter
    remainder fabs fdim fmax fmin erf erfc tgamma lgamma copysign fma min max abs scalbn
    ldexp ilogb printf assert gennrand gennrand_uniform gennrand_normal gennrand_exponential
    gennrand_log_normal gennrand_gamma gennrand_binomial
    Abs Min Max Piecewise Matrix Mod ceiling pi Eq Ne ITE phi1
    eqsnn_lane
    and as assert async await class def del elif except finally from global import in is
    lambda nonlocal not or pass raise try with yield None True False
""".split())

_BUILTINS = {
    "t": ("(scalar)t", 15), "dt": ("(scalar)dt", 15), "step": ("(int)(int64_t)round(t / dt)", 15),
    "id": ("(int)id", 15), "batch": ("(int)batch", 15),
}
_INFIX = {  # op -> (C operator, precedence)
    "add": ("+", 12), "sub": ("-", 12), "mul": ("*", 13), "div": ("/", 13),
    "lt": ("<", 10), "le": ("<=", 10), "gt": (">", 10), "ge": (">=", 10),
    "eq": ("==", 9), "ne": ("!=", 9), "and": ("&&", 5), "or": ("||", 4),
}
_CALLS = {"abs": "fabs", "min": "fmin", "max": "fmax"}
#: float functions whose float32 result is exact from the double function too (a sqrt
#: rounded twice is rounded once), cast back to ``scalar`` in float32: GeNN prints them
#: unqualified, and C++'s <cmath> declares only the double ones outside ``std``, so on
#: GeNN's CPU backend ``0.3 * sqrt(x)`` was a double product, and so was all the arithmetic
#: up to the next assignment (the last bit off NumPy's float32 step)
_EXACT_CALLS = frozenset({"sqrt", "abs", "min", "max", "floor", "ceil"})
UNARY, PRIMARY = 15, 16


class _Names:
    """Allocates GeNN identifiers, never twice and never a reserved one."""

    def __init__(self):
        self.taken = set(RESERVED)

    def fresh(self, wanted: str) -> str:
        candidate = wanted
        if candidate.startswith("_"):
            candidate = candidate.lstrip("_") + "_"
        if not candidate or not candidate[0].isalpha():
            candidate = "v" + candidate
        while candidate in self.taken:
            candidate += "_"
        self.taken.add(candidate)
        return candidate


def genn_names(model: ir.Model) -> tuple[dict[str, str], _Names]:
    """GeNN identifier of every model name; declared names are kept where GeNN allows."""
    allocator = _Names()
    names = {}
    if any(item.name == "Isyn" and item.dtype == "float" for item in model.inputs):
        names["Isyn"] = "Isyn"  # GeNN's synaptic input (a scalar: an int or bool Isyn is
        # an additional input var of its type, Isyn_, or it would pass through a float)
    for name in model.name_types():
        if name in names:
            continue
        if name not in _BUILTINS:
            names[name] = allocator.fresh(name)
    return names, allocator


def float_literal(value: float, precision: str) -> str:
    """A GeNN ``scalar`` literal of exactly ``value`` rounded to ``precision``.

    >>> float_literal(0.1, "float32"), float_literal(0.1, "float64"), float_literal(2, "float32")
    ('0.1', '0.1', '2.0')
    """
    with np.errstate(over="ignore"):  # beyond float32's range: inf, as on the other backends
        value = float(np.float32(value)) if precision == "float32" else float(value)
    if math.isnan(value):
        return "(0.0 / 0.0)"
    if math.isinf(value):
        return "(1.0 / 0.0)" if value > 0 else "(-1.0 / 0.0)"
    text = str(np.float32(value)) if precision == "float32" else repr(value)
    return text if re.search(r"[.eE]", text) else text + ".0"


class GeNNExpressionPrinter:
    """Prints lowered expressions of one model as GeNN C expressions.

    Holds what every expression of the model shares: the GeNN names, the
    built-ins (``batch`` replaced where the runner asks), the random draws of
    the step and their names, each array's length param, the count of
    temporaries.  The statements around the expressions are
    :class:`eqsnn.printing.genn_code._StatementPrinter`.
    """

    def __init__(self, model, names, allocator, precision, batch, wide_math=True):
        self.model, self.names, self.allocator = model, names, allocator
        self.precision = precision
        self.wide = wide_math and precision == "float32"
        self.types = model.name_types()
        self.builtins = dict(_BUILTINS)
        if batch is not None:
            self.builtins["batch"] = (batch, PRIMARY)
        self.draws = self._draws()
        self.draw_names = {k: allocator.fresh(f"rand{k}") for k, _ in self.draws}
        self.array_lengths = {a.name: allocator.fresh(f"num_{names[a.name]}")
                              for a in model.arrays}
        self.temps = 0

    def _draws(self):
        kinds: dict[int, str] = {}
        for expr in self.model.expressions():
            for fn in expr.atoms(ir.RandUniform, ir.RandNormal):
                kind = "uniform" if isinstance(fn, ir.RandUniform) else "normal"
                index = int(fn.args[0])
                if kinds.setdefault(index, kind) != kind:
                    raise EqsnnError(f"draw {index} of {self.model.name} is both uniform and "
                                     "normal")
        return tuple(sorted(kinds.items()))

    # --- expressions ----------------------------------------------------
    def condition(self, expr) -> str:
        """A condition as one expression (shared values are printed where used)."""
        lowered = lower(expr, self.types, "bool")
        return self.render(lowered, inline_all=True)[1]

    def expression(self, expr, dtype: str) -> tuple[list[str], str]:
        """``(lines declaring values used more than once, the expression)``."""
        return self.render(lower(expr, self.types, dtype), inline_all=False)

    def render(self, lowered: Lowered, inline_all: bool) -> tuple[list[str], str]:
        uses: dict[int, int] = {}
        for op in lowered.ops:
            for arg in op.args:
                if isinstance(arg, Temp):
                    uses[arg.index] = uses.get(arg.index, 0) + 1
        texts: dict[int, tuple[str, int]] = {}
        pre: list[str] = []
        for index, op in enumerate(lowered.ops):
            args = [self.operand(a, texts) for a in op.args]
            text = self.op_text(op, args)
            if not inline_all and uses.get(index, 0) > 1:
                name = self.allocator.fresh(f"tmp{self.temps}")
                self.temps += 1
                pre.append(f"const {GENN_TYPES[op.dtype]} {name} = {text[0]};")
                text = (name, PRIMARY)
            texts[index] = text
        return pre, self.operand(lowered.result, texts)[0]

    def operand(self, operand, texts) -> tuple[str, int]:
        if isinstance(operand, Temp):
            return texts[operand.index]
        if isinstance(operand, Ref):
            if operand.name in self.builtins:
                return self.builtins[operand.name]
            return self.names[operand.name], PRIMARY
        if operand.dtype == "bool":
            return ("true" if operand.value else "false"), PRIMARY
        text = (float_literal(operand.value, self.precision) if operand.dtype == "float"
                else str(int(operand.value)))
        return text, (UNARY if text.startswith(("-", "(-")) else PRIMARY)

    def op_text(self, op, args) -> tuple[str, int]:
        kind = op.fn if op.op == "call" else op.op
        if op.dtype == "int" and kind in ("add", "sub", "mul", "neg", "abs"):
            text = WRAPPING_INT[kind].format(*(_wrap(a, UNARY) for a in args))
            return text, PRIMARY if kind == "abs" else UNARY
        if kind in _INFIX:
            symbol, prec = _INFIX[kind]
            return f"{_wrap(args[0], prec)} {symbol} {_wrap(args[1], prec + 1)}", prec
        if kind == "floordiv":  # floored int division, 0 for a zero divisor (as NumPy)
            a, b = _wrap(args[0], 13), _wrap(args[1], 14)
            divisor = getattr(op.args[1], "value", None)
            if divisor is not None and int(divisor) > 0:  # a positive constant
                return f"({a} / {b} - ({a} % {b} != 0 && {a} < 0))", PRIMARY
            # -2**31 / -1 traps (SIGFPE, the whole process): -1 negates, wrapping
            negated = WRAPPING_INT["neg"].format(_wrap(args[0], UNARY))
            return (f"({b} == 0 ? 0 : {b} == -1 ? {negated} : "
                    f"{a} / {b} - ({a} % {b} != 0 && (({a} < 0) != ({b} < 0))))"), PRIMARY
        if kind == "mod":
            return self.modulo(op.dtype, args, getattr(op.args[1], "value", None))
        if kind == "neg":
            text = _wrap(args[0], UNARY)
            return ("-(" + text + ")" if text.startswith("-") else "-" + text), UNARY
        if kind == "not":
            return "!" + _wrap(args[0], UNARY), UNARY
        if kind == "cast":
            return f"({GENN_TYPES[op.dtype]}){_wrap(args[0], UNARY)}", UNARY
        if kind == "keep":  # GeNN's -ffast-math may fold 0 * x: the Simulator keeps it off GeNN
            zero = float_literal(0.0, self.precision)
            return f"({_wrap(args[0], 12)} + {zero} * {_wrap(args[1], 14)})", PRIMARY
        if kind == "select":
            cond, then, otherwise = args
            return f"({_wrap(cond, 4)} ? {_wrap(then, 4)} : {_wrap(otherwise, 3)})", PRIMARY
        if kind == "array_get":
            length = self.array_lengths[op.args[0].name]
            index = f"min(max({args[1][0]}, 0), {length} - 1)"
            return f"{args[0][0]}[{index}]", PRIMARY
        if kind in ("rand_uniform", "rand_normal"):
            return self.draw_names[int(op.args[0].value)], PRIMARY
        if kind in ("min", "max", "abs") and op.dtype == "int":
            return f"{kind}({', '.join(a[0] for a in args)})", PRIMARY
        if kind in WIDE_FUNCTIONS and self.wide:
            # as every eqsnn backend: the double function, rounded to float
            wide = ", ".join(f"(double){_wrap(a, UNARY)}" for a in args)
            return f"(scalar){kind}({wide})", UNARY
        text = f"{_CALLS.get(kind, kind)}({', '.join(a[0] for a in args)})"
        if self.precision == "float32" and op.dtype == "float" and kind in _EXACT_CALLS:
            return _single(text), UNARY
        return text, PRIMARY

    def modulo(self, dtype, args, divisor=None) -> tuple[str, int]:
        """Floored modulo (the sign of the divisor), as Python's ``%`` and NumPy's ``remainder``;
        for ints 0 for a zero divisor (as NumPy) and for -1 (``INT_MIN % -1`` traps)."""
        a, b = _wrap(args[0], 13), _wrap(args[1], 14)
        if dtype == "int":
            if divisor is not None and int(divisor) > 0:  # a positive constant
                # not (a % b + b) % b: a % b + b overflows for b above 2**30
                return f"({a} % {b} < 0 ? {a} % {b} + {b} : {a} % {b})", PRIMARY
            r = f"{a} % {b}"
            return (f"({b} == 0 || {b} == -1 ? 0 : ({r} != 0 && (({r} < 0) != ({b} < 0)) ? "
                    f"{r} + {b} : {r}))"), PRIMARY
        r, zero = f"fmod({args[0][0]}, {args[1][0]})", f"copysign(0.0, {args[1][0]})"
        if self.precision == "float32":
            r, zero = _single(r), _single(zero)
        return (f"({r} != 0.0 ? ((({b} < 0.0) != ({r} < 0.0)) ? {r} + {b} : {r})"
                f" : {zero})"), PRIMARY


def _single(call: str) -> str:
    """``call`` (a C math function's) as a ``scalar``."""
    return f"(scalar){call}"


def _wrap(text_prec: tuple[str, int], minimum: int) -> str:
    """The text, in parentheses where its precedence is below ``minimum``."""
    text, prec = text_prec
    return text if prec >= minimum else f"({text})"
