"""The lowered IR: typed three-address ops, and the table of every op a printer must print.

:func:`eqsnn.printing.lower.lower` turns an expression into :class:`Op` s;
each printer (NumPy, C/CUDA, GeNN) prints every op in :data:`OPS` and every
function in :data:`CALL_FUNCTIONS`.  An :class:`Op` with a name outside the table
cannot be made, and ``tests/test_lowering.py`` runs a model that uses every
entry on every backend, so a printer that lacks one fails there, not for a
user.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InternalError

__all__ = ["Const", "ELEMENTWISE", "CALL_FUNCTIONS", "Lowered", "OPS", "Op", "Operand", "Ref",
           "Temp", "WIDE_FUNCTIONS", "WRAPPING_INT"]

#: op name -> (number of operands, what it computes)
OPS = {
    "add": (2, "a + b"),
    "sub": (2, "a - b"),
    "mul": (2, "a * b"),
    "div": (2, "a / b (always float)"),
    "floordiv": (2, "floor(a / b) of two ints, exact; 0 for b == 0; wraps for -2**31 // -1"),
    "mod": (2, "floored modulo, the sign of b (Python's %)"),
    "min": (2, "the smaller; a NaN argument is ignored"),
    "max": (2, "the larger; a NaN argument is ignored"),
    "neg": (1, "-a"),
    "lt": (2, "a < b"),
    "le": (2, "a <= b"),
    "gt": (2, "a > b"),
    "ge": (2, "a >= b"),
    "eq": (2, "a == b"),
    "ne": (2, "a != b"),
    "and": (2, "a and b (bools)"),
    "or": (2, "a or b (bools)"),
    "not": (1, "not a (bool)"),
    "cast": (1, "a converted to the op's dtype (float to int truncates toward zero)"),
    "select": (3, "b where a else c; both are evaluated"),
    "keep": (2, "a + 0 * b as written: a where b is finite, NaN where b is NaN or inf"),
    "array_get": (2, "element b of array a, b clamped to [0, len - 1]"),
    "call": (None, "the function ``fn`` (one of CALL_FUNCTIONS) of the operands"),
}

#: Functions of the ``call`` op; every one maps floats to floats except
#: ``abs``, ``floor`` and ``ceil`` (type preserving) and the random draws.
CALL_FUNCTIONS = (
    "exp", "expm1", "log", "log1p", "sqrt", "abs", "sin", "cos", "tanh",
    "floor", "ceil", "pow", "rand_uniform", "rand_normal",
)

#: functions every printer evaluates in float64 and rounds to the precision: in float32 that
#: is the correctly rounded result but where two libraries' float64 results round
#: differently (rare), so the backends agree bit for bit almost always, where each library's
#: own float32 versions differ in the last bit for ~1% of arguments; no-op in float64
WIDE_FUNCTIONS = frozenset({"exp", "expm1", "log", "log1p", "sin", "cos", "tanh", "pow"})

#: int ops of the C-family printers (C, CUDA, GeNN) in unsigned arithmetic, which wraps
#: modulo 2**32 by definition, as NumPy's int32 does: signed overflow is undefined in C,
#: CUDA and C++, and NVRTC (no -fwrapv) or GeNN's compiler may fold ``i + 1 > i`` to true;
#: the conversion back to int wraps on every compiler eqsnn uses.  Operands are printed
#: where a cast binds (unary precedence); the texts are primary or a cast (unary).
WRAPPING_INT = {
    "add": "(int)((unsigned int){} + (unsigned int){})",
    "sub": "(int)((unsigned int){} - (unsigned int){})",
    "mul": "(int)((unsigned int){} * (unsigned int){})",
    "neg": "(int)(0u - (unsigned int){})",
    "abs": "({0} < 0 ? (int)(0u - (unsigned int){0}) : {0})",
}

#: Ops computed lane by lane, so their result may overwrite an argument.
ELEMENTWISE = frozenset({
    "add", "sub", "mul", "div", "floordiv", "mod", "min", "max", "neg",
    "lt", "le", "gt", "ge", "eq", "ne", "and", "or", "not", "cast", "call", "keep",
})


@dataclass(frozen=True)
class Ref:
    """A named model value: state, local, param, precompute value, input, array or built-in."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Const:
    """A constant: ``float`` (a float64, rounded to the model precision), ``int`` or ``bool``."""

    value: float | int | bool
    dtype: str

    def __str__(self) -> str:
        return repr(self.value)


@dataclass(frozen=True)
class Temp:
    """The result of op number ``index`` of the same :class:`Lowered`."""

    index: int

    def __str__(self) -> str:
        return f"t{self.index}"


Operand = Ref | Const | Temp


@dataclass(frozen=True)
class Op:
    """``dest = op(*args)`` with result type ``dtype``; ``fn`` names the function of ``call``.

    ``array_get(Ref(array), index)`` reads an element, index clamped to the
    array; ``select(cond, a, b)`` is ``a`` where ``cond`` else ``b``.
    """

    dest: Temp
    op: str
    args: tuple[Operand, ...]
    dtype: str
    fn: str | None = None

    def __str__(self) -> str:
        name = self.fn if self.op == "call" else self.op
        if self.op == "cast":
            name = f"cast_{self.dtype}"
        return f"{self.dest} = {name}({', '.join(map(str, self.args))})"

    def __post_init__(self):
        if self.op not in OPS:
            raise InternalError(f"lowered op {self.op!r} is not in the op table")
        arity = OPS[self.op][0]
        if self.op == "call":
            if self.fn not in CALL_FUNCTIONS:
                raise InternalError(f"lowered function {self.fn!r} is not in CALL_FUNCTIONS")
        elif len(self.args) != arity:
            raise InternalError(f"lowered op {self.op!r} takes {arity} operands, "
                                f"not {len(self.args)}")


@dataclass(frozen=True)
class Lowered:
    """The ops of one expression, in evaluation order, and the operand holding its value."""

    ops: tuple[Op, ...]
    result: Operand
    dtype: str
