"""``Simulator.state``: a read-only view of a population's states in their declared units."""

from __future__ import annotations

from collections.abc import Mapping

from .quantities import from_internal

__all__ = ["StateView"]


class StateView(Mapping):
    """State name -> read-only copy of the current value, fetched on access."""

    def __init__(self, sim):
        self._sim = sim
        self._names = [s.name for s in sim.model.states]

    def __getitem__(self, name):
        if name not in self._names:
            raise KeyError(name)
        sim = self._sim
        value = sim._runner.get_state(name).reshape((sim.batch_size,) + sim.shape)
        value = from_internal(sim.model, name, value)
        value.flags.writeable = False
        return value

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)
