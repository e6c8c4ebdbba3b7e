"""The adaptive method's crossings on the ``numpy`` backend, located in batches.

In the substep loop (:mod:`eqsnn.solve.adaptive`) a neuron whose accepted substep ends
past its threshold locates the crossing, refines it on the solution, resets there and
goes on (:func:`eqsnn.solve.crossings.locate_and_reset`): a few hundred NumPy calls.  Run
as the loop's ``if`` on the neurons that cross in one iteration, they are paid once per
iteration in which any neuron crosses (about 9 of AdEx's 12 iterations a step at
dt = 0.1 ms), on a handful of neurons each time.

So the loop phase of :mod:`eqsnn.backends.numpy_deferred` is split (:func:`split_loop`):
in the loop a neuron whose substep crosses only marks itself :data:`PENDING` and leaves
the loop (the loop's condition excludes it), keeping the substep's data (its end, last
stage and size, locals of the loop carried to the next phase); the ``cross`` phase then
runs the location and the reset for every pending neuron together, and the loop resumes
for them.  Each neuron goes through the same operations in the same order as in the
one-pass step, so the numbers are the same; only the order in which neurons are worked
on changes.
"""

from __future__ import annotations

import sympy

from .. import ir
from ..solve.crossings import JUMP

__all__ = ["PENDING", "split_loop"]

#: the carried flag of a neuron whose substep crossed its threshold: its crossing is
#: located by the next ``cross`` phase, and it leaves the loop until then
PENDING = "_ad_pending"


def _is_crossing(stmt) -> bool:
    """The ``if`` whose body locates a crossing and resets there (it sets the jump flag
    that sends the next substep to the end of the step)."""
    return isinstance(stmt, ir.If) and any(
        isinstance(s, ir.Assign) and s.target == JUMP and s.expr == sympy.true
        for s in stmt.body)


def split_loop(loop: ir.While) -> tuple[ir.While, tuple[ir.Statement, ...]] | None:
    """``(loop, cross)``: the substep loop where a crossing only marks the neuron
    :data:`PENDING` (and sets the jump flag, read by the rest of the iteration), and the
    statements that locate the crossings of the pending neurons and reset them; None where
    the loop locates no crossing (spikes on the step grid)."""
    found: list[tuple] = []

    def marked(statements) -> tuple:
        out = []
        for stmt in statements:
            if _is_crossing(stmt):
                found.append(stmt.body)
                mark = (ir.Assign(PENDING, sympy.true), ir.Assign(JUMP, sympy.true))
                out.append(ir.If(stmt.cond, mark, marked(stmt.orelse)))
            elif isinstance(stmt, ir.If):
                out.append(ir.If(stmt.cond, marked(stmt.body), marked(stmt.orelse)))
            else:
                out.append(stmt)
        return tuple(out)

    body = marked(loop.body)
    if len(found) != 1:
        return None
    # the jump flag has been read in the crossing's iteration: the location leaves it
    cross = tuple(s for s in found[0] if not (isinstance(s, ir.Assign) and s.target == JUMP))
    cross += (ir.Assign(PENDING, sympy.false),)
    waiting = sympy.Not(sympy.Symbol(PENDING))
    return ir.While(sympy.And(loop.cond, waiting), body, loop.limit), cross
