"""The Simulator's own arguments, checked: the model, population shape, counts, dt,
precision, seed."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import ir
from ..errors import ParameterError
from .inputs import is_int

__all__ = ["count", "positive_int", "population_shape", "time_step_value",
           "check_dt_precision", "precision_name", "seed_value", "tolerance", "resolve_model"]


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


def check_dt_precision(dt: float, precision: str) -> None:
    """Refuse a ``dt`` that ``precision`` cannot hold: above its largest value it became
    infinite in the kernels, below its smallest normal value 0 or a denormal (float32:
    1e300 ran as inf, 1e-50 as 0, a run in which nothing moved)."""
    info = np.finfo(precision)
    if not float(info.tiny) <= dt <= float(info.max):
        with np.errstate(over="ignore"):  # inf is what the message shows
            held = float(np.array(dt).astype(precision))
        raise ParameterError(
            f"dt = {dt!r} ms is outside what {precision} holds ({float(info.tiny):.3g} to "
            f"{float(info.max):.3g}): the step would run with dt = "
            f"{held!r}",
            hint="give dt in ms (0.1 for 100 microseconds)"
            + ("" if precision == "float64" else ", or simulate with precision='float64'"))


def precision_name(precision) -> str:
    if precision in ("float32", "float64", np.float32, np.float64):
        return np.dtype(precision).name
    raise ParameterError(f"precision must be 'float32' or 'float64', not {precision!r}")


def seed_value(seed) -> int:
    if not is_int(seed) or not 0 <= seed < 2**64:
        raise ParameterError(f"seed must be an integer in [0, 2**64), not {seed!r}")
    return int(seed)


def resolve_model(model, shape, batch_size, dt, seed):
    """``(ir.Model, Build or None)`` of an ir.Model, an eqsnn.Model or a stdlib neuron."""
    inner = model if isinstance(model, ir.Model) else getattr(model, "ir", None)
    if isinstance(inner, ir.Model):
        if inner.meta.get("kind") == "synapse":
            raise ParameterError(
                f"the Simulator cannot run a synapse model ({inner.name}) on its own",
                hint="connect it between populations with eqsnn.network.Network.connect")
        if inner.meta.get("kind") == "weight_update":
            raise ParameterError(
                f"the Simulator cannot run a weight-update model ({inner.name}) on its own",
                hint="give it to eqsnn.network.Network.connect(..., weight_update=...)")
        return inner, None
    if isinstance(model, type) and callable(getattr(model, "build", None)):
        raise ParameterError(f"{model.__name__} is a neuron class; the Simulator takes an "
                             f"instance of it", hint=f"write {model.__name__}() (with its "
                             "arguments, e.g. tau_mem=10.0)")
    if isinstance(model, str):
        raise ParameterError(f"expected an eqsnn.Model, got str {model[:100]!r}",
                             hint="a model file: eqsnn.load(path); a standard-library "
                             "neuron: eqsnn.neurons.get_neuron(name) or e.g. "
                             "eqsnn.neurons.LeakyIntegrateFire()")
    if callable(getattr(model, "build", None)):
        # a standard-library neuron: see eqsnn.stdlib.protocol for the Build contract
        build = model.build(shape=shape, batch_size=batch_size, dt=dt, seed=seed)
        return build.model.ir, build
    from ..stdlib.protocol import ml_genn_twin

    raise ParameterError(
        f"expected an eqsnn.Model, got {type(model).__name__}",
        hint=ml_genn_twin(model, "neurons")
        or "compile one with eqsnn.compile(text) or eqsnn.load(path)",
    )
