"""GeNN printer: one model's step as the code strings of a GeNN 5 neuron model.

GeNN's code strings are C-like and checked by GeNN's own transpiler: bare
names, ``scalar`` for the model precision, unsuffixed float literals of
type ``scalar``, identifiers that start with a letter.  This printer starts
from the shared lowering (:mod:`eqsnn.printing.lower`) and prints each
expression as one nested C expression whose parentheses keep the lowered
evaluation order, so float64 arithmetic matches the ``numpy`` backend.
The rest of a GeNN neuron model (params, vars, derived params, extra global
params, additional input vars) is :mod:`eqsnn.printing.genn`, which
re-exports this module's names; printing the code is kept apart from
deciding what each name becomes.

How the IR maps to GeNN:

* ``sim_code``: the random draws of the step (``const scalar rand0 =
  gennrand_uniform();``, in draw order, every step), then the ``step``
  statements.  A local declared inside an ``if`` is declared (zero) at the
  top, since GeNN locals, like C's, end with their block; locals of the sim
  code are visible to the threshold and the reset (GeNN prints the three
  into one block).
* ``threshold_condition_code``: the threshold, one expression.  A model with
  a negative threshold instead sets the int8 state ``SpikeSign`` at the end
  of the sim code (+1 where the threshold holds, -1 where only the negative
  one does, else 0); its threshold is ``SpikeSign != 0`` and its reset runs
  ``reset`` or ``negative_reset`` by the sign.
* built-ins: ``t`` is ``(scalar)t`` and ``dt`` ``(scalar)dt`` (eqsnn rounds
  ``step * dt``, computed in float64, to the precision: exact when GeNN's
  time precision is double), ``step`` is ``(int)round(t / dt)``, ``id`` and
  ``batch`` are cast to int (GeNN's are unsigned).
* names that GeNN cannot take (a leading ``_``, a keyword, a GeNN built-in
  or library function) are renamed: ``_phi_V`` becomes ``phi_V_``;
  :func:`genn_names` gives the mapping.
* arrays (GeNN extra global params) read their index clamped to
  ``[0, num_<array> - 1]``, ``num_<array>`` being an int param.

>>> import sympy
>>> from eqsnn import ir
>>> V = sympy.Symbol("V")
>>> model = ir.Model("Leak", states=(ir.State("V"),), precompute=(
...     ir.Derived("_phi", sympy.exp(-sympy.Symbol("dt"))),),
...     step=(ir.Assign("V", sympy.Symbol("_phi") * V),), threshold=V > 1)
>>> code = print_genn(model, "float64")
>>> print(code.sim_code)
V = V * phi_;
>>> code.threshold_condition_code
'V > 1.0'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .. import ir
from ..errors import EqsnnError
from .lower import lower
from .ops import WIDE_FUNCTIONS, Lowered, Ref, Temp

__all__ = ["GENN_TYPES", "GeNNCode", "RESERVED", "float_literal", "genn_names", "print_genn"]

#: GeNN type of each IR type
GENN_TYPES = {"float": "scalar", "int": "int", "bool": "bool"}

#: identifiers a model name cannot take in GeNN code (renamed with a trailing ``_``)
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
    and as assert async await class def del elif except finally from global import in is
    lambda nonlocal not or pass raise try with yield None True False
""".split())

_BUILTINS = {
    "t": ("(scalar)t", 15), "dt": ("(scalar)dt", 15), "step": ("(int)round(t / dt)", 15),
    "id": ("(int)id", 15), "batch": ("(int)batch", 15),
}
_INFIX = {  # op -> (C operator, precedence)
    "add": ("+", 12), "sub": ("-", 12), "mul": ("*", 13), "div": ("/", 13),
    "lt": ("<", 10), "le": ("<=", 10), "gt": (">", 10), "ge": (">=", 10),
    "eq": ("==", 9), "ne": ("!=", 9), "and": ("&&", 5), "or": ("||", 4),
}
_CALLS = {"abs": "fabs", "min": "fmin", "max": "fmax"}
_ZERO = {"float": "0.0", "int": "0", "bool": "false"}
UNARY, PRIMARY = 15, 16


@dataclass(frozen=True)
class GeNNCode:
    """The code strings of one model and the names they use.

    ``names`` maps every eqsnn name the code can read to its GeNN
    identifier; ``draws`` lists ``(draw index, "uniform" | "normal")`` in the
    order the sim code draws them; ``sign_var`` is the GeNN name of the
    spike-sign state of a model with a negative threshold, else ``None``;
    ``array_lengths`` maps an array's eqsnn name to its length param.
    """

    names: dict
    sim_code: str
    threshold_condition_code: str | None
    reset_code: str | None
    draws: tuple = ()
    sign_var: str | None = None
    array_lengths: dict | None = None


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
    if any(item.name == "Isyn" for item in model.inputs):
        names["Isyn"] = "Isyn"  # GeNN's synaptic input
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
    value = float(np.float32(value)) if precision == "float32" else float(value)
    if math.isnan(value):
        return "(0.0 / 0.0)"
    if math.isinf(value):
        return "(1.0 / 0.0)" if value > 0 else "(-1.0 / 0.0)"
    text = str(np.float32(value)) if precision == "float32" else repr(value)
    return text if re.search(r"[.eE]", text) else text + ".0"


def print_genn(model: ir.Model, precision: str = "float32", batch: str | None = None, *,
               wide_math: bool = True) -> GeNNCode:
    """The sim, threshold and reset code of ``model``.

    ``batch`` replaces the built-in ``batch`` by another int expression (the
    runner uses a param where each batch lane is its own population).  In a
    float model ``wide_math`` prints the :data:`~eqsnn.printing.ops.WIDE_FUNCTIONS`
    as the double function rounded, ``(scalar)exp((double)x)``, as every eqsnn
    backend computes them; off (``fast_math``), GeNN's float functions.
    """
    names, allocator = genn_names(model)
    printer = _Printer(model, names, allocator, precision, batch, wide_math)
    return printer.print()


class _Printer:
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
        self.declared: set[str] = set()
        self.temps = 0
        blocks = (model.step, model.reset, model.negative_reset)
        self.assigned = {s.target for block in blocks for s in ir.walk_statements(block)
                         if isinstance(s, ir.Assign)}

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

    # --- whole model ----------------------------------------------------
    def print(self) -> GeNNCode:
        model = self.model
        lines = [f"const scalar {self.draw_names[k]} = gennrand_{kind}();"
                 for k, kind in self.draws]
        nested = self._nested_locals(model.step)
        lines += [f"{GENN_TYPES[self.types[name]]} {self.names[name]} = "
                  f"{_ZERO[self.types[name]]};" for name in nested]
        self.declared.update(nested)
        lines += self.block(model.step, 0)
        sign_var = None
        if model.signed:
            sign_var = self.allocator.fresh("SpikeSign")
            lines += self.sign_lines(sign_var)
            threshold = f"{sign_var} != 0"
            reset = self.signed_reset(sign_var)
        else:
            threshold = None if model.threshold is None else self.condition(model.threshold)
            reset = self.reset_block(model.reset)
        return GeNNCode(
            names=dict(self.names), sim_code="\n".join(lines),
            threshold_condition_code=threshold, reset_code=reset or None,
            draws=self.draws, sign_var=sign_var, array_lengths=dict(self.array_lengths))

    def sign_lines(self, sign: str) -> list[str]:
        model = self.model
        lines = [f"{sign} = 0;"]
        if model.threshold is not None:
            lines.append(f"if ({self.condition(model.threshold)}) {{")
            lines.append(f"    {sign} = 1;")
            lines.append(f"}} else if ({self.condition(model.negative_threshold)}) {{")
        else:
            lines.append(f"if ({self.condition(model.negative_threshold)}) {{")
        lines += [f"    {sign} = -1;", "}"]
        return lines

    def signed_reset(self, sign: str) -> str:
        positive = self.reset_block(self.model.reset)
        negative = self.reset_block(self.model.negative_reset)
        lines = []
        if positive:
            lines += [f"if ({sign} > 0) {{", *_indent(positive.splitlines()), "}"]
        if negative:
            lines += ["else {" if positive else f"if ({sign} < 0) {{",
                      *_indent(negative.splitlines()), "}"]
        return "\n".join(lines)

    def reset_block(self, statements) -> str:
        nested = [n for n in self._nested_locals(statements) if n not in self.declared]
        lines = [f"{GENN_TYPES[self.types[n]]} {self.names[n]} = {_ZERO[self.types[n]]};"
                 for n in nested]
        self.declared.update(nested)
        return "\n".join(lines + self.block(statements, 0))

    def _nested_locals(self, statements) -> list[str]:
        """Locals that must be declared up front: declared in an ``if`` or more than once."""
        seen, nested = set(), []
        for stmt in statements:
            if isinstance(stmt, ir.If):
                branch_locals = [s for block in (stmt.body, stmt.orelse)
                                 for s in ir.walk_statements(block) if isinstance(s, ir.Local)]
                for local in branch_locals:
                    if local.name not in nested and local.name not in self.declared:
                        nested.append(local.name)
            elif isinstance(stmt, ir.Local):
                if stmt.name in seen and stmt.name not in nested:
                    nested.append(stmt.name)
                seen.add(stmt.name)
        return nested

    # --- statements -----------------------------------------------------
    def block(self, statements, depth: int) -> list[str]:
        lines: list[str] = []
        for stmt in statements:
            if isinstance(stmt, ir.If):
                pre, cond = self.expression(stmt.cond, "bool")
                lines += pre + [f"if ({cond}) {{"]
                lines += _indent(self.block(stmt.body, depth + 1))
                if stmt.orelse:
                    lines += ["} else {", *_indent(self.block(stmt.orelse, depth + 1))]
                lines.append("}")
                continue
            target = stmt.name if isinstance(stmt, ir.Local) else stmt.target
            pre, value = self.expression(stmt.expr, self.types[target])
            lines += pre
            name = self.names[target]
            if isinstance(stmt, ir.Local) and target not in self.declared:
                self.declared.add(target)
                const = "" if target in self.assigned else "const "
                lines.append(f"{const}{GENN_TYPES[stmt.dtype]} {name} = {value};")
            else:
                lines.append(f"{name} = {value};")
        return lines

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
        if kind in _INFIX:
            symbol, prec = _INFIX[kind]
            return f"{_wrap(args[0], prec)} {symbol} {_wrap(args[1], prec + 1)}", prec
        if kind == "floordiv":  # floored int division, 0 for a zero divisor (as NumPy)
            a, b = _wrap(args[0], 13), _wrap(args[1], 14)
            divisor = getattr(op.args[1], "value", None)
            if divisor is not None and int(divisor) > 0:  # a positive constant
                return f"({a} / {b} - ({a} % {b} != 0 && {a} < 0))", PRIMARY
            return (f"({b} == 0 ? 0 : {a} / {b} - ({a} % {b} != 0 && "
                    f"(({a} < 0) != ({b} < 0))))"), PRIMARY
        if kind == "mod":
            return self.modulo(op.dtype, args, getattr(op.args[1], "value", None))
        if kind == "neg":
            text = _wrap(args[0], UNARY)
            return ("-(" + text + ")" if text.startswith("-") else "-" + text), UNARY
        if kind == "not":
            return "!" + _wrap(args[0], UNARY), UNARY
        if kind == "cast":
            return f"({GENN_TYPES[op.dtype]}){_wrap(args[0], UNARY)}", UNARY
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
        return f"{_CALLS.get(kind, kind)}({', '.join(a[0] for a in args)})", PRIMARY

    def modulo(self, dtype, args, divisor=None) -> tuple[str, int]:
        """Floored modulo (the sign of the divisor), as Python's ``%`` and NumPy's ``remainder``;
        for ints 0 for a zero divisor (as NumPy) and for -1 (``INT_MIN % -1`` traps)."""
        a, b = _wrap(args[0], 13), _wrap(args[1], 14)
        if dtype == "int":
            if divisor is not None and int(divisor) > 0:  # a positive constant
                return f"(({a} % {b}) + {b}) % {b}", 13
            r = f"{a} % {b}"
            return (f"({b} == 0 || {b} == -1 ? 0 : ({r} != 0 && (({r} < 0) != ({b} < 0)) ? "
                    f"{r} + {b} : {r}))"), PRIMARY
        r = f"fmod({args[0][0]}, {args[1][0]})"
        return (f"({r} != 0.0 ? ((({b} < 0.0) != ({r} < 0.0)) ? {r} + {b} : {r})"
                f" : copysign(0.0, {args[1][0]}))"), PRIMARY


def _wrap(text_prec: tuple[str, int], minimum: int) -> str:
    """The text, in parentheses where its precedence is below ``minimum``."""
    text, prec = text_prec
    return text if prec >= minimum else f"({text})"


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]
