"""Forwarding of single-use locals in a block of IR statements, before printing."""

from __future__ import annotations

from collections.abc import Mapping

import sympy

from .. import ir

__all__ = ["forward_single_use_locals"]


def forward_single_use_locals(statements, types: Mapping[str, str], uses) -> tuple:
    """Fold ``local L = e; ...; T = L`` into ``T = e`` where that is the same computation.

    Applies when ``L`` occurs in no other expression (``uses[L] == 1``) and is
    never reassigned, ``T`` and ``L`` have the same type, both statements are
    in the same block, and no statement between them reads or writes ``T`` or
    writes a name ``e`` reads.  The solver's one-state updates
    (``_V_new = ...; V = _V_new``) then cost no copy.
    """
    statements = [
        ir.If(s.cond, forward_single_use_locals(s.body, types, uses),
              forward_single_use_locals(s.orelse, types, uses)) if isinstance(s, ir.If)
        else ir.While(s.cond, forward_single_use_locals(s.body, types, uses), s.limit)
        if isinstance(s, ir.While) else s
        for s in statements
    ]
    for index, stmt in enumerate(statements):
        if not isinstance(stmt, ir.Local) or uses.get(stmt.name) != 1:
            continue
        for later in range(index + 1, len(statements)):
            target = statements[later]
            if isinstance(target, ir.Assign) and target.expr == sympy.Symbol(stmt.name):
                between = statements[index + 1:later]
                reads, writes = _reads_and_writes(between)
                inputs = {str(s) for s in stmt.expr.free_symbols}
                if (types[target.target] == stmt.dtype and target.target not in reads | writes
                        and not inputs & writes and stmt.name not in writes):
                    statements[later] = ir.Assign(target.target, stmt.expr)
                    statements[index] = None
                break
    return tuple(s for s in statements if s is not None)


def _reads_and_writes(statements) -> tuple[set, set]:
    reads, writes = set(), set()
    for stmt in ir.walk_statements(statements):
        expr = stmt.cond if isinstance(stmt, (ir.If, ir.While)) else stmt.expr
        reads |= {str(s) for s in expr.free_symbols}
        if not isinstance(stmt, (ir.If, ir.While)):
            writes.add(stmt.target if isinstance(stmt, ir.Assign) else stmt.name)
    return reads, writes
