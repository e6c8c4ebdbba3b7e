"""Physical units: dimensions, the unit table, and quantities that carry a unit.

A :class:`Dimension` is a vector of rational exponents over the seven SI
base dimensions; a :class:`Unit` is a symbol, an exact rational scale to SI
and a dimension.  Scales are :class:`fractions.Fraction` s, so ``281 pF`` is
converted into the internal unit (nF) with one correctly rounded division.

The **internal unit system** is the one GeNN's built-in models use: ms, mV,
nA, nF, uS, MOhm, plus um for length, mM for concentration and 1/ms for
rates.  It is one consistent system, fixed by its base units: um, 1e-9 kg,
ms, nA, K, 1e-18 mol, cd (so mV = nA * MOhm, nA = nF * mV / ms, mM =
1e-18 mol / um**3).  Every quantity in a model is scaled into it at compile
time, so the generated code has no unit cost.

In Python, units are attributes of this module (``eqsnn.units.ms``) and
``20 * eqsnn.units.ms`` is a :class:`Quantity`; :func:`parse_quantity`
reads strings such as ``"20 ms"`` or ``"0.1 mV/ms"``.

>>> from eqsnn import units
>>> (281 * units.pF).to(units.nF)
0.281
>>> units.lookup("MOhm").dimension.words()
'resistance'
"""

from __future__ import annotations

import functools
import numbers
import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import EqsnnError
from .frontend.unit_system import (  # noqa: F401  (re-exported: eqsnn.units.VOLTAGE, ...)
    _NAMED,
    _NAMES,
    AMOUNT,
    BASE,
    CAPACITANCE,
    CHARGE,
    CONCENTRATION,
    CONDUCTANCE,
    CURRENT,
    DIMENSIONLESS,
    INTERNAL,
    LENGTH,
    MASS,
    RATE,
    RESISTANCE,
    TEMPERATURE,
    TIME,
    VOLTAGE,
    Dimension,
    _exact_root,
    _internal_scale,
    internal_symbol,
)

__all__ = ["Dimension", "Unit", "Quantity", "UnitError", "lookup", "parse_unit",
           "parse_quantity", "DIMENSIONLESS", "TIME", "INTERNAL"]


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


def _is_bool(value) -> bool:
    """Whether ``value`` is a bool, a bool array, or a list holding a bool."""
    if isinstance(value, (bool, np.bool_)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "b"
    return isinstance(value, (list, tuple)) and any(_is_bool(item) for item in value)


def _refuse_bool(left, op: str, right) -> None:
    """A UnitError where an operand of ``left op right`` is a bool: ``True * ms`` was 1 ms,
    a flag taken for a number."""
    flag = next((side for side in (left, right) if _is_bool(side)), None)
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


# --- the unit table ------------------------------------------------------------------

_PREFIXES = {
    "Y": 24, "Z": 21, "E": 18, "P": 15, "T": 12, "G": 9, "M": 6, "k": 3, "h": 2, "da": 1,
    "d": -1, "c": -2, "m": -3, "u": -6, "n": -9, "p": -12, "f": -15, "a": -18, "z": -21,
    "y": -24,
}

#: unprefixed units: symbol -> (SI scale, dimension)
_BASE_UNITS = {
    "s": (1, TIME), "V": (1, VOLTAGE), "A": (1, CURRENT), "S": (1, CONDUCTANCE),
    "F": (1, CAPACITANCE), "Ohm": (1, RESISTANCE), "Hz": (1, RATE), "C": (1, CHARGE),
    "m": (1, LENGTH), "metre": (1, LENGTH), "meter": (1, LENGTH), "g": (Fraction(1, 1000), MASS),
    "mol": (1, AMOUNT), "M": (1000, CONCENTRATION), "K": (1, TEMPERATURE),
    # Brian2's spellings (prefixed the same way: msecond, mvolt, namp, Mohm, ...)
    "second": (1, TIME), "volt": (1, VOLTAGE), "amp": (1, CURRENT), "ampere": (1, CURRENT),
    "siemens": (1, CONDUCTANCE), "farad": (1, CAPACITANCE), "ohm": (1, RESISTANCE),
    "hertz": (1, RATE), "coulomb": (1, CHARGE), "gram": (Fraction(1, 1000), MASS),
    "mole": (1, AMOUNT), "molar": (1000, CONCENTRATION), "kelvin": (1, TEMPERATURE),
    "liter": (Fraction(1, 1000), LENGTH ** 3), "litre": (Fraction(1, 1000), LENGTH ** 3),
}
#: common spellings that are not units here
_SPELLINGS = {"sec": "s", "msec": "ms", "usec": "us", "ohms": "Ohm", "mohms": "MOhm",
              "kohms": "kOhm", "volts": "V", "amps": "A", "um2": "um**2", "cm2": "cm**2"}
#: units that need an offset, not a scale: never accepted
_OFFSET_UNITS = {"degC", "celsius", "degF", "fahrenheit", "degree_Celsius"}


@functools.cache
def _table() -> dict[str, Unit]:
    table: dict[str, Unit] = {}
    for symbol, (scale, dim) in _BASE_UNITS.items():
        table[symbol] = Unit(symbol, Fraction(scale), dim)
        for prefix, power in _PREFIXES.items():
            name = prefix + symbol
            if name not in _BASE_UNITS and name not in table:
                table[name] = Unit(name, Fraction(scale) * Fraction(10) ** power, dim)
    return table


#: the micro sign (U+00B5) and the Greek mu (U+03BC), both read as the prefix u
_MICRO = "\u00b5\u03bc"


def _ascii(name: str) -> str:
    """``name`` with a leading micro sign or Greek mu as the prefix u (µs, μF)."""
    return "u" + name[1:] if name[:1] in _MICRO else name


def lookup(name: str) -> Unit:
    """The unit called ``name`` (``ms``, ``MOhm``, ``msecond``, ``µs``, ...); a
    :class:`UnitError` with a suggestion otherwise."""
    unit = _table().get(_ascii(name))
    if unit is not None:
        return unit
    raise UnitError(f"unknown unit {name!r}", hint=unit_hint(name))


def is_unit(name: str) -> bool:
    return _ascii(name) in _table()


def unit_hint(name: str) -> str:
    if name in _OFFSET_UNITS:
        return ("temperatures with an offset (degC, degF) cannot be scaled; use kelvin (K) "
                "for temperature differences, or give the temperature as a dimensionless param")
    import difflib

    same = sorted((known for known in _table() if known.lower() == name.lower()),
                  key=lambda known: known[0] != name[0])  # the prefix's case matters: m, M
    spelled = _SPELLINGS.get(name.lower()) or (same[0] if same else None)
    if spelled:
        return f"did you mean {spelled!r}?"
    close = difflib.get_close_matches(name, list(_table()), n=1, cutoff=0.7)
    if close:
        return f"did you mean {close[0]!r}?"
    return "units are SI symbols with a prefix (ms, mV, nA, pF, uS, MOhm, um, mM, Hz) or " \
           "Brian2's names (msecond, mvolt, namp)"


def internal_unit(dim: Dimension) -> Unit:
    """The internal unit of ``dim`` as a :class:`Unit` (factor 1)."""
    return Unit(internal_symbol(dim), _internal_scale(dim), dim)


# --- unit expressions in text: "mV/ms", "uF/cm**2", "1/ms" -------------------------

_TOKEN = re.compile(r"\s*(?:(\*\*|\^)|([*/()])|([A-Za-z\u00b5\u03bc_][A-Za-z0-9_]*)"
                    r"|([+-]?\d+(?:/\d+)?))")


def parse_unit(text: str) -> Unit:
    """``"mV/ms"``, ``"uF/cm**2"``, ``"1/ms"`` → :class:`Unit`."""
    tokens = _tokens(text)
    unit, rest = _product(tokens, text)
    if rest:
        raise UnitError(f"cannot read the unit {text!r} past {rest[0]!r}",
                        hint="write a unit such as 'mV', 'mV/ms' or 'uF/cm**2'")
    return Unit(text.strip(), unit.scale, unit.dimension)


def _tokens(text: str) -> list[str]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise UnitError(f"cannot read the unit {text!r}",
                            hint="write a unit such as 'mV', 'mV/ms' or 'uF/cm**2'")
        tokens.append(next(g for g in match.groups() if g is not None))
        pos = match.end()
    return tokens


def _product(tokens, text):
    unit, tokens = _power(tokens, text)
    while tokens and tokens[0] in ("*", "/"):
        op = tokens[0]
        right, tokens = _power(tokens[1:], text)
        unit = unit * right if op == "*" else unit / right
    return unit, tokens


def _power(tokens, text):
    if not tokens:
        raise UnitError(f"the unit {text!r} is incomplete", hint="write e.g. 'mV/ms'")
    head, tokens = tokens[0], tokens[1:]
    if head == "(":
        unit, tokens = _product(tokens, text)
        if not tokens or tokens[0] != ")":
            raise UnitError(f"unbalanced parenthesis in the unit {text!r}")
        tokens = tokens[1:]
    elif head == "1":
        unit = Unit("1", Fraction(1), DIMENSIONLESS)
    elif head[0].isalpha() or head[0] in _MICRO + "_":
        unit = lookup(head)
    else:
        raise UnitError(f"unexpected {head!r} in the unit {text!r}",
                        hint="the only number a unit may hold is 1, as in '1/ms'")
    if tokens and tokens[0] in ("**", "^"):
        if len(tokens) < 2 or not re.fullmatch(r"[+-]?\d+(/\d+)?", tokens[1]):
            raise UnitError(f"a power in the unit {text!r} needs a number", hint="write cm**2")
        unit, tokens = unit ** Fraction(tokens[1]), tokens[2:]
    return unit, tokens


_QUANTITY = re.compile(r"\s*([+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)\s*(.*)$", re.S)


def parse_quantity(text: str) -> Quantity:
    """``"20 ms"``, ``"20ms"``, ``"20*ms"``, ``"-65 mV"``, ``"0.1 mV/ms"`` → :class:`Quantity`."""
    match = _QUANTITY.match(text)
    if not match:
        raise UnitError(f"cannot read {text!r} as a number with a unit",
                        hint="write e.g. '20 ms' or '-65 mV'")
    number, unit = match.groups()
    unit = unit.strip()
    if unit.startswith("*") and not unit.startswith("**"):  # Brian2's '20*ms'
        unit = unit[1:].strip()
        if not unit:
            raise UnitError(f"cannot read {text!r}: '*' needs a unit after it",
                            hint="write e.g. '20*ms' or '20 ms'")
    if unit.startswith("[") and unit.endswith("]"):
        unit = unit[1:-1]
    value = float(number)
    # a number alone ("20") gets the unit "" (the Simulator reads it in the declared unit);
    # "20 [1]" is dimensionless, as written
    return Quantity(value, parse_unit(unit) if unit else Unit("", Fraction(1), DIMENSIONLESS))


def __getattr__(name):
    # eqsnn.units.ms, eqsnn.units.mV, ...: looked up in the table on first use
    if not name.startswith("_") and is_unit(name):
        return lookup(name)
    raise AttributeError(f"module 'eqsnn.units' has no attribute {name!r}")
