"""What keeps a run whole from the user's side: the recording memory checked before the
first step, and the rollback of a run that did not finish.

A run that raises (Ctrl-C, a ``MemoryError`` while recording, any error of a
backend) is rolled back: every state, and the runtime values and data arrays
the run set, get back the values they had before it, and the step counter
(hence ``t`` and the random draws of the next run) is unchanged.  The next
run then continues exactly as if the failed one had never been started.  The
price is one copy of the states per run, taken before the first step.
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

from ..errors import ParameterError
from .spike_bits import row_words

__all__ = ["Snapshot", "record_bytes", "available_memory", "check_record_memory"]


class Snapshot:
    """The states (and the values and arrays a run is about to set) of a runner, to put
    back with :meth:`restore` if the run does not finish."""

    def __init__(self, runner, states, values=None, arrays=None):
        self.runner = runner
        self.states = {name: runner.get_state(name) for name in states}
        self.values = dict(values or {})
        self.arrays = dict(arrays or {})

    def restore(self) -> None:
        for name, value in self.states.items():
            self.runner.set_state(name, value)
        for name, value in self.values.items():
            self.runner.set_value(name, value)
        for name, value in self.arrays.items():
            self.runner.set_array(name, value)


def record_bytes(model, chosen: dict, record_spikes, steps: int, batch: int, n: int,
                 precision: str) -> int:
    """Bytes the recorded states and spike planes of a run take: ``steps * batch * width``
    values of each recorded state, and per spike plane (two for a signed model) a row of
    ``n`` bits padded to whole 64-byte lines per step and lane.  ``record_spikes`` is
    False, True or the ids whose spikes are kept (the planes hold every neuron)."""
    sizes = {"float": np.dtype(precision).itemsize, "int": 4, "bool": 1}
    types = {s.name: s.dtype for s in model.states}
    total = 0
    for name, index in chosen.items():
        width = n if index is None else len(index)
        total += steps * batch * width * sizes.get(types[name], 8)
    if record_spikes is not False and model.spiking:
        total += (1 + model.signed) * steps * batch * row_words(n) * 4
    return total


def check_state_memory(model, n: int, batch: int, precision: str) -> None:
    """Refuse, before anything is allocated, a population whose states alone (one array
    each, the least any backend holds) need more memory than is available now: NumPy
    raised a bare MemoryError, or the system killed the process when the arrays were
    filled."""
    sizes = {"float": np.dtype(precision).itemsize, "int": 4, "bool": 1}
    needed = n * batch * sum(sizes.get(s.dtype, 8) for s in model.states)
    available = available_memory()
    if available is None or needed <= available:
        return
    lanes = f" in {batch} lanes" if batch != 1 else ""
    raise ParameterError(
        f"{n} neurons{lanes} of {model.name} hold {len(model.states)} states: at least "
        f"{_size(needed)}, more than the {_size(available)} of memory available now; "
        "nothing was allocated",
        hint="simulate fewer neurons or lanes" + (
            ", or in float32" if precision == "float64" else ""))


def available_memory() -> int | None:
    """Bytes of memory available now (Linux ``MemAvailable``), or ``None`` if unknown."""
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _limit(record_memory) -> float | None:
    if record_memory is None:
        return available_memory()
    if isinstance(record_memory, bool) or not isinstance(record_memory, numbers.Real) \
            or math.isnan(record_memory) or record_memory < 0:
        raise ParameterError(
            f"record_memory must be a number of bytes >= 0 (math.inf: no check), "
            f"not {record_memory!r}")
    return float(record_memory)


def check_record_memory(needed: int, record_memory, chosen: dict, steps: int) -> None:
    """Refuse a run whose recording needs more than ``record_memory`` bytes (``None``:
    the memory available now)."""
    limit = _limit(record_memory)
    if limit is None or needed <= limit:
        return
    example = next(iter(chosen), "V")
    raise ParameterError(
        f"recording this run needs {_size(needed)}, more than the {_size(limit)} "
        f"{'available' if record_memory is None else 'allowed by record_memory'}; "
        "nothing was run",
        hint=f"record fewer neurons (record={{{example!r}: [0, 1, 2]}}), fewer states, or "
             f"run the {steps} steps in shorter runs; record_memory=math.inf turns the "
             "check off")


def _size(count: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count} bytes"
