"""Hoisting: terms that depend only on params and ``dt`` move to the host precompute.

A maximal float sub-expression over params, ``dt`` and earlier precompute
values becomes a :class:`~eqsnn.ir.Derived` value evaluated once in float64
(per neuron where a param is per neuron), so per-step code does no ``exp``
for linear models.  Within a sum or product only the constant operands are
grouped: in ``_gamma_V * R * I / tau`` the factor ``_gamma_V * R / tau`` is
hoisted.
"""

from __future__ import annotations

import sympy

from .. import ir

_RANDOM = (ir.RandUniform, ir.RandNormal, ir.ArrayGet)


class _Hoister:
    def __init__(self, model: ir.Model):
        self.constants = {sympy.Symbol(p.name) for p in model.params}
        self.constants |= {sympy.Symbol(n) for n in model.precompute_names}
        self.constants.add(sympy.Symbol("dt"))
        self.float_constants = {sympy.Symbol(p.name) for p in model.params if p.dtype == "float"}
        self.float_constants |= {sympy.Symbol(n) for n in model.precompute_names}
        self.float_constants.add(sympy.Symbol("dt"))
        self.items: list[ir.Derived] = []
        self.by_expr: dict[sympy.Basic, sympy.Symbol] = {}

    def is_constant(self, expr) -> bool:
        return (isinstance(expr, sympy.Expr) and expr.free_symbols <= self.constants
                and not expr.atoms(*_RANDOM))

    def name_for(self, expr) -> sympy.Basic:
        if expr.is_Atom or not (expr.free_symbols & self.float_constants):
            return expr  # nothing to gain, or an int-valued expression
        if isinstance(expr, sympy.Mul) and len(expr.args) == 2 and expr.args[0] == -1:
            return expr  # a negation is free
        if expr not in self.by_expr:
            symbol = sympy.Symbol(f"_c{len(self.items)}")
            self.by_expr[expr] = symbol
            self.items.append(ir.Derived(symbol.name, expr))
        return self.by_expr[expr]

    def expr(self, expr):
        if expr is None or expr.is_Atom:
            return expr
        if self.is_constant(expr):
            return self.name_for(expr)
        if isinstance(expr, (sympy.Add, sympy.Mul)):
            const = [a for a in expr.args if self.is_constant(a)]
            rest = [self.expr(a) for a in expr.args if not self.is_constant(a)]
            if len(const) > 1 or (const and not const[0].is_Atom):
                const = [self.name_for(expr.func(*const))]
            return expr.func(*const, *rest)
        return expr.func(*(self.expr(a) for a in expr.args))

    def statements(self, statements):
        out = []
        for stmt in statements:
            if isinstance(stmt, ir.If):
                out.append(ir.If(self.expr(stmt.cond), self.statements(stmt.body),
                                 self.statements(stmt.orelse)))
            elif isinstance(stmt, ir.While):
                out.append(ir.While(self.expr(stmt.cond), self.statements(stmt.body),
                                    stmt.limit))
            elif isinstance(stmt, ir.Local):
                out.append(ir.Local(stmt.name, stmt.dtype, self.expr(stmt.expr)))
            else:
                out.append(ir.Assign(stmt.target, self.expr(stmt.expr)))
        return tuple(out)


def hoist(model: ir.Model) -> ir.Model:
    """Move param-only float terms of the per-step code into the precompute."""
    h = _Hoister(model)
    return model.replace(
        step=h.statements(model.step),
        reset=h.statements(model.reset),
        negative_reset=h.statements(model.negative_reset),
        threshold=h.expr(model.threshold),
        negative_threshold=h.expr(model.negative_threshold),
        precompute=model.precompute + tuple(h.items),
    )
