"""From the numerical check's record to a :class:`~eqsnn.errors.NumericalError`.

The check (:mod:`eqsnn.runtime.checks`) records, per neuron and lane, the first step
at which a state failed and what failed.  :func:`first_failure` reduces that record
once per run, on the host; :func:`numerical_error` words the error (the state, the
step, the lane and the neuron, and a hint by method, or the reset's where a reset made
the state bad); :func:`raise_earliest` picks a network's earliest failure.
"""

from __future__ import annotations

import numpy as np

from .. import ir
from ..errors import NumericalError
from .checks import CHECK_CODE, CHECK_STEP, checked_states
from .reset_checks import made_by_reset

__all__ = ["first_failure", "numerical_error", "other_neurons", "raise_earliest",
           "raise_first_failure"]


def first_failure(steps: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(step, lane, neuron, count)`` of the earliest recorded failure (ties: the first lane,
    then neuron) and the number of neurons that failed, or None; ``steps`` is ``(batch, n)``."""
    failed = steps >= 0
    count = int(np.count_nonzero(failed))
    if count == 0:
        return None
    masked = np.where(failed, steps, np.iinfo(steps.dtype).max)
    lane, neuron = np.unravel_index(int(np.argmin(masked)), steps.shape)
    return int(steps[lane, neuron]), int(lane), int(neuron), count


def raise_first_failure(read, write, model: ir.Model, dt: float, shape, result) -> None:
    """Raise the :class:`NumericalError` of the earliest failure a run recorded, after
    clearing the record (so the next run reports its own); ``read(name)`` / ``write(name,
    value)`` get and set the hidden ``(batch, n)`` check states of wherever the run was."""
    steps = read(CHECK_STEP)
    failure = first_failure(steps)
    if failure is None:
        return
    write(CHECK_STEP, np.full_like(steps, -1))
    _, lane, neuron, _ = failure
    code = int(read(CHECK_CODE)[lane, neuron])
    raise numerical_error(model, failure, code, dt, shape, result, lanes=steps.shape[0])


def raise_earliest(reports) -> None:
    """Run every report of a network's run, ``(population, report)`` (``report()`` raises
    the :class:`NumericalError` of what it checked and clears its record; ``population``
    None for one whose error names its place itself, a plastic connection), and raise the
    earliest failure, by step and then in the given order, naming its population.  Every
    report runs, so no record is left to be raised by the next run."""
    errors = []
    for population, report in reports:
        try:
            report()
        except NumericalError as error:
            errors.append((error.step, len(errors), population, error))
    if not errors:
        return
    _, first, population, error = min(errors, key=lambda item: item[:2])
    others = [item[2] is None for item in errors if item[1] != first]  # plastic or not
    said = [f"{n} {'other ' * (plastic == (population is None))}{noun}{'s' * (n > 1)}"
            for plastic, noun in ((False, "population"), (True, "plastic connection"))
            if (n := others.count(plastic))]
    note = f" (and {' and '.join(said)} failed in this run)" if said else ""
    if population is None:
        error.hint = (error.hint or "") + note
        raise error
    message, hint = error.message, error.hint
    connection, composed, own = error.state.partition("__")  # network.compose.prefix
    if composed:  # a state of the synapse model of a connection into the population
        message = message.replace(error.state, f"{own} (synapse of connection "
                                  f"{connection!r})", 1)
        hint = f"look at the weights of connection {connection!r} and its synapse; {hint}"
    hint += note
    raise NumericalError(f"population {population!r}: {message}", hint=hint,
                         state=error.state, step=error.step, lane=error.lane,
                         neuron=error.neuron, count=error.count, result=error.result,
                         population=population, cause=error.cause) from None


def other_neurons(count: int, lanes: int) -> str:
    """The end of a failure's message: how many other neurons (or (lane, neuron) pairs, in
    a run of several lanes) failed."""
    counted = "neuron" if lanes == 1 else "neuron-lane"
    return f" (and {count - 1} other {counted}{'s' * (count > 2)})" if count > 1 else ""


def numerical_error(model: ir.Model, failure, code: int, dt: float, shape, result, lanes=1):
    """The :class:`NumericalError` of ``failure`` (from :func:`first_failure`) in a run of
    ``lanes`` lanes."""
    step, lane, neuron, count = failure
    by_reset, code = made_by_reset(model, checked_states(model), code)
    state, others = checked_states(model)[code // 2], other_neurons(count, lanes)
    where = f"lane {lane}, neuron {_neuron_text(neuron, shape)}"
    what = (f"{state.name} became NaN or infinite" if code % 2 == 0 else
            f"{state.name} left its bounds ({', '.join(str(c) for c in state.bounds)})")
    message = f"{what} at step {step} (t = {step * dt:g}), {where}{others}"
    if by_reset:  # the reset's own test (with_checks): the update of the step was fine
        message += "; the reset made it so, after the step's check, in that step"
        hint = ("look at the reset: statements and the values they read (a reset value "
                "outside the bounds, or NaN)")
        return NumericalError(message, hint=hint, state=state.name, step=step, lane=lane,
                              neuron=neuron, count=count, result=result, cause="reset")
    method = model.method.name
    look = "look at its params, inputs and before:/after:/reset: statements"
    if method in ("rk4", "midpoint", "euler"):
        hint = (f"the model is integrated with {method} on a fixed step; try a smaller dt, "
                "'substeps: N', or 'method: adaptive' (the default where it applies)")
    elif method == "adaptive":
        kept = ("finite", "within its bounds")[code % 2]
        hint = (f"the adaptive integrator could not keep it {kept}; look for a runaway "
                "(a threshold or reset that never catches it) or tighten its tolerances")
        info = model.meta.get("adaptive", {})
        grid = info.get("grid_reason", "")
        if state.name in info.get("in_step_assigned", ()):
            # the integrator stops at a NaN or inf (solve.adaptive, _DEAD): where it did not
            # reach its bound, such a value comes from outside the substeps
            hint = (f"the reset assigns {state.name} at a crossing inside the step, and the "
                    f"integrator stops at a NaN or inf rather than integrate it: look first at "
                    f"the reset and the values it reads; else for a runaway the threshold "
                    f"never catches, or tighten the tolerances")
        elif grid and model.threshold is not None:
            # a blow-up past the threshold inside the step is integrated through
            hint = (f"the threshold is tested only at the end of each step ({grid}), so a "
                    "runaway past it inside a step is not reset; write the threshold as one "
                    "comparison (<, <=, >, >=) of ODE states, and-ed with conditions on other "
                    "values, and a reset that assigns ODE states, so that crossings are reset "
                    "inside the step (eqsnn show says which applies), or use a smaller dt")
    elif method == "none":
        hint = f"the model has no ODEs, so the cause is in its statements: {look}"
    elif "nonlinear part B" in dict(model.method.reasons).get(method, ""):
        hint = ("Brian2's exponential Euler freezes the nonlinear part B of each dx/dt = A x + B "
                "over the step: try a smaller dt, or leave 'method:' out (the adaptive method); "
                f"if that fails too, the cause is in the model: {look}")
    elif method == "exponential_euler":  # conditionally linear: the other states are frozen
        hint = ("exponential Euler freezes the other states and t over each step (first "
                "order), and a coefficient frozen at a large value can overflow where the "
                "solution does not: try a smaller dt, or 'method: adaptive'; if that fails "
                f"too, the cause is in the model: {look}")
    else:
        hint = (f"the {method.replace('_', ' ')} update follows the equations as written, so "
                f"the cause is likely in the model: {look}")
    return NumericalError(message, hint=hint, state=state.name, step=step, lane=lane,
                          neuron=neuron, count=count, result=result)


def _neuron_text(neuron: int, shape) -> str:
    if len(shape) <= 1:
        return str(neuron)
    return f"{neuron} {tuple(int(i) for i in np.unravel_index(neuron, shape))}"
