"""Dimensions and the internal unit system (the algebra under :mod:`eqsnn.units`).

A :class:`Dimension` is a vector of rational exponents over the seven SI
base dimensions.  The internal unit system is fixed by the size of its base
units (um, 1e-9 kg, ms, nA, K, 1e-18 mol, cd), which makes ms, mV, nA, nF,
uS, MOhm, um, mM and 1/ms one consistent set.

>>> (VOLTAGE / CURRENT).words()
'resistance'
>>> str(VOLTAGE / TIME)
'voltage per time (mV/ms)'
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

BASE = ("length", "mass", "time", "current", "temperature", "amount", "luminosity")
_BASE_SYMBOL = ("m", "kg", "s", "A", "K", "mol", "cd")


@dataclass(frozen=True)
class Dimension:
    """Exponents of the SI base dimensions (length, mass, time, current, ...)."""

    exponents: tuple[Fraction, ...] = (Fraction(0),) * 7

    @classmethod
    def of(cls, **powers) -> Dimension:
        return cls(tuple(Fraction(powers.get(name, 0)) for name in BASE))

    def __mul__(self, other: Dimension) -> Dimension:
        return Dimension(tuple(a + b for a, b in zip(self.exponents, other.exponents)))

    def __truediv__(self, other: Dimension) -> Dimension:
        return Dimension(tuple(a - b for a, b in zip(self.exponents, other.exponents)))

    def __pow__(self, power) -> Dimension:
        power = Fraction(power)
        return Dimension(tuple(a * power for a in self.exponents))

    @property
    def dimensionless(self) -> bool:
        return not any(self.exponents)

    def si(self) -> str:
        """In SI base units, e.g. ``kg m^2 s^-3 A^-1``."""
        parts = []
        for symbol, power in zip(_BASE_SYMBOL, self.exponents):
            if power:
                parts.append(symbol if power == 1 else f"{symbol}^{power}")
        return " ".join(parts) or "1"

    def words(self) -> str:
        """``'voltage'``, ``'voltage per time'``, ``'time^-1/2'``, ``'dimensionless'``."""
        if self.dimensionless:
            return "dimensionless"
        named = _NAMES.get(self)
        if named:
            return named
        half = Fraction(1, 2)
        for name, dim in _NAMED.items():
            if name == "dimensionless" or "^" in name:
                continue
            if self == dim / TIME:
                return f"{name} per time"
            if self == dim * TIME and name != "rate":
                return f"{name} times time"
            if self == dim / TIME**half:
                return f"{name} per square root of time"
            if self**2 == dim:
                return f"square root of a {name}"
            if self == dim**2:
                return f"square of a {name}"
        return self.si()

    def __repr__(self) -> str:
        return f"<Dimension {self.si()}>"

    def __str__(self) -> str:
        words = self.words()
        unit = internal_symbol(self)
        if words in ("dimensionless", unit) or unit.startswith("internal units"):
            return words
        return f"{words} ({unit})"


DIMENSIONLESS = Dimension()
LENGTH, MASS, TIME, CURRENT = (Dimension.of(**{n: 1}) for n in BASE[:4])
TEMPERATURE, AMOUNT = Dimension.of(temperature=1), Dimension.of(amount=1)
VOLTAGE = Dimension.of(mass=1, length=2, time=-3, current=-1)
RESISTANCE = VOLTAGE / CURRENT
CONDUCTANCE = CURRENT / VOLTAGE
CHARGE = CURRENT * TIME
CAPACITANCE = CHARGE / VOLTAGE
RATE = DIMENSIONLESS / TIME
CONCENTRATION = AMOUNT / LENGTH**3

_NAMED = {
    "dimensionless": DIMENSIONLESS, "time": TIME, "voltage": VOLTAGE, "current": CURRENT,
    "conductance": CONDUCTANCE, "resistance": RESISTANCE, "capacitance": CAPACITANCE,
    "charge": CHARGE, "rate": RATE, "length": LENGTH, "area": LENGTH**2, "volume": LENGTH**3,
    "mass": MASS, "temperature": TEMPERATURE, "amount of substance": AMOUNT,
    "concentration": CONCENTRATION, "capacitance per area": CAPACITANCE / LENGTH**2,
    "conductance per area": CONDUCTANCE / LENGTH**2, "current per area": CURRENT / LENGTH**2,
    "time^-1/2 (white noise)": TIME**Fraction(-1, 2),
}
_NAMES = {dim: name for name, dim in _NAMED.items()}

#: SI size of the internal unit of each base dimension (see the module docstring)
_INTERNAL_BASE = (Fraction(1, 10**6), Fraction(1, 10**9), Fraction(1, 10**3),
                  Fraction(1, 10**9), Fraction(1), Fraction(1, 10**18), Fraction(1))


def _internal_scale(dim: Dimension) -> Fraction:
    scale = Fraction(1)
    for base, power in zip(_INTERNAL_BASE, dim.exponents):
        if power.denominator != 1:  # a rational power: only where it stays rational
            root = _exact_root(base ** power.numerator, power.denominator)
            scale *= root
        else:
            scale *= base ** int(power)
    return scale


def _exact_root(value: Fraction, n: int) -> Fraction:
    num, den = round(value.numerator ** (1 / n)), round(value.denominator ** (1 / n))
    if Fraction(num, den) ** n != value:  # 1e-3 s^(1/2) has no rational square root
        return Fraction(float(value) ** (1 / n))
    return Fraction(num, den)


#: the internal unit named for each dimension, for messages and docs
INTERNAL = {
    TIME: "ms", VOLTAGE: "mV", CURRENT: "nA", CAPACITANCE: "nF", CONDUCTANCE: "uS",
    RESISTANCE: "MOhm", LENGTH: "um", CONCENTRATION: "mM", RATE: "1/ms", CHARGE: "pC",
    DIMENSIONLESS: "1", VOLTAGE / TIME: "mV/ms", CURRENT / TIME: "nA/ms",
    CONDUCTANCE / TIME: "uS/ms", LENGTH**2: "um**2", AMOUNT: "amol", MASS: "ug",
    TEMPERATURE: "K",
}


def internal_symbol(dim: Dimension) -> str:
    """How the internal unit of ``dim`` is written (``mV``, ``1/ms``, or SI base units)."""
    if dim in INTERNAL:
        return INTERNAL[dim]
    for base, symbol in ((VOLTAGE, "mV"), (CURRENT, "nA"), (CONDUCTANCE, "uS"),
                         (CAPACITANCE, "nF"), (CONCENTRATION, "mM")):
        for other, word in ((TIME, "ms"), (LENGTH**2, "um**2")):
            if dim == base / other:
                return f"{symbol}/{word}"
        if dim == base**2:
            return f"{symbol}**2"
    return f"internal units of {dim.si()}"
