"""The Simulator's own arguments, checked: population shape, counts, dt, precision, seed."""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..errors import ParameterError
from .inputs import is_int

__all__ = ["count", "positive_int", "population_shape", "time_step_value", "precision_name",
           "seed_value", "tolerance"]


def count(what: str, value) -> int:
    if not is_int(value) or value < 0:
        raise ParameterError(f"{what} must be a non-negative integer, not {value!r}")
    return int(value)


def positive_int(what: str, value) -> int:
    if not is_int(value) or value < 1:
        raise ParameterError(f"{what} must be a positive integer, not {value!r}")
    return int(value)


def tolerance(what: str, value) -> float:
    """A comparison's ``rtol`` or ``atol``: NaN would make every comparison pass, a negative
    tolerance every one fail."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or value < 0:
        raise ParameterError(f"{what} must be a finite number >= 0, not {value!r}",
                             hint="e.g. 1e-9; 0 accepts identical values only")
    return float(value)


def population_shape(n) -> tuple[int, ...]:
    shape = (n,) if is_int(n) else n
    if not isinstance(shape, tuple) or not shape or not all(is_int(d) and d > 0 for d in shape):
        raise ParameterError(
            f"n must be a positive integer or a tuple of them (the population shape), not {n!r}"
        )
    return tuple(int(d) for d in shape)


def time_step_value(dt) -> float:
    if isinstance(dt, bool) or not isinstance(dt, numbers.Real) or not (
        math.isfinite(dt) and dt > 0
    ):
        raise ParameterError(f"dt must be a positive finite number, not {dt!r}")
    return float(dt)


def precision_name(precision) -> str:
    if precision in ("float32", "float64", np.float32, np.float64):
        return np.dtype(precision).name
    raise ParameterError(f"precision must be 'float32' or 'float64', not {precision!r}")


def seed_value(seed) -> int:
    if not is_int(seed) or not 0 <= seed < 2**64:
        raise ParameterError(f"seed must be an integer in [0, 2**64), not {seed!r}")
    return int(seed)
