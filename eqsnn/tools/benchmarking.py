"""How fast a model runs on each backend, on this machine: :func:`eqsnn.benchmark`.

For each backend and population size: build a :class:`~eqsnn.runtime.Simulator`
(the time to emit, compile or load from the cache and allocate is reported as
``setup``), run a short untimed warm-up, then time ``repeats`` runs of
``steps`` steps with the same held inputs and keep the best.  Nothing is
recorded unless ``record_spikes``.  Each row gives microseconds per step,
neuron-steps per second (every lane counted) and the speed relative to the reference backend
(the first that ran) at the same size, measured in the same process one
after the other.  Backends that cannot run here (no compiler, no GPU, no
PyGeNN) are listed with the reason.  ``eqsnn bench`` prints the table.

Timings of a shared machine vary from run to run; the ratios of one call are
the meaningful part.  ``bench/`` holds the project's own benchmarks against
hand-written baselines and peers.
"""

from __future__ import annotations

import json
import math
import numbers
import time
from dataclasses import asdict, dataclass

from ..errors import BackendError, EqsnnError, ParameterError

__all__ = ["benchmark", "Benchmark", "BenchRow"]


class NoSuchRow(EqsnnError, KeyError):
    """:meth:`Benchmark.row` of a backend and size not timed (a KeyError, as it was)."""

    __str__ = EqsnnError.__str__  # KeyError's would quote the whole message


@dataclass(frozen=True)
class BenchRow:
    """One backend at one size: ``status`` is ``"ok"`` or ``"skipped"`` (with ``reason``)."""

    backend: str
    n: int
    status: str
    reason: str = ""
    setup_s: float = math.nan  # Simulator construction: emit, compile or load, allocate
    step_us: float = math.nan  # best wall-clock microseconds per step (the whole run() call)
    spikes: int = 0  # spikes in the timed run, where recorded
    batch_size: int = 1  # lanes: a step updates n * batch_size neurons

    @property
    def neuron_steps_per_s(self) -> float:
        """Neuron updates per second, every lane counted."""
        work = self.n * self.batch_size
        return work / (self.step_us * 1e-6) if self.step_us > 0 else math.nan


@dataclass(frozen=True)
class Benchmark:
    """The rows of :func:`benchmark`; ``str()`` is the table, :meth:`as_dict` / :meth:`to_json`
    the data."""

    model: str
    precision: str
    steps: int
    repeats: int
    batch_size: int
    reference: str | None
    rows: tuple[BenchRow, ...]
    fast_math: bool = False

    def row(self, backend: str, n: int) -> BenchRow:
        for row in self.rows:
            if row.backend == backend and row.n == n:
                return row
        raise NoSuchRow(f"no row for {backend} at n = {n} in this benchmark",
                        hint="its rows: " + ", ".join(f"{r.backend} at {r.n}" for r in self.rows))

    def speedup(self, backend: str, n: int) -> float:
        """How many times faster than the reference backend at size ``n`` (nan if either did
        not run)."""
        if self.reference is None:
            return math.nan
        base, row = self.row(self.reference, n), self.row(backend, n)
        return base.step_us / row.step_us if row.status == base.status == "ok" else math.nan

    def __str__(self) -> str:
        fast = ", fast_math" if self.fast_math else ""
        lines = [f"{self.model}: {self.precision}{fast}, batch {self.batch_size}, "
                 f"{self.steps} steps, "
                 f"best of {self.repeats}; speed-up against {self.reference or '-'} at the same N",
                 f"{'backend':8s} {'N':>10s} {'setup s':>8s} {'us/step':>10s} "
                 f"{'neuron-steps/s':>15s} {'speed-up':>9s}"]
        for row in self.rows:
            if row.status != "ok":
                lines.append(f"{row.backend:8s} {row.n:>10d} skipped: {row.reason}")
                continue
            lines.append(f"{row.backend:8s} {row.n:>10d} {row.setup_s:>8.2f} "
                         f"{row.step_us:>10.2f} {row.neuron_steps_per_s:>15.3g} "
                         f"{self.speedup(row.backend, row.n):>8.2f}x")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        out = asdict(self)
        for row, data in zip(self.rows, out["rows"]):
            data["speedup"] = self.speedup(row.backend, row.n)
        return out

    def to_json(self) -> str:
        """Strict JSON: a NaN time (a skipped backend) is the string "nan"."""
        from .comparison import _finite

        return json.dumps(_finite(self.as_dict()), indent=2, default=str, allow_nan=False)


def _sizes(sizes) -> tuple[int, ...]:
    """The population sizes: whole numbers, or a comma-separated text such as "1e4,1e5" (as
    ``--n`` reads it), each once."""
    if isinstance(sizes, str):  # not one size per character
        try:
            sizes = [float(size) for size in sizes.split(",")]
        except ValueError:
            raise ParameterError(f"sizes {sizes!r} is not a list of sizes",
                                 hint="e.g. sizes=(10_000, 100_000) or \"1e4,1e5\"") from None
    out = _positive_ints("sizes", sizes)
    for size in out:
        if out.count(size) > 1:  # it would be timed twice, and row() would find one
            raise ParameterError(f"size {size} given twice", hint="give each size once")
    return out


def _positive_ints(what: str, values) -> tuple[int, ...]:
    try:
        values = tuple(values) if not isinstance(values, (int, float)) else (values,)
        out = tuple(int(v) for v in values)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
        raise ParameterError(f"{what} must be positive whole numbers, got {values!r}") from None
    if not out or any(v < 1 or v != float(o) for v, o in zip(out, values)):
        raise ParameterError(f"{what} must be positive whole numbers, got {values!r}",
                             hint=f"e.g. {what}=(10_000, 100_000)" if what == "sizes" else "")
    return out


def _positive_int(what: str, value) -> int:
    """One positive whole number (a list of them used to pass, as its first)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{what} must be a positive whole number, got {value!r}")
    try:
        return _positive_ints(what, float(value))[0]
    except ParameterError:
        raise ParameterError(f"{what} must be a positive whole number, got {value!r}") from None


def benchmark(model, backends=None, *, sizes=(10_000,), steps=1000, repeats=3, dt=1.0,
              precision="float32", inputs=None, params=None, batch_size=1,
              record_spikes=False, seed=0, fast_math=False) -> Benchmark:
    """Time ``model`` on each backend (default: every registered one; a list or a
    comma-separated string ``"numpy,c"``) at each size of ``sizes`` (whole numbers, or a
    comma-separated string ``"1e4,1e5"``; each once).

    ``inputs`` are held for every step (a scalar or one value per neuron, as in
    ``Simulator.run``); a model whose inputs have no default needs them here.
    Bad arguments and bad model inputs raise :class:`~eqsnn.errors.EqsnnError`
    before anything is timed; a backend that cannot run here is skipped.
    ``fast_math`` is passed to every :class:`~eqsnn.runtime.Simulator`.
    """
    from ..runtime import Simulator
    from .comparison import _model_name
    from .comparison_checks import backend_names

    names = backend_names(backends)  # none, misspelt or twice: an EqsnnError
    from ..runtime.values import as_flag

    sizes = _sizes(sizes)
    steps = _positive_int("steps", steps)
    repeats = _positive_int("repeats", repeats)
    as_flag("record_spikes", record_spikes)  # "no" would mean True
    record = ("spikes",) if record_spikes else ()
    warm_up = min(steps, 20)
    rows, reference = [], None
    for n in sizes:
        for backend in names:
            began = time.perf_counter()
            try:
                sim = Simulator(model, n, batch_size=batch_size, dt=dt, backend=backend,
                                precision=precision, params=params, seed=seed,
                                fast_math=fast_math)
            except BackendError as exc:
                reason = f"{exc.message}; {exc.hint}" if exc.hint else exc.message
                rows.append(BenchRow(backend, n, "skipped", reason,  # what to install
                                     batch_size=batch_size))
                continue
            setup = time.perf_counter() - began
            sim.run(warm_up, inputs=inputs, record=record, progress=False)  # user errors here
            best, spikes = math.inf, 0
            for _ in range(repeats):
                began = time.perf_counter()
                result = sim.run(steps, inputs=inputs, record=record, progress=False)
                best = min(best, time.perf_counter() - began)
                spikes = len(result.spikes) if result.spikes is not None else 0
            rows.append(BenchRow(backend, n, "ok", "", setup, 1e6 * best / steps, spikes,
                                 batch_size))
            reference = reference or backend
    return Benchmark(_model_name(model), precision, steps, repeats, batch_size, reference,
                     tuple(rows), fast_math)
