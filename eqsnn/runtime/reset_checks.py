"""The numerical check of the states a reset assigns (:func:`runtime.checks.with_checks`).

The step's check runs before the threshold, so a reset that leaves a state NaN or
infinite, or out of its bounds, would be seen only by the next step's check, and
blamed on that step's update.  Each reset therefore ends with its own test of the
states it assigns, run only for the neurons it reset, which records the step with
a code of its own: ``2 K + j`` for the ``j``-th test of a state a reset assigns
(:func:`reset_codes`; ``K`` checked states, whose own codes are ``0 .. 2 K - 1``).
:func:`made_by_reset` reads such a code back.
"""

from __future__ import annotations

from .. import ir

__all__ = ["RESET_CHECK_META", "assigned_states", "made_by_reset", "reset_codes",
           "reset_tested", "split_reset_checks"]

#: key of ``model.meta``: how many statements at the end of the reset and of the negative
#: reset are the check of the states they assign (:func:`split_reset_checks`)
RESET_CHECK_META = "reset_check"


def assigned_states(statements) -> set[str]:
    """Every name the statements assign (in any branch)."""
    return {stmt.target for stmt in ir.walk_statements(statements)
            if isinstance(stmt, ir.Assign)}


def split_reset_checks(model: ir.Model) -> tuple[tuple, tuple, tuple, tuple]:
    """``(reset, check, negative_reset, negative_check)``: each reset of a model from
    ``with_checks`` without the check of the states it assigns, and that check (empty
    where there is none); a backend may print the check as it prints the step's
    (``runtime.checks.reset_check_tests``), recording what the statements would."""
    count, negative = model.meta.get(RESET_CHECK_META, (0, 0))
    reset, other = model.reset, model.negative_reset
    return (reset[:len(reset) - count], reset[len(reset) - count:],
            other[:len(other) - negative], other[len(other) - negative:])


def reset_tested(model: ir.Model, states) -> list[int]:
    """The indices in ``states`` (the model's checked states) of those a reset or negative
    reset assigns."""
    assigned = assigned_states(model.reset) | assigned_states(model.negative_reset)
    return [k for k, state in enumerate(states) if state.name in assigned]


def reset_codes(model: ir.Model, states) -> list[tuple[int, int]]:
    """``(k, 0)`` (finiteness) and ``(k, 1)`` (bounds) of each test of a state ``k`` a reset
    assigns, in code order: the code of the ``j``-th, where the reset made it fail, is
    ``2 K + j`` (``K = len(states)``), past the step's own codes and as few as can be
    (the c backend returns a code in 6 bits)."""
    return [(k, bound) for k in reset_tested(model, states)
            for bound in ((0, 1) if states[k].bounds else (0,))]


def made_by_reset(model: ir.Model, states, code: int) -> tuple[bool, int]:
    """``(whether a reset made it, the step's code of the same test: 2 k or 2 k + 1)`` of a
    recorded ``code`` (``model`` with or without the check, ``states`` its checked
    states)."""
    offset = 2 * len(states)
    if code < offset:
        return False, code
    k, bound = reset_codes(model, states)[code - offset]
    return True, 2 * k + bound
