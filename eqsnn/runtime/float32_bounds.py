"""The bounds of states as the numerical check compares them in float32.

A bound is a real number; in float32 the check compares a float32 state with a
float32 literal.  Rounded to nearest, a strict bound can land on a value it
admits: ``(> -1e-50)`` became ``> -0.0``, and ``V = 0`` (which the bound admits,
and the host's check of initial values accepted) failed at step 0.  For a
float32 ``x``, ``x > b`` holds exactly where ``x >= s``, ``s`` the smallest
float32 above ``b`` (and ``x < b`` where ``x <= `` the largest below): a strict
bound that is no float32 becomes that non-strict one.  ``(> -1e-50)`` is then
``>= -0.0``, which also holds under a flush of subnormals to zero (CUDA's fast
math), where ``> -1.4e-45`` would not.  A non-strict bound is rounded to
nearest, as a state set to the bound's own value is, so that value stays within it.
"""

from __future__ import annotations

import numpy as np

from .. import ir

__all__ = ["float32_bounds", "kernel_bounds"]


def float32_bounds(state: ir.State) -> tuple[ir.Constraint, ...]:
    """The bounds of ``state`` as float32 values that test a float32 state exactly.

    >>> s = ir.State("V", bounds=(ir.Constraint(">", -1e-50), ir.Constraint("<=", 0.1),
    ...                           ir.Constraint("<", 1.00000001), ir.Constraint(">", 0.5)))
    >>> [(c.op, c.bound) for c in float32_bounds(s)]
    [('>=', -0.0), ('<=', 0.10000000149011612), ('<=', 1.0), ('>', 0.5)]
    """
    bounds = []
    with np.errstate(over="ignore"):
        for c in state.bounds:
            value, op = np.float32(c.bound), c.op
            if op == ">" and float(value) != c.bound:
                op, value = ">=", (value if float(value) > c.bound
                                   else np.nextafter(value, np.float32(np.inf)))
            elif op == "<" and float(value) != c.bound:
                op, value = "<=", (value if float(value) < c.bound
                                   else np.nextafter(value, np.float32(-np.inf)))
            bounds.append(ir.Constraint(op, float(value)))
    return tuple(bounds)


def kernel_bounds(states, precision: str) -> tuple:
    """``((state, ((op, bound), ...)), ...)``: the bounds of each of ``states`` that has
    some, as the check compares them in ``precision``."""
    return tuple((s.name, tuple((c.op, float(c.bound)) for c in (
        float32_bounds(s) if precision == "float32" else s.bounds)))
        for s in states if s.bounds)
