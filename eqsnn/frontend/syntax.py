"""The syntax tree of a model file: frozen dataclasses with source positions.

The parser (:mod:`eqsnn.frontend.parse`) produces these; the checker
(:mod:`eqsnn.frontend.check`) resolves names, switches and types and turns the
expressions into SymPy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Union

from ..errors import CheckError


@dataclass(frozen=True)
class Pos:
    line: int
    column: int


def error_at(message: str, where, hint: str | None = None) -> CheckError:
    """A CheckError placed in the model text at ``where``: a position, an expression (where
    it begins: :func:`start`), or None (unplaced)."""
    pos = where if where is None or isinstance(where, Pos) else start(where)
    return CheckError(message, line=pos.line if pos else None,
                      column=pos.column if pos else None, hint=hint)


def nodes(tree):
    """Every node of ``tree`` (a syntax node, or a tuple or list of them), itself first,
    then its fields' nodes, depth first."""
    if isinstance(tree, (tuple, list)):
        for item in tree:
            yield from nodes(item)
    elif dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        yield tree
        for f in dataclasses.fields(tree):
            yield from nodes(getattr(tree, f.name))


def start(node) -> Pos:
    """Where an expression begins in the text (a Binary's own position is its operator)."""
    while isinstance(node, Binary):
        node = node.left
    return node.pos


# --- expressions -------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    text: str
    pos: Pos

    @property
    def is_int(self) -> bool:
        return not any(c in self.text for c in ".eE")


@dataclass(frozen=True)
class Quantity:
    """A number with a unit: ``20 ms``, ``-65 mV`` (the sign is a Unary), ``1 [mV/ms]``.

    ``unit`` is a unit expression: a :class:`Name` or, from ``[...]``, an
    expression of names, the number 1, ``*``, ``/`` and ``**``."""

    number: Number
    unit: Expr
    pos: Pos
    bracketed: bool = False


@dataclass(frozen=True)
class Bool:
    value: bool
    pos: Pos


@dataclass(frozen=True)
class Name:
    id: str
    pos: Pos


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Expr, ...]
    pos: Pos


@dataclass(frozen=True)
class Index:
    array: str
    index: Expr
    pos: Pos


@dataclass(frozen=True)
class Unary:
    op: str  # "-", "+", "not"
    operand: Expr
    pos: Pos


@dataclass(frozen=True)
class Binary:
    op: str  # + - * / // % ** == != < <= > >= and or
    left: Expr
    right: Expr
    pos: Pos


Expr = Union[Number, Quantity, Bool, Name, Call, Index, Unary, Binary]


# --- statements (inside before/after/reset blocks) ----------------------------


@dataclass(frozen=True)
class Assign:
    target: str
    op: str  # = += -= *= /=
    expr: Expr
    pos: Pos


@dataclass(frozen=True)
class LocalDef:
    name: str
    expr: Expr
    pos: Pos


@dataclass(frozen=True)
class IfStatement:
    branches: tuple[tuple[Expr, tuple[Statement, ...]], ...]  # if / elif
    orelse: tuple[Statement, ...]
    pos: Pos


Statement = Union[Assign, LocalDef, IfStatement]


# --- declarations ------------------------------------------------------------


@dataclass(frozen=True)
class Constraint:
    op: str
    bound: float
    pos: Pos
    unit: Expr | None = None  # (> 0 ms)


@dataclass(frozen=True)
class ParamDecl:
    name: str
    dtype: str
    default: Expr | None
    constraints: tuple[Constraint, ...]
    pos: Pos
    unit: Expr | None = None  # the annotation [mV]


@dataclass(frozen=True)
class StateDecl:
    name: str
    dtype: str
    init: Expr
    pos: Pos
    unit: Expr | None = None  # the annotation [mV]
    bounds: tuple[Constraint, ...] = ()  # sane values, checked after every step
    scope: str = ""  # "pre" / "post": a weight-update model's trace (``pre state x``)


@dataclass(frozen=True)
class InputDecl:
    name: str
    dtype: str
    default: Expr | None
    pos: Pos
    unit: Expr | None = None  # the annotation [mV]


@dataclass(frozen=True)
class LetDecl:
    name: str
    expr: Expr
    pos: Pos


@dataclass(frozen=True)
class SwitchDecl:
    name: str
    value: bool | int | float
    pos: Pos


@dataclass(frozen=True)
class ArrayDecl:
    name: str
    dtype: str
    pos: Pos


@dataclass(frozen=True)
class OdeDecl:
    var: str
    rhs: Expr
    unless: Expr | None
    pos: Pos


@dataclass(frozen=True)
class BlockDecl:
    kind: str  # before | after | reset | negative_reset | on_spike
    body: tuple[Statement, ...]
    pos: Pos


@dataclass(frozen=True)
class ConditionDecl:
    kind: str  # threshold | negative_threshold | refractory
    cond: Expr
    pos: Pos


@dataclass(frozen=True)
class MethodDecl:
    name: str
    pos: Pos
    options: tuple[tuple[str, float, Pos], ...] = ()  # adaptive(rtol=1e-6, atol=1e-9)


@dataclass(frozen=True)
class SubstepsDecl:
    """``substeps: N``: every step integrated as N equal substeps."""

    count: str  # the number as written
    pos: Pos


@dataclass(frozen=True)
class OutputDecl:
    """``output: expr`` of a synapse model: what the target neuron receives."""

    expr: Expr
    pos: Pos


@dataclass(frozen=True)
class PostDecl:
    """``post NAME`` of a synapse model: a state of the target neuron its output reads."""

    name: str
    pos: Pos
    unit: Expr | None = None  # the annotation of ``post V [mV]``


@dataclass(frozen=True)
class IfDecl:
    """A compile-time ``if`` over switches around declarations."""

    branches: tuple[tuple[Expr, tuple[Declaration, ...]], ...]
    orelse: tuple[Declaration, ...]
    pos: Pos


Declaration = Union[
    ParamDecl, StateDecl, InputDecl, LetDecl, SwitchDecl, ArrayDecl, OdeDecl, BlockDecl,
    ConditionDecl, MethodDecl, SubstepsDecl, IfDecl, OutputDecl, PostDecl,
]


@dataclass(frozen=True)
class ModelDecl:
    name: str
    doc: str
    declarations: tuple[Declaration, ...]
    pos: Pos
    source: str
    filename: str | None = None
    kind: str = "neuron"  # neuron | synapse | weight_update
