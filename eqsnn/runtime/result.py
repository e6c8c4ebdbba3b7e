"""What one ``Simulator.run`` returns: recorded variables, spikes, readout, timing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Result", "RunInfo", "Spikes", "Timing"]


@dataclass(frozen=True)
class Spikes:
    """Spikes of one run, sorted by (step, batch, neuron).

    ``step`` counts from the start of the run; the spike's time is
    ``(first_step + step) * dt`` with ``first_step`` the step index (since
    the last reset) at which the run began.  ``neuron`` is the flat
    (C-order) neuron id, :attr:`index` the same in the population's
    ``shape``; ``sign`` is +1/-1 for models with a negative threshold, else
    None.
    """

    step: np.ndarray
    batch: np.ndarray
    neuron: np.ndarray
    sign: np.ndarray | None
    dt: float
    first_step: int
    batch_size: int
    shape: tuple = ()  # the population's shape; () means flat ids only

    def __len__(self) -> int:
        return len(self.step)

    @property
    def index(self) -> tuple[np.ndarray, ...]:
        """Each spike's neuron as an index into the population's shape: one array per axis
        (``np.unravel_index`` of :attr:`neuron`), e.g. ``(row, column, channel)``."""
        if not self.shape:
            return (self.neuron,)
        return tuple(np.unravel_index(self.neuron, self.shape))

    @property
    def times(self) -> np.ndarray:
        """Time of each spike, ``t = (first_step + step) * dt`` (float64)."""
        return (self.first_step + self.step) * self.dt

    @property
    def per_lane(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(times, ids)]``, one pair per batch lane, like PyGeNN's ``spike_recording_data``."""
        times = self.times
        return [(times[self.batch == b], self.neuron[self.batch == b])
                for b in range(self.batch_size)]

    def counts(self, n: int | None = None) -> np.ndarray:
        """Number of spikes of each lane and neuron (negative ones included): ``(batch, n)``
        for a given ``n``, else ``(batch, *shape)`` of the population."""
        size = n if n is not None else int(np.prod(self.shape)) if self.shape else None
        if size is None:
            raise ValueError("counts() needs n where the population's shape is not known")
        counts = np.bincount(self.batch * size + self.neuron,
                             minlength=self.batch_size * size).astype(np.int64)
        counts = counts.reshape(self.batch_size, size)
        return counts if n is not None else counts.reshape((self.batch_size,) + self.shape)


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of one run: ``total`` (the whole call) and ``simulate`` (the backend)."""

    steps: int
    total: float
    simulate: float

    @property
    def ms_per_step(self) -> float:
        return 1e3 * self.simulate / self.steps if self.steps else 0.0


@dataclass(frozen=True)
class RunInfo:
    """What ran: the model's name, the backend, the precision, ``dt`` (ms), the lanes, the
    step index (since the last reset) at which the run began, and for each state recorded
    from chosen neurons only, their flat ids (``((name, ids), ...)``)."""

    model: str
    backend: str
    precision: str
    dt: float
    batch_size: int
    first_step: int
    chosen: tuple[tuple[str, tuple[int, ...]], ...] = ()


@dataclass(frozen=True)
class Result:
    """``vars[name]``: ``(steps, batch, *shape)`` (or ``(steps, batch, k)`` for k chosen
    neurons), the state at the end of each step, after reset; ``spikes`` when
    recorded; ``readout`` ``(batch,) + shape`` where the model has one.  Each
    variable is in its state's declared unit, listed in ``units`` (``{'V': 'mV'}``;
    None where the state has no unit); ``info`` says what ran."""

    vars: Mapping[str, np.ndarray]
    spikes: Spikes | None
    readout: np.ndarray | None
    timing: Timing
    shape: tuple[int, ...]
    units: Mapping[str, str | None] = field(default_factory=dict)
    info: RunInfo | None = None

    def __repr__(self) -> str:
        parts = [f"{name} {value.shape}" for name, value in self.vars.items()]
        if self.spikes is not None:
            parts.append(f"{len(self.spikes)} spikes")
        if self.readout is not None:
            parts.append(f"readout {self.readout.shape}")
        return f"<Result {self.timing.steps} steps: {', '.join(parts) or 'nothing recorded'}>"

    def plot(self, path=None, *, lane: int = 0, neurons: int = 10, title: str | None = None):
        """The recorded traces of one ``lane`` (its first ``neurons`` neurons) and its spike
        raster, over time in ms, one colour per neuron in every panel; the title names the
        model, backend, precision and dt (or is ``title``).

        A state is drawn at the end of its step, ``(first_step + k + 1) dt``, a spike at
        :attr:`Spikes.times`.  Saves the figure to ``path`` when given and returns it
        (a ``matplotlib.figure.Figure``, shown inline in Jupyter).  Needs matplotlib
        (``pip install eqsnn[plot]``).
        """
        if path is not None:
            from .paths import check_figure_path

            path = check_figure_path(path)
        from .plotting import result_figure

        return result_figure(self, path, lane=lane, neurons=neurons, title=title)
