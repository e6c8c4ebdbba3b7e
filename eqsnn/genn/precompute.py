"""eqsnn's float64 host precompute for GeNN, and precompute items as text.

GeNN computes a derived param by calling a Python function of ``(pars,
dt)``.  :class:`Precompute` gives those functions: it evaluates the IR
precompute items with :mod:`eqsnn.runtime.host` in float64, so GeNN gets the values
every eqsnn backend uses, rounded once to its precision.  The code
``eqsnn emit MODEL --backend pygenn`` prints carries the items as text:
:func:`precompute_source` prints one item, :func:`expression_text` prints an
expression exactly (floats by ``repr``), and :func:`parse_expression` and
:func:`propagator` read the text back.

Kept apart from :mod:`eqsnn.genn` (populations in PyGeNN and ml_genn
networks), which re-exports these names: emitted code imports them from
there.  Nothing here needs pygenn or ml_genn.

>>> import sympy
>>> expr = 0.1 * sympy.exp(-sympy.Symbol("dt") / sympy.Symbol("tau_mem"))
>>> parse_expression(expression_text(expr)) == expr
True
"""

from __future__ import annotations

import re

import numpy as np
import sympy
from sympy.codegen.cfunctions import expm1, log1p
from sympy.printing.str import StrPrinter

from .. import ir
from ..runtime import host

__all__ = ["Precompute", "expression_text", "parse_expression", "precompute_source",
           "propagator"]

#: the functions precompute expressions are printed with (everything else is a name)
_PRECOMPUTE_NAMES = {
    "exp": sympy.exp, "log": sympy.log, "sqrt": sympy.sqrt, "Abs": sympy.Abs,
    "sin": sympy.sin, "cos": sympy.cos, "tanh": sympy.tanh, "Min": sympy.Min,
    "Max": sympy.Max, "floor": sympy.floor, "ceiling": sympy.ceiling,
    "Piecewise": sympy.Piecewise, "Mod": sympy.Mod, "Matrix": sympy.ImmutableMatrix,
    "pi": sympy.pi, "Eq": sympy.Eq, "Ne": sympy.Ne, "ITE": sympy.ITE, "phi1": ir.phi1,
    "expm1": expm1, "log1p": log1p, "True": sympy.true, "False": sympy.false,
    "mod": ir.mod, "floor_div": ir.floor_div,
}


class _ExactStr(StrPrinter):
    """SymPy's str with floats printed exactly and ``E`` as ``exp(1)``."""

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Exp1(self, expr):
        return "exp(1)"

    def _print_ImmutableDenseMatrix(self, expr):
        rows = ", ".join("[" + ", ".join(self._print(e) for e in expr.row(i)) + "]"
                         for i in range(expr.rows))
        return f"Matrix([{rows}])"


def expression_text(expr) -> str:
    """``expr`` as text that :func:`parse_expression` reads back exactly."""
    return _ExactStr({"order": "none"}).doprint(expr)


def parse_expression(text: str):
    """The SymPy expression of a precompute text; every non-function name is a symbol."""
    names = set(re.findall(r"[A-Za-z_]\w*", text)) - set(_PRECOMPUTE_NAMES)
    symbols = {name: sympy.Symbol(name) for name in names}
    return sympy.sympify(text, locals={**_PRECOMPUTE_NAMES, **symbols})


def propagator(matrix: str, phi, gamma, noise: str | None = None, chol=None) -> ir.Propagator:
    """An exact-propagator precompute item (see :class:`eqsnn.ir.Propagator`) from text."""

    def table(rows):
        return None if rows is None else tuple(tuple(row) for row in rows)

    return ir.Propagator(sympy.ImmutableMatrix(parse_expression(matrix)), table(phi),
                         table(gamma), None if noise is None else
                         sympy.ImmutableMatrix(parse_expression(noise)), table(chol))


def precompute_source(item) -> str:
    """The Python text of one precompute item, as :class:`Precompute` takes it."""
    if isinstance(item, ir.Derived):
        return f"({item.name!r}, {expression_text(item.expr)!r})"
    parts = [repr(expression_text(item.matrix)), f"phi={_table(item.phi)}",
             f"gamma={_table(item.gamma)}"]
    if item.noise is not None:
        parts += [f"noise={expression_text(item.noise)!r}", f"chol={_table(item.chol)}"]
    return f"propagator({', '.join(parts)})"


def _table(rows) -> str:
    return "[" + ", ".join("[" + ", ".join(repr(n) for n in row) + "]" for row in rows) + "]"


class Precompute:
    """eqsnn's float64 host precompute (:mod:`eqsnn.runtime.host`) for GeNN.

    ``items`` are ``(name, expression text)`` pairs and :func:`propagator`
    items (or IR items), over param names, ``dt`` and earlier items.
    :meth:`derived` gives a GeNN derived-param function ``(pars, dt) ->
    float``; :meth:`values` all values (per neuron where a param is).
    Results are cached per parameter set.

    >>> pre = Precompute([("Alpha", "exp(-dt/tau_mem)")])
    >>> round(pre.derived("Alpha")({"tau_mem": 20.0}, 1.0), 6)
    0.951229
    """

    def __init__(self, items):
        self.items = tuple(ir.Derived(i[0], parse_expression(i[1])) if isinstance(i, tuple)
                           else i for i in items)
        self._cache: dict = {}

    def names(self) -> list[str]:
        return list(ir.Model("precompute", precompute=self.items).precompute_names)

    def values(self, params, dt: float, names=None) -> dict[str, np.ndarray]:
        """Precompute values from ``params`` (scalars or per-neuron arrays) and ``dt``.

        With ``names``, only the items those names need are evaluated.
        """
        items = self.items if names is None else self._needed(set(names))
        model = ir.Model("precompute", precompute=items)
        return host.evaluate_precompute(model, params, dt)

    def derived(self, name: str):
        """``lambda pars, dt: value of name`` for ``create_neuron_model(derived_params=...)``."""

        def value(pars, dt):
            key = (name, float(dt), tuple(sorted((k, float(v)) for k, v in pars.items())))
            if key not in self._cache:
                self._cache[key] = float(self.values(pars, dt, [name])[name])
            return self._cache[key]

        return value

    def _needed(self, wanted: set) -> tuple:
        chosen = []
        for item in reversed(self.items):
            names = {item.name} if isinstance(item, ir.Derived) else set(item.names())
            if names & wanted:
                chosen.append(item)
                exprs = ([item.expr] if isinstance(item, ir.Derived)
                         else [item.matrix] + ([item.noise] if item.noise is not None else []))
                wanted |= {str(s) for e in exprs for s in e.free_symbols}
        return tuple(reversed(chosen))

