"""Step assembly: the checked model and the derived update as one :class:`eqsnn.ir.Model`."""

from __future__ import annotations

import sympy

from .. import ir
from ..frontend.check import Checked


def assemble(checked: Checked, system, method: ir.Method, precompute, update) -> ir.Model:
    """One step = refractory flag, before, integration, after.

    See "The step" in ``docs/architecture.md``.
    """
    step: list = []
    if checked.refractory is not None:
        step.append(ir.Local("refractory", "bool", checked.refractory))
    step += [*checked.before, *update, *checked.after]
    return ir.Model(
        name=checked.name,
        doc=checked.doc,
        params=checked.params,
        states=checked.states,
        inputs=checked.inputs,
        arrays=checked.arrays,
        precompute=tuple(precompute),
        step=tuple(step),
        threshold=checked.threshold,
        reset=checked.reset,
        negative_threshold=checked.negative_threshold,
        negative_reset=checked.negative_reset,
        method=method,
        odes=tuple((v, r + (g * sympy.Symbol("xi") if g != 0 else 0))
                   for v, r, g in zip(system.variables, system.rhs, system.noise)),
        meta={"switches": dict(checked.switches), "source": checked.source,
              "filename": checked.filename, "kind": checked.kind, "post": checked.post,
              "unless": dict(zip(system.variables, system.unless))},
    )
