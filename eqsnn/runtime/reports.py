"""What a :class:`~eqsnn.Simulator` reports after a run: the numerical check's second pass
and first failure, and the adaptive integrator's warnings.

The kernel records each neuron's first failing step of the numerical check
(:mod:`eqsnn.runtime.checks`); states that, once NaN or infinite, stay so are
tested only at the end of the run, and only where one is not finite are the
run's steps run again from its start with every test, to find the first
failing step.  :class:`RunReports` is a base class of the Simulator holding no
state of its own.
"""

from __future__ import annotations

import numpy as np

from .. import ir
from ..errors import NumericalError
from ..pipeline import warn
from ..solve.adaptive import EXTRA_CROSSINGS, LIMIT_STEP
from .checks import (
    CHECK_ALL,
    CHECK_CODE,
    CHECK_STEP,
    checked_states,
    deferred_states,
    untouched_states,
)
from .failures import raise_first_failure
from .guard import Snapshot
from .result import Result

__all__ = ["RunReports", "adaptive_records", "point_to_the_bound",
           "started_bad", "state_is_finite", "warn_then_raise"]


class RunReports:
    """The Simulator's reports after a run (a base class, holding no state of its own)."""

    #: the name of the network population this Simulator steps, which its warnings name
    #: (a network sets it; a NumericalError is named by the network itself)
    _population: str | None = None

    def _second_pass(self, snapshot: Snapshot, arguments) -> bool:
        """Where a state whose test waits for a second pass (``runtime.checks.sticky_states``:
        once NaN or infinite, it stays so) is not finite after the run, run the steps again
        from ``snapshot`` with every test (``arguments`` those of :meth:`_run`, recording
        nothing) to record the first failing step; the population ends as after the run.
        Returns whether the kernel's record may hold a failure (False where every test
        waits for the second pass and none was needed)."""
        deferred = deferred_states(self._emitted)
        if not deferred:
            return True

        if all(state_is_finite(self._runner, name) for name in deferred):
            return len(deferred) < len(checked_states(self._emitted))
        after = Snapshot(self._runner, [s.name for s in self._emitted.states])
        # the first pass left these as they were before the run (checks.untouched_states)
        snapshot.states.update({name: after.states[name]
                                for name in untouched_states(self._emitted)})
        snapshot.restore()
        self._runner.set_value(CHECK_ALL, np.int32(1))
        try:
            self._run(*arguments)
            records = {name: self._runner.get_state(name) for name in (CHECK_STEP, CHECK_CODE)}
        finally:
            self._runner.set_value(CHECK_ALL, self._values[CHECK_ALL])  # as it was
            after.restore()
        for name, value in records.items():
            self._runner.set_state(name, value)
        return True

    def _report(self, result: Result, recorded: bool = True) -> None:
        """Reduce the kernel's records once per run: warn where the adaptive integrator
        reached its substep bound or a threshold was crossed twice in a step; raise the first
        failure of the numerical check.  Each record is cleared before anything is said, so
        the next run reports its own even where warnings are errors (``-W error``); the
        NumericalError wins over a warning raised as an error."""
        messages, bound_reached = [], False
        if "adaptive" in self.model.meta:
            messages, bound_reached = adaptive_records(
                self._runner.get_state, self._runner.set_state, self.model, self.shape,
                self._population)
        error = None
        if self._emitted is not self.model and recorded:
            try:
                raise_first_failure(self._runner.get_state, self._runner.set_state,
                                    self.model, self.dt, self.shape, result)
            except NumericalError as failure:
                error = failure
                if bound_reached and error.cause != "reset":  # the reset's hint wins
                    point_to_the_bound(error, self.model)
        warn_then_raise(messages, error)


def started_bad(error: NumericalError, snapshot: Snapshot, first_step: int, model) -> None:
    """Say so in ``error`` where its state was already NaN or infinite, or out of its
    bounds, when the run began (a failed run leaves the population so): this run did not
    make it so."""
    before = snapshot.states.get(error.state)
    if error.step != first_step or before is None:
        return
    value = np.asarray(before).reshape(np.shape(before)[0], -1)[error.lane, error.neuron]
    bounds = next((s.bounds for s in model.states if s.name == error.state), ())
    if not np.isfinite(value):
        what = "NaN or infinite"
    elif not all(bound.holds(value) for bound in bounds):
        what = "out of its bounds"
    else:
        return
    error.message += (f" (it was already {what} when this run began: the population stays "
                      "as a failed run left it; sim.reset() or set_state() starts afresh)")
    error.args = (error.message,)


def state_is_finite(runner, name: str) -> bool:
    """Whether every value of state ``name`` of ``runner`` is finite: a sum is finite unless
    a value is not (or it overflows, then each value is tested)."""
    value = _peek(runner, name)
    with np.errstate(over="ignore", invalid="ignore"):  # no warning of NumPy's
        return bool(np.isfinite(value.sum()) or np.isfinite(value).all())


def _peek(runner, name: str) -> np.ndarray:
    """State ``name`` of ``runner``, without a copy where the runner says it keeps its states
    as host arrays (``host_states``: ``numpy``, ``c``; a copy of a large population's state
    after every run would cost megabytes)."""
    return runner.states[name] if getattr(runner, "host_states", False) else (
        runner.get_state(name))


def adaptive_warnings(model: ir.Model, limit_steps, extra_crossings, shape=(),
                      population: str | None = None) -> list[str]:
    """Warnings about one run from the hidden states: the substep bound reached, second
    crossings in one step; ``limit_steps`` and ``extra_crossings`` are ``(batch, n)``, the
    population's ``shape`` names a neuron by its index too (as a numerical error does);
    each begins with the model's name, or in a network ``population 'b' (Model)``."""
    name = model.name if population is None else f"population {population!r} ({model.name})"
    messages = []
    hit = limit_steps >= 0
    if hit.any():
        lane, neuron = np.unravel_index(int(np.argmin(np.where(hit, limit_steps, 2**31 - 1))),
                                        hit.shape)
        bound = model.meta["adaptive"]["max_substeps"]
        index = (f" {tuple(int(i) for i in np.unravel_index(neuron, shape))}"
                 if len(shape) > 1 else "")
        messages.append(
            f"{name}: the adaptive integrator reached its bound of {bound} substeps in a "
            f"step for {int(hit.sum())} neuron(s), first at step {int(limit_steps[lane, neuron])}"
            f" (lane {lane}, neuron {neuron}{index}); there it took the rest of the step in one "
            "substep, less accurately: raise adaptive(max_substeps=...), loosen rtol/atol, or "
            "look for a runaway the threshold does not catch")
    extra = int(extra_crossings.sum())
    if extra:
        messages.append(
            f"{name}: {extra} second threshold crossing(s) inside a step (at most one spike "
            "per neuron per step is emitted; each crossing was reset): a smaller dt resolves them, "
            "unless the reset leaves the threshold holding (a reset value at or beyond the "
            "threshold), where every reset is a crossing again at once")
    return messages


def adaptive_records(read, write, model: ir.Model, shape,
                     population: str | None = None) -> tuple[list[str], bool]:
    """The adaptive integrator's warnings about the run just done (:func:`adaptive_warnings`)
    from its hidden states, read with ``read(name)``, and whether it reached its substep
    bound; both records are cleared with ``write(name, value)``, so the next run reports
    its own."""
    limit, extra = read(LIMIT_STEP), read(EXTRA_CROSSINGS)
    messages = adaptive_warnings(model, limit, extra, shape, population=population)
    bound_reached = bool((limit >= 0).any())
    if bound_reached:
        write(LIMIT_STEP, np.full_like(limit, -1))
    if extra.any():
        write(EXTRA_CROSSINGS, np.zeros_like(extra))
    return messages, bound_reached


def point_to_the_bound(error: NumericalError, model: ir.Model) -> None:
    """The hint of a failure in a run where the adaptive integrator reached its substep
    bound: tighter tolerances (the method's usual hint) need more substeps.  Where the
    threshold is tested on the grid only, the hint already says why it lets a state run
    away, and stays (not where the reason is that there is no threshold to reset)."""
    if not (model.meta.get("adaptive", {}).get("grid_reason") and model.threshold is not None):
        error.hint = ("the adaptive integrator reached its bound of substeps in this run (see "
                      "the warning), where it took the rest of a step in one substep: raise "
                      "adaptive(max_substeps=...) or loosen rtol/atol; if the bound is reached "
                      "anyway, look for a runaway that the threshold does not catch")


def warn_then_raise(messages, error: NumericalError | None) -> None:
    """Each warning of a run, then its failure: the failure wins where a warning is raised
    as an error (``-W error``), and so no record of the run is left unread."""
    try:
        for message in messages:
            warn(message)
    finally:
        if error is not None:
            raise error
