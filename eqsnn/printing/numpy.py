"""NumPy printer: the statements of one step as in-place NumPy code.

Values are vectorised over ``(batch, n)``; every value has a *shape class*
(:mod:`eqsnn.printing.numpy_ops`).  Ops on arrays write into preallocated
work buffers with ``out=``; the last op of an assignment writes straight into
its target, with ``where=mask`` under an ``if``.  Scalar ops are printed as
plain Python expressions on NumPy scalars of the model precision.  Three
kinds of ops leave the step's straight line, none changing a bit:

* ops that depend only on params, constants and array data are hoisted out
  of the step loop (``_h`` values);
* ops that depend on inputs too (and on nothing that changes during a run)
  write dedicated ``_held`` buffers: once per run for inputs held for the
  whole run, at the top of the step for inputs that change every step;
* a masked store whose op is exact (:data:`~eqsnn.printing.numpy_ops.GATHER_SAFE`)
  and whose operands are full arrays or scalars also gets a sparse form: on a
  large population (``_sparse``) whose mask holds on a few percent of the
  elements (``_positions``), only those are gathered, computed and scattered
  back.

This module prints the statements (assignments, ``if`` as masks, ``while``
loops); :mod:`eqsnn.printing.numpy_expressions` prints the ops of each
expression into buffers and targets.  :func:`print_step` returns the pieces,
a :class:`~eqsnn.printing.numpy_expressions.StepCode`;
:mod:`eqsnn.backends.numpy` puts them into a module.
"""

from __future__ import annotations

from collections import defaultdict

from .. import ir
from ..runtime.checks import (
    CHECK_ALL,
    check_tests,
    deferred_states,
    reset_check_tests,
    split_checks,
)
from ..runtime.reset_checks import split_reset_checks
from .forwarding import forward_single_use_locals
from .numpy_compact import CompactLoop, compactable
from .numpy_expressions import NumpyExpressionPrinter, StepCode
from .numpy_ops import FULL, SCALAR, python_names
from .ops import Const, Ref

__all__ = ["print_step", "python_names"]


def print_step(model: ir.Model, per_neuron=frozenset()) -> StepCode:
    """Print step, threshold and reset of ``model``; ``per_neuron`` names (n,)-valued params."""
    printer = _StepPrinter(model, frozenset(per_neuron))
    uses: dict[str, int] = defaultdict(int)
    for expr in model.expressions():
        for symbol in expr.free_symbols:
            uses[str(symbol)] += 1
    body, check = (forward_single_use_locals(part, printer.types, uses)
                   for part in split_checks(model))
    model = model.replace(step=body + check)
    printer.model = model
    printer.statements(body, None)
    if check:
        _print_check(printer, model, check)
    if model.threshold is not None:
        printer.mask_buffer("_spike")
        printer.comment(f"threshold: {model.threshold}")
        printer.store(printer.lower(model.threshold, "bool"), "_spike", None)
    if model.negative_threshold is not None:
        printer.mask_buffer("_negative")
        printer.comment(f"negative threshold: {model.negative_threshold}")
        printer.store(printer.lower(model.negative_threshold, "bool"), "_negative", None)
        if model.threshold is not None:
            printer.line("np.greater(_negative, _spike, out=_negative)  # and not _spike")
    reset, reset_check, negative, negative_check = split_reset_checks(model)
    if reset:
        printer.comment("reset, where _spike")
        printer.statements(reset, "_spike")
    if negative:
        printer.comment("negative reset, where _negative")
        printer.statements(negative, "_negative")
    if reset_check or negative_check:
        # for every neuron, behind a test of the population: where no reset ran, the
        # states are those the step's check tested, whose failure is recorded already
        tests = sorted(set(reset_check_tests(model) + reset_check_tests(model,
                                                                        "negative_reset")))
        _print_check(printer, model, reset_check + negative_check, tests)
    return printer.code


def _print_check(printer, model: ir.Model, check, tests=None) -> None:
    """The numerical check (:mod:`eqsnn.runtime.checks`) behind a test of the whole
    population (or tile) that fails wherever the check would record something: a NaN or
    inf makes a sum non-finite (a finite sum that overflows only costs a needless check),
    and the minimum and maximum of a state with bounds (NaN where there is one) must be
    finite and hold every bound.  Only where the test fails do the check's statements run,
    elementwise, and record the first step and code as always.  ``tests``: those of the
    check (``check_tests`` where None)."""
    every = check_tests(model) if tests is None else tests
    tests = []
    deferred = deferred_states(model)
    for _, state, bounds in every:
        if state in deferred:
            continue  # tested in the second pass only (eqsnn.runtime.checks.sticky_states)
        name = printer.names[state]
        if not bounds:
            if not any(s == state and b for _, s, b in every):
                tests.append(f"np.isfinite({name}.sum())")
            continue
        low, high = printer.fresh("_min"), printer.fresh("_max")
        printer.line(f"{low}, {high} = {name}.min(), {name}.max()")
        tests.append(f"np.isfinite({low}) and np.isfinite({high})")
        for op, bound in bounds:
            value = printer.printed(Const(bound, "float"), ())
            tests.append(f"{low if op in ('>', '>=') else high} {op} {value}")
    printer.comment("the numerical check, only where a test of the population fails")
    guard = [f"not ({' and '.join(tests)})"] if tests else []
    if deferred:
        guard.insert(0, f"{printer.names[CHECK_ALL]} > 0")
    printer.line(f"if {' or '.join(guard)}:")
    printer.depth += 1
    printer.statements(check, None)
    printer.depth -= 1


def _reads_outside(model: ir.Model, loop: ir.While) -> set[str]:
    """Names read anywhere in the step, reset or thresholds but in the body of ``loop``."""
    names: set[str] = set()

    def walk(statements):
        for stmt in statements:
            expr = stmt.cond if isinstance(stmt, (ir.If, ir.While)) else stmt.expr
            names.update(str(symbol) for symbol in expr.free_symbols)
            if isinstance(stmt, ir.If):
                walk(stmt.body)
                walk(stmt.orelse)
            elif isinstance(stmt, ir.While) and stmt is not loop:
                walk(stmt.body)

    for block in (model.step, model.reset, model.negative_reset):
        walk(block)
    for cond in (model.threshold, model.negative_threshold):
        if cond is not None:
            names.update(str(symbol) for symbol in cond.free_symbols)
    return names


class _StepPrinter(NumpyExpressionPrinter):
    """Prints the statements of a step: assignments, ``if`` as masks, ``while`` loops."""

    # --- statements ---------------------------------------------------
    def statements(self, statements, mask: str | None) -> None:
        # positions are valid in this block only: a mask may change outside it
        outer, self.positions = self.positions, {}
        for stmt in statements:
            if isinstance(stmt, ir.If):
                self.if_statement(stmt, mask)
                continue
            if isinstance(stmt, ir.While):
                self.while_statement(stmt, mask)
                self.positions.clear()  # the loop may change what a mask reads
                continue
            target = stmt.name if isinstance(stmt, ir.Local) else stmt.target
            if isinstance(stmt, ir.Local):
                self.code.buffers.setdefault(self.names[target], (FULL, stmt.dtype))
            self.comment(f"{'local ' if isinstance(stmt, ir.Local) else ''}{target} = {stmt.expr}")
            self.store(self.lower(stmt.expr, self.types[target]), self.names[target], mask)
        self.positions = outer

    def if_statement(self, stmt: ir.If, mask: str | None) -> None:
        cond = self.lower(stmt.cond, "bool")
        self.comment(f"if {stmt.cond}:")
        if self.place.operand_class(cond.result, cond.ops) == SCALAR:
            self.line(f"if {self.evaluate(cond)}:")
            self.block(stmt.body, mask)
            if stmt.orelse:
                self.line("else:")
                self.block(stmt.orelse, mask)
            return
        assigned = {s.target if isinstance(s, ir.Assign) else s.name
                    for s in ir.walk_statements(stmt.body + stmt.orelse)
                    if not isinstance(s, ir.If)}
        flag = cond.result.name if isinstance(cond.result, Ref) and not cond.ops else None
        if flag is not None and mask is None and flag not in assigned:
            inside = self.names[flag]  # a bool state or local the branches leave alone
            if self.place.layout(cond.result, (), ()) == FULL:
                self.full_masks.add(inside)
        else:
            inside = self.fresh("_mask")
            self.mask_buffer(inside)
            if flag is not None and mask is not None and flag not in assigned:
                self.line(f"np.logical_and({self.names[flag]}, {mask}, out={inside})")
            else:
                self.store(cond, inside, None)
                if mask is not None:
                    self.line(f"np.logical_and({inside}, {mask}, out={inside})")
        self.statements(stmt.body, inside)
        if stmt.orelse:
            self.comment("else:")
            outside = self.fresh("_mask")
            self.mask_buffer(outside)
            self.line(f"np.logical_not({inside}, out={outside})")
            if mask is not None:
                self.line(f"np.logical_and({outside}, {mask}, out={outside})")
            self.statements(stmt.orelse, outside)

    def while_statement(self, stmt: ir.While, mask: str | None) -> None:
        """At most ``limit`` iterations of the body, masked to where ``cond`` holds; the loop
        ends as soon as it holds nowhere."""
        cond = self.lower(stmt.cond, "bool")
        self.comment(f"while {stmt.cond} (at most {stmt.limit} times):")
        self.line(f"for {self.fresh('_loop')} in range({stmt.limit}):")
        self.depth += 1
        scalar = self.place.operand_class(cond.result, cond.ops) == SCALAR
        if compactable(stmt) and not scalar:
            inside = self.fresh("_mask")
            self.mask_buffer(inside)
            self.store(cond, inside, None)
            if mask is not None:
                self.line(f"np.logical_and({inside}, {mask}, out={inside})")
            at = self.fresh("_active")
            self.code.uses.add("compact")
            self.comment("the neurons still in the loop only (eqsnn.printing.numpy_compact)")
            self.line(f"{at} = np.flatnonzero({inside})")
            self.line(f"if not {at}.size:")
            self.line("    break")
            compact = CompactLoop(self, at, _reads_outside(self.model, stmt))
            compact.statements(stmt.body, None)
            compact.scatter()
        elif scalar:
            self.line(f"if not ({self.evaluate(cond)}):")
            self.line("    break")
            self.statements(stmt.body, mask)
        else:
            inside = self.fresh("_mask")
            self.mask_buffer(inside)
            self.store(cond, inside, None)
            if mask is not None:
                self.line(f"np.logical_and({inside}, {mask}, out={inside})")
            self.line(f"if not {inside}.any():")
            self.line("    break")
            self.statements(stmt.body, inside)
        self.depth -= 1

    def block(self, statements, mask: str | None) -> None:
        self.depth += 1
        before = len(self.code.body)
        self.statements(statements, mask)
        if all(line.lstrip().startswith("#") for line in self.code.body[before:]):
            self.line("pass")
        self.depth -= 1
