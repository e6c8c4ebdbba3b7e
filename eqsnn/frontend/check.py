"""Checker: syntax tree → :class:`Checked` model with SymPy expressions.

Resolves switches (compile-time ``if``), names, lets and types, and rejects
every mistake with a :class:`~eqsnn.errors.CheckError` that points at the
text.  See :mod:`eqsnn.frontend.expressions` for the expression rules,
:mod:`eqsnn.frontend.statements` for blocks and :mod:`eqsnn.frontend.integration`
for ``method:`` and ``substeps:``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from .. import ir
from ..errors import CheckError, UnknownNameError, suggest
from . import syntax as s
from .declaration_rules import (
    CONSTANT_CONDITION,
    bound_value,
    check_bounds_admit_a_value,
    check_negative_threshold_has_threshold,
    check_resets_have_thresholds,
    declares_refractory,
    python_value,
    refractory_unread,
    unit_word,
)
from .dimensions import check_dimensions
from .expressions import LANGUAGE_FUNCTIONS, Scope
from .habits import COMPARISON, REFRACTORY_PERIOD, undeclared_hint
from .integration import check_method, check_method_options, check_substeps
from .lets import Lets
from .statements import Converter, check_assignable
from .synapse import (
    check_on_spike,
    check_output,
    neuron_declarations,
    synapse_declarations,
    synapse_dimensions,
)
from .syntax import error_at as _error
from .weight_update import reject_in_other_models, weight_update_declarations

RESERVED = set(ir.BUILTINS) | {"refractory", "xi", "true", "false"} | set(LANGUAGE_FUNCTIONS)


@dataclass(frozen=True)
class Ode:
    var: str
    rhs: sympy.Basic
    unless: sympy.Basic | None
    line: int
    column: int


@dataclass(frozen=True)
class Checked:
    """A resolved model: declarations as IR values, expressions as SymPy."""

    name: str
    doc: str
    params: tuple[ir.Param, ...]
    states: tuple[ir.State, ...]
    inputs: tuple[ir.Input, ...]
    arrays: tuple[ir.Array, ...]
    odes: tuple[Ode, ...]
    before: tuple[ir.Statement, ...]
    after: tuple[ir.Statement, ...]
    reset: tuple[ir.Statement, ...]
    negative_reset: tuple[ir.Statement, ...]
    threshold: sympy.Basic | None
    negative_threshold: sympy.Basic | None
    refractory: sympy.Basic | None
    method: str | None
    method_pos: tuple | None  # (line, column) of 'method:'
    method_options: dict  # e.g. {"rtol": 1e-6}
    substeps: int | None  # from 'substeps: N'
    dtypes: dict
    draws: int  # random draws used by the statements (the solver's noise draws follow)
    switches: dict
    source: str
    filename: str | None
    units: tuple = ()  # (name, eqsnn.units.Unit) of each param, state and input with a unit
    lets: Lets = field(default_factory=Lets)  # lets kept as shared sub-expressions
    kind: str = "neuron"  # neuron | synapse (eqsnn.frontend.synapse) | weight_update
    post: tuple[str, ...] = ()  # a synapse's reads of its target's states
    output_unit: object = None  # a synapse's output: the internal unit of its dimension
    roles: tuple[tuple[str, str], ...] = ()  # a weight-update model's (state, role)
    substeps_pos: tuple | None = None  # (line, column) of 'substeps:'
    #: ``(low, high, line, column)`` of each ``clip`` whose bounds read params only
    clip_bounds: tuple = ()
    warnings: tuple[str, ...] = ()  # text without effect (``V = V``, ``clip(x, 1, 1)``)


def check(model: s.ModelDecl, switches: dict | None = None) -> Checked:
    """Resolve and check ``model``; ``switches`` overrides declared switch values."""
    try:
        return _Checker(model, dict(switches or {})).run()
    except CheckError as exc:
        raise exc.located(model.source, model.filename) from None


class _Checker:
    def __init__(self, model: s.ModelDecl, overrides: dict):
        self.model = model
        self.overrides = overrides
        self.declared: dict[str, tuple[str, s.Pos]] = {}  # name -> (kind, pos)

    def run(self) -> Checked:
        switches = self._switches()
        decls, on_spike, post, roles = self._declarations(switches)
        by_kind = {}
        for decl in decls:
            by_kind.setdefault(type(decl), []).append(decl)
        scope = _scope(by_kind, switches)
        scope.refractory_anywhere = (self.model.kind != "neuron"
                                     or declares_refractory(self.model.declarations))
        conv = Converter(scope)
        conv.block_lets = _block_lets(by_kind.get(s.BlockDecl, []))
        params = tuple(self._param(d, conv) for d in by_kind.get(s.ParamDecl, []))
        states = tuple(self._state(d, conv) for d in by_kind.get(s.StateDecl, []))
        inputs = tuple(self._input(d, conv) for d in by_kind.get(s.InputDecl, []))
        arrays = tuple(ir.Array(d.name, d.dtype) for d in by_kind.get(s.ArrayDecl, []))
        for let in scope.lets.values():
            conv.let(let.name)  # every let is checked, used or not
        conditions = self._conditions(by_kind.get(s.ConditionDecl, []), conv)
        blocks = {"before": [], "after": [], "reset": [], "negative_reset": []}
        for decl in by_kind.get(s.BlockDecl, []):
            blocks[decl.kind].extend(conv.block(decl.body))
        odes = self._odes(by_kind.get(s.OdeDecl, []), conv, scope)
        methods = by_kind.get(s.MethodDecl, [])
        method = check_method(methods)
        check_resets_have_thresholds(conditions, by_kind.get(s.BlockDecl, []))
        options = check_method_options(methods[0]) if methods else {}
        substeps = check_substeps(by_kind.get(s.SubstepsDecl, []), method)
        check_negative_threshold_has_threshold(conditions, by_kind.get(s.ConditionDecl, []))
        dtypes = {**scope.params, **scope.states, **scope.inputs, **scope.arrays,
                  **conv.local_types}
        units, output_unit = (synapse_dimensions(decls, switches) if self.model.kind ==
                              "synapse" else (check_dimensions(decls, switches), None))
        unread = refractory_unread(decls)
        if unread is not None:
            conv.warn("'refractory:' is never read, so it changes nothing: add 'unless "
                      "refractory' to the ODEs it freezes, or 'and not refractory' to the "
                      "threshold", unread)
        if on_spike:
            check_on_spike(blocks["before"], on_spike, scope.params, scope.states)
        if self.model.kind == "synapse":
            check_output(conv.local_types, decls)
        return Checked(
            name=self.model.name, doc=self.model.doc, params=params, states=states,
            inputs=inputs, arrays=arrays, odes=odes,
            before=tuple(blocks["before"]), after=tuple(blocks["after"]),
            reset=tuple(blocks["reset"]), negative_reset=tuple(blocks["negative_reset"]),
            threshold=conditions.get("threshold"),
            negative_threshold=conditions.get("negative_threshold"),
            refractory=conditions.get("refractory"), method=method,
            method_pos=(methods[0].pos.line, methods[0].pos.column) if methods else None,
            method_options=options, substeps=substeps,
            dtypes=dtypes,
            draws=conv.draws, switches=switches, source=self.model.source,
            filename=self.model.filename, units=tuple(units.items()), lets=conv.lets,
            kind=self.model.kind, post=post, roles=roles, output_unit=output_unit,
            substeps_pos=_position(by_kind.get(s.SubstepsDecl, [])),
            warnings=tuple(conv.warnings),
            clip_bounds=tuple((low, high, pos.line, pos.column)
                              for low, high, pos in conv.clip_bounds),
        )

    def _declarations(self, switches: dict):
        """``(declarations, on_spike, post)``: the switch-selected declarations, each
        name declared once; a synapse model's ``on_spike:`` and ``post`` apart."""
        decls = self._flatten(self.model.declarations, switches)
        on_spike, post, roles = (), (), ()
        if self.model.kind == "weight_update":
            decls, roles = weight_update_declarations(decls)
        else:
            reject_in_other_models(decls, self.model.kind)
        if self.model.kind == "synapse":
            decls, on_spike, post = synapse_declarations(decls, self.model.name)
        elif self.model.kind == "neuron":
            decls = neuron_declarations(decls)
        for decl in decls:
            self._declare(decl)
        return decls, on_spike, post, roles

    # -- switches and compile-time if ---------------------------------------
    def _switches(self) -> dict:
        values = {}
        for decl in self.model.declarations:
            if isinstance(decl, s.SwitchDecl):
                if decl.name in values:
                    raise _error(f"switch {decl.name!r} is declared twice", decl.pos)
                values[decl.name] = decl.value
        for name, value in self.overrides.items():
            if name not in values:
                known = ", ".join(values) or "none"
                raise CheckError(f"unknown switch {name!r} for model {self.model.name}",
                                 hint=suggest(name, values) or f"its switches are: {known}")
            if isinstance(values[name], bool) != isinstance(value, bool):
                kind = "bool" if isinstance(values[name], bool) else "number"
                raise CheckError(f"switch {name!r} takes a {kind}, not {value!r}",
                                 hint=f"pass switches={{{name!r}: ...}} with a {kind}")
            values[name] = value
        return values

    def _flatten(self, decls, switches) -> list:
        out = []
        for decl in decls:
            if isinstance(decl, s.IfDecl):
                for cond, body in decl.branches:
                    if self._switch_condition(cond, switches):
                        out.extend(self._flatten(body, switches))
                        break
                else:
                    out.extend(self._flatten(decl.orelse, switches))
            elif isinstance(decl, s.SwitchDecl) and decls is not self.model.declarations:
                raise _error("switches are declared at the top level of the model", decl.pos,
                             "move the switch out of the 'if' block")
            else:
                out.append(decl)
        return out

    def _switch_condition(self, cond, switches) -> bool:
        conv = Converter(Scope(switches=switches))
        try:
            value, kind = conv.expr(cond)
        except UnknownNameError as exc:
            name = exc.unknown
            raise CheckError(f"unknown switch {name!r}", line=exc.line, column=exc.column,
                             hint=f"declare it with 'switch {name} = true'") from None
        except CheckError as exc:
            raise CheckError(
                "a declaration-level 'if' may only test switches", line=exc.line,
                column=exc.column,
                hint="declare the name with 'switch NAME = true', or move the test into a "
                "before:/after: block") from None
        if kind != "bool" or value not in (sympy.true, sympy.false):
            raise _error("a declaration-level 'if' needs a true/false switch condition",
                         cond.pos, "write e.g. 'if relative_reset:'")
        return bool(value)

    # -- declarations -------------------------------------------------------
    def _declare(self, decl):
        name = getattr(decl, "name", None)
        if isinstance(decl, (s.OdeDecl, s.BlockDecl, s.ConditionDecl, s.MethodDecl,
                             s.SubstepsDecl, s.OutputDecl)):
            return
        if name in RESERVED:
            what = "function" if name in LANGUAGE_FUNCTIONS else "built-in name"
            raise _error(f"{name!r} is a {what} and cannot be declared", decl.pos,
                         "choose another name")
        if name.startswith("_"):
            raise _error(f"names starting with '_' are reserved for generated code: {name!r}",
                         decl.pos, f"call it {name.lstrip('_') or 'x'!r} instead")
        if name == "spikes" and isinstance(decl, s.StateDecl):
            raise _error("a state cannot be called 'spikes'", decl.pos,
                         "'spikes' names the recorded spikes (record=['spikes']); "
                         "call the state e.g. 'spike_count'")
        if name in self.declared:
            kind, pos = self.declared[name]
            raise _error(f"{name!r} is already declared as a {kind} at line {pos.line}",
                         decl.pos, "give each declaration its own name")
        kind = type(decl).__name__.removesuffix("Decl").lower()
        self.declared[name] = (kind, decl.pos)

    def _constant(self, expr, conv, what, pos):
        value, kind = conv.expr(expr, constant=True)
        if not value.is_number and value not in (sympy.true, sympy.false):
            raise _error(f"{what} must be a constant", pos, "write a number")
        return value, kind

    def _param(self, decl: s.ParamDecl, conv) -> ir.Param:
        default = None
        if decl.default is not None:
            value, kind = self._constant(decl.default, conv, f"the default of {decl.name}",
                                         decl.default.pos)
            default = python_value(value, decl.dtype, kind, decl.name, decl.default.pos)
        constraints = tuple(ir.Constraint(c.op, bound_value(c)) for c in decl.constraints)
        for c, raw in zip(constraints, decl.constraints):
            if default is not None and not c.holds(default):
                unit = unit_word(raw)
                raise _error(f"the default {default}{unit} of {decl.name} violates '{c}{unit}'",
                             raw.pos, f"choose a default that is {c}{unit}")
        check_bounds_admit_a_value(decl, constraints)
        return ir.Param(decl.name, decl.dtype, default, constraints)

    def _state(self, decl: s.StateDecl, conv) -> ir.State:
        value, kind = conv.expr(decl.init, initial=True)
        check_assignable(decl.dtype, kind, decl.name, decl.init.pos)
        bounds = tuple(ir.Constraint(c.op, bound_value(c)) for c in decl.bounds)
        for c, raw in zip(bounds, decl.bounds):
            if decl.dtype != "float":
                raise _error(f"bounds are checked on float states only; {decl.name} is "
                             f"{decl.dtype}", raw.pos, "remove the bounds")
            if c.op == "!=":
                raise _error(f"a state bound must be >, >=, < or <=, not '{c}'", raw.pos,
                             "write e.g. (> -1000, < 1000)")
            if value.is_number and not c.holds(float(value)):
                unit = unit_word(raw)
                shown = repr(float(value)) if value.is_Float else value  # not 20.0000000000000
                raise _error(f"the initial value {shown}{unit} of {decl.name} violates "
                             f"'{c}{unit}'", raw.pos, f"choose an initial value that is {c}{unit}")
        check_bounds_admit_a_value(decl, bounds)
        return ir.State(decl.name, decl.dtype, value, bounds)

    def _input(self, decl: s.InputDecl, conv) -> ir.Input:
        default = None
        if decl.default is not None:
            value, kind = self._constant(decl.default, conv, f"the default of {decl.name}",
                                         decl.default.pos)
            default = python_value(value, decl.dtype, kind, decl.name, decl.default.pos)
        return ir.Input(decl.name, decl.dtype, default)

    def _conditions(self, decls, conv) -> dict:
        out = {}
        for decl in decls:
            if decl.kind in out:
                raise _error(f"a model has at most one '{decl.kind.replace('_', ' ')}:'",
                             decl.pos, "combine the conditions with 'and' / 'or'")
            value, kind = conv.expr(decl.cond)
            if kind != "bool":
                raise _error(f"{decl.kind.replace('_', ' ')} must be a condition", decl.cond.pos,
                             REFRACTORY_PERIOD if decl.kind == "refractory" else COMPARISON)
            if value in (sympy.true, sympy.false) and not conv.reads_switch(decl.cond):
                conv.warn(CONSTANT_CONDITION[decl.kind, value == sympy.true], decl.cond)
            if decl.kind != "refractory" and conv.lets.has_shared(value):
                value = conv.written_out(value, decl.cond.pos, f"'{decl.kind}:'".replace(
                    "_", " "))
            out[decl.kind] = value
        return out

    def _odes(self, decls, conv, scope) -> tuple[Ode, ...]:
        odes, seen = [], {}
        for decl in decls:
            if decl.var in seen:
                raise _error(f"d{decl.var}/dt is defined twice (first at line {seen[decl.var]})",
                             decl.pos, "combine the right-hand sides into one equation")
            seen[decl.var] = decl.pos.line
            kind = self.declared.get(decl.var, (None,))[0]
            if kind != "state":
                hint = (undeclared_hint(decl.var, scope.states) if kind is None
                        else f"{decl.var!r} is a {kind}; only states have ODEs")
                raise _error(f"ODE for {decl.var!r}, which is not a state", decl.pos, hint)
            if scope.states[decl.var] != "float":
                raise _error(f"ODE for {scope.states[decl.var]} state {decl.var!r}", decl.pos,
                             "only float states can follow an ODE")
            rhs, kind = conv.expr(decl.rhs, ode=True)
            if kind == "bool":
                raise _error(f"the right-hand side of d{decl.var}/dt is a condition",
                             decl.rhs.pos)
            unless = None
            if decl.unless is not None:
                unless, kind = conv.expr(decl.unless)
                if kind != "bool":
                    raise _error("'unless' needs a condition", decl.unless.pos)
                if unless in (sympy.true, sympy.false) and not conv.reads_switch(decl.unless):
                    conv.warn(f"'unless' is always {str(unless).lower()}: d{decl.var}/dt "
                              + ("is never integrated (the state never follows its ODE)"
                                 if unless == sympy.true else "is always integrated; "
                                 "remove 'unless ...'"), decl.unless)
                if unless == sympy.false:
                    unless = None
            odes.append(Ode(decl.var, rhs, unless, decl.pos.line, decl.pos.column))
        return tuple(odes)


def _position(decls: list) -> tuple | None:
    """``(line, column)`` of the first of ``decls``, or None."""
    return (decls[0].pos.line, decls[0].pos.column) if decls else None


def _scope(by_kind: dict, switches: dict) -> Scope:
    """The names the model declares, by kind, for the converter."""
    return Scope(
        switches=switches,
        params={d.name: d.dtype for d in by_kind.get(s.ParamDecl, [])},
        states={d.name: d.dtype for d in by_kind.get(s.StateDecl, [])},
        inputs={d.name: d.dtype for d in by_kind.get(s.InputDecl, [])},
        arrays={d.name: d.dtype for d in by_kind.get(s.ArrayDecl, [])},
        lets={d.name: d for d in by_kind.get(s.LetDecl, [])},
        refractory=any(
            d.kind == "refractory" for d in by_kind.get(s.ConditionDecl, [])),
    )


def _block_lets(blocks) -> dict[str, int]:
    """name -> line of every ``let`` inside the blocks (in ``if`` branches too)."""
    found: dict[str, int] = {}

    def walk(statements):
        for stmt in statements:
            if isinstance(stmt, s.LocalDef):
                found.setdefault(stmt.name, stmt.pos.line)
            elif isinstance(stmt, s.IfStatement):
                for _, body in stmt.branches:
                    walk(body)
                walk(stmt.orelse)
    for block in blocks:
        walk(block.body)
    return found
