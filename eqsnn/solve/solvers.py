"""Solvers: the update of the ODE states over one step, as IR statements.

Each solver returns ``(precompute, statements)``.  New values are computed
into locals from the old state first and assigned afterwards, so coupled
equations see a consistent state.  ``unless`` conditions freeze a variable
(it keeps its value) during steps where the condition holds.

* :func:`exact_update` — ``x(t+dt) = e^{A dt} x + (∫_0^dt e^{As} ds) f``,
  with the propagators evaluated on the host (closed form ``exp(a dt)`` and
  ``dt·φ₁(a dt)`` for a single equation, the augmented matrix exponential
  for coupled ones), plus the exact Ornstein–Uhlenbeck noise ``L z``.
* :func:`exponential_euler_update` — ``x ← x e^{a dt} + b dt φ₁(a dt)`` with
  ``a = ∂f/∂x`` and ``b = f|_{x=0}`` evaluated at the old state.
* :func:`explicit_update` — RK4, midpoint or Euler; noise by Euler–Maruyama.
"""

from __future__ import annotations

import sympy

from .. import ir
from ..errors import SolverError
from .analysis import System

DT = sympy.Symbol("dt")
T = sympy.Symbol("t")


def _new(name: str) -> sympy.Symbol:
    return sympy.Symbol(f"_{name}_new")


class _Draws:
    """Hands out random-draw indices after those the user's statements used."""

    def __init__(self, start: int):
        self.next = start

    def normal(self) -> sympy.Basic:
        self.next += 1
        return ir.RandNormal(sympy.Integer(self.next - 1))


def _freeze(body: list, unless) -> list:
    return [ir.If(sympy.Not(unless), tuple(body))] if unless is not None else body


def _components(names, A) -> list[list[int]]:
    """Groups of equations coupled through ``A`` (connected components)."""
    n = len(names)
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        for j in range(n):
            if A[i, j] != 0:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _reachable(A, idx) -> set[tuple[int, int]]:
    """Entries (i, j) of e^{A dt} restricted to ``idx`` that can be non-zero."""
    k = len(idx)
    reach = [[i == j or A[idx[i], idx[j]] != 0 for j in range(k)] for i in range(k)]
    for m in range(k):  # transitive closure (Warshall)
        for i in range(k):
            for j in range(k):
                reach[i][j] = reach[i][j] or (reach[i][m] and reach[m][j])
    return {(i, j) for i in range(k) for j in range(k) if reach[i][j]}


def exact_update(system: System, draws: _Draws):
    A, f, g = system.A, system.forcing, system.noise
    names = system.variables
    precompute, body = [], []
    for group in _components(names, A):
        conds = {system.unless[i] for i in group}
        if len(conds) > 1:
            coupled = ", ".join(names[i] for i in group)
            line, column = system.positions[group[0]] if system.positions else (None, None)
            raise SolverError(f"coupled equations ({coupled}) must share one 'unless' condition",
                              line=line, column=column,
                              hint="freeze all of them under the same condition, or none")
        unless = conds.pop()
        if len(group) == 1:
            items, updates = _exact_scalar(names[group[0]], A[group[0], group[0]], f[group[0]],
                                           g[group[0]], draws)
        else:
            items, updates = _exact_coupled([names[i] for i in group], A, group, f, g, draws)
        precompute.extend(items)
        body.append((updates, unless))
    return precompute, _locals_then_assign(body)


def _exact_scalar(name, a, f, g, draws):
    x = sympy.Symbol(name)
    items = []
    if a == 0:
        phi, gamma = sympy.Integer(1), DT
    else:
        phi, gamma = sympy.Symbol(f"_phi_{name}"), sympy.Symbol(f"_gamma_{name}")
        items.append(ir.Derived(phi.name, sympy.exp(a * DT)))
        if f != 0:
            items.append(ir.Derived(gamma.name, DT * ir.phi1(a * DT)))
    value = phi * x + gamma * f
    if g != 0:
        sigma = sympy.Symbol(f"_sigma_{name}")
        variance = DT if a == 0 else DT * ir.phi1(2 * a * DT)
        items.append(ir.Derived(sigma.name, sympy.Abs(g) * sympy.sqrt(variance)))
        value += sigma * draws.normal()
    return items, [(name, value)]


def _exact_coupled(names, A, group, f, g, draws):
    k = len(group)
    sub = sympy.ImmutableMatrix(k, k, lambda i, j: A[group[i], group[j]])
    reach = _reachable(A, group)
    forcing = [f[i] for i in group]
    phi = tuple(tuple(f"_phi_{names[i]}_{names[j]}" if (i, j) in reach else None
                      for j in range(k)) for i in range(k))
    gamma = tuple(tuple(f"_gamma_{names[i]}_{names[j]}"
                        if (i, j) in reach and forcing[j] != 0 else None
                        for j in range(k)) for i in range(k))
    noise_terms = [g[i] for i in group]
    noisy = any(term != 0 for term in noise_terms)
    noise = chol = None
    if noisy:
        noise = sympy.ImmutableMatrix(k, k, lambda i, j: noise_terms[i] if i == j else 0)
        chol = tuple(tuple(f"_chol_{names[i]}_{names[j]}" if j <= i else None
                           for j in range(k)) for i in range(k))
    item = ir.Propagator(sub, phi, gamma, noise, chol)
    z = [draws.normal() for _ in range(k)] if noisy else []
    updates = []
    for i in range(k):
        value = sympy.Integer(0)
        for j in range(k):
            if phi[i][j]:
                value += sympy.Symbol(phi[i][j]) * sympy.Symbol(names[j])
            if gamma[i][j]:
                value += sympy.Symbol(gamma[i][j]) * forcing[j]
            if noisy and chol[i][j]:
                value += sympy.Symbol(chol[i][j]) * z[j]
        updates.append((names[i], value))
    return [item], updates


def _locals_then_assign(groups) -> list:
    """Compute every new value into a local, then assign (frozen groups skip both)."""
    statements = []
    for updates, unless in groups:
        block = [ir.Local(_new(n).name, "float", v) for n, v in updates]
        statements.extend(_freeze(block, unless))
    for updates, unless in groups:
        block = [ir.Assign(n, _new(n)) for n, _ in updates]
        statements.extend(_freeze(block, unless))
    return statements


def exponential_euler_update(system: System, draws: _Draws, split=None):
    """``x ← x e^{a dt} + b dt φ₁(a dt)``, ``a = ∂f/∂x``, ``b = f(x=0)``, at the old state.

    >>> from sympy import symbols
    >>> x, u, dt = symbols('x u dt')
    >>> s = System(('x',), (-x + u,), (0,), (None,), None, None, (), frozenset({dt}))
    >>> _, stmts = exponential_euler_update(s, _Draws(0))
    >>> stmts[0].expr
    dt*u*phi1(-dt) + x*exp(-dt)
    >>> v = symbols('v')
    >>> s = System(('x',), (-v * x,), (0,), (None,), None, None, (), frozenset({dt}))
    >>> [str(st.expr) for st in exponential_euler_update(s, _Draws(0))[1]]
    ['-dt*v', 'x*exp(_z_x)', '_x_new']
    """
    groups, rates = [], []
    for i, (name, rhs, g, unless) in enumerate(zip(system.variables, system.rhs, system.noise,
                                                   system.unless)):
        x = sympy.Symbol(name)
        if split is not None:  # Brian2's: B (which may hold x) frozen at the old state
            a, b = split[i]
        else:
            a = sympy.diff(rhs, x)
            b = rhs.subs(x, 0)
        rate = a * DT
        if a == 0:
            value = x + b * DT
        else:
            if rate.free_symbols - system.constants:  # computed once per step, used twice
                rates.append(ir.Local(f"_z_{name}", "float", rate))
                rate = sympy.Symbol(f"_z_{name}")
            value = x * sympy.exp(rate) + b * DT * ir.phi1(rate)
        if g != 0:
            value += _noise_scale(g, a, system.constants, x) * draws.normal()
        groups.append(([(name, value)], unless))
    return [], rates + _locals_then_assign(groups)


def _noise_scale(g, a, constants, x):
    """Exact OU standard deviation where ``g`` and ``a`` are constant, else Euler–Maruyama."""
    if not (g.free_symbols - constants) and not (sympy.sympify(a).free_symbols - constants):
        return sympy.Abs(g) * sympy.sqrt(DT if a == 0 else DT * ir.phi1(2 * a * DT))
    return g * sympy.sqrt(DT)


_TABLEAUX = {
    # (stage time fractions, stage increments as weights of previous k, final weights)
    "euler": ((0,), ((),), (1,)),
    "midpoint": ((0, sympy.Rational(1, 2)), ((), (sympy.Rational(1, 2),)), (0, 1)),
    "rk4": (
        (0, sympy.Rational(1, 2), sympy.Rational(1, 2), 1),
        ((), (sympy.Rational(1, 2),), (0, sympy.Rational(1, 2)), (0, 0, 1)),
        tuple(sympy.Rational(w, 6) for w in (1, 2, 2, 1)),
    ),
}


def explicit_update(system: System, draws: _Draws, method: str):
    """An explicit Runge–Kutta step (``rk4``, ``midpoint``, ``euler``); noise by Euler–Maruyama."""
    times, increments, weights = _TABLEAUX[method]
    symbols = [sympy.Symbol(n) for n in system.variables]
    statements: list = []
    stages: list[list[sympy.Symbol]] = []
    for s_index, (c, row) in enumerate(zip(times, increments)):
        shifted = {
            x: x + DT * sum((w * stages[m][i] for m, w in enumerate(row) if w != 0),
                            sympy.Integer(0))
            for i, x in enumerate(symbols)
        }
        if c != 0:
            shifted[T] = T + c * DT
        ks = []
        for name, rhs in zip(system.variables, system.rhs):
            k = sympy.Symbol(f"_k{s_index + 1}_{name}")
            statements.append(ir.Local(k.name, "float", rhs.subs(shifted, simultaneous=True)))
            ks.append(k)
        stages.append(ks)
    groups = []
    for i, (name, g, unless) in enumerate(zip(system.variables, system.noise, system.unless)):
        x = symbols[i]
        value = x + DT * sum((w * stages[m][i] for m, w in enumerate(weights) if w != 0),
                             sympy.Integer(0))
        if g != 0:
            value += g * sympy.sqrt(DT) * draws.normal()
        groups.append(([(name, value)], unless))
    return [], statements + _locals_then_assign(groups)


def with_substeps(precompute, update, count: int, first_draw: int):
    """The update applied ``count`` times with step ``dt / count`` (``substeps: N``), unrolled,
    each copy with the time of its substep and random draws of its own.

    >>> x, dt = sympy.symbols('x dt')
    >>> _, body = with_substeps([], [ir.Assign('x', x + dt)], 2, 0)
    >>> [str(s.expr) for s in body]
    ['dt/2 + x', 'dt/2 + x']
    """
    if count == 1:
        return precompute, update
    if any(isinstance(item, ir.Propagator) for item in precompute):
        raise SolverError("'substeps:' does not apply to the exact update of coupled equations, "
                          "which needs none", hint="remove 'substeps:'")
    small = {DT: DT / count}
    precompute = [ir.Derived(item.name, item.expr.xreplace(small)) for item in precompute]
    draws = [int(fn.args[0]) for stmt in ir.walk_statements(update)
             for fn in (stmt.cond if isinstance(stmt, (ir.If, ir.While)) else stmt.expr).atoms(
                 ir.RandNormal, ir.RandUniform)]
    per_copy = max(draws, default=first_draw - 1) + 1 - first_draw
    body: list = []
    for copy in range(count):
        def shifted(expr, copy=copy):
            expr = expr.xreplace({T: T + copy * DT / count, **small})
            if per_copy:
                expr = expr.replace(
                    lambda e: isinstance(e, (ir.RandNormal, ir.RandUniform)),
                    lambda e: e.func(sympy.Integer(int(e.args[0]) + copy * per_copy)))
            return expr
        body += ir.map_statements(update, shifted)
    return precompute, body


def integrate(system: System, method: str, first_draw: int):
    """Dispatch to the solver for ``method``."""
    draws = _Draws(first_draw)
    if method == "none":
        return [], []
    if method == "exact":
        return exact_update(system, draws)
    if method == "exponential_euler":
        split = None
        if not system.applicable("exponential_euler"):
            from .analysis import frozen_split

            split, _ = frozen_split(system)
        return exponential_euler_update(system, draws, split)
    return explicit_update(system, draws, method)
