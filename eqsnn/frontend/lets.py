"""Lets kept as shared sub-expressions, so that compile time grows linearly.

A ``let`` is a name for an expression, and substituting it where it is used
is what it means.  Substituting blindly is exponential, though: in

    let a1 = a0 * a0 + a0
    let a2 = a1 * a1 + a1        # ... up to a40

``a40`` written out has about 2**40 terms.  So a let whose written-out size
passes :data:`INLINE_LIMIT` nodes is *shared*: the checker gives it as an
application ``a40(V)`` of an undefined SymPy function to the free symbols of
its definition (:class:`SharedLet`), in which the lets it uses are
applications too.  Every stage sees a small expression whose free symbols
are the true dependencies: the ODE analysis differentiates ``a40(V)`` to
``Derivative(a40(V), V)``, not zero, so an ODE through a let that depends on
its state is (correctly) not linear, and a solver's stage substitution
``V -> V + h k`` gives ``a40(V + h k)``.

:func:`lower_shared_lets` then turns the applications in the finished IR
into ``Local`` statements before each statement that uses them (and
``Derived`` values in the precompute): ``_let_a0_1 = V``, ``_let_a1_2 =
_let_a0_1**2 + _let_a0_1``, ... one local per let per use, evaluated with the
values the statement sees, which is what substitution means.  Where a let
must be written out (an initial value, a threshold: places without
statements), :func:`expand` does it, up to :data:`EXPAND_LIMIT` nodes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import sympy
from sympy.core.function import AppliedUndef

from .. import ir

__all__ = ["INLINE_LIMIT", "EXPAND_LIMIT", "SharedLet", "Lets", "lower_shared_lets",
           "syntax_size"]

#: a let is shared when its written-out expression has more nodes than this, and more than
#: twice as many as its own text: then the lets it uses have made it grow (a let written
#: out long by hand is linear in the text, and is substituted, so the ODE analysis sees it)
INLINE_LIMIT = 60
#: the most nodes a let may have where it must be written out (threshold, initial value)
EXPAND_LIMIT = 20_000


@dataclass(frozen=True)
class SharedLet:
    """``function(*params)`` stands for ``expr`` (in which ``params`` are the symbols);
    ``size`` is the node count of ``expr`` written out."""

    name: str
    function: type
    params: tuple[sympy.Symbol, ...]
    expr: sympy.Basic
    kind: str
    size: int

    def instantiate(self, application) -> sympy.Basic:
        """The definition with the application's arguments in place of the params."""
        return self.expr.xreplace(dict(zip(self.params, application.args)))


class Lets:
    """The shared lets of one model, by function, in the order they were defined."""

    def __init__(self):
        self.by_function: dict = {}
        self._sizes: dict = {}

    def __bool__(self) -> bool:
        return bool(self.by_function)

    def of(self, expr) -> SharedLet | None:
        """The shared let of an application, else ``None``."""
        if isinstance(expr, AppliedUndef):
            return self.by_function.get(expr.func)
        return None

    def size(self, expr) -> int:
        """Nodes of ``expr`` with every shared let written out (linear time: memoised)."""
        sizes = self._sizes
        stack = [expr]
        while stack:
            node = stack[-1]
            if node in sizes:
                stack.pop()
                continue
            shared = self.of(node)
            children = [a for a in node.args if isinstance(a, sympy.Basic)]
            missing = [a for a in children if a not in sizes]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            sizes[node] = (shared.size if shared is not None else 1) + sum(
                sizes[a] for a in children)
        return sizes[expr]

    def share(self, name: str, expr, kind: str, own_size: int = 0):
        """The application that stands for ``expr``, which becomes the shared let ``name``
        (unless it is small, no larger than twice ``own_size``, the node count of its own
        text, or holds white noise, which the ODE analysis must see)."""
        size = self.size(expr)
        if size <= max(INLINE_LIMIT, 2 * own_size) or expr.has(sympy.Symbol("xi")):
            return expr
        params = tuple(sorted(expr.free_symbols, key=lambda symbol: symbol.name))
        function = sympy.Function(name)
        self.by_function[function] = SharedLet(name, function, params, expr, kind, size)
        return function(*params)

    def has_shared(self, expr) -> bool:
        return bool(self) and any(self.of(a) is not None for a in expr.atoms(AppliedUndef))

    def expand(self, expr):
        """``expr`` with every shared let written out (check :meth:`size` first)."""
        applications = [a for a in expr.atoms(AppliedUndef) if self.of(a) is not None]
        if not applications:
            return expr
        return expr.xreplace({a: self.expand(self.of(a).instantiate(a)) for a in applications})

    def shared(self) -> tuple[SharedLet, ...]:
        return tuple(self.by_function.values())


def syntax_size(node) -> int:
    """Nodes of a syntax expression (:mod:`eqsnn.frontend.syntax`), a let's name counting one."""
    children = [value for value in vars(node).values() if hasattr(value, "pos")]
    children += [arg for arg in getattr(node, "args", ()) if hasattr(arg, "pos")]
    return 1 + sum(syntax_size(child) for child in children)


class _Lowering:
    def __init__(self, lets: Lets):
        self.lets = lets
        self.count = 0

    def applications(self, expr) -> list:
        """Shared-let applications in ``expr``, innermost first, each once."""
        order, seen = [], set()

        def visit(node):
            if node in seen:
                return
            seen.add(node)
            for arg in node.args:
                if isinstance(arg, sympy.Basic):
                    visit(arg)
            if self.lets.of(node) is not None:
                order.append(node)

        visit(expr)
        return order

    def define(self, expr, emit) -> sympy.Basic:
        """``expr`` with its applications replaced by names ``emit(name, kind, value)``
        defines first (inner lets, and lets in arguments, before the lets that use them)."""
        names: dict = {}
        pending = self.applications(expr)
        while pending:
            application = pending.pop(0)
            if application in names:
                continue
            shared = self.lets.of(application)
            value = shared.instantiate(application).xreplace(
                {a: names[a] for a in application.args if a in names})
            inner = [a for a in self.applications(value) if a not in names]
            if inner:  # define those first, then this one again
                pending = inner + [application] + pending
                continue
            self.count += 1
            name = sympy.Symbol(f"_let_{shared.name}_{self.count}")
            emit(name.name, shared.kind, value.xreplace(names))
            names[application] = name
        return expr.xreplace(names)

    def statements(self, statements) -> tuple:
        out = []
        for stmt in statements:
            def local(name, kind, value):
                out.append(ir.Local(name, kind, value))

            if isinstance(stmt, ir.If):
                cond = self.define(stmt.cond, local)
                out.append(ir.If(cond, self.statements(stmt.body), self.statements(stmt.orelse)))
            elif isinstance(stmt, ir.While):
                # the condition is tested before every iteration: a let in it is written out
                cond = self.lets.expand(stmt.cond) if self.applications(stmt.cond) \
                    else stmt.cond
                out.append(ir.While(cond, self.statements(stmt.body), stmt.limit))
            elif isinstance(stmt, ir.Local):
                out.append(ir.Local(stmt.name, stmt.dtype, self.define(stmt.expr, local)))
            else:
                out.append(ir.Assign(stmt.target, self.define(stmt.expr, local)))
        return tuple(out)

    def precompute(self, items) -> tuple:
        out = []

        def derived(name, kind, value):
            out.append(ir.Derived(name, value))

        for item in items:
            if isinstance(item, ir.Derived):
                out.append(ir.Derived(item.name, self.define(item.expr, derived)))
            else:  # a propagator: its matrix may hold lets of params
                out.append(dataclasses.replace(item, matrix=self.define(item.matrix, derived)))
        return tuple(out)


def lower_shared_lets(model: ir.Model, lets: Lets) -> ir.Model:
    """The model with every shared-let application computed into a local (or a
    precompute value) just before the statement that uses it."""
    if not lets:
        return model
    lowering = _Lowering(lets)
    return model.replace(
        precompute=lowering.precompute(model.precompute),
        step=lowering.statements(model.step),
        reset=lowering.statements(model.reset),
        negative_reset=lowering.statements(model.negative_reset),
        odes=tuple((var, lets.expand(rhs) if lets.size(rhs) <= EXPAND_LIMIT else rhs)
                   for var, rhs in model.odes),
    )
