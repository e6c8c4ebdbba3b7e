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

:func:`print_step` returns the pieces; :mod:`eqsnn.backends.numpy` puts them
into a module.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from .. import ir
from .forwarding import forward_single_use_locals
from .lower import lower
from .numpy_compact import CompactLoop, compactable
from .numpy_ops import (
    FULL,
    GATHER_SAFE,
    SCALAR,
    array_op,
    expression,
    gathered_op,
    kind,
    python_names,
)
from .numpy_placement import Placement
from .ops import ELEMENTWISE, Lowered, Op, Ref, Temp

__all__ = ["StepCode", "print_step", "python_names"]


@dataclass
class StepCode:
    """The printed pieces of one model's step (lines without indentation of the loop)."""

    names: dict[str, str]
    constants: list[str] = field(default_factory=list)
    invariants: list[str] = field(default_factory=list)
    #: (the inputs it depends on, its lines): values of inputs, in dependency order
    held: list[tuple[frozenset, list[str]]] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    #: work buffer name -> (shape class, IR type)
    buffers: dict[str, tuple[str, str]] = field(default_factory=dict)
    uses: set[str] = field(default_factory=set)  # of "t", "step", "rand", "positions"


def print_step(model: ir.Model, per_neuron=frozenset()) -> StepCode:
    """Print step, threshold and reset of ``model``; ``per_neuron`` names (n,)-valued params."""
    printer = _StepPrinter(model, frozenset(per_neuron))
    uses: dict[str, int] = defaultdict(int)
    for expr in model.expressions():
        for symbol in expr.free_symbols:
            uses[str(symbol)] += 1
    step = forward_single_use_locals(model.step, printer.types, uses)
    model = model.replace(step=step)
    printer.model = model
    printer.statements(model.step, None)
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
    if model.reset:
        printer.comment("reset, where _spike")
        printer.statements(model.reset, "_spike")
    if model.negative_reset:
        printer.comment("negative reset, where _negative")
        printer.statements(model.negative_reset, "_negative")
    return printer.code


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


class _StepPrinter:
    def __init__(self, model: ir.Model, per_neuron: frozenset):
        self.types = model.name_types()
        self.code = StepCode(python_names(model))
        self.names = self.code.names
        self.place = Placement(model, per_neuron)
        self.pool: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.constants: dict[tuple, str] = {}
        self.held: dict[tuple, str] = {}
        #: masks laid out as (batch, n) bool arrays, whose flat positions index a full value
        self.full_masks: set[str] = set()
        #: mask -> its positions, computed in the statements() now being printed
        self.positions: dict[str, str] = {}
        self.counts: dict[str, int] = defaultdict(int)
        self.depth = 0

    # --- output -------------------------------------------------------
    def line(self, text: str) -> None:
        self.code.body.append("    " * self.depth + text)

    def lines(self, texts: list[str]) -> None:
        for text in texts:
            self.line(text)

    def comment(self, text: str) -> None:
        self.line("# " + " ".join(str(text).split()))

    def fresh(self, prefix: str) -> str:
        self.counts[prefix] += 1
        return f"{prefix}{self.counts[prefix] - 1}"

    def lower(self, expr, dtype: str) -> Lowered:
        return lower(expr, self.types, dtype)

    def mask_buffer(self, name: str) -> None:
        self.code.buffers[name] = (FULL, "bool")
        self.full_masks.add(name)

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

    # --- expressions --------------------------------------------------
    def evaluate(self, lowered: Lowered) -> str:
        """Print the ops and return the printed operand holding the value."""
        return self.store(lowered, None, None)

    def store(self, lowered: Lowered, target: str | None, mask: str | None) -> str:
        """Print ``lowered``; with a ``target`` buffer, leave the value in it (where ``mask``)."""
        ops, where = lowered.ops, "" if mask is None else f", where={mask}"
        modes, held = self.place.modes(lowered, target)
        last = len(ops) - 1
        direct = (
            target is not None and ops and lowered.result == ops[-1].dest
            and modes[-1] == "array" and ops[-1].op in ELEMENTWISE
        )
        last_use = {}
        for index, op in enumerate(ops):
            for arg in op.args:
                if isinstance(arg, Temp):
                    last_use[arg.index] = index
        target_name = next((k for k, v in self.names.items() if v == target), target)
        reads_target = [i for i, op in enumerate(ops) if Ref(target_name) in op.args]
        target_free_from = max(reads_target, default=-1) if mask is None else len(ops)
        target_key = self.code.buffers.get(target) or (FULL, lowered.dtype)
        where_is: dict[int, str] = {}
        busy: dict[str, int] = {}
        for index, op in enumerate(ops):
            args = [self.printed(a, where_is) for a in op.args]
            mode = modes[index]
            if mode == "held":
                where_is[index] = self.held_value(op, args, held[index])
                continue
            if mode != "array":
                name = self.fresh({"hoist": "_h", "scalar": "_s", "rand": "_rand"}[mode])
                if mode == "rand":
                    self.code.uses.update({"rand", "step"})
                text = expression(op, args, self.place.op_class(op, ops))
                if mode == "hoist":
                    self.code.invariants.append(f"{name} = {text}")
                else:
                    self.line(f"{name} = {text}")
                where_is[index] = name
                continue
            dying = [busy_name for busy_name, holder in busy.items()
                     if last_use.get(holder) == index]
            elementwise = op.op in ELEMENTWISE
            if elementwise:
                for name in dying:
                    del busy[name]
            if index == last and direct:
                dest = target
                lines = array_op(op, args, dest, where)
                gathered = None
                if kind(op) in GATHER_SAFE:
                    gathered = self.gathered(mask, op.args, ops, modes, where_is)
                if gathered is not None:
                    at, values = gathered
                    self.masked(at, lines, f"{target}.put({at}, {gathered_op(op, values)})")
                else:
                    self.lines(lines)
            else:
                key = (self.place.op_class(op, ops), op.dtype)
                free_from = target_free_from + (0 if elementwise else 1)
                use_target = (
                    target is not None and index >= free_from and key == target_key
                    and target not in busy
                )
                dest = target if use_target else self.buffer(key, busy)
                busy[dest] = index
                self.lines(array_op(op, args, dest, ""))
            if not elementwise:
                for name in dying:
                    busy.pop(name, None)
            where_is[index] = dest
        value = self.printed(lowered.result, where_is)
        if target is not None and not direct and value != target:
            line = f"np.copyto({target}, {value}{where})"
            gathered = self.gathered(mask, [lowered.result], ops, modes, where_is)
            if gathered is not None:
                at, (value,) = gathered
                self.masked(at, [line], f"{target}.put({at}, {value})")
            else:
                self.line(line)
        return value

    # --- masked stores on few elements ----------------------------------
    def gathered(self, mask, operands, ops, modes, where_is) -> tuple[str, list[str]] | None:
        """``(positions, operands at them)`` for a store under ``mask``, if all can be gathered.

        Scalars are used as they are; full arrays (states, locals, work and
        held buffers) are read at the mask's flat positions with ``take``.
        Inputs (whose shape is known only at run time), per-neuron and
        per-lane values and draws are not, and keep the ``where=`` form.
        """
        if mask is None or mask not in self.full_masks:
            return None
        layouts = [self.place.layout(operand, ops, modes) for operand in operands]
        if None in layouts:
            return None
        at = self.mask_positions(mask)
        values = [self.printed(operand, where_is) for operand in operands]
        return at, [f"{v}.take({at})" if shape == FULL else v for v, shape in zip(values, layouts)]

    def mask_positions(self, mask: str) -> str:
        if mask not in self.positions:
            self.positions[mask] = name = self.fresh("_at")
            self.code.uses.add("positions")
            self.line(f"{name} = _positions({mask}) if _sparse else None")
        return self.positions[mask]

    def masked(self, at: str, where_lines: list[str], sparse_line: str) -> None:
        self.line(f"if {at} is None:  # where= is the cheaper way, see _positions")
        self.depth += 1
        self.lines(where_lines)
        self.depth -= 1
        self.line("else:")
        self.depth += 1
        self.line(sparse_line)
        self.depth -= 1

    # --- buffers and operands -------------------------------------------
    def held_value(self, op: Op, args: list[str], inputs: frozenset) -> str:
        """A buffer holding ``op`` of inputs; identical ops share one."""
        key = (kind(op), op.dtype, tuple(args))
        if key not in self.held:
            self.held[key] = name = self.fresh("_held")
            self.code.buffers[name] = (FULL, op.dtype)
            self.code.held.append((inputs, array_op(op, args, name, "")))
        return self.held[key]

    def buffer(self, key: tuple[str, str], busy: dict) -> str:
        for name in self.pool[key]:
            if name not in busy:
                return name
        name = f"_{key[1]}{'' if key[0] == FULL else '_' + key[0]}{len(self.pool[key])}"
        self.pool[key].append(name)
        self.code.buffers[name] = key
        return name

    def printed(self, operand, where_is) -> str:
        if isinstance(operand, Temp):
            return where_is[operand.index]
        if isinstance(operand, Ref):
            if operand.name in ("t", "step"):
                self.code.uses.add(operand.name)
            return self.names[operand.name]
        if operand.dtype == "bool":
            return repr(bool(operand.value))
        if operand.dtype == "int":
            return f"({operand.value})" if operand.value < 0 else repr(operand.value)
        key = ("float", repr(operand.value))
        if key not in self.constants:
            value = operand.value
            literal = repr(value) if math.isfinite(value) else f'"{value}"'
            self.constants[key] = name = self.fresh("_c")
            self.code.constants.append(f"{name} = FLOAT({literal})")
        return self.constants[key]
