"""IR statements run on the host with NumPy, for the plastic step of a network.

:func:`compile_statements` turns :class:`~eqsnn.ir.Assign`, :class:`~eqsnn.ir.Local`
and :class:`~eqsnn.ir.If` into NumPy functions (SymPy's ``lambdify``, with ``Min``,
``Max``, ``And`` and ``Or`` as nested two-argument NumPy calls so that scalars
and arrays broadcast); :func:`run_statements` runs them on a mapping of names to arrays, an
``if`` writing only where its condition holds.  Each expression is evaluated in
the order SymPy prints it, in the dtype of its arrays (params are NumPy scalars
of the network's precision).
"""

from __future__ import annotations

import numpy as np
import sympy
from sympy.printing.numpy import NumPyPrinter

from .. import ir
from ..errors import ParameterError
from ..runtime import host

__all__ = ["compile_statements", "run_statements"]


class _Printer(NumPyPrinter):
    """NumPy's printer with Min, Max, And and Or as nested two-argument calls, so that a
    scalar param and an array broadcast (NumPy's own form stacks them into one array)."""

    def _nest(self, function, args):
        out = self._print(args[0])
        for arg in args[1:]:
            out = f"{self._module_format(function)}({out}, {self._print(arg)})"
        return out

    def _print_Min(self, expr):
        return self._nest("numpy.minimum", expr.args)

    def _print_Max(self, expr):
        return self._nest("numpy.maximum", expr.args)

    def _print_And(self, expr):
        return self._nest("numpy.logical_and", expr.args)

    def _print_Or(self, expr):
        return self._nest("numpy.logical_or", expr.args)


def _function(expr):
    expr = sympy.sympify(expr)
    called = {type(f).__name__ for f in expr.atoms(sympy.Function)}
    odd = called & {"RandUniform", "RandNormal", "ArrayGet"}
    if odd:
        raise ParameterError(f"weight-update models cannot draw random numbers or read "
                             f"arrays ({sorted(odd)[0]})",
                             hint="write the rule without rand_uniform/rand_normal/arrays")
    names = sorted(str(s) for s in expr.free_symbols)
    fn = sympy.lambdify([sympy.Symbol(n) for n in names], expr,
                        modules=[host.NUMPY_FUNCTIONS, "numpy"],
                        printer=_Printer({"fully_qualified_modules": False,
                                          "inline": True, "allow_unknown_functions": True}))
    return names, fn


def compile_statements(statements):
    """IR statements -> a list of ops the host interpreter runs (:func:`_run`)."""
    ops = []
    for stmt in statements:
        if isinstance(stmt, ir.Assign):
            ops.append(("set", stmt.target, *_function(stmt.expr)))
        elif isinstance(stmt, ir.Local):
            ops.append(("set", stmt.name, *_function(stmt.expr)))
        elif isinstance(stmt, ir.If):
            ops.append(("if", None, *_function(stmt.cond), compile_statements(stmt.body),
                        compile_statements(stmt.orelse)))
        else:
            raise ParameterError(f"weight-update statement {stmt!r} is not supported")
    return ops


def run_statements(ops, env, dtypes, mask=None):
    """Run compiled statements on ``env`` (name -> array); ``mask`` limits the writes."""
    for op in ops:
        kind, target, names, fn = op[:4]
        value = fn(*(env[n] for n in names))
        if kind == "if":
            cond = np.asarray(value, bool)
            here = cond if mask is None else (cond & mask)
            run_statements(op[4], env, dtypes, here)
            run_statements(op[5], env, dtypes, ~cond if mask is None else (~cond & mask))
            continue
        dtype = dtypes.get(target)
        if dtype is not None:
            value = np.asarray(value, dtype)
        if mask is not None and target in env:
            value = np.where(mask, value, env[target])
            if dtype is not None:
                value = value.astype(dtype, copy=False)
        env[target] = value
