"""The compiler pipeline, one named step per line.

parse -> check -> analyse -> choose a method -> integrate -> assemble ->
hoist -> validate: :func:`_compile` reads as that list.  Emitting, loading
and running follow in :mod:`eqsnn.backends` and :mod:`eqsnn.runtime`.
``docs/architecture.md`` describes each stage and the frozen values that
cross it.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
import sys
import warnings
from collections.abc import Mapping

from . import ir
from .errors import EqsnnError, InternalError, ParameterError, SolverError
from .frontend.check import check
from .frontend.lets import lower_shared_lets
from .frontend.parse import parse
from .solve.analysis import analyse, choose_method
from .solve.assemble import assemble
from .solve.hoist import hoist
from .solve.update import derive_update


class EqsnnWarning(UserWarning):
    """A model compiles, but not the way its author probably hoped (e.g. RK4, not exact)."""


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message: str) -> None:
    """An :class:`EqsnnWarning` shown at the first caller outside eqsnn (the user's line:
    ``sim.run``, ``net.run``, ``eqsnn.compile``), however deep inside eqsnn it is raised."""
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, EqsnnWarning, stacklevel=level + 1)


def compile_ir(text: str, filename: str | None = None, switches: dict | None = None) -> ir.Model:
    """Model text → validated :class:`ir.Model`."""
    key = tuple(sorted(_checked_switches(switches).items()))
    model = _compile_cached(text, filename, key)
    for message in model.method.warnings:
        warn(f"{model.name}: {message}")
    return model


def _checked_switches(switches) -> dict:
    """``switches`` as a dict of switch name -> bool, int or finite float; else a
    ParameterError (a list, a name that is not a str, an unhashable or NaN value)."""
    if switches is None:
        return {}
    if not isinstance(switches, Mapping):
        raise ParameterError(f"switches must be a dict of switch name -> value, not "
                             f"{type(switches).__name__}",
                             hint="for example switches={'relative_reset': False}")
    switches = {name: bool(value) if getattr(getattr(value, "dtype", None), "kind", "") == "b"
                else value for name, value in switches.items()}  # numpy bools
    for name, value in switches.items():
        if not isinstance(name, str):
            raise ParameterError(f"switch names are strings, not {name!r}"[:200])
        ok = isinstance(value, (bool, numbers.Integral)) or (
            isinstance(value, numbers.Real) and math.isfinite(value))
        if not ok:
            raise ParameterError(f"switch {name!r} must be true/false or a finite number, "
                                 f"not {value!r}"[:300],
                                 hint=f"for example switches={{{name!r}: True}}")
    return {name: value if isinstance(value, bool) else int(value)
            if isinstance(value, numbers.Integral) else float(value)
            for name, value in switches.items()}


@functools.lru_cache(maxsize=256)
def _compile_cached(text, filename, switches) -> ir.Model:
    try:
        return _compile(text, filename, switches)
    except EqsnnError:
        raise
    except RecursionError:
        line, column = _deepest(text)
        raise EqsnnError("the model is nested too deeply to compile", filename=filename,
                         line=line, column=column, source=text if line else None,
                         hint="split long expressions into several 'let' lines") from None
    except Exception as exc:  # a bug: still report it as an eqsnn error, with the cause
        raise InternalError(f"eqsnn failed to compile this model: {type(exc).__name__}: {exc}",
                            filename=filename,
                            hint="this is a bug in eqsnn; please report it with the model"
                            ) from exc


def _deepest(text) -> tuple[int | None, int | None]:
    """``(line, column)`` where ``text`` nests deepest: its innermost '(' or the end of its
    longest run of signs (``- - - x``); a model too deep to compile is deep there."""
    best, where = 0, (None, None)
    if not isinstance(text, str):
        return where
    for number, row in enumerate(text.split("\n"), start=1):
        parens = signs = 0
        for column, char in enumerate(row.split("#")[0], start=1):
            parens += (char == "(") - (char == ")")
            signs = signs + 1 if char in "+-" else signs if char == " " else 0
            if max(parens, signs) > best:
                best, where = max(parens, signs), (number, column)
    return where


def _compile(text, filename, switches) -> ir.Model:
    syntax_model = parse(text, filename)
    checked = check(syntax_model, dict(switches))
    try:
        system = analyse(checked)
        method, reasons, method_warnings = choose_method(system, checked.method)
        update = derive_update(checked, system, method, reasons)
    except SolverError as exc:
        if exc.line is None and checked.method_pos is not None:
            exc.line, exc.column = checked.method_pos  # the requested method cannot work
        raise exc.located(checked.source, checked.filename) from None
    chosen = ir.Method(method, update.reasons,
                       checked.warnings + method_warnings + update.warnings)
    model = assemble(checked, system, chosen, update)
    return lower_shared_lets(hoist(model), checked.lets).validate()
