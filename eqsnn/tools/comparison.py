"""Run one model on several backends and report where and by how much they differ."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from .. import ir
from ..backends import REGISTRY
from ..errors import EqsnnError, NumericalError, ParameterError
from .comparison_checks import backend_names, check_recording_memory
from .comparison_where import (
    first_bad,
    neuron_label,
    same_spike_share,
    spike_cuts,
    spike_flags,
)

DEFAULT_TOLERANCE = {"float64": 1e-9, "float32": 1e-5}


@dataclass
class VariableDiff:
    name: str
    max_abs: float
    max_rel: float
    first_divergence: int | None  # first step outside atol + rtol * |reference|
    compared_steps: int  # steps with a compared value (float32: up to the last neuron's cut)
    # where the first value outside the tolerance is (None where there is none): its lane,
    # its neuron (the flat id, or the index in a population of 2 or more dims), the time in
    # ms at the end of its step, and the two values
    first_lane: int | None = None
    first_neuron: int | tuple | None = None
    first_time: float | None = None
    first_value: float | None = None  # an int for an int or bool state
    first_reference: float | None = None


@dataclass
class BackendReport:
    backend: str
    status: str  # "ok", "differs", "skipped", "failed"
    reason: str = ""
    compile_seconds: float = float("nan")
    run_seconds: float = float("nan")
    variables: list[VariableDiff] = field(default_factory=list)
    spikes_same_share: float = float("nan")  # spikes on the same (step, batch, neuron)
    first_spike_difference: int | None = None
    spike_counts: tuple[int, int] = (0, 0)  # (this backend, reference)
    # the first spike difference: its lane, neuron (as in VariableDiff), time in ms (the
    # spike's step start, as Spikes.times), which run spiked there, and whether the other
    # spikes the same way one step later (a shift that float32 rounding can cause)
    first_spike_lane: int | None = None
    first_spike_neuron: int | tuple | None = None
    first_spike_time: float | None = None
    first_spike_by: str | None = None
    first_spike_shift: bool | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "skipped")


@dataclass
class Comparison:
    """The outcome of :func:`compare`; prints as a table, converts to dict/JSON, plots."""

    model: str
    reference: str
    precision: str
    rtol: float
    atol: float
    steps: int
    reports: list[BackendReport]
    results: dict = field(default_factory=dict, repr=False)
    fast_math: bool = False  # the compared backends ran with fast_math (the reference not)

    @property
    def ok(self) -> bool:
        """True when every backend that ran agrees with the reference within tolerance."""
        return all(report.ok for report in self.reports)

    def report(self, backend: str) -> BackendReport:
        for report in self.reports:
            if report.backend == backend:
                return report
        raise EqsnnError(f"no backend {backend!r} in this comparison",
                         hint="its backends: " + ", ".join(r.backend for r in self.reports))

    def to_dict(self) -> dict:
        """Everything but the raw results, as plain Python values."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "results"}
        data["reports"] = [asdict(report) for report in self.reports]
        data["ok"] = self.ok
        return data

    def to_json(self, **kwargs) -> str:
        """Strict JSON: a NaN or infinite number is written as the string "nan", "inf" or
        "-inf" (JSON has no such numbers)."""
        return json.dumps(_finite(self.to_dict()), default=_json_default, allow_nan=False,
                          **kwargs)

    def __str__(self) -> str:
        """The table: a row per backend, then where each first differs."""
        from .comparison_text import comparison_table

        return comparison_table(self)

    def plot(self, path=None, neuron: int = 0, lane: int = 0):
        """Overlaid traces, difference over time and rasters (matplotlib, the plot extra)."""
        from .comparison_plot import comparison_figure

        return comparison_figure(self, path, neuron, lane)


def _finite(value):
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return "nan" if np.isnan(value) else "inf" if value > 0 else "-inf"
    return value


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    raise TypeError(type(value))


def _variable_diff(name, values, reference, rtol, atol, until, *, valid=None, dt=1.0,
                   first_step=0) -> VariableDiff:
    """``values`` against ``reference``, ``(steps, batch, *shape)``: over the first
    ``until`` steps (None: all), and where given only where ``valid`` (``(steps, batch,
    n)``, the neurons flat) is True."""
    exact = np.asarray(values).dtype.kind in "biu"  # an int or bool state: values as ints
    values = np.asarray(values, dtype=np.float64)[:until]
    reference = np.asarray(reference, dtype=np.float64)[:until]
    shape = values.shape[2:]
    number = int if exact else float
    if valid is not None:
        valid = valid[: len(values)].reshape(values.shape)
        values = np.where(valid, values, reference)
    same = (values == reference) | (np.isnan(values) & np.isnan(reference))  # inf, nan too
    with np.errstate(invalid="ignore", over="ignore"):  # -1e308 - 1e308 is an inf apart
        diff = np.where(same, 0.0, np.abs(values - reference))
        bad = diff > atol + rtol * np.abs(reference)  # 0 * inf: nan, caught below
    bad |= ~same & ~(np.isfinite(values) & np.isfinite(reference))  # an inf or nan on one side
    diff = np.nan_to_num(diff, nan=np.inf, posinf=np.inf)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        scale = np.abs(reference)  # a difference from 0 is infinitely far; inf / inf too
        rel = np.where(same, 0.0, np.nan_to_num(diff / scale, nan=np.inf, posinf=np.inf))
    compared = len(values)
    if valid is not None:
        rows = valid.reshape(len(valid), -1).any(axis=1)
        compared = int(np.nonzero(rows)[0].max()) + 1 if rows.any() else 0
    where = first_bad(bad.reshape(bad.shape[:2] + (-1,))) if bad.ndim > 1 else None
    if where is None:
        return VariableDiff(name, float(diff.max(initial=0.0)), float(rel.max(initial=0.0)),
                            None, compared)
    step, lane, neuron = where
    flat = (step, lane, neuron)
    return VariableDiff(
        name, float(diff.max(initial=0.0)), float(rel.max(initial=0.0)), step, compared,
        lane, neuron_label(neuron, shape), (first_step + step + 1) * dt,
        number(values.reshape(bad.shape[:2] + (-1,))[flat]),
        number(reference.reshape(bad.shape[:2] + (-1,))[flat]))


def _model_name(model) -> str:
    return getattr(model, "name", type(model).__name__)


def _ir_model(model):
    ir_model = model if isinstance(model, ir.Model) else getattr(model, "ir", None)
    if ir_model is None and hasattr(model, "model"):
        ir_model = model.model().ir
    return ir_model


def _spiking(model) -> bool:
    ir_model = _ir_model(model)
    return True if ir_model is None else bool(ir_model.spiking)


def float_states(model) -> list[str]:
    """Names of the float states of an ``eqsnn.Model``, an ``ir.Model`` or a
    standard-library neuron, as the model declares them (not the hidden states of generated
    code, such as the adaptive method's carried substep size)."""
    ir_model = _ir_model(model)
    if ir_model is None:
        return []
    return [s.name for s in ir_model.states if s.dtype == "float" and not s.name.startswith("_")]


class _RunFailed(Exception):
    """A backend that was set up raised while running (not one that cannot run here)."""

    def __init__(self, error: EqsnnError):
        super().__init__(error.message)
        self.error = error


def _simulate(model, backend, n, steps, inputs, params, init, dt, precision, seed, record,
              batch_size, fast_math=False, *, reference=False):
    from ..runtime import Simulator

    start = time.perf_counter()
    sim = Simulator(model, n, batch_size=batch_size, dt=dt, backend=backend,
                    precision=precision, params=params, init=init, seed=seed,
                    fast_math=fast_math)
    compiled = time.perf_counter()
    try:
        result = sim.run(steps, inputs=inputs, record=record, progress=False)
    except EqsnnError as exc:
        if reference:
            raise
        raise _RunFailed(exc) from exc
    return result, compiled - start, time.perf_counter() - compiled


def _crash(exc: Exception) -> str:
    """A backend's unexpected exception in one line, as the command line prints one."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    return f"{text} (an error inside the backend: report it with the model and arguments)"


def _reason(exc: EqsnnError) -> str:
    """An error's message with its hint: what to install, for a backend skipped here."""
    return f"{exc.message}; {exc.hint}" if exc.hint else exc.message


def compare(model, backends=None, *, n=10, steps=100, inputs=None, params=None, init=None,
            dt=1.0, precision="float64", seed=0, reference="numpy", rtol=None, atol=None,
            batch_size=1, record=None, fast_math=False) -> Comparison:
    """Run ``model`` with the same params, stimulus and seed on each backend.

    ``backends`` (a list, or a comma-separated string ``"numpy,c"``) defaults to every
    registered backend; those that cannot run
    here (no compiler, no GPU, no PyGeNN) are reported as skipped with the
    reason and what to install; one whose run raises (a ``NumericalError``, or an
    unexpected exception inside the backend) is reported as failed with the error, and
    the comparison does not agree.  Against ``reference``, each recorded variable gets its maximum
    absolute and relative error and the first step outside
    ``atol + rtol * |reference|`` (by default ``rtol = atol = 1e-9`` in float64, ``1e-5``
    in float32); spikes get the share that fall on the
    same (step, batch, neuron) and the first step where they differ.  Each first
    difference comes with where it is (lane, neuron as addressed, time in ms) and
    the values.  In float32, each neuron's traces are compared up to its own first
    spike difference, which must be a spike moved by one step (a spike gained or
    lost differs).
    ``fast_math=True`` runs the compared backends (not the reference) with
    it, to show what it costs in accuracy.
    """
    from ..runtime.arguments import positive_int, tolerance
    from ..runtime.values import as_flag

    as_flag("fast_math", fast_math)  # here: the reference runs without it
    positive_int("steps", steps)  # no step compared would make every comparison agree
    if precision not in DEFAULT_TOLERANCE:
        raise EqsnnError(f"unknown precision {precision!r}", hint="use float32 or float64")
    rtol = DEFAULT_TOLERANCE[precision] if rtol is None else rtol
    atol = DEFAULT_TOLERANCE[precision] if atol is None else atol
    rtol, atol = tolerance("rtol", rtol), tolerance("atol", atol)
    names = backend_names(backends)
    if reference not in REGISTRY:
        raise EqsnnError(f"unknown reference backend {reference!r}",
                         hint=f"registered backends: {', '.join(REGISTRY)}")
    if isinstance(record, dict):
        raise ParameterError("compare records whole states, not chosen neurons",
                             hint=f"record={list(record)!r}; every neuron is compared")
    if record is not None and (isinstance(record, bytes) or not isinstance(record, Iterable)):
        raise ParameterError(f"record must be a state name or a list of them, not {record!r}",
                             hint="e.g. record=['V']; by default every float state")
    record = list(float_states(model) if record is None else
                  [record] if isinstance(record, str) else record)
    record = [name for name in record if name != "spikes"]  # spikes are always compared
    spiking = _spiking(model)
    recorded = record + (["spikes"] if spiking else [])
    runs = len(set(names) | {reference})  # every backend's recording is kept
    check_recording_memory(_ir_model(model), record, spiking, steps, batch_size, n, precision,
                           runs)
    args = (n, steps, inputs, params, init, dt, precision, seed, recorded, batch_size)
    try:
        ref_result, ref_compile, ref_run = _simulate(model, reference, *args, reference=True)
    except NumericalError as exc:  # say whose run failed, and how to compare up to it
        exc.message = f"the reference backend {reference}: {exc.message}"
        exc.args = (exc.message,)
        if exc.step > 0:
            exc.hint = ((exc.hint + "; ") if exc.hint else "") + (
                f"to compare the steps before the failure: steps={exc.step} "
                f"(--steps {exc.step} on the command line)")
        raise
    ref_count = len(ref_result.spikes) if spiking else 0
    reports = [BackendReport(reference, "ok", "reference", ref_compile, ref_run,
                             spikes_same_share=1.0, spike_counts=(ref_count,) * 2)]
    results = {reference: ref_result}
    for backend in names:
        if backend == reference:
            continue
        try:
            result, compile_s, run_s = _simulate(model, backend, *args, fast_math)
        except _RunFailed as failed:  # set up, then its run raised: it does not agree
            reports.append(BackendReport(backend, "failed", _reason(failed.error)))
            continue
        except EqsnnError as exc:  # cannot be set up here (no CuPy, GPU, compiler, PyGeNN)
            status = "skipped" if _unavailable(exc) else "failed"
            reports.append(BackendReport(backend, status, _reason(exc)))
            continue
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception as exc:  # a crash inside this backend: a finding, not the end
            reports.append(BackendReport(backend, "failed", _crash(exc)))
            continue
        results[backend] = result
        reports.append(_report(backend, result, ref_result, record, rtol, atol, precision,
                               compile_s, run_s))
    return Comparison(_model_name(model), reference, precision, rtol, atol, steps, reports,
                      results, fast_math)


def _unavailable(exc: EqsnnError) -> bool:
    from ..errors import BackendError

    return isinstance(exc, BackendError)


def _report(backend, result, ref, record, rtol, atol, precision, compile_s, run_s):
    dt, first_step = ref.info.dt, ref.info.first_step
    shape = tuple(ref.shape)
    size = int(np.prod(shape))
    if ref.spikes is None:  # a model without a threshold: no spikes to compare
        empty = np.zeros((ref.timing.steps, ref.info.batch_size, size), np.int8)
        mine_flags = ref_flags = empty
    else:
        mine_flags = spike_flags(result.spikes, size)
        ref_flags = spike_flags(ref.spikes, size)
    cut, shifted = spike_cuts(mine_flags, ref_flags)
    valid = None
    if precision == "float32":  # after a neuron's spike moved, its traces legitimately part
        valid = np.arange(len(ref_flags))[:, None, None] < cut[None]
    variables = [_variable_diff(name, result.vars[name], ref.vars[name], rtol, atol, None,
                                valid=valid, dt=dt, first_step=first_step)
                 for name in record]
    share = same_spike_share(mine_flags, ref_flags)
    spike = {}
    where = first_bad(mine_flags != ref_flags)
    if where is not None:
        step, lane, neuron = where
        spike = dict(first_spike_difference=step, first_spike_lane=lane,
                     first_spike_neuron=neuron_label(neuron, shape),
                     first_spike_time=(first_step + step) * dt,
                     first_spike_by=("both" if mine_flags[where] and ref_flags[where] else
                                     backend if mine_flags[where] else ref.info.backend),
                     first_spike_shift=bool(shifted[lane, neuron]))
    traces_ok = all(v.first_divergence is None for v in variables)
    # float32 tolerates a spike moved by one step, not one gained or lost
    spikes_ok = where is None or (precision == "float32" and bool(shifted.all()))
    status = "ok" if traces_ok and spikes_ok else "differs"
    return BackendReport(backend, status, "", compile_s, run_s, variables, share,
                         spike_counts=(int(np.count_nonzero(mine_flags)),
                                       int(np.count_nonzero(ref_flags))), **spike)
