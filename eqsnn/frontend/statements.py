"""Syntax statement blocks → IR statements, with the types of their targets checked.

:class:`Converter` adds blocks to the :class:`~.expressions.ExpressionConverter`:
``let`` locals with block scope, assignments (``=``, ``+=``, ``-=``, ``*=``,
``/=``) to states and locals, and ``if``/``elif``/``else``.  A condition over
switches alone is resolved now, so its ``if`` disappears at compile time.
"""

from __future__ import annotations

import sympy

from .. import ir
from . import syntax as s
from .expressions import BUILTIN_TYPES, LANGUAGE_FUNCTIONS, ExpressionConverter
from .habits import foreign_name_hint
from .syntax import error_at as _error


class Converter(ExpressionConverter):
    """Converts expressions and statement blocks within one :class:`~.expressions.Scope`."""

    def block(self, statements) -> list:
        """The IR statements of a block, whose locals are visible in it only."""
        self.locals.append({})
        try:
            out = []
            for stmt in statements:
                out.extend(self._statement(stmt))
            return out
        finally:
            self.locals.pop()

    def _statement(self, stmt):
        self.mode = (False, False, False)
        if isinstance(stmt, s.LocalDef):
            return self._local_definition(stmt)
        if isinstance(stmt, s.Assign):
            return self._assignment(stmt)
        return self._if_chain(stmt)

    def _local_definition(self, stmt: s.LocalDef):
        """``let x = ...`` inside a block: a new name, typed by its value."""
        if stmt.name in self._all_names() or stmt.name in self.local_types or (
                stmt.name in BUILTIN_TYPES or stmt.name in LANGUAGE_FUNCTIONS):
            where = (f" (line {self.local_lines[stmt.name]})"
                     if stmt.name in self.local_lines else "")
            raise _error(f"{stmt.name!r} is already defined{where}", stmt.pos,
                         "give the local its own name")
        value, kind = self._expr(stmt.expr)
        self.locals[-1][stmt.name] = kind
        self.local_types[stmt.name] = kind
        self.local_lines[stmt.name] = stmt.pos.line
        return [ir.Local(stmt.name, kind, value)]

    def _assignment(self, stmt: s.Assign):
        """``x = ...`` and ``x += ...`` (and ``-=``, ``*=``, ``/=``)."""
        target_type = self._target(stmt)
        value, kind = self._expr(stmt.expr)
        if stmt.op != "=":
            if target_type == "bool" or kind == "bool":
                raise _error(f"'{stmt.op}' needs numbers", stmt.pos)
            current = sympy.Symbol(stmt.target)
            value = {"+=": current + value, "-=": current - value,
                     "*=": current * value, "/=": current / value}[stmt.op]
            kind = {"+=": None, "-=": None, "*=": None, "/=": "float"}[stmt.op] or (
                "int" if kind == target_type == "int" else "float")
        check_assignable(target_type, kind, stmt.target, stmt.expr.pos)
        if value == sympy.Symbol(stmt.target) and not self.reads_switch(stmt.expr):
            self.warn(f"'{stmt.target} {stmt.op} ...' leaves {stmt.target} as it is: the "
                      "assignment has no effect", stmt.pos)
        return [ir.Assign(stmt.target, value)]

    def _if_chain(self, stmt: s.IfStatement):
        """``if``/``elif``/``else``, resolving switch-only conditions now."""
        branches = []
        for cond, body in stmt.branches:
            value, kind = self._expr(cond)
            if kind != "bool":
                raise _error("'if' needs a condition", cond.pos, "e.g. 'if V > 0:'")
            if value in (sympy.true, sympy.false) and not self.reads_switch(cond):
                self.warn(f"this 'if' condition is always {str(value).lower()}: "
                          + ("its block always runs" if value == sympy.true
                             else "its block never runs"), cond)
            if value == sympy.false:
                continue
            if value == sympy.true and not branches:
                return self.block(body)
            branches.append((value, self.block(body)))
            if value == sympy.true:
                break
        else:
            orelse = self.block(stmt.orelse)
            branches.append((None, orelse))
        return _chain(branches)

    def _target(self, stmt: s.Assign) -> str:
        name, scope = stmt.target, self.scope
        for frame in reversed(self.locals):
            if name in frame:
                return frame[name]
        if name in scope.states:
            return scope.states[name]
        kinds = [("param", scope.params), ("input", scope.inputs), ("let", scope.lets),
                 ("switch", scope.switches), ("array", scope.arrays)]
        for kind, table in kinds:
            if name in table:
                hint = {"param": "params are constant; declare a state to change it",
                        "input": "inputs are read-only; copy it into a local with 'let'",
                        "let": "lets are names for expressions; use a state"}.get(kind)
                raise _error(f"cannot assign to {kind} {name!r}", stmt.pos, hint)
        if name in BUILTIN_TYPES or name in ("refractory", "xi"):
            raise _error(f"cannot assign to the built-in {name!r}", stmt.pos)
        raise _error(f"assignment to undeclared {name!r}", stmt.pos,
                     foreign_name_hint(name) or (self._suggest(name) if self._suggest(
                         name).startswith("did") else f"declare it with 'state {name} = 0.0', "
                         f"or 'let {name} = ...' for a local"))


def _chain(branches) -> list:
    """``[(cond, body), ..., (None, orelse)]`` → nested :class:`ir.If`."""
    out: list = []
    for cond, body in reversed(branches):
        if cond is None or cond == sympy.true:
            out = list(body)
        else:
            out = [ir.If(cond, tuple(body), tuple(out))]
    return out


def check_assignable(target_type: str, value_type: str, name: str, pos: s.Pos):
    if target_type == value_type or (target_type == "float" and value_type == "int"):
        return
    hints = {
        ("int", "float"): "int values come from int params, states, literals and + - * // %",
        ("bool", "float"): "bool values come from comparisons such as 'V > 0'",
        ("bool", "int"): "bool values come from comparisons such as 'count > 0'",
    }
    raise _error(f"{name!r} is {target_type} but the value is {value_type}", pos,
                 hints.get((target_type, value_type), "use a value of the declared type"))


