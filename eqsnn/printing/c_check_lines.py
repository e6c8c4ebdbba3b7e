"""The numerical check's lines in the C step function (:mod:`eqsnn.printing.c`).

The step's check and the check of the states a reset assigns
(:mod:`eqsnn.runtime.checks`, :mod:`eqsnn.runtime.reset_checks`) are printed as
selects that compute the smallest failing code + 1 (no branch, no memory: they
vectorise with the step), the tests of states whose test waits for the second
pass behind ``_check_all``; where the step has a cheap test
(:mod:`eqsnn.printing.c_check`), the exact check runs only with ``_exact``.
:class:`CheckLines` is the part of the step printer that prints them.
"""

from __future__ import annotations

from ..runtime.checks import CHECK_ALL, deferred_states
from . import c_check

__all__ = ["CheckLines"]


class CheckLines:
    """The check's lines of the step printer (``eqsnn.printing.c._StepBody``, which
    provides ``line``, ``comment``, ``names``, ``model``, ``printer``, ``cheap``,
    ``check_tests``, ``helpers`` and ``depth``)."""

    def check_code(self, names=None, start: str = "0") -> None:
        """``_fail``: the smallest failing code of the numerical check + 1, else ``start``
        (0, or the code of the resets' check, which the step's own failure precedes), as
        selects (no branch, no memory: it vectorises with the step); ``names`` maps each
        tested state to the C value tested (its copy from before the resets)."""
        self.comment("the numerical check (eqsnn.runtime.checks): the smallest failing code"
                     " + 1, or 0")
        self.line(f"{'' if self.cheap else 'int '}_fail = {start};")
        self.helpers.add("nonfinite")
        self.tests_and_second_pass(self.check_tests, "_fail", names)

    def exact_or_cheap(self, exact, names=None, after=()) -> None:
        """The check printed by ``exact()``, or, where the step has a cheap test
        (:mod:`eqsnn.printing.c_check`), that only with ``_exact`` (a constant where the
        step is inlined) and else the cheap test's folds: of each tested state (``names``:
        its copy from before the resets) and of the states ``after`` as the resets left
        them, deferred states' in the second pass only."""
        if not self.cheap:
            exact()
            return
        self.line("if (_exact) {")
        self.depth += 1
        exact()
        self.depth -= 1
        self.line("} else {  /* the cheap test: no code per neuron (c_check) */")
        for line in c_check.fold_block(self.cheap, lambda state: (names or {}).get(
                state, self.names[state]), {state: self.names[state] for state in after},
                self.names.get(CHECK_ALL)):
            self.line("    " + line)
        self.line("}")

    def reset_fail_lines(self, tests) -> None:
        """``_reset_fail``: the smallest failing code + 1 of the check of the states a reset
        assigns (``runtime.checks.reset_check_tests``), the deferred ones in the second pass
        only, as for the step's check.  It is printed after the resets' branches, as selects
        (so the loop still vectorises), for every neuron: where no reset ran, the states are
        those the step's check tested, so where they fail, the step's code wins.  The step's
        check is printed after it, on copies of the states from before the resets, starting
        from it (a select to merge the two costs GCC's vectoriser three times as much)."""
        self.comment("the numerical check of the states a reset assigns")
        self.tests_and_second_pass(tests, "_reset_fail")

    def tests_and_second_pass(self, tests, target: str, names=None) -> None:
        """:meth:`fail_lines` of ``tests``, those of deferred states
        (``runtime.checks.deferred_states``) in the second pass only."""
        deferred = deferred_states(self.model)
        self.fail_lines([t for t in tests if t[1] not in deferred], target, names)
        if any(t[1] in deferred for t in tests):
            # a branch on a value of the step: the compiler takes it out of the loop
            self.comment("the second pass only: every test (eqsnn.runtime.checks.sticky_states)")
            self.line(f"if ({self.names[CHECK_ALL]} > 0) {{")
            self.depth += 1
            self.fail_lines(tests, target, names)
            self.depth -= 1
            self.line("}")

    def fail_lines(self, tests, target: str = "_fail", names=None) -> None:
        """``target`` set to the smallest failing code + 1 of ``tests``, where one fails;
        ``names``: the C value of each state tested, where not the state itself."""
        for code, state, bounds in reversed(tests):
            x = (names or {}).get(state, self.names[state])
            if bounds:
                inside = " & ".join(f"({x} {op} {self.printer.float_literal(bound)})"
                                    for op, bound in bounds)
                failed = f"!({inside})"
            else:
                failed = f"eqsnn_nonfinite({x})"
            self.line(f"{target} = {failed} ? {code + 1} : {target};")
