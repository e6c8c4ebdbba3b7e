"""Rules of single declarations and conditions, for :mod:`eqsnn.frontend.check`: a
param's default against its constraints, a state's bounds (in the internal unit, and
admitting a value), a reset without its threshold, and the warnings for a condition that
is a constant."""

from __future__ import annotations

import math

from . import syntax as s
from .statements import check_assignable
from .syntax import error_at as _error
from .unit_syntax import unit_from_syntax
from .unit_system import internal_symbol

__all__ = ["CONSTANT_CONDITION", "bound_value", "check_bounds_admit_a_value",
           "check_negative_threshold_has_threshold", "check_resets_have_thresholds",
           "declares_refractory", "python_value", "refractory_unread", "unit_word"]


#: the warning for a condition that is a constant (not through a switch): (kind, value)
CONSTANT_CONDITION = {
    ("threshold", True): "'threshold:' is always true: the neuron spikes at every step",
    ("threshold", False): "'threshold:' is always false: the neuron never spikes",
    ("negative_threshold", True): "'negative threshold:' is always true: the neuron "
    "spikes negatively at every step where the threshold does not hold",
    ("negative_threshold", False): "'negative threshold:' is always false: the neuron "
    "never spikes negatively",
    ("refractory", True): "'refractory:' is always true: the neuron is always refractory",
    ("refractory", False): "'refractory:' is always false: the neuron is never refractory",
}


def check_bounds_admit_a_value(decl, bounds) -> None:
    """A CheckError where a state's bounds or a param's constraints admit no value
    (``(> 10, < -10)``; for an int param also ``(> 1, < 2)``): every run would fail at its
    first step, and every value given for the param would be refused."""
    raws = decl.bounds if isinstance(decl, s.StateDecl) else decl.constraints
    integer = isinstance(decl, s.ParamDecl) and decl.dtype == "int"
    below = [c for c in bounds if c.op in ("<", "<=")]
    above = [c for c in bounds if c.op in (">", ">=")]
    for upper in below:
        for lower in above:
            if integer:  # the smallest and the largest int each bound lets through
                low = math.floor(lower.bound) + 1 if lower.op == ">" else math.ceil(lower.bound)
                high = math.ceil(upper.bound) - 1 if upper.op == "<" else math.floor(upper.bound)
                empty = low > high
            else:
                strict = "<" == upper.op or ">" == lower.op
                empty = lower.bound > upper.bound or (lower.bound == upper.bound and strict)
            if empty:
                raw = raws[bounds.index(max(upper, lower, key=bounds.index))]
                what = "bounds" if isinstance(decl, s.StateDecl) else "constraints"
                kind = " int" if integer else ""
                raise _error(f"the {what} of {decl.name}, '{lower}' and '{upper}', admit no"
                             f"{kind} value", raw.pos, "write the lower bound with > or >=, "
                             "the upper with < or <=, e.g. (> -1000, < 1000)")


def bound_value(constraint: s.Constraint) -> float:
    """A constraint's bound in the internal unit (``> 1 s`` → ``> 1000.0``)."""
    if constraint.unit is None:
        return constraint.bound
    return float(unit_from_syntax(constraint.unit).to_internal(constraint.bound))


def unit_word(constraint: s.Constraint) -> str:
    """`` ms`` after a value and a bound in a message, both in the internal unit, where the
    bound was written with a unit (``(> 1 s)`` on a param in ms: ``'> 1000 ms'``)."""
    if constraint.unit is None:
        return ""
    return " " + internal_symbol(unit_from_syntax(constraint.unit).dimension)


def python_value(value, dtype, kind, name, pos):
    check_assignable(dtype, kind, name, pos)
    if dtype == "bool":
        return bool(value)
    return int(value) if dtype == "int" else float(value)


def declares_refractory(decls) -> bool:
    """Whether a ``refractory:`` line is among ``decls``, in any branch of a compile-time if."""
    for decl in decls:
        if isinstance(decl, s.IfDecl):
            if any(declares_refractory(body) for _, body in decl.branches) \
                    or declares_refractory(decl.orelse):
                return True
        elif isinstance(decl, s.ConditionDecl) and decl.kind == "refractory":
            return True
    return False


def check_resets_have_thresholds(conditions: dict, blocks: list) -> None:
    """A ``reset:`` needs a ``threshold:``, a ``negative reset:`` a ``negative threshold:``."""
    for block, condition in (("reset", "threshold"),
                             ("negative_reset", "negative_threshold")):
        if conditions.get(condition) is None:
            decl = next((d for d in blocks if d.kind == block and d.body), None)
            if decl is not None:
                shown = block.replace("_", " ")
                raise _error(f"'{shown}:' without '{condition.replace('_', ' ')}:' never "
                             "runs", decl.pos,
                             f"add '{condition.replace('_', ' ')}: ...' (the condition of "
                             f"a spike), or remove the '{shown}:' block")


def check_negative_threshold_has_threshold(conditions: dict, decls: list) -> None:
    if conditions.get("negative_threshold") is not None and conditions.get(
            "threshold") is None:
        pos = next(d.pos for d in decls if d.kind == "negative_threshold")
        raise _error("a negative threshold needs a threshold", pos,
                     "add 'threshold: ...' for the positive spikes")


def refractory_unread(decls) -> s.Pos | None:
    """Where ``refractory:`` is declared, if nothing reads ``refractory`` (no ``unless
    refractory``, no condition or statement): the declaration then changes nothing."""
    declared = next((d for d in decls if isinstance(d, s.ConditionDecl)
                     and d.kind == "refractory"), None)
    if declared is None or any(_reads_refractory(d) for d in decls if d is not declared):
        return None
    return declared.pos


def _reads_refractory(tree) -> bool:
    return any(isinstance(node, s.Name) and node.id == "refractory" for node in s.nodes(tree))
