"""Step assembly: the checked model and the derived update as one :class:`eqsnn.ir.Model`."""

from __future__ import annotations

import sympy

from .. import ir
from ..frontend.check import Checked
from .adaptive import TRY, TRY_OK
from .update import Update


def try_settles_threshold(threshold, after) -> bool:
    """Whether a neuron whose whole-step try took the step has no spike at the step's end.

    The try takes the step only where ``threshold`` does not hold at its end state
    (``eqsnn.solve.adaptive``), and ``_crossed`` is still false there; so the end-of-step
    threshold is false too unless the ``after:`` block writes something ``threshold``
    reads.  The ``c`` backend's loop-free step then leaves out its threshold and reset
    (``eqsnn.printing.c``): a tenth of the adaptive step of AdEx."""
    if threshold is None:
        return False
    read = {symbol.name for symbol in threshold.free_symbols}
    written = set()
    for stmt in ir.walk_statements(after):
        if isinstance(stmt, ir.Assign):
            written.add(stmt.target)
        elif isinstance(stmt, ir.Local):
            written.add(stmt.name)
        elif not isinstance(stmt, ir.If):
            return False
    return not read & written


def assemble(checked: Checked, system, method: ir.Method, update: Update) -> ir.Model:
    """One step = refractory flag, before, integration, after; the adaptive method adds
    hidden params and states and decides the end-of-step threshold and reset.

    See "The step" in ``docs/architecture.md``.
    """
    step: list = []
    if checked.refractory is not None:
        step.append(ir.Local("refractory", "bool", checked.refractory))
    step += [*checked.before, *update.statements, *checked.after]
    adaptive = update.adaptive
    params, states = checked.params, checked.states
    threshold, reset = checked.threshold, checked.reset
    meta = {}
    if adaptive is not None:
        params, states = params + adaptive.params, states + adaptive.states
        threshold, reset = adaptive.threshold, adaptive.reset
        meta["adaptive"] = {"max_substeps": adaptive.max_substeps, "try": TRY, "try_ok": TRY_OK,
                            "grid_reason": adaptive.grid_reason,
                            "in_step_assigned": adaptive.in_step_assigned,
                            "try_settles_threshold": try_settles_threshold(
                                adaptive.try_threshold, checked.after),
                            "tolerances_given": sorted({"rtol", "atol"}
                                                       & set(checked.method_options))}
    return ir.Model(
        name=checked.name,
        doc=checked.doc,
        params=params,
        states=states,
        inputs=checked.inputs,
        arrays=checked.arrays,
        precompute=update.precompute,
        step=tuple(step),
        threshold=threshold,
        reset=reset,
        negative_threshold=checked.negative_threshold,
        negative_reset=checked.negative_reset,
        method=method,
        odes=tuple((v, r + (g * sympy.Symbol("xi") if g != 0 else 0))
                   for v, r, g in zip(system.variables, system.rhs, system.noise)),
        units=checked.units,
        meta={"switches": dict(checked.switches), "source": checked.source,
              "filename": checked.filename, "kind": checked.kind, "post": checked.post,
              "output_unit": checked.output_unit,
              "roles": checked.roles, "clip_bounds": checked.clip_bounds,
              "unless": dict(zip(system.variables, system.unless)), **meta},
    )
