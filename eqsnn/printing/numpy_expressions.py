"""Printing one lowered expression of a step as in-place NumPy code.

An expression reaches this module lowered to three-address ops
(:mod:`eqsnn.printing.lower`); :meth:`NumpyExpressionPrinter.store` prints its
ops in order.  Each op on arrays writes with ``out=`` into a work buffer that
no later op still reads, or into the target once nothing reads its old value;
the last op writes straight into the target, with ``where=mask`` under an
``if``.  Scalar ops are plain Python expressions; ops on params, constants
and array data only are hoisted out of the step loop (``_h``); ops on inputs
write ``_held`` buffers (:mod:`eqsnn.printing.numpy`).  A masked store whose
op is exact (:data:`~eqsnn.printing.numpy_ops.GATHER_SAFE`) and whose
operands are full arrays or scalars also gets a sparse form (``_positions``):
only the elements the mask picks out are gathered, computed and put back.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from .. import ir
from .lower import lower
from .numpy_ops import FULL, GATHER_SAFE, array_op, expression, gathered_op, kind, python_names
from .numpy_peephole import simplify
from .numpy_placement import Placement
from .ops import ELEMENTWISE, Lowered, Op, Ref, Temp

__all__ = ["NumpyExpressionPrinter", "StepCode"]


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



class NumpyExpressionPrinter:
    """Prints lowered expressions of one model's step into :class:`StepCode` lines.

    The state shared by everything printed in a step: names and types, the
    placement of each value (:class:`~eqsnn.printing.numpy_placement.Placement`),
    the pool of work buffers, the constants and held values printed so far, the
    masks laid out as full arrays and their positions, the indentation.  The
    statements around the expressions are :class:`eqsnn.printing.numpy._StepPrinter`.
    """

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
        return simplify(lower(expr, self.types, dtype))

    def mask_buffer(self, name: str) -> None:
        self.code.buffers[name] = (FULL, "bool")
        self.full_masks.add(name)

    # --- expressions --------------------------------------------------
    def evaluate(self, lowered: Lowered) -> str:
        """Print the ops and return the printed operand holding the value."""
        return self.store(lowered, None, None)

    def store(self, lowered: Lowered, target: str | None, mask: str | None) -> str:
        """Print ``lowered``; with a ``target`` buffer, leave the value in it (where ``mask``).

        Each array op writes into a work buffer no later op still reads (``busy``), or
        into ``target`` once nothing reads its old value; the last op writes straight into
        ``target`` where it can (``direct``), else the value is copied there."""
        ops, where = lowered.ops, "" if mask is None else f", where={mask}"
        modes, held = self.place.modes(lowered, target)
        direct = (
            target is not None and ops and lowered.result == ops[-1].dest
            and modes[-1] == "array" and ops[-1].op in ELEMENTWISE
        )
        last_use = _last_uses(ops)
        target_free_from = self.target_free_from(ops, target, mask)
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
                where_is[index] = self.outside_array_value(op, args, mode, ops)
                continue
            dying = [busy_name for busy_name, holder in busy.items()
                     if last_use.get(holder) == index]
            elementwise = op.op in ELEMENTWISE
            if elementwise:
                for name in dying:
                    del busy[name]
            if index == len(ops) - 1 and direct:
                dest = target
                self.last_op_into_target(op, args, target, mask, where, ops, modes, where_is)
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
            self.copy_into_target(value, target, mask, where, lowered, modes, where_is)
        return value

    def target_free_from(self, ops: list[Op], target: str | None, mask: str | None) -> int:
        """The index of the last op that reads ``target``'s old value (-1: none); under a mask
        the target keeps its old value where the mask does not hold, so never free."""
        target_name = next((k for k, v in self.names.items() if v == target), target)
        reads_target = [i for i, op in enumerate(ops) if Ref(target_name) in op.args]
        return max(reads_target, default=-1) if mask is None else len(ops)

    def outside_array_value(self, op: Op, args: list[str], mode: str, ops: list[Op]) -> str:
        """``op`` as a plain expression: hoisted out of the loop (``_h``), a scalar of the
        step (``_s``) or a draw (``_rand``); returns its name."""
        name = self.fresh({"hoist": "_h", "scalar": "_s", "rand": "_rand"}[mode])
        if mode == "rand":
            self.code.uses.update({"rand", "step"})
        text = expression(op, args, self.place.op_class(op, ops))
        if mode == "hoist":
            self.code.invariants.append(f"{name} = {text}")
        else:
            self.line(f"{name} = {text}")
        return name

    def last_op_into_target(self, op: Op, args: list[str], target: str, mask: str | None,
                            where: str, ops: list[Op], modes, where_is) -> None:
        """The last op of a store written straight into ``target``, sparse where it may be."""
        lines = array_op(op, args, target, where)
        gathered = None
        if kind(op) in GATHER_SAFE:
            gathered = self.gathered(mask, op.args, ops, modes, where_is)
        if gathered is not None:
            at, values = gathered
            self.masked(at, lines, f"{target}.put({at}, {gathered_op(op, values)})",
                        target, array_op(op, args, target, ""))
        else:
            self.lines(lines)

    def copy_into_target(self, value: str, target: str, mask: str | None, where: str,
                         lowered: Lowered, modes, where_is) -> None:
        """``value`` copied into ``target`` (where ``mask``), sparse where it may be."""
        line = f"np.copyto({target}, {value}{where})"
        gathered = self.gathered(mask, [lowered.result], lowered.ops, modes, where_is)
        if gathered is not None:
            at, (taken,) = gathered
            self.masked(at, [line], f"{target}.put({at}, {taken})", target,
                        [f"np.copyto({target}, {value})"])
        else:
            self.line(line)

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

    def masked(self, at: str, where_lines: list[str], sparse_line: str, target: str,
               plain_lines: list[str]) -> None:
        """The store under a mask three ways (see ``_positions``): ``where=``, on every
        element with the few outside the mask put back, or on the mask's positions only."""
        self.line(f"if {at} is None:  # where= is the cheaper way, see _positions")
        self.depth += 1
        self.lines(where_lines)
        self.depth -= 1
        self.line(f"elif type({at}) is _Outside:  # almost everywhere: the others put back")
        self.depth += 1
        self.line(f"_kept = {target}.take({at}.at)")
        self.lines(plain_lines)
        self.line(f"{target}.put({at}.at, _kept)")
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


def _last_uses(ops: list[Op]) -> dict[int, int]:
    """Temporary index -> the index of the last op that reads it."""
    last_use = {}
    for index, op in enumerate(ops):
        for arg in op.args:
            if isinstance(arg, Temp):
                last_use[arg.index] = index
    return last_use
