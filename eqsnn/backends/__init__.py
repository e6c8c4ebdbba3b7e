"""Backends: one module each, registered in :data:`REGISTRY`.

The contract (``docs/architecture.md``, "The backend contract"):

* ``emit(model: ir.Model, options: EmitOptions) -> Source`` is pure: it
  prints code and imports no runtime (no cupy, no pygenn, no compiler run),
  so generated code can be inspected and golden-tested anywhere.
* ``load(source: Source) -> Program`` is lazy: it compiles or imports what
  it needs and raises :class:`~eqsnn.errors.BackendError` when it cannot.
* ``Program.start(instance: Instance) -> Runner`` allocates the state of a
  population; the ``Runner`` advances it (see :class:`Runner`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .. import ir
from ..errors import BackendError

#: backend name -> module path; a backend is one module plus one line here
REGISTRY = {
    "numpy": "eqsnn.backends.numpy",
    "pygenn": "eqsnn.backends.pygenn",
    "c": "eqsnn.backends.c",
    "cupy": "eqsnn.backends.cupy",
}


@dataclass(frozen=True)
class EmitOptions:
    precision: str = "float32"  # float32 | float64
    per_neuron: frozenset = frozenset()  # params / precompute names given per neuron
    fast_math: bool = False


@dataclass(frozen=True)
class Source:
    """What ``emit`` produces: inspectable text plus what ``load`` needs."""

    backend: str
    text: str
    model: ir.Model
    options: EmitOptions
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Instance:
    """A population to simulate: everything the host computed for it.

    ``values`` maps every param and precompute name to a float64 array of
    shape ``()`` or ``(n,)``; ``init`` maps every state to its initial value,
    shape ``(batch, n)`` in the state's dtype; ``arrays`` maps array names to
    1-D arrays.
    """

    n: int
    batch: int
    dt: float
    precision: str
    values: dict
    init: dict
    arrays: dict
    seed: int = 0


class RawRun:
    """What a runner returns: recorded variables and spikes of one run.

    Spikes come as ``spike_bits`` (a :class:`~eqsnn.runtime.spike_bits.SpikeBits`, the
    way every built-in backend records them) or as listed arrays ``spike_step``,
    ``spike_batch``, ``spike_neuron`` (and ``spike_sign``, ±1, for a signed model);
    either is derived from the other when asked for.
    """

    def __init__(self, vars: dict, spike_step=None, spike_batch=None, spike_neuron=None,
                 spike_sign=None, *, spike_bits=None):
        self.vars = vars  # name -> (steps, batch, k) array
        self.spike_bits = spike_bits
        self._listed = None
        if spike_bits is None:
            empty = np.zeros(0, np.intp)
            self._listed = tuple(empty if a is None else a for a in (
                spike_step, spike_batch, spike_neuron)) + (spike_sign,)

    def _listing(self):
        if self._listed is None:
            from ..runtime.spike_bits import list_spikes

            bits = self.spike_bits
            ids, offsets = list_spikes(bits)
            rows = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
            neuron = np.where(ids < 0, ~ids, ids).astype(np.intp)
            sign = np.where(ids < 0, -1, 1).astype(np.int8) if bits.signed else None
            self._listed = (rows // bits.batch, rows % bits.batch, neuron, sign)
        return self._listed

    spike_step = property(lambda self: self._listing()[0])
    spike_batch = property(lambda self: self._listing()[1])
    spike_neuron = property(lambda self: self._listing()[2])
    spike_sign = property(lambda self: self._listing()[3])


class Runner(Protocol):
    """Owns the state of one population on its device.

    ``run(steps, step0, inputs, record, record_spikes)``:
      ``record_spikes`` is false, true (record into new bit planes) or a
      :class:`~eqsnn.runtime.spike_bits.SpikeBits` of ``steps`` steps to write every
      word of; ``inputs`` maps every input name to an array whose shape is
      ``(1 or steps, 1 or batch, 1 or n)`` (held inputs have a leading 1 and
      are never expanded); ``record`` maps a state name to the neuron indices
      to record (``None`` for all); ``step0`` is the step counter at the start
      (``t = (step0 + i) * dt``).
    ``get_state(name) -> (batch, n)`` host copy; ``set_state(name, value)``
    writes one; ``set_value(name, value)`` replaces a param/precompute value;
    ``set_array(name, value)`` replaces the contents of an array (any length).
    Values passed in are validated by the caller; the runner converts them to
    its precision.  A runner whose ``device_inputs`` attribute is true also
    takes CUDA device arrays (CuPy) as inputs; others get host arrays only.
    """

    device_inputs: bool = False

    def run(self, steps, step0, inputs, record, record_spikes) -> RawRun: ...
    def get_state(self, name: str) -> np.ndarray: ...
    def set_state(self, name: str, value: np.ndarray) -> None: ...
    def set_value(self, name: str, value: np.ndarray) -> None: ...
    def set_array(self, name: str, value: np.ndarray) -> None: ...


def numpy_dtype(dtype: str, precision: str) -> np.dtype:
    """NumPy type of an IR type: ``float`` is the precision, ``int`` int32, ``bool`` bool."""
    return np.dtype({"float": precision, "int": np.int32, "bool": np.bool_}[dtype])


def get_backend(name: str):
    """The backend module called ``name``."""
    if name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise BackendError(f"unknown backend {name!r}", hint=f"choose one of: {known}")
    return importlib.import_module(REGISTRY[name])


def emit(model: ir.Model, backend: str = "numpy", options: EmitOptions | None = None) -> Source:
    return get_backend(backend).emit(model, options or EmitOptions())
