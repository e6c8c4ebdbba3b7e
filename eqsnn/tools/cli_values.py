"""The values the ``eqsnn`` command line reads: ``NAME=VALUE`` pairs and ``--dt``."""

from __future__ import annotations

import argparse

from ..errors import EqsnnError

__all__ = ["pairs", "time_step_argument"]


def _value(text: str, n: int | None = None):
    """NAME=VALUE values: a number, comma-separated numbers for per-neuron values,
    ``LO:HI`` for ``n`` values evenly spaced from LO to HI (one per neuron), or a number
    with a unit (``20ms``, ``-65 mV``), passed on as text for the Simulator."""
    import numpy as np

    from ..units import UnitError, parse_quantity

    if ":" in text:
        return _spread(text, n)
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        try:
            parse_quantity(text)  # 20ms, -65 mV: the Simulator converts and checks it
        except UnitError:
            raise EqsnnError(f"not a number: {text!r}",
                             hint="write NAME=1.5, NAME=1,2,3 for one value per neuron, "
                             "NAME=0.5:1.5 for values spread over the neurons, or NAME=20ms "
                             "with a unit") from None
        return text
    return parts[0] if len(parts) == 1 else np.array(parts)


def _spread(text: str, n: int | None):
    import numpy as np

    low, _, high = text.partition(":")
    try:
        low, high = float(low), float(high)
    except ValueError:
        raise EqsnnError(f"not a range: {text!r}",
                         hint="write LO:HI with two numbers, e.g. Isyn=0.05:0.14") from None
    if n is None:
        raise EqsnnError(f"a range ({text}) needs one population size",
                         hint="give one value or comma-separated values here") from None
    if not (np.isfinite(low) and np.isfinite(high)):  # linspace made NaN of them, and warned
        raise EqsnnError(f"not a range of finite numbers: {text!r}",
                         hint="write LO:HI with two finite numbers, e.g. Isyn=0.05:0.14")
    return np.linspace(low, high, n)


def time_step_argument(text: str) -> float:
    """--dt: a number in ms, or a time with a unit (``100us``, ``0.1 ms``)."""
    from ..runtime.quantities import time_step

    try:
        return float(text)
    except ValueError:
        pass
    try:
        return float(time_step(text))
    except EqsnnError as exc:
        raise argparse.ArgumentTypeError(f"{exc.message}; {exc.hint or ''}".rstrip("; ")) \
            from None


def pairs(items, what, n: int | None = None):
    out = {}
    for item in items or []:
        if "=" not in item:
            raise EqsnnError(f"{what} {item!r} is not NAME=VALUE", hint=f"e.g. --{what} I=1.5")
        name, text = item.split("=", 1)
        out[name.strip()] = _value(text, n)
    return out
