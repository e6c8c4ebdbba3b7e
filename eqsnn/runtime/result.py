"""What one ``Simulator.run`` returns: recorded variables, spikes, readout, timing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ..errors import ParameterError
from . import spike_bits
from .spike_bits import SpikeBits

__all__ = ["Result", "RunInfo", "Spikes", "Timing"]


class Spikes:
    """Spikes of one run, listed in order of (step, batch, neuron) when first asked for.

    ``step`` counts from the start of the run; the spike's time is
    ``(first_step + step) * dt`` with ``first_step`` the step index (since
    the last reset) at which the run began.  ``neuron`` is the flat
    (C-order) neuron id, :attr:`index` the same in the population's
    ``shape``; ``sign`` is +1/-1 for models with a negative threshold, else
    None.  ``step``, ``batch`` and ``neuron`` are ``int32`` arrays, ``sign``
    ``int8``; where a neuron fired both ways in one step, its positive spike
    comes first.

    The run recorded one bit per neuron, lane and step (:attr:`bits`); the
    arrays above are made from them on first access (a C decoder where a
    compiler is found, else NumPy) and kept.  :meth:`counts` and ``len()``
    need no listing.  Arrays are read-only.
    """

    def __init__(self, bits: SpikeBits, dt: float, first_step: int, batch_size: int,
                 shape: tuple = (), offset=None):
        self._bits = bits
        self.dt = dt
        self.first_step = first_step
        self.batch_size = batch_size
        self.shape = tuple(shape)  # the population's shape; () means flat ids only
        self._listing = None
        self._cache: dict = {}
        # where each spike lies in its step: an array (steps, batch, n) of times from the
        # step's start, a number (every spike at that time: the step's end), or a string
        # saying why it is not known
        self._offset = offset

    # --- without a listing -----------------------------------------------
    @property
    def bits(self) -> np.ndarray:
        """``uint32 (steps, batch, ceil(n/32))``: bit ``k`` of word ``w`` is set where neuron
        ``32 w + k`` spiked (positively, in a model with a negative threshold)."""
        return _read_only(self._bits.positive)

    @property
    def negative_bits(self) -> np.ndarray | None:
        """The same for negative spikes; None where the model has no negative threshold."""
        return _read_only(self._bits.negative) if self._bits.signed else None

    @property
    def signed(self) -> bool:
        return self._bits.signed

    def __len__(self) -> int:
        if self._listing is not None:
            return int(self._listing[1][-1])
        if "len" not in self._cache:
            self._cache["len"] = spike_bits.spike_count(self._bits)
        return self._cache["len"]

    def counts(self, n: int | None = None) -> np.ndarray:
        """Number of spikes of each lane and neuron (negative ones included): ``(batch, n)``
        for a given ``n``, else ``(batch, *shape)`` of the population; int64."""
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer))
                              or n < 0):
            raise ParameterError(f"counts(n) needs a non-negative integer n, not {n!r}",
                                 hint="counts() gives (batch, *shape) of the population")
        size = n if n is not None else int(np.prod(self.shape)) if self.shape else None
        if size is None:
            raise ParameterError("counts() needs n where the population's shape is not known",
                                 hint="pass the number of neurons, counts(n)")
        counts = spike_bits.neuron_counts(self._bits)
        if size < counts.shape[1]:
            if counts[:, size:].any():
                raise ParameterError(f"counts({size}) leaves out spikes of neurons up to "
                                     f"{self._bits.n - 1}",
                                     hint=f"pass n >= {self._bits.n}, or no n")
            counts = counts[:, :size]
        elif size > counts.shape[1]:
            counts = np.concatenate(
                [counts, np.zeros((self.batch_size, size - counts.shape[1]), np.int64)], axis=1)
        return counts if n is not None else counts.reshape((self.batch_size,) + self.shape)

    # --- the listing ---------------------------------------------------------
    def _list(self) -> tuple[np.ndarray, np.ndarray]:
        if self._listing is None:
            ids, offsets = spike_bits.list_spikes(self._bits)
            self._listing = (_read_only(ids), _read_only(offsets))
        return self._listing

    @property
    def ids(self) -> np.ndarray:
        """The listing as stored: ``int32`` neuron ids, ``~k`` for a negative spike of ``k``."""
        return self._list()[0]

    @property
    def offsets(self) -> np.ndarray:
        """``int64 (steps * batch + 1,)``: the spikes of step ``s``, lane ``b`` are
        ``ids[offsets[s * batch + b]:offsets[s * batch + b + 1]]``."""
        return self._list()[1]

    def _cached(self, name, make):
        if name not in self._cache:
            self._cache[name] = _read_only(make())
        return self._cache[name]

    @property
    def neuron(self) -> np.ndarray:
        if not self._bits.signed:
            return self.ids
        return self._cached("neuron", lambda: np.where(self.ids < 0, ~self.ids, self.ids))

    @property
    def sign(self) -> np.ndarray | None:
        if not self._bits.signed:
            return None
        return self._cached("sign", lambda: np.where(self.ids < 0, -1, 1).astype(np.int8))

    @property
    def step(self) -> np.ndarray:
        def make():
            steps = self._bits.steps
            per_step = np.diff(self.offsets[:: self.batch_size])
            dtype = np.int32 if steps < 2**31 else np.int64
            return np.repeat(np.arange(steps, dtype=dtype), per_step)
        return self._cached("step", make)

    @property
    def batch(self) -> np.ndarray:
        def make():
            rows = self._bits.steps * self.batch_size
            lanes = np.tile(np.arange(self.batch_size, dtype=np.int32), self._bits.steps)
            return np.repeat(lanes[:rows], np.diff(self.offsets))
        return self._cached("batch", make)

    @property
    def index(self) -> tuple[np.ndarray, ...]:
        """Each spike's neuron as an index into the population's shape: one array per axis
        (``np.unravel_index`` of :attr:`neuron`, int64), e.g. ``(row, column, channel)``."""
        if not self.shape:
            return (self.neuron.astype(np.int64),)
        return tuple(np.unravel_index(self.neuron.astype(np.int64), self.shape))

    @property
    def times(self) -> np.ndarray:
        """Time of each spike, ``t = (first_step + step) * dt`` (float64)."""
        return (self.first_step + self.step.astype(np.int64)) * self.dt

    @property
    def offset(self) -> np.ndarray:
        """Where each spike lies inside its step: the time from the step's start, in [0, dt]
        (float64, in the units of ``dt``), so ``times + offset`` is the spike's time (0 where
        the threshold already held at the step's start).

        For a model run with the adaptive method whose crossings are located inside the
        step, the located crossing (``Simulator.run(record=['spikes', 'spike_offset'])``
        records it: one value per neuron and step); for a spike found by the threshold
        test at the end of the step (a negative spike included), ``dt``.  Not to be
        confused with :attr:`offsets`, the listing's row starts."""
        if isinstance(self._offset, str):
            raise ParameterError(f"the spikes' offsets are not known: {self._offset}",
                                 hint="record=['spikes', 'spike_offset'] in Simulator.run")
        if self._offset is None:
            raise ParameterError("the spikes' offsets are not known for this run (a Network "
                                 "does not record them)")

        def make():
            if np.ndim(self._offset) == 0:
                return np.full(len(self.ids), float(self._offset))
            found = np.asarray(self._offset, dtype=np.float64)[self.step, self.batch,
                                                               self.neuron]
            if self.signed:  # a negative threshold is tested at the end of the step only
                found = np.where(self.sign < 0, self.dt, found)
            return found
        return self._cached("offset", make)

    @property
    def per_lane(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(times, ids)]``, one pair per batch lane, like PyGeNN's ``spike_recording_data``."""
        times, lane = self.times, self.batch
        return [(times[lane == b], self.neuron[lane == b]) for b in range(self.batch_size)]

    def __repr__(self) -> str:
        return (f"<Spikes: {len(self)} in {self._bits.steps} steps x {self.batch_size} lanes"
                f" of {self._bits.n} neurons>")


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


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

    def __reduce__(self):
        # copy and pickle: the read-only mappings go as dicts and come back read-only
        return (_result, (dict(self.vars), self.spikes, self.readout, self.timing, self.shape,
                          dict(self.units), self.info))

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


def _result(variables, spikes, readout, timing, shape, units, info) -> Result:
    """A :class:`Result` from its fields, as ``pickle`` and ``copy`` rebuild it."""
    return Result(MappingProxyType(variables), spikes, readout, timing, shape,
                  MappingProxyType(units), info)
