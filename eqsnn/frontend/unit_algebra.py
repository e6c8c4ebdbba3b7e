"""Units and quantities, and their arithmetic: a :class:`Unit` is a symbol, an exact
rational scale to SI and a :class:`Dimension`; a :class:`Quantity` is a value (a number or
a NumPy array) with a unit.  Re-exported by :mod:`eqsnn.units`, where users meet them.

Arithmetic takes numbers and number arrays only: a bool is refused (``True * ms`` is no
1 ms), as is a NumPy function given a quantity (NumPy would take it for one object); the
int 0 the built-in ``sum`` starts from adds to any quantity.

>>> from fractions import Fraction
>>> from eqsnn.frontend.unit_system import TIME
>>> ms = Unit("ms", Fraction(1, 1000), TIME)
>>> sum([1 * ms, 2 * ms]).to(ms)
3.0
"""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import EqsnnError
from .unit_system import DIMENSIONLESS, Dimension, _exact_root, _internal_scale

__all__ = ["Unit", "Quantity", "UnitError"]


class UnitError(EqsnnError, ValueError):
    """A unit is unknown, or a value has the wrong dimension."""


@dataclass(frozen=True)
class Unit:
    """A unit: how it is written, its exact size in SI, and its dimension."""

    symbol: str
    scale: Fraction  # SI value of one of this unit
    dimension: Dimension

    @property
    def factor(self) -> Fraction:
        """One of this unit, in the internal unit of its dimension (e.g. pA → 1/1000 nA)."""
        return self.scale / _internal_scale(self.dimension)

    def to_internal(self, value):
        """``value`` (a number or array) in this unit → the internal unit, correctly rounded
        where the factor is an integer or one over an integer."""
        factor = self.factor
        if not isinstance(value, float) and not hasattr(value, "__cuda_array_interface__"):
            value = np.asarray(value, dtype=np.float64)  # a device array stays on its device
        if factor.numerator == 1:
            return value / factor.denominator if factor.denominator != 1 else value
        if factor.denominator == 1:
            return value * factor.numerator
        return value * float(factor)

    def from_internal(self, value):
        """``value`` in the internal unit → this unit (the inverse of :meth:`to_internal`)."""
        factor = self.factor
        if factor.denominator == 1:
            return value / factor.numerator if factor.numerator != 1 else value
        if factor.numerator == 1:
            return value * factor.denominator
        return value / float(factor)

    # --- algebra (for eqsnn.units.mV / eqsnn.units.ms and 20 * eqsnn.units.ms) ----------
    __array_ufunc__ = None  # numpy arrays defer to __rmul__: array * ms is a Quantity

    def __mul__(self, other):
        if isinstance(other, Unit):
            return Unit(_join(self.symbol, "*", other.symbol), self.scale * other.scale,
                        self.dimension * other.dimension)
        _refuse_bool(self, "*", other)
        return self.__rmul__(other)  # ms * 20 is 20 * ms

    def __truediv__(self, other):
        _refuse_bool(self, "/", other)
        if isinstance(other, Unit):
            return Unit(_join(self.symbol, "/", other.symbol), self.scale / other.scale,
                        self.dimension / other.dimension)
        if isinstance(other, (numbers.Real, np.ndarray)):
            return Quantity(np.divide(1, other), self)  # ms / 2
        if isinstance(other, Quantity):  # mV / (2 * ms)
            return Quantity(np.divide(1, other.value), self / other.unit)
        return NotImplemented

    def __neg__(self):
        return Quantity(-1, self)

    def __pow__(self, power):
        _refuse_bool(self, "**", power)
        power = Fraction(power)
        root = self.scale ** power if power.denominator == 1 else _exact_root(
            self.scale ** power.numerator, power.denominator)
        return Unit(f"{_wrap(self.symbol)}**{power}", root, self.dimension ** power)

    def __rmul__(self, value):
        _refuse_bool(value, "*", self)
        if isinstance(value, (list, tuple)):  # [1, 2] * mV, as Brian2 takes it
            array = np.asarray(value)
            value = array if array.dtype.kind in "biuf" else value
        if isinstance(value, numbers.Real) or isinstance(value, np.ndarray):
            return Quantity(value, self)
        return NotImplemented

    def __rtruediv__(self, value):
        _refuse_bool(value, "/", self)
        if isinstance(value, numbers.Real) or isinstance(value, np.ndarray):
            return Quantity(value, Unit(f"1/{_wrap(self.symbol)}", 1 / self.scale,
                                        DIMENSIONLESS / self.dimension))
        return NotImplemented

    def __str__(self) -> str:
        return self.symbol

    def __repr__(self) -> str:
        return f"<Unit {self.symbol}: {self.dimension.words()}>"


def _wrap(symbol: str) -> str:
    """Parenthesise a product or quotient (not a power such as cm**2) inside another."""
    return f"({symbol})" if re.search(r"(?<!\*)\*(?!\*)|/", symbol) else symbol


def _join(left: str, op: str, right: str) -> str:
    return f"{left}{op}{_wrap(right) if op == '/' else right}"


def is_bool(value) -> bool:
    """Whether ``value`` is a bool, a bool array, or a list holding a bool."""
    if isinstance(value, (bool, np.bool_)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "b"
    return isinstance(value, (list, tuple)) and any(is_bool(item) for item in value)


def _refuse_bool(left, op: str, right) -> None:
    """A UnitError where an operand of ``left op right`` is a bool: ``True * ms`` was 1 ms,
    a flag taken for a number."""
    flag = next((side for side in (left, right) if is_bool(side)), None)
    if flag is None:
        return

    scalar = isinstance(flag, (bool, np.bool_))
    kind = "array" if isinstance(flag, np.ndarray) else "list"

    def shown(side):
        if side is flag:
            return repr(flag) if scalar else f"<{kind} of bools>"
        return str(side)
    what = repr(flag) if scalar else f"a value of the {kind}"
    raise UnitError(f"cannot compute {shown(left)} {op} {shown(right)}: {what} is a bool, "
                    "not a number",
                    hint="use a number (1 * ms, not True * ms); for an array of flags, "
                         "flags.astype(float)")


def _is_zero(value) -> bool:
    """The int 0 that the built-in ``sum`` starts from: the one number added to a
    quantity of any dimension (as a literal 0 matches any dimension in a model)."""
    return type(value) is int and value == 0


@dataclass(frozen=True)
class Quantity:
    """A value (a number or a NumPy array) with a unit: ``20 * eqsnn.units.ms``."""

    value: object
    unit: Unit

    __array_ufunc__ = None

    def __array_function__(self, func, types, args, kwargs):
        """A UnitError for every NumPy function given a quantity: NumPy took it for one
        object, so ``np.mean(np.array([1, 2]) * ms)`` was ``[1, 2] ms``, not 1.5 ms."""
        name = func.__name__
        raise UnitError(f"numpy.{name} cannot take a quantity ({self}): NumPy would see one "
                        "object, not its values",
                        hint=f"take the values in a unit and put the unit back: "
                             f"np.{name}(q.to(eqsnn.units.ms)) * eqsnn.units.ms")

    def to(self, unit: Unit):
        """The value in ``unit``; a :class:`UnitError` if the dimensions differ."""
        if unit.dimension != self.unit.dimension:
            raise UnitError(f"cannot convert {self.unit} ({self.unit.dimension.words()}) to "
                            f"{unit} ({unit.dimension.words()})")
        ratio = self.unit.scale / unit.scale
        value = _scaled(self.value, ratio)
        return float(value) if isinstance(self.value, numbers.Real) else value

    def __mul__(self, other):
        _refuse_bool(self, "*", other)
        if isinstance(other, Unit):
            return Quantity(self.value, self.unit * other)
        if isinstance(other, Quantity):
            return Quantity(np.multiply(self.value, other.value), self.unit * other.unit)
        if isinstance(other, (numbers.Real, np.ndarray)):
            return Quantity(np.multiply(self.value, other), self.unit)
        return NotImplemented

    def __rmul__(self, other):
        _refuse_bool(other, "*", self)
        return self.__mul__(other)

    def __truediv__(self, other):
        _refuse_bool(self, "/", other)
        if isinstance(other, Unit):
            return Quantity(self.value, self.unit / other)
        if isinstance(other, Quantity):
            return Quantity(np.divide(self.value, other.value), self.unit / other.unit)
        if isinstance(other, (numbers.Real, np.ndarray)):
            return Quantity(np.divide(self.value, other), self.unit)
        return NotImplemented

    def __rtruediv__(self, other):
        _refuse_bool(other, "/", self)
        if isinstance(other, (numbers.Real, np.ndarray)):  # 1 / (10 * kHz)
            one = Unit("1", Fraction(1), DIMENSIONLESS)
            return Quantity(np.divide(other, self.value), one / self.unit)
        return NotImplemented

    def __add__(self, other):
        """``20 * ms + 1 * s``: in the left unit; a UnitError where the dimensions differ.
        The int 0 adds to any quantity, so that ``sum([1 * ms, 2 * ms])`` is 3 ms; any
        other number is no quantity (a TypeError)."""
        if _is_zero(other):
            return Quantity(self.value + 0, self.unit)  # a new array, as q + q gives
        _refuse_bool(self, "+", other)
        if not isinstance(other, Quantity):
            return NotImplemented
        if other.unit.dimension != self.unit.dimension:
            raise UnitError(f"cannot add {other} ({other.unit.dimension.words()}) to {self} "
                            f"({self.unit.dimension.words()})")
        return Quantity(np.add(self.value, other.to(self.unit)), self.unit)

    def __radd__(self, other):
        """``0 + q``, where the built-in sum starts; ``False + q`` is refused."""
        if _is_zero(other):
            return Quantity(self.value + 0, self.unit)
        _refuse_bool(other, "+", self)
        return NotImplemented

    def __sub__(self, other):
        if not isinstance(other, Quantity):
            return NotImplemented
        return self + (-other)

    def __neg__(self):
        return Quantity(np.negative(self.value), self.unit)

    def __bool__(self):
        """``0 * mV`` is false in every unit, as 0 is (a dataclass is always true); a
        quantity of several values is neither, as a NumPy array is not."""
        value = np.asarray(self.value)
        if value.size != 1:
            raise UnitError(f"the truth value of a quantity of {value.size} values is "
                            "ambiguous", hint="write (q.value != 0).any() or .all()")
        return bool(value)

    def _compared(self, other, op):
        """``other``'s value in this unit, for a comparison; a UnitError across dimensions."""
        if other.unit.dimension != self.unit.dimension:
            raise UnitError(f"cannot compare {self} ({self.unit.dimension.words()}) with "
                            f"{other} ({other.unit.dimension.words()})")
        return op(self.value, other.to(self.unit))

    def __eq__(self, other):
        """``20 * ms == 0.02 * second`` compares the values in one unit (it compared the
        symbols: False); a quantity of another dimension is not equal."""
        if not isinstance(other, Quantity):
            return NotImplemented
        if other.unit.dimension != self.unit.dimension:
            return False
        return self._compared(other, np.equal)[()]

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else np.logical_not(equal)[()]

    def __lt__(self, other):
        return self._compared(other, np.less)[()] if isinstance(other, Quantity) \
            else NotImplemented

    def __le__(self, other):
        return self._compared(other, np.less_equal)[()] if isinstance(other, Quantity) \
            else NotImplemented

    def __gt__(self, other):
        return self._compared(other, np.greater)[()] if isinstance(other, Quantity) \
            else NotImplemented

    def __ge__(self, other):
        return self._compared(other, np.greater_equal)[()] if isinstance(other, Quantity) \
            else NotImplemented

    __hash__ = None  # equal quantities may have different units; an array is no key

    def __pow__(self, power):
        """``(20 * um) ** 2``: a constant power of the value and the unit."""
        _refuse_bool(self, "**", power)
        if not isinstance(power, (numbers.Rational, float)) or isinstance(power, bool):
            return NotImplemented
        exact = Fraction(power).limit_denominator(12)
        if float(exact) != float(power):
            raise UnitError(f"cannot raise {self} to the power {power}",
                            hint="a unit takes a constant power such as 2, -1, 0.5 or 1/3")
        return Quantity(np.power(self.value, float(power))[()], self.unit ** exact)

    def __str__(self) -> str:
        return f"{self.value} {self.unit}"


def _scaled(value, ratio: Fraction):
    if np.asarray(value).dtype.kind in "biu":  # an int product would wrap: 3 s in ns in int32
        value = np.asarray(value, dtype=np.float64)[()]
    if ratio.denominator == 1:
        return value * ratio.numerator if ratio.numerator != 1 else value
    if ratio.numerator == 1:
        return np.divide(value, ratio.denominator)[()]
    return np.multiply(value, float(ratio))[()]
