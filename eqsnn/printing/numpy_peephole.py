"""Fewer NumPy calls for a lowered expression, with the same bits: for the NumPy printers.

Every NumPy op is a call over a whole array (or, in a compacted loop, a call whose cost
is mostly its overhead), so an op saved is time saved.  :func:`simplify` rewrites the
ops of one expression (:class:`~eqsnn.printing.ops.Lowered`) where IEEE 754 gives the
same result bit for bit:

* an op computed twice (same op, operands and type; never a draw) is computed once;
* a float negation read by one op only is folded into it: ``a + (-b)`` is ``a - b``
  and ``a - (-b)`` is ``a + b`` (IEEE defines ``a - b`` as ``a + (-b)``),
  ``c * (-b)`` and ``-(c * b)`` for a constant ``c`` are ``(-c) * b`` (the sign of a
  product is the XOR of the signs; the rounding of its magnitude is the same).

Only a NaN's sign bit may differ (a NaN stays a NaN).  The C printers leave this to
the compiler, which does the same.
"""

from __future__ import annotations

from .ops import Const, Lowered, Op, Temp

__all__ = ["simplify"]

_DRAWS = ("rand_uniform", "rand_normal")


def simplify(lowered: Lowered) -> Lowered:
    """``lowered`` with common ops computed once and negations folded (module docstring)."""
    ops = list(lowered.ops)
    if len(ops) < 2:
        return lowered
    result = lowered.result
    # common ops: each op's operands renamed to the first op computing the same thing
    alias: dict[int, int] = {}
    seen: dict[tuple, int] = {}

    def renamed(operand):
        return Temp(alias[operand.index]) if isinstance(operand, Temp) and \
            operand.index in alias else operand

    for index, op in enumerate(ops):
        op = ops[index] = Op(op.dest, op.op, tuple(map(renamed, op.args)), op.dtype, op.fn)
        if op.op == "call" and op.fn in _DRAWS:
            continue
        key = (op.op, op.args, op.dtype, op.fn)
        if key in seen:
            alias[index] = seen[key]
        else:
            seen[key] = index
    result = renamed(result)
    # negations read once, folded into their reader
    uses = _uses(ops, alias, result)
    for index, op in enumerate(ops):
        if index in alias or op.dtype != "float":
            continue
        folded = _fold(op, ops, uses)
        if folded is not None:
            ops[index], dropped = folded
            alias[dropped] = -1  # dead now: read by nothing
            uses = _uses(ops, alias, result)
    # drop the dead ops, renumber the others
    number: dict[int, int] = {}
    out: list[Op] = []
    for index, op in enumerate(ops):
        if index in alias:
            continue
        number[index] = len(out)
        out.append(Op(Temp(len(out)), op.op, tuple(_renumbered(a, number) for a in op.args),
                      op.dtype, op.fn))
    if len(out) == len(ops):
        return lowered
    return Lowered(tuple(out), _renumbered(result, number), lowered.dtype)


def _renumbered(operand, number: dict[int, int]):
    return Temp(number[operand.index]) if isinstance(operand, Temp) else operand


def _uses(ops, dead, result) -> dict[int, int]:
    """How many operands (and the result) read each op's value."""
    uses: dict[int, int] = {}
    for index, op in enumerate(ops):
        if index in dead:
            continue
        for arg in op.args:
            if isinstance(arg, Temp):
                uses[arg.index] = uses.get(arg.index, 0) + 1
    if isinstance(result, Temp):
        uses[result.index] = uses.get(result.index, 0) + 1
    return uses


def _negation(operand, ops, uses) -> Op | None:
    """The float ``neg`` op that ``operand`` is, where nothing else reads it."""
    if not isinstance(operand, Temp) or uses.get(operand.index) != 1:
        return None
    op = ops[operand.index]
    return op if op.op == "neg" and op.dtype == "float" else None


def _fold(op: Op, ops, uses):
    """``(new op, index of the op it makes dead)`` or None."""
    a = b = None
    if op.op in ("add", "sub", "mul"):
        a, b = (_negation(arg, ops, uses) for arg in op.args)
    if op.op == "add" and (a or b):
        negated, other = (a, op.args[1]) if a is not None else (b, op.args[0])
        return Op(op.dest, "sub", (other, negated.args[0]), "float"), negated.dest.index
    if op.op == "sub" and b is not None:
        return Op(op.dest, "add", (op.args[0], b.args[0]), "float"), b.dest.index
    if op.op == "mul" and (a or b):
        negated, other = (a, op.args[1]) if a is not None else (b, op.args[0])
        if _float_const(other):
            return (Op(op.dest, "mul", (Const(-other.value, "float"), negated.args[0]), "float"),
                    negated.dest.index)
    if op.op == "neg" and isinstance(op.args[0], Temp) and uses.get(op.args[0].index) == 1:
        product = ops[op.args[0].index]
        if product.op == "mul" and product.dtype == "float":
            for k in (0, 1):
                if _float_const(product.args[k]):
                    return (Op(op.dest, "mul", (Const(-product.args[k].value, "float"),
                                                product.args[1 - k]), "float"),
                            product.dest.index)
    return None


def _float_const(operand) -> bool:
    return isinstance(operand, Const) and operand.dtype == "float"
