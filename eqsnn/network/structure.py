"""What a network is made of, as it is added: the read-only views of its populations and
connections (:class:`ReadOnly`), and a spike source's trains checked and sorted
(:func:`spike_trains`), and the settings fixed when a network is made
(:data:`SETTINGS`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import ParameterError, ShapeError
from .parts import MAX_DELAY
from .values import spike_times

__all__ = ["SETTINGS", "ReadOnly", "fixed_setting", "spike_trains"]


class ReadOnly(Mapping):
    """A network's populations or connections by name, as a read-only view of the network's
    own dict: iteration in the order they were added, ``len``, ``in`` and lookup work, and
    nothing can be added, replaced or deleted behind the network's back (its connections,
    Simulators and GeNN model refer to them)."""

    def __init__(self, items: dict, what: str):
        self._items, self._what = items, what

    def __getitem__(self, name):
        return self._items[name]

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __setitem__(self, name, value):
        self._refuse()

    def __delitem__(self, name):
        self._refuse()

    def _refuse(self):
        raise ParameterError(f"the network's {self._what} are read only",
                             hint="add them with Network.add_population / add_spike_source "
                             "and Network.connect before the first run; build a new Network "
                             "to change its structure")

    def __repr__(self) -> str:
        return f"{self._what}({self._items!r})"


def spike_trains(name: str, n: int, steps, neurons, times, dt: float) -> tuple:
    """The spikes of spike source ``name`` of ``n`` neurons: ``(step, neuron)`` int64 arrays
    sorted by step, then neuron, from ``steps`` (step indices) or ``times`` (ms, or a time
    quantity: a spike at time s comes at the first step k with k dt >= s) and ``neurons``;
    every mistake is an error naming the source."""
    if (steps is None) == (times is None) or neurons is None:
        raise ParameterError(f"spike source {name!r}: give neurons and either steps or "
                             "times", hint="e.g. steps=[0, 5], neurons=[3, 3]")
    ids = np.asarray(neurons)
    if ids.size and ids.dtype.kind not in "iu":
        raise ParameterError(f"spike source {name!r}: neurons must be integer neuron ids, "
                             f"not {ids.dtype}")
    if times is not None:
        t = spike_times(f"spike source {name!r}: times", times)
        if not np.all(np.isfinite(t)) or (t < 0).any():
            raise ParameterError(f"spike source {name!r}: times must be finite and >= 0")
        if (t / dt >= MAX_DELAY).any():
            raise ParameterError(f"spike source {name!r}: a time of {t.max()} ms is "
                                 f"beyond {MAX_DELAY} steps of dt", hint="times are in ms")
        at = np.ceil(t / dt - 1e-9).astype(np.int64)
    else:
        at = np.asarray(steps)
        if at.size and at.dtype.kind not in "iu":
            raise ParameterError(f"spike source {name!r}: steps must be integers")
        if at.size and at.max() > MAX_DELAY:  # GeNN counts steps in 32 bits
            raise ParameterError(f"spike source {name!r}: step {int(at.max())} is beyond "
                                 f"{MAX_DELAY}", hint="steps count from the last reset")
    if at.ndim != 1 or ids.ndim != 1 or at.shape != ids.shape:
        raise ShapeError(f"spike source {name!r}: steps/times and neurons must be 1-D "
                         f"of the same length, not {at.shape} and {ids.shape}")
    if ids.size and (ids.min() < 0 or ids.max() >= n or at.min() < 0):
        raise ParameterError(f"spike source {name!r}: a neuron id outside 0..{n - 1} or a "
                             "negative step")
    order = np.lexsort((ids, at))
    at, ids = at[order].astype(np.int64), ids[order].astype(np.int64)
    twice = np.flatnonzero((np.diff(at) == 0) & (np.diff(ids) == 0)) if at.size > 1 else ()
    if len(twice):
        k = int(twice[0])
        within = f" (times within one step of dt = {dt} ms)" if times is not None \
            else ""
        raise ParameterError(f"spike source {name!r}: neuron {int(ids[k])} spikes twice in "
                             f"one step, step {int(at[k])}{within}",
                             hint="a neuron spikes at most once per step: give it one "
                             "time per step, or a smaller dt")
    return at, ids


#: the settings a Network is made with, which its populations and connections assume
SETTINGS = ("dt", "batch_size", "backend", "precision", "seed", "fast_math", "check")


def fixed_setting(network, name) -> ParameterError:
    """The error for a setting changed after the network was made: a population's model, a
    delay given in ms, a weight's precision were made for the old value, and would be left
    inconsistent with the new one, silently."""
    return ParameterError(
        f"Network.{name} is fixed when the network is made (it is "
        f"{getattr(network, name)!r}); the populations and connections were made for it",
        hint=f"make a new Network(..., {name}=...) and add the populations to it")
