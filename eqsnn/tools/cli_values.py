"""The values the ``eqsnn`` command line reads (``NAME=VALUE`` pairs, ``--dt``, counts such
as ``--n 1e4``) and the check that a population fits in memory before it is built."""

from __future__ import annotations

import argparse
import math

from ..errors import EqsnnError

__all__ = ["pairs", "time_step_argument", "count_argument", "population_bytes",
           "check_population_memory"]


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
        raise EqsnnError(f"a range ({text}) needs one population size, and --n gives "
                         "several", hint="give one --n size, or one value for every "
                         "neuron") from None
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
        if name.strip() in out:  # the last one won, unsaid
            raise EqsnnError(f"{what} {name.strip()!r} given twice",
                             hint=f"give each {what} once (per-neuron values: "
                                  f"--{what} {name.strip()}=1,2,3)")
        out[name.strip()] = _value(text, n)
    return out


def count_argument(text: str) -> int:
    """--n, --steps, --batch: a whole number, also written ``1e4``; whether it is large
    enough is the command's to say (``--steps 0`` is refused with the reason)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value != int(value):
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r} (e.g. 1000 or 1e3)")
    return int(value)


def population_bytes(model, n: int, batch: int, precision: str) -> int:
    """About the bytes a run of ``n`` neurons in ``batch`` lanes holds: each state twice
    (its value and the step's new one), each input and parameter once, and a few arrays
    of a step's intermediate values, all of the precision's size (measured: an upper
    bound, within 2x, for the numpy and c backends)."""
    from .comparison import _ir_model

    ir_model = _ir_model(model)
    arrays = 4 + (0 if ir_model is None else
                  2 * len(ir_model.states) + len(ir_model.inputs) + len(ir_model.params))
    return int(n) * int(batch) * arrays * (4 if precision == "float32" else 8)


def check_population_memory(model, n: int, batch: int, precision: str) -> None:
    """Refuse, before anything is allocated, a population whose arrays alone would not fit
    in the memory available now (numpy asked for terabytes, or the system killed the run)."""
    from ..runtime.guard import _size, available_memory

    needed, available = population_bytes(model, n, batch, precision), available_memory()
    if available is None or needed <= available:
        return
    lanes = f" x {batch} lanes" if batch != 1 else ""
    raise EqsnnError(f"{n} neurons{lanes} need about {_size(needed)} of memory, more than "
                     f"the {_size(available)} available; nothing was run",
                     hint="run fewer neurons (--n) or lanes (--batch)")
