"""Units as the text writes them: a quantity's unit (``20 ms``), a unit annotation
(``param g [nS]``) and the unit expressions in brackets (``[mV/ms]``, ``[cm**2]``),
turned into :class:`eqsnn.units.Unit` values with errors at the text.  The dimension
check of a model's equations, which uses these, is :mod:`eqsnn.frontend.dimensions`.
"""

from __future__ import annotations

import re
from fractions import Fraction

from ..units import DIMENSIONLESS, Unit, UnitError, lookup
from . import syntax as s
from .syntax import error_at

__all__ = ["constant_number", "quantity_unit", "unit_from_syntax", "uses_units"]

_ONE = Unit("1", Fraction(1), DIMENSIONLESS)


def uses_units(declarations) -> bool:
    """Does any declaration hold a quantity, a unit annotation or a bound with a unit?"""
    return any(isinstance(node, s.Quantity) or (
        isinstance(node, (s.ParamDecl, s.StateDecl, s.InputDecl, s.Constraint))
        and node.unit is not None) for node in s.nodes(declarations))


def quantity_unit(node: s.Quantity, declared=()) -> Unit:
    """The unit of a quantity.  ``declared``: the model's names; ``2 m`` with a state ``m``
    is ambiguous (the metre or a product), so it is an error unless written ``2 [m]``."""
    if not node.bracketed and node.unit.id in declared:
        name = node.unit.id
        raise error_at(f"'{node.number.text} {name}' reads as {node.number.text} of the unit "
                     f"{name}, but the model also declares {name!r}", node.unit,
                     f"write '{node.number.text} * {name}' for a product, or "
                     f"'{node.number.text} [{name}]' for the unit")
    return unit_from_syntax(node.unit)


def unit_from_syntax(expr) -> Unit:
    """The unit written as ``expr`` (``ms``, or ``[mV/ms]``'s expression)."""
    if isinstance(expr, s.Name):
        try:
            return lookup(expr.id)
        except UnitError as exc:
            hint = exc.hint if expr.id != "f" else (
                "C's float suffix (1.0f) is not needed: write the number alone; the "
                "simulation's precision decides float32 or float64")
            if re.fullmatch(r"x[0-9a-fA-F]+", expr.id):
                hint = "a hexadecimal number (0x10) is not read: write it in decimal"
            raise error_at(exc.message, expr, hint) from None
    if isinstance(expr, s.Number):
        if expr.text == "1":
            return _ONE
        raise error_at(f"a unit cannot hold the number {expr.text}", expr,
                     "the only number in a unit is 1, as in [1/ms]")
    if isinstance(expr, s.Binary) and expr.op in ("*", "/"):
        left, right = unit_from_syntax(expr.left), unit_from_syntax(expr.right)
        return left * right if expr.op == "*" else left / right
    if isinstance(expr, s.Binary) and expr.op == "**":
        power = constant_number(expr.right)
        if power is None:
            raise error_at("the power of a unit must be a number", expr.right, "write [cm**2]")
        return unit_from_syntax(expr.left) ** power
    raise error_at("this is not a unit", expr,
                 "a unit is a name such as mV, or [...] with *, / and ** of names: [mV/ms]")


def constant_number(expr) -> Fraction | None:
    """The value of a constant exponent (``2``, ``-1``, ``1/2``, ``0.5``), else None."""
    if isinstance(expr, s.Number):
        return Fraction(expr.text)
    if isinstance(expr, s.Unary) and expr.op in "+-":
        value = constant_number(expr.operand)
        return None if value is None else (-value if expr.op == "-" else value)
    if isinstance(expr, s.Binary) and expr.op in ("+", "-", "*", "/"):
        left, right = constant_number(expr.left), constant_number(expr.right)
        if left is None or right is None or (expr.op == "/" and right == 0):
            return None
        return {"+": left + right, "-": left - right, "*": left * right,
                "/": left / right if right else None}[expr.op]
    return None
