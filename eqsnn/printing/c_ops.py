"""Pieces of the C printer (:mod:`eqsnn.printing.c`): one lowered op as C text, and the
function computing the values one step shares among all neurons."""

from __future__ import annotations

from .. import ir
from .c_printer import VALUE_TYPES, wrap_items
from .ops import WRAPPING_INT, Op

__all__ = ["UNIFORM_FUNCTION", "op_text", "uniform_function_text"]

#: the name of the function computing a step's uniform values (see
#: :class:`eqsnn.printing.c.StepFunction`)
UNIFORM_FUNCTION = "eqsnn_uniform_step"

_OPERATORS = {
    "add": "{} + {}", "sub": "{} - {}", "mul": "{} * {}", "div": "{} / {}", "neg": "-{}",
    "lt": "({} < {})", "le": "({} <= {})", "gt": "({} > {})", "ge": "({} >= {})",
    "eq": "({} == {})", "ne": "({} != {})", "and": "({} & {})", "or": "({} | {})",
    "not": "!{}", "select": "({} ? {} : {})",
}

def op_text(op: Op, args: list[str], printer, helpers: set, suffix: str) -> str:
    """The C text of ``op`` on the operands ``args``; notes the prelude helpers it needs."""
    kind = op.fn if op.op == "call" else op.op
    integral = op.dtype != "float"  # min, max, mod, abs: the type of their arguments
    if kind in ("rand_uniform", "rand_normal"):
        helpers.add("random")
        draw = "uniform" if kind == "rand_uniform" else "normal"
        return (f"eqsnn_{draw}_{suffix}(_seed_lo, _seed_hi, (unsigned int)step, "
                f"(unsigned int)id, (unsigned int)batch, {args[0]}u)")
    if kind == "cast":
        if op.dtype == "bool":
            return f"({args[0]} != 0)"
        return f"({VALUE_TYPES[op.dtype]}){args[0]}"
    if kind == "array_get":
        helpers.add("clamp_index")
        return f"{args[0]}[eqsnn_clamp_index({args[1]}, _len_{args[0]})]"
    if kind == "floordiv":  # ints only (lower.floor_division)
        helpers.add("ifloordiv")
        return f"eqsnn_ifloordiv({args[0]}, {args[1]})"
    if kind == "mod":
        helper = "imod" if integral else "fmod_floored"
        helpers.add(helper)
        return f"eqsnn_{helper}({args[0]}, {args[1]})"
    if kind in ("min", "max"):  # a select the compiler vectorises (fminf is a call)
        sign = "<" if kind == "min" else ">"
        if integral:
            return f"({args[0]} {sign} {args[1]} ? {args[0]} : {args[1]})"
        # fmin/fmax: a NaN argument is ignored; of -0 and +0 the second is the result,
        # as in NumPy's SIMD loops (its scalar ones, libm's, give the first)
        return (f"(({args[0]} {sign} {args[1]} || {args[1]} != {args[1]}) ? {args[0]} : "
                f"{args[1]})")
    if op.dtype == "int" and kind in WRAPPING_INT:  # int32 wraps, without -fwrapv too
        return WRAPPING_INT[kind].format(*args)
    if kind == "keep":
        helpers.add("keep")
        return f"eqsnn_keep({args[0]}, {args[1]})"
    if kind in _OPERATORS:
        return _OPERATORS[kind].format(*args)
    return printer.math_function(kind, args)


def uniform_function_text(model: ir.Model, body, scalars) -> str:
    """:data:`UNIFORM_FUNCTION`: the ops of ``body`` that are one value for all neurons of a
    step, from ``t``, ``step`` and the uniform values ``scalars``, out through pointers."""
    names, uniforms = body.names, body.uniforms
    params = ["const FLOAT t", "const int step"]
    params += [f"const {VALUE_TYPES[dtype]} {names[name]}" for name, dtype in scalars]
    params += [f"{ctype} *_p{name}" for ctype, name in uniforms]
    return "\n".join([
        f"/* What one step of {model.name} computes once for all neurons (it reads only",
        " * t, step, constants and values that are one for all neurons). */",
        f"EQSNN_FN void {UNIFORM_FUNCTION}(",
        *wrap_items(params, 4)[:-1], wrap_items(params, 4)[-1] + ")",
        "{",
        *body.uniform_lines,
        *(f"    *_p{name} = {name};" for _, name in uniforms),
        "}",
    ]) + "\n"
