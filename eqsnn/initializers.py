"""Initialisers and ml_genn's ``InitValue`` rules for standard-library arguments.

An ``InitValue`` is what a standard-library constructor argument such as
``v_thresh`` or ``v`` accepts:

* a number (a 0-d array counts as one; a bool does not, though ml_genn
  reads True as 1): the same value for every neuron;
* a sequence or array of numbers (not bools, dates or durations): one value
  per neuron, flat or shaped like the population (flattened in C order; a
  standard-library neuron refuses other shapes when it is built);
* an :class:`Initializer` (:class:`Normal`, :class:`Uniform`) or its name
  (``"normal"``, ``"uniform"``, meaning the default instance; ml_genn stores
  the class there, so that path cannot work in ml_genn): sampled per neuron
  when the population is built, reproducibly from the simulator's seed;
* ``None``: absent (only ``tau_refrac`` accepts it).

A sampled initial value is drawn once, when the Simulator builds the
population, and ``Simulator.reset()`` restores exactly those values (ml_genn
restores initialiser-valued variables from a second sample drawn at build
time; eqsnn implements the intended behaviour: back to the initial state).

Arguments that ml_genn transforms by ``dt`` (``tau_mem``, ``tau_adapt``)
accept numbers and arrays only.

>>> v = resolve("v", Normal(0.0, 1.0), n=3, seed=1)
>>> v.shape, bool(np.all(v == resolve("v", Normal(0.0, 1.0), n=3, seed=1)))
((3,), True)
"""

from __future__ import annotations

import numbers
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import LibraryError, LibraryNotImplementedError

__all__ = ["Initializer", "Normal", "Uniform", "check_value", "resolve"]


class Initializer:
    """Draws one value per neuron; subclasses define :meth:`sample`."""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class Normal(Initializer):
    """Normally distributed values with the given ``mean`` and standard deviation ``sd``."""

    mean: float = 0.0
    sd: float = 1.0

    def __post_init__(self):
        _finite(self, "mean", self.mean)
        _finite(self, "sd", self.sd)
        if self.sd < 0:
            raise LibraryError(f"{self!r}: sd must be >= 0, not {self.sd!r}",
                               hint="sd is the standard deviation of the values drawn")

    def sample(self, rng, n):
        return rng.normal(self.mean, self.sd, size=n)


@dataclass(frozen=True)
class Uniform(Initializer):
    """Values uniformly distributed in ``[min, max)``."""

    min: float = 0.0
    max: float = 1.0

    def __post_init__(self):
        _finite(self, "min", self.min)
        _finite(self, "max", self.max)
        if self.min > self.max:
            raise LibraryError(f"{self!r}: min must not be above max",
                               hint=f"Uniform({self.max!r}, {self.min!r}) draws from "
                               "[min, max)")

    def sample(self, rng, n):
        return rng.uniform(self.min, self.max, size=n)


def _finite(init, name, value) -> None:
    """An initialiser's argument is a finite real number: NumPy's own errors for NaN, an
    infinity or a string come only when it is drawn from, and name neither."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not np.isfinite(value):
        raise LibraryError(f"{init!r}: {name} must be a finite number, not {value!r}",
                           hint="give the initialiser plain finite numbers")


#: initialiser names accepted in place of a default-constructed object
INITIALIZERS = {"normal": Normal, "uniform": Uniform}


def check_value(name: str, value, *, dt_transformed: bool = False, allow_none: bool = False):
    """Validate an ``InitValue`` when it is given (as ml_genn's ValueDescriptor does).

    Returns the value to store: numbers as ``float``, sequences as float64
    arrays, initialiser names as default instances.
    """
    if value is None:
        if allow_none:
            return None
        raise LibraryError(f"{name} must be given a value, not None")
    if isinstance(value, (bool, np.bool_)):  # a number to Python, a slip here
        raise LibraryError(f"{name} must be a number, not {bool(value)}",
                           hint=f"give {name} a number such as 1.0 (is an argument shifted?)")
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value.item()  # numpy's 0-d array stands for a number
    if isinstance(value, numbers.Number) and not isinstance(value, numbers.Real):
        raise LibraryError(f"{name} must be a real number, not {value!r}")
    if isinstance(value, numbers.Number):
        try:
            return float(value)
        except OverflowError:
            raise LibraryError(f"{name} is too large for a float: {str(value)[:40]}...",
                               hint="give a value below 1.8e308") from None
    if isinstance(value, (str, Initializer)):
        if dt_transformed:
            raise LibraryNotImplementedError(
                f"{name} is transformed by dt and so cannot be given as an initializer "
                f"({value!r}); give a number or an array")
        if isinstance(value, str):
            if value not in INITIALIZERS:
                raise LibraryError(f"Initializer object '{value}' unknown",
                                   hint=f"known initializers: {', '.join(INITIALIZERS)}")
            return INITIALIZERS[value]()
        return value
    if isinstance(value, (Sequence, np.ndarray)):
        kind = np.asarray(value).dtype if isinstance(value, np.ndarray) else None
        if kind is not None and kind.kind in "bmM":
            raise LibraryError(f"{name} must be numbers, not an array of {kind.name}",
                               hint=f"give {name} as plain floats, e.g. "
                                    f"{name}=values.astype(float) where that is meant")
        try:
            if np.iscomplexobj(value) or not isinstance(value, np.ndarray) and any(
                    isinstance(v, numbers.Number) and not isinstance(v, numbers.Real)
                    for v in np.ravel(np.asarray(value, dtype=object))):
                raise LibraryError(f"{name} must be real numbers, not {value!r}")
            return np.asarray(value, dtype=np.float64).ravel()
        except OverflowError:
            raise LibraryError(f"{name} is too large for a float: {str(value)[:60]}",
                               hint="give values below 1.8e308") from None
        except (TypeError, ValueError):
            raise LibraryError(f"{name} must be numbers, got {value!r}") from None
    from .stdlib.protocol import ml_genn_twin
    from .units import Quantity, UnitError, lookup

    hint = ml_genn_twin(value, "initializers")
    if isinstance(value, Quantity):
        hint = ("the standard library's arguments are plain numbers, as in ml_genn; "
                "times in ms")
        try:
            hint += f": {name}={value.to(lookup('ms'))!r} for {value}"
        except UnitError:
            pass
    raise LibraryError(
        f"{name} must be a number, a sequence, an Initializer or a string, "
        f"not {type(value).__name__}", hint=hint)


def resolve(name: str, value, *, n: int, seed: int):
    """The value of a checked argument for ``n`` neurons: a float or an ``(n,)`` array.

    Initialisers are sampled from a generator keyed by ``(seed, name)``, so the
    same seed gives the same values and different arguments differ.
    """
    value = check_value(name, value, allow_none=True)
    if value is None or isinstance(value, float):
        return value
    if isinstance(value, Initializer):
        stream = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(seed) >> 32,
                                         zlib.crc32(name.encode())])
        return np.asarray(value.sample(np.random.default_rng(stream), n), dtype=np.float64)
    if value.size != n:
        raise LibraryError(f"{name} has {value.size} values for {n} neurons",
                           hint="give one value per neuron, or a number")
    return value
