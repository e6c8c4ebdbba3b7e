"""Physical units: dimensions, the unit table, and quantities that carry a unit.

A :class:`Dimension` is a vector of rational exponents over the seven SI
base dimensions; a :class:`Unit` is a symbol, an exact rational scale to SI
and a dimension (their arithmetic, and that of a :class:`Quantity`, is in
:mod:`eqsnn.frontend.unit_algebra`).  Scales are :class:`fractions.Fraction` s, so ``281 pF`` is
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
import re
from fractions import Fraction

from .frontend.unit_algebra import Quantity, Unit, UnitError
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
