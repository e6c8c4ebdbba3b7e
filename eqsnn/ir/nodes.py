"""The IR's building blocks: declarations, precompute items, statements and the
functions expressions may call.  :class:`~eqsnn.ir.Model` lives in
:mod:`eqsnn.ir.model`; the package doc says what the IR means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

import sympy
from sympy.codegen.cfunctions import expm1, log1p

__all__ = [
    "Array", "Assign", "BUILTINS", "Constraint", "Derived", "If", "Input", "Local", "Method",
    "Param", "Propagator", "Readout", "State", "Statement", "ArrayGet", "RandNormal",
    "RandUniform", "While", "phi1", "expm1", "log1p", "DTYPES", "walk_statements",
    "keep_nonfinite", "map_statements", "mod", "floor_div",
]

#: Names every model can read: time at the start of the step, the step index
#: (both count from the last reset), the time step, the flat neuron index and
#: the batch lane.
BUILTINS = ("t", "step", "dt", "id", "batch")

#: Types of the built-ins.
BUILTIN_TYPES = {"t": "float", "dt": "float", "step": "int", "id": "int", "batch": "int"}

#: Element types of params, states, inputs and locals.  ``float`` is the
#: simulation precision (float32 or float64), chosen when the model is run.
DTYPES = ("float", "int", "bool")


class phi1(sympy.Function):
    """``phi1(z) = expm1(z)/z`` with ``phi1(0) = 1``; backends evaluate it stably near 0.

    >>> phi1(0)
    1
    """

    nargs = 1

    @classmethod
    def eval(cls, z):
        if z.is_zero:
            return sympy.Integer(1)
        return None

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return sympy.Piecewise((sympy.Integer(1), sympy.Eq(z, 0)), ((sympy.exp(z) - 1) / z, True))

    def fdiff(self, argindex=1):
        z = self.args[0]
        return (sympy.exp(z) - phi1(z)) / z


class keep_nonfinite(sympy.Function):
    """``keep_nonfinite(value, x)``: ``value + 0·x`` evaluated as written, so ``value``
    wherever ``x`` is finite and NaN wherever ``x`` is NaN or infinite.

    The numerical check (:func:`eqsnn.runtime.checks.with_checks`) wraps an assignment
    that would overwrite a state with it (a reset's ``V = v_reset``): a state that became
    NaN or infinite then stays so, and its test can wait for the end of the run.  SymPy
    never simplifies it away (``0·x`` is not 0 for NaN or inf)."""

    nargs = 2


def _plain_number(value) -> bool:
    """A finite SymPy number that ``float()`` and ``int()`` take as it is."""
    return isinstance(value, (sympy.Integer, sympy.Rational, sympy.Float)) and value.is_finite


class mod(sympy.Function):
    """``mod(a, b)``: the language's ``a % b``, the floored remainder (the sign of ``b``, as
    Python's ``%`` and NumPy's ``remainder``; ints: 0 for ``b == 0``).

    Not SymPy's ``Mod``, which rewrites its argument: it reduces a constant term modulo
    the divisor in its own arithmetic (``Mod(x + 1.3, 0.5)`` becomes ``Mod(x + 0.3, 0.5)``,
    another number once rounded, which can move the result by a whole ``b``) and
    evaluates ``Mod(1.0, 0.1)`` to 0 where the float remainder is 0.09999999999999995.
    ``mod`` evaluates only two plain numbers, in float64 as the backends do (two ints as
    ints).

    >>> float(mod(sympy.Float(1.0), sympy.Float(0.1)))
    0.09999999999999995
    >>> mod(sympy.Integer(-7), sympy.Integer(3))
    2
    """

    nargs = 2

    @classmethod
    def eval(cls, a, b):
        if not (_plain_number(a) and _plain_number(b)) or b.is_zero:
            return None
        if a.is_Integer and b.is_Integer:
            return sympy.Integer(int(a) % int(b))
        return sympy.Float(float(a) % float(b))


class floor_div(sympy.Function):
    """``floor_div(a, b)``: the language's ``a // b``.  Of floats, ``floor(a / b)`` of the
    rounded quotient (``1.0 // 0.1`` is 10.0, where Python's divmod gives 9.0); of two
    ints, the exact floored quotient in int arithmetic (0 for ``b == 0``, ``-2**31 // -1``
    wraps), the lowering's ``floordiv``.

    Kept apart from ``floor(a / b)``, which SymPy writes as ``floor(a * b**-1)``: hoisting
    and constant folding turn that into a product with the rounded reciprocal, and
    ``49.0 * (1 / 49.0)`` is 0.9999999999999999, whose floor is 0, not 1.  And a written
    ``floor(a / b)`` of ints stays the floor of a true division (``floor(5 / 0)`` is inf).

    >>> float(floor_div(sympy.Float(49.0), sympy.Float(49.0)))
    1.0
    >>> floor_div(sympy.Integer(-7), sympy.Integer(2))
    -4
    """

    nargs = 2

    @classmethod
    def eval(cls, a, b):
        if not (_plain_number(a) and _plain_number(b)) or b.is_zero:
            return None
        if a.is_Integer and b.is_Integer:
            return sympy.Integer(int(a) // int(b))
        quotient = float(a) / float(b)
        return sympy.Float(math.floor(quotient) if math.isfinite(quotient) else quotient)


class RandUniform(sympy.Function):
    """A uniform draw in the open interval (0, 1); the argument numbers the draw within a step."""

    nargs = 1


class RandNormal(sympy.Function):
    """A standard normal draw; the argument numbers the draw within a step."""

    nargs = 1


class ArrayGet(sympy.Function):
    """``ArrayGet(Symbol(array), index)``: element of a read-only array.

    The index is clamped to ``[0, len - 1]``, so a guarded read past the end
    (evaluated anyway by vectorised backends) is harmless.
    """

    nargs = 2


@dataclass(frozen=True)
class Constraint:
    """A bound a param must satisfy, e.g. ``tau_mem > 0``."""

    op: str  # one of > >= < <= !=
    bound: float

    def holds(self, value):
        import numpy as np

        value = np.asarray(value, dtype=float)
        ops = {
            ">": np.greater, ">=": np.greater_equal, "<": np.less,
            "<=": np.less_equal, "!=": np.not_equal,
        }
        return ops[self.op](value, self.bound)

    def __str__(self) -> str:
        return f"{self.op} {self.bound:g}"


@dataclass(frozen=True)
class Param:
    name: str
    dtype: str = "float"
    default: float | int | bool | None = None
    constraints: tuple[Constraint, ...] = ()


@dataclass(frozen=True)
class State:
    name: str
    dtype: str = "float"
    init: sympy.Basic = sympy.Integer(0)  # over params (host-evaluated, per neuron)
    #: sane values (``state V = -70 (> -1000, < 1000)``), checked after every step
    bounds: tuple[Constraint, ...] = ()


@dataclass(frozen=True)
class Input:
    name: str
    dtype: str = "float"
    default: float | None = None


@dataclass(frozen=True)
class Array:
    """A read-only flat array supplied when the model is instantiated."""

    name: str
    dtype: str = "float"


@dataclass(frozen=True)
class Derived:
    """``name = expr``, over params, ``dt`` and earlier precompute values; float64 on the host."""

    name: str
    expr: sympy.Basic


@dataclass(frozen=True)
class Propagator:
    """Exact propagators of the linear system ``x' = A x + f`` over one step.

    ``phi[i][j]`` names the entry of ``e^{A dt}`` and ``gamma[i][j]`` the entry
    of ``∫_0^dt e^{A s} ds``; ``None`` where the entry is structurally zero or
    unused.  The host evaluates them per neuron from the augmented matrix
    exponential ``expm([[A, I], [0, 0]] dt)`` (no inverse of A, so singular
    and repeated eigenvalues are exact).  ``noise`` is the matrix ``G`` of
    the additive white-noise terms ``G ξ``; then ``chol[i][j]`` names the
    entries of a square root ``L`` of the covariance
    ``Q = ∫_0^dt e^{A s} G Gᵀ e^{Aᵀ s} ds`` (Van Loan), so that the update
    adds ``L z`` with ``z`` standard normal.
    """

    matrix: sympy.ImmutableMatrix
    phi: tuple[tuple[str | None, ...], ...]
    gamma: tuple[tuple[str | None, ...], ...]
    noise: sympy.ImmutableMatrix | None = None
    chol: tuple[tuple[str | None, ...], ...] | None = None

    def names(self) -> tuple[str, ...]:
        rows = list(self.phi) + list(self.gamma) + list(self.chol or ())
        return tuple(name for row in rows for name in row if name is not None)


PrecomputeItem = Union[Derived, Propagator]


@dataclass(frozen=True)
class Assign:
    """``target = expr`` where target is a state or an earlier local."""

    target: str
    expr: sympy.Basic


@dataclass(frozen=True)
class Local:
    """Declares a step-local value (visible to the end of the step)."""

    name: str
    dtype: str
    expr: sympy.Basic


@dataclass(frozen=True)
class If:
    cond: sympy.Basic
    body: tuple[Statement, ...]
    orelse: tuple[Statement, ...] = ()


@dataclass(frozen=True)
class While:
    """Run ``body`` while ``cond`` holds, at most ``limit`` times, neuron by neuron.

    ``cond`` is tested before every iteration; a neuron where it does not
    hold runs no more iterations (its values then stay as they are, so
    vectorised backends may run the loop for all neurons, masked, until the
    condition fails everywhere).  ``limit`` bounds the work of a step (a GPU
    kernel stays bounded); the body itself must make ``cond`` false in time
    where that matters.  Locals of the body are the step's locals.
    """

    cond: sympy.Basic
    body: tuple[Statement, ...]
    limit: int


Statement = Union[Assign, Local, If, While]


@dataclass(frozen=True)
class Method:
    """The integration method chosen and, for every method considered, why it was or was not."""

    name: str  # "exact", "exponential_euler", "rk4", "midpoint", "euler", "none"
    reasons: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Readout:
    """How ``Result.readout`` is computed from the state after a run.

    ``kind`` is the readout's name (``spike_count``, ``avg_var``, ...),
    ``state`` the state holding the value, ``reset`` the states restored to
    their initial value at the start of every run (readouts restart per run).
    """

    kind: str
    state: str
    reset: tuple[str, ...] = ()


def walk_statements(statements):
    """Every statement, depth first, branches included."""
    for stmt in statements:
        yield stmt
        if isinstance(stmt, If):
            yield from walk_statements(stmt.body)
            yield from walk_statements(stmt.orelse)
        elif isinstance(stmt, While):
            yield from walk_statements(stmt.body)


def map_statements(statements, expr, name=None) -> tuple:
    """``statements`` with ``expr`` applied to every expression (conditions included) and
    ``name`` (if given) to every assigned name, through ``If`` and ``While`` bodies."""
    name = name or (lambda text: text)
    out = []
    for stmt in statements:
        if isinstance(stmt, If):
            stmt = If(expr(stmt.cond), map_statements(stmt.body, expr, name),
                      map_statements(stmt.orelse, expr, name))
        elif isinstance(stmt, While):
            stmt = While(expr(stmt.cond), map_statements(stmt.body, expr, name), stmt.limit)
        elif isinstance(stmt, Local):
            stmt = Local(name(stmt.name), stmt.dtype, expr(stmt.expr))
        else:
            stmt = Assign(name(stmt.target), expr(stmt.expr))
        out.append(stmt)
    return tuple(out)
