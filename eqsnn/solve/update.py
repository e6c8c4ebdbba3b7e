"""The update of one step by the chosen method: what :func:`derive_update` hands to assembly."""

from __future__ import annotations

from dataclasses import dataclass

from .. import ir
from ..errors import SolverError
from ..frontend.check import Checked
from .adaptive import DEFAULT_TOLERANCES, AdaptiveUpdate, adaptive_update
from .analysis import System
from .solvers import integrate, with_substeps

__all__ = ["Update", "derive_update"]


@dataclass(frozen=True)
class Update:
    """The integration of one step: host precompute items, the IR statements, the reasons
    of every method (with notes on how the chosen one runs) and, for the adaptive method,
    the hidden params, states, threshold and reset it brings, and warnings about the
    model's text (``substeps:`` where it changes nothing)."""

    precompute: tuple
    statements: tuple
    reasons: tuple
    adaptive: AdaptiveUpdate | None = None
    warnings: tuple = ()


def derive_update(checked: Checked, system: System, method: str, reasons) -> Update:
    """The chosen method's update, in ``substeps: N`` substeps where the model asks."""
    adaptive = None
    if method == "adaptive" and checked.substeps is not None:
        # a named 'method: adaptive' is refused by the checker; here it is the default
        line, column = checked.substeps_pos or (None, None)
        raise SolverError(
            "'substeps:' does not apply to the adaptive method (the default for this "
            "nonlinear model), which chooses its own substeps", line=line, column=column,
            hint="remove 'substeps:' (bound the adaptive substeps with 'method: "
                 "adaptive(max_substeps=N)'), or name a fixed-step method, e.g. 'method: "
                 "rk4', to integrate every step in N equal substeps")
    if method == "adaptive":
        adaptive = adaptive_update(system, checked.threshold, checked.reset,
                                   _after_locals(checked), checked.method_options,
                                   {state.name: state.dtype for state in checked.states})
        precompute, update = [], list(adaptive.update)
        note = _tolerance_note(checked.method_options, adaptive.max_substeps)
        reasons = _with_note(reasons, "adaptive", f"{note}; {adaptive.in_step}")
    else:
        precompute, update = integrate(system, method, checked.draws)
    warnings = ()
    if checked.substeps is not None:
        try:
            precompute, update = with_substeps(precompute, update, checked.substeps,
                                               checked.draws)
        except SolverError as error:  # pointed at the 'substeps:' line
            if error.line is None:
                error.line, error.column = checked.substeps_pos or (None, None)
            raise
        reasons = _with_note(reasons, method, f"in {checked.substeps} substeps per step")
        if method in ("exact", "none"):
            what = ("the exact update, exact at any step: each step only does its work "
                    f"{checked.substeps} times") if method == "exact" else "a model without ODEs"
            warnings = (f"'substeps: {checked.substeps}' has no effect on {what}",)
    return Update(tuple(precompute), tuple(update), tuple(reasons), adaptive, warnings)


def _tolerance_note(options, max_substeps: int) -> str:
    """``rtol 1e-08 (0.0001 in float32), atol ..., at most 1000 substeps a step`` for
    ``eqsnn show``: the tolerances a run uses, by precision where the text set none."""
    parts = []
    for k, name in enumerate(("rtol", "atol")):
        if name in options:
            parts.append(f"{name} {options[name]:g}")
        else:
            parts.append(f"{name} {DEFAULT_TOLERANCES['float64'][k]:g} "
                         f"({DEFAULT_TOLERANCES['float32'][k]:g} in float32)")
    return ", ".join(parts) + f", at most {max_substeps} substeps a step"


def _after_locals(checked: Checked) -> set[str]:
    return {s.name for s in ir.walk_statements(checked.after) if isinstance(s, ir.Local)}


def _with_note(reasons, method: str, note: str) -> tuple:
    return tuple((m, f"{r}; {note}" if m == method else r) for m, r in reasons)
