"""A model's integration choices: ``method:`` with its options, and ``substeps:``.

The names here are what the checker accepts; which method applies to which
system, and why the others do not, is decided later by
:mod:`eqsnn.solve.analysis`.
"""

from __future__ import annotations

import math

from ..errors import suggest
from . import syntax as s
from .habits import FOREIGN_METHODS
from .syntax import error_at as _error

METHODS = ("exact", "exponential_euler", "adaptive", "rk4", "midpoint", "euler")
#: options a method takes in the model text, e.g. ``method: adaptive(rtol=1e-6)``
METHOD_OPTIONS = {"adaptive": ("rtol", "atol", "max_substeps")}
#: the most substeps ``substeps: N`` may ask for (the update is unrolled N times)
MAX_FIXED_SUBSTEPS = 64


def check_method(methods: list) -> str | None:
    """The one ``method:`` the model asks for, or None."""
    if len(methods) > 1:
        raise _error("a model has one 'method:'", methods[1].pos)
    method = methods[0].name if methods else None
    if method is not None and method not in METHODS:
        raise _error(f"unknown integration method {method!r}", methods[0].pos,
                     FOREIGN_METHODS.get(method) or suggest(method, METHODS)
                     or f"choose one of {', '.join(METHODS)}")
    return method


def check_method_options(decl: s.MethodDecl) -> dict:
    """The options of ``method: NAME(option=value, ...)``, each known and in range."""
    known = METHOD_OPTIONS.get(decl.name, ())
    options = {}
    for name, value, pos in decl.options:
        if name not in known:
            takes = (f"{decl.name} takes {', '.join(known)}" if known
                     else f"method {decl.name} takes no options")
            raise _error(f"unknown option {name!r} of method {decl.name}", pos,
                         suggest(name, known) or takes)
        if name in options:
            raise _error(f"option {name!r} is given twice", pos)
        if name == "max_substeps":
            if not 1 <= value <= 100000 or value != int(value):  # inf: no int() of it
                raise _error(f"max_substeps must be an integer from 1 to 100000, not "
                             f"{value:g}", pos, "e.g. adaptive(max_substeps=500)")
            value = int(value)
        elif name == "atol":  # in the units of the states, which may be large numbers
            if not 0 < value < math.inf:
                raise _error(f"atol must be a positive finite number, not {value:g}", pos,
                             "e.g. adaptive(atol=1e-9), in the units of the states")
        elif not 0 < value < 1:
            raise _error(f"{name} must be in (0, 1), not {value:g}", pos,
                         f"e.g. adaptive({name}=1e-6)")
        options[name] = value
    return options

def check_substeps(decls, method) -> int | None:
    """The ``N`` of ``substeps: N``, or None without one."""
    if not decls:
        return None
    if len(decls) > 1:
        raise _error("a model has one 'substeps:'", decls[1].pos)
    decl = decls[0]
    try:
        count = int(decl.count)
    except ValueError:
        count = 0
    if count < 1 or count > MAX_FIXED_SUBSTEPS:
        raise _error(f"substeps must be an integer from 1 to {MAX_FIXED_SUBSTEPS}, not "
                     f"{decl.count}", decl.pos, "e.g. 'substeps: 4'")
    if method == "adaptive":
        raise _error("the adaptive method chooses its own substeps", decl.pos,
                     "bound them with 'method: adaptive(max_substeps=N)' instead")
    return count


