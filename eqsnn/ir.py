"""The intermediate representation every backend consumes.

An :class:`Model` is a frozen description of one step of one neuron:

* ``params``, ``states``, ``inputs``, ``arrays``: the declarations;
* ``precompute``: values that depend only on params and ``dt``, evaluated on
  the host in float64 (per neuron where a param is per neuron) by
  :func:`eqsnn.host.evaluate_precompute`;
* ``step``: the ordered statements of one step (before, the integration
  derived by the solver, after, readout accumulators);
* ``threshold`` / ``negative_threshold`` and their ``reset`` statements;
* ``method``: the integration method chosen, with the reason every other
  method was rejected.

Expressions are SymPy objects over plain ``Symbol`` s named as the
declarations (no assumptions), the built-ins :data:`BUILTINS`, and the
functions defined below.  The meaning of the IR is given by the ``numpy``
backend, which executes it literally.

Semantics of one step (DESIGN §3): inputs are read (zero-order hold); the
``step`` statements run in order; threshold is tested on the updated state;
where it holds ``reset`` runs and a spike stamped with time ``t`` is emitted;
where it does not and ``negative_threshold`` holds, ``negative_reset`` runs
and a negative spike is emitted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Union

import sympy
from sympy.codegen.cfunctions import expm1, log1p

from .errors import EqsnnError

__all__ = [
    "Array", "Assign", "BUILTINS", "Constraint", "Derived", "If", "Input", "Local", "Method",
    "Model", "Param", "Propagator", "Readout", "State", "Statement", "ArrayGet", "RandNormal",
    "RandUniform", "While", "phi1", "expm1", "log1p", "DTYPES", "walk_statements",
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


@dataclass(frozen=True)
class Model:
    name: str
    doc: str = ""
    params: tuple[Param, ...] = ()
    states: tuple[State, ...] = ()
    inputs: tuple[Input, ...] = ()
    arrays: tuple[Array, ...] = ()
    precompute: tuple[PrecomputeItem, ...] = ()
    step: tuple[Statement, ...] = ()
    threshold: sympy.Basic | None = None
    reset: tuple[Statement, ...] = ()
    negative_threshold: sympy.Basic | None = None
    negative_reset: tuple[Statement, ...] = ()
    method: Method = Method("none")
    readout: Readout | None = None
    #: the ODEs as written after switches and lets (for display): (var, rhs)
    odes: tuple[tuple[str, sympy.Basic], ...] = ()
    #: run-time params that the Simulator sets itself (e.g. the run length of avg_var)
    runtime_params: tuple[str, ...] = ()
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    # --- lookups -------------------------------------------------------
    def param(self, name: str) -> Param:
        return _by_name(self.params, name)

    def state(self, name: str) -> State:
        return _by_name(self.states, name)

    def input(self, name: str) -> Input:
        return _by_name(self.inputs, name)

    @property
    def precompute_names(self) -> tuple[str, ...]:
        names: list[str] = []
        for item in self.precompute:
            names.extend([item.name] if isinstance(item, Derived) else item.names())
        return tuple(names)

    @property
    def spiking(self) -> bool:
        return self.threshold is not None or self.negative_threshold is not None

    @property
    def signed(self) -> bool:
        return self.negative_threshold is not None

    def random_draws(self) -> int:
        """Number of random draws one step makes (draw indices are 0..n-1)."""
        draws = [0]
        for expr in self.expressions():
            for fn in expr.atoms(RandUniform, RandNormal):
                draws.append(int(fn.args[0]) + 1)
        return max(draws)

    def locals(self) -> list[Local]:
        """Every local the per-step code defines (step, reset and negative reset)."""
        blocks = (self.step, self.reset, self.negative_reset)
        return [s for block in blocks for s in walk_statements(block) if isinstance(s, Local)]

    def name_types(self) -> dict[str, str]:
        """Type (float/int/bool) of every name the per-step code can read."""
        types = dict(BUILTIN_TYPES)
        types.update({name: "int" for name in self.runtime_params})
        types.update({p.name: p.dtype for p in self.params})
        types.update({name: "float" for name in self.precompute_names})
        for group in (self.states, self.inputs, self.arrays):
            types.update({item.name: item.dtype for item in group})
        types.update({local.name: local.dtype for local in self.locals()})
        return types

    def expressions(self):
        """Every expression of the per-step code (not the precompute)."""
        for block in (self.step, self.reset, self.negative_reset):
            for stmt in walk_statements(block):
                yield stmt.cond if isinstance(stmt, (If, While)) else stmt.expr
        for cond in (self.threshold, self.negative_threshold):
            if cond is not None:
                yield cond

    # --- transformations (used by readouts and the stdlib) --------------
    def with_state(self, state: State) -> Model:
        return dataclasses.replace(self, states=self.states + (state,))

    def with_param(self, param: Param) -> Model:
        return dataclasses.replace(self, params=self.params + (param,))

    def with_step(self, *statements: Statement) -> Model:
        return dataclasses.replace(self, step=self.step + tuple(statements))

    def with_reset(self, *statements: Statement) -> Model:
        return dataclasses.replace(self, reset=self.reset + tuple(statements))

    def replace(self, **changes) -> Model:
        return dataclasses.replace(self, **changes)

    def validate(self) -> Model:
        """Check internal consistency; raise :class:`EqsnnError` naming the problem."""
        from .validate import validate_model

        validate_model(self)
        return self


def walk_statements(statements):
    """Every statement, depth first, branches included."""
    for stmt in statements:
        yield stmt
        if isinstance(stmt, If):
            yield from walk_statements(stmt.body)
            yield from walk_statements(stmt.orelse)
        elif isinstance(stmt, While):
            yield from walk_statements(stmt.body)


def _by_name(items, name):
    for item in items:
        if item.name == name:
            return item
    raise EqsnnError(f"no declaration named {name!r}")
