"""Consistency checks of an :class:`eqsnn.ir.Model` (after transformations too)."""

from __future__ import annotations

import sympy

from ..errors import EqsnnError
from . import nodes as ir


def _fail(model, message: str):
    raise EqsnnError(f"invalid IR for model {model.name}: {message}",
                     hint="this is a bug in a transformation or in eqsnn itself")


def validate_model(model) -> None:
    names: dict[str, str] = {}
    for kind, items in (("param", model.params), ("state", model.states),
                        ("input", model.inputs), ("array", model.arrays)):
        for item in items:
            if item.name in names:
                _fail(model, f"{item.name!r} declared as {names[item.name]} and {kind}")
            if getattr(item, "dtype", "float") not in ir.DTYPES:
                _fail(model, f"{item.name!r} has unknown dtype {item.dtype!r}")
            names[item.name] = kind
    host = {p.name for p in model.params} | {"dt"}
    for item in model.precompute:
        exprs = [item.expr] if isinstance(item, ir.Derived) else (
            [item.matrix] + ([item.noise] if item.noise is not None else []))
        for expr in exprs:
            unknown = {str(s) for s in expr.free_symbols} - host
            if unknown:
                _fail(model, f"precompute uses {sorted(unknown)}, which are not host values")
        new = [item.name] if isinstance(item, ir.Derived) else list(item.names())
        for name in new:
            if name in names or name in host - {"dt"}:
                _fail(model, f"precompute name {name!r} clashes with a declaration")
            host.add(name)
    for state in model.states:
        unknown = {str(s) for s in state.init.free_symbols} - host
        if unknown:
            _fail(model, f"initial value of {state.name} uses {sorted(unknown)}")
    readable = (host | {s.name for s in model.states} | {i.name for i in model.inputs}
                | set(ir.BUILTINS) | {a.name for a in model.arrays})
    locals_: set[str] = set()
    _block(model, model.step, readable, locals_)
    for cond in (model.threshold, model.negative_threshold):
        if cond is not None:
            _expr(model, cond, readable | locals_)
            if not isinstance(cond, (sympy.logic.boolalg.Boolean, sympy.Basic)):
                _fail(model, "threshold is not a condition")
    _block(model, model.reset, readable | locals_, set(locals_))
    _block(model, model.negative_reset, readable | locals_, set(locals_))
    if model.readout is not None and model.readout.state not in names:
        _fail(model, f"readout reads unknown state {model.readout.state!r}")


def _expr(model, expr, readable):
    unknown = {str(s) for s in expr.free_symbols} - readable
    if unknown:
        _fail(model, f"{expr} uses undefined {sorted(unknown)}")


def _block(model, statements, readable, locals_):
    states = {s.name for s in model.states}
    for stmt in statements:
        if isinstance(stmt, ir.Local):
            _expr(model, stmt.expr, readable | locals_)
            locals_.add(stmt.name)
        elif isinstance(stmt, ir.Assign):
            _expr(model, stmt.expr, readable | locals_)
            if stmt.target not in states and stmt.target not in locals_:
                _fail(model, f"assignment to {stmt.target!r}, which is not a state or local")
        elif isinstance(stmt, ir.If):
            _expr(model, stmt.cond, readable | locals_)
            _block(model, stmt.body, readable, locals_)
            _block(model, stmt.orelse, readable, locals_)
        elif isinstance(stmt, ir.While):
            _expr(model, stmt.cond, readable | locals_)
            if not isinstance(stmt.limit, int) or stmt.limit < 1:
                _fail(model, f"a loop needs a positive iteration limit, not {stmt.limit!r}")
            _block(model, stmt.body, readable, locals_)
        else:
            _fail(model, f"unknown statement {stmt!r}")
