"""NumPy printer: the statements of one step as in-place NumPy code.

Values are vectorised over ``(batch, n)``.  Every value has a *shape class*:
``scalar`` (constants, population-wide params, ``t``, ``step``, ``dt``),
``neuron`` (per-neuron params, ``id``: shape ``(1, n)``), ``lane``
(``batch``: ``(batch, 1)``) or ``full`` (states, locals, inputs, draws:
``(batch, n)``).  Ops on arrays write into preallocated work buffers with
``out=``; the last op of an assignment writes straight into its target, with
``where=mask`` under an ``if``, so a step allocates nothing (random draws
excepted).  Scalar ops are printed as plain Python expressions on NumPy
scalars of the model precision, and ops that depend only on params,
constants and array data are hoisted out of the step loop.

:func:`print_step` returns the pieces; :mod:`eqsnn.backends.numpy` puts them
into a module.
"""

from __future__ import annotations

import keyword
import math
from collections import defaultdict
from dataclasses import dataclass, field

from .. import ir
from .lower import ELEMENTWISE, Const, Lowered, Op, Ref, Temp, forward_single_use_locals, lower

__all__ = ["StepCode", "print_step", "python_names", "name_types"]

SCALAR, NEURON, LANE, FULL = "scalar", "neuron", "lane", "full"

#: shape of a work buffer of each class, as printed in ``allocate``
BUFFER_SHAPES = {FULL: "(batch, n)", NEURON: "(1, n)", LANE: "(batch, 1)"}
#: NumPy type of each IR type, as printed
NUMPY_TYPES = {"float": "FLOAT", "int": "np.int32", "bool": "np.bool_"}

_UFUNCS = {
    "add": "np.add", "sub": "np.subtract", "mul": "np.multiply", "div": "np.divide",
    "mod": "np.remainder", "min": "np.fmin", "max": "np.fmax", "neg": "np.negative",
    "lt": "np.less", "le": "np.less_equal", "gt": "np.greater", "ge": "np.greater_equal",
    "eq": "np.equal", "ne": "np.not_equal",
    "and": "np.logical_and", "or": "np.logical_or", "not": "np.logical_not",
    "exp": "np.exp", "expm1": "np.expm1", "log": "np.log", "log1p": "np.log1p",
    "sqrt": "np.sqrt", "abs": "np.absolute", "sin": "np.sin", "cos": "np.cos",
    "tanh": "np.tanh", "floor": "np.floor", "ceil": "np.ceil", "pow": "np.power",
}
_OPERATORS = {
    "add": "{} + {}", "sub": "{} - {}", "mul": "{} * {}", "div": "{} / {}", "mod": "{} % {}",
    "neg": "-{}", "lt": "{} < {}", "le": "{} <= {}", "gt": "{} > {}", "ge": "{} >= {}",
    "eq": "{} == {}", "ne": "{} != {}",
}
_BUILTIN_NAMES = {"t": "t", "step": "step", "dt": "dt", "id": "neuron_id", "batch": "lane"}
_TEMPLATE_NAMES = {"np", "rng", "FLOAT", "pop", "steps", "step0", "inputs", "recorders",
                   "spikes", "i", "allocate", "run", "batch", "n"}
_BUILTIN_TYPES = {"t": "float", "dt": "float", "step": "int", "id": "int", "batch": "int"}


def join(*classes: str) -> str:
    """Shape class of a value computed from values of these classes."""
    kinds = set(classes) - {SCALAR}
    if not kinds:
        return SCALAR
    if FULL in kinds or kinds == {NEURON, LANE}:
        return FULL
    return kinds.pop()


def _locals(model: ir.Model):
    blocks = (model.step, model.reset, model.negative_reset)
    return [s for block in blocks for s in ir.walk_statements(block) if isinstance(s, ir.Local)]


def name_types(model: ir.Model) -> dict[str, str]:
    """IR type (float/int/bool) of every name the step code can read."""
    types = dict(_BUILTIN_TYPES)
    types.update({name: "int" for name in model.runtime_params})
    types.update({p.name: p.dtype for p in model.params})
    types.update({name: "float" for name in model.precompute_names})
    for group in (model.states, model.inputs, model.arrays):
        types.update({item.name: item.dtype for item in group})
    types.update({local.name: local.dtype for local in _locals(model)})
    return types


def python_names(model: ir.Model) -> dict[str, str]:
    """A distinct Python identifier for every model name (``id`` is ``neuron_id``, ...).

    Model names never start with ``_`` in the printed code; the printer's own
    names all do.
    """
    names = dict(_BUILTIN_NAMES)
    taken = set(_TEMPLATE_NAMES) | set(keyword.kwlist) | set(names.values())
    for name in name_types(model):
        if name in names:
            continue
        candidate = "m" + name if name.startswith("_") else name
        while candidate in taken:
            candidate += "_"
        names[name] = candidate
        taken.add(candidate)
    return names


@dataclass
class StepCode:
    """The printed pieces of one model's step (lines without indentation of the loop)."""

    names: dict[str, str]
    constants: list[str] = field(default_factory=list)
    invariants: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    #: work buffer name -> (shape class, IR type)
    buffers: dict[str, tuple[str, str]] = field(default_factory=dict)
    uses: set[str] = field(default_factory=set)  # of "t", "step", "rand"


def print_step(model: ir.Model, per_neuron=frozenset()) -> StepCode:
    """Print step, threshold and reset of ``model``; ``per_neuron`` names (n,)-valued params."""
    printer = _StepPrinter(model, frozenset(per_neuron))
    uses: dict[str, int] = defaultdict(int)
    for expr in model.expressions():
        for symbol in expr.free_symbols:
            uses[str(symbol)] += 1
    step = forward_single_use_locals(model.step, printer.types, uses)
    model = model.replace(step=step)
    printer.statements(model.step, None)
    if model.threshold is not None:
        printer.code.buffers["_spike"] = (FULL, "bool")
        printer.comment(f"threshold: {model.threshold}")
        printer.store(printer.lower(model.threshold, "bool"), "_spike", None)
    if model.negative_threshold is not None:
        printer.code.buffers["_negative"] = (FULL, "bool")
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


class _StepPrinter:
    def __init__(self, model: ir.Model, per_neuron: frozenset):
        self.types = name_types(model)
        self.code = StepCode(python_names(model))
        self.names = self.code.names
        self.classes = {name: SCALAR for name in ("t", "step", "dt")}
        self.classes.update(id=NEURON, batch=LANE)
        invariant = ["dt", "id", "batch", *model.runtime_params, *model.precompute_names]
        invariant += [p.name for p in model.params] + [a.name for a in model.arrays]
        for name in invariant:
            self.classes.setdefault(name, NEURON if name in per_neuron else SCALAR)
        self.invariant = frozenset(invariant)
        for group in (model.states, model.inputs):
            self.classes.update({item.name: FULL for item in group})
        for local in _locals(model):
            self.classes[local.name] = FULL
        self.pool: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.constants: dict[tuple, str] = {}
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

    # --- statements ---------------------------------------------------
    def statements(self, statements, mask: str | None) -> None:
        for stmt in statements:
            if isinstance(stmt, ir.If):
                self.if_statement(stmt, mask)
                continue
            target = stmt.name if isinstance(stmt, ir.Local) else stmt.target
            if isinstance(stmt, ir.Local):
                self.code.buffers.setdefault(self.names[target], (FULL, stmt.dtype))
            self.comment(f"{'local ' if isinstance(stmt, ir.Local) else ''}{target} = {stmt.expr}")
            self.store(self.lower(stmt.expr, self.types[target]), self.names[target], mask)

    def if_statement(self, stmt: ir.If, mask: str | None) -> None:
        cond = self.lower(stmt.cond, "bool")
        self.comment(f"if {stmt.cond}:")
        if self.operand_class(cond.result, cond.ops) == SCALAR:
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
        else:
            inside = self.fresh("_mask")
            self.code.buffers[inside] = (FULL, "bool")
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
            self.code.buffers[outside] = (FULL, "bool")
            self.line(f"np.logical_not({inside}, out={outside})")
            if mask is not None:
                self.line(f"np.logical_and({outside}, {mask}, out={outside})")
            self.statements(stmt.orelse, outside)

    def block(self, statements, mask: str | None) -> None:
        self.depth += 1
        before = len(self.code.body)
        self.statements(statements, mask)
        if all(line.lstrip().startswith("#") for line in self.code.body[before:]):
            self.line("pass")
        self.depth -= 1

    # --- expressions --------------------------------------------------
    def operand_class(self, operand, ops) -> str:
        if isinstance(operand, Const):
            return SCALAR
        if isinstance(operand, Ref):
            return self.classes[operand.name]
        return self.op_class(ops[operand.index], ops)

    def op_class(self, op: Op, ops) -> str:
        if op.fn in ("rand_uniform", "rand_normal"):
            return FULL
        args = op.args[1:] if op.op == "array_get" else op.args
        return join(*(self.operand_class(arg, ops) for arg in args))

    def invariant_op(self, op: Op, hoisted: set) -> bool:
        if op.fn in ("rand_uniform", "rand_normal"):
            return False
        return all(
            isinstance(a, Const)
            or (isinstance(a, Ref) and a.name in self.invariant)
            or (isinstance(a, Temp) and a.index in hoisted)
            for a in op.args
        )

    def evaluate(self, lowered: Lowered) -> str:
        """Print the ops and return the printed operand holding the value."""
        return self.store(lowered, None, None)

    def store(self, lowered: Lowered, target: str | None, mask: str | None) -> str:
        """Print ``lowered``; with a ``target`` buffer, leave the value in it (where ``mask``)."""
        ops, where = lowered.ops, "" if mask is None else f", where={mask}"
        hoisted: set[int] = set()
        modes = []
        for op in ops:
            if self.invariant_op(op, hoisted):
                hoisted.add(op.dest.index)
                modes.append("hoist")
            elif op.fn in ("rand_uniform", "rand_normal"):
                modes.append("rand")
            else:
                modes.append("scalar" if self.op_class(op, ops) == SCALAR else "array")
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
            if mode != "array":
                name = self.fresh({"hoist": "_h", "scalar": "_s", "rand": "_rand"}[mode])
                text = self.expression(op, args, self.op_class(op, ops))
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
                self.lines(self.array_op(op, args, dest, where))
            else:
                key = (self.op_class(op, ops), op.dtype)
                free_from = target_free_from + (0 if elementwise else 1)
                use_target = (
                    target is not None and index >= free_from and key == target_key
                    and target not in busy
                )
                dest = target if use_target else self.buffer(key, busy)
                busy[dest] = index
                self.lines(self.array_op(op, args, dest, ""))
            if not elementwise:
                for name in dying:
                    busy.pop(name, None)
            where_is[index] = dest
        value = self.printed(lowered.result, where_is)
        if target is not None and not direct and value != target:
            self.line(f"np.copyto({target}, {value}{where})")
        return value

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

    def expression(self, op: Op, args: list[str], shape_class: str) -> str:
        """``op`` as a Python expression returning a new value (scalars, hoisted values)."""
        kind = op.fn if op.op == "call" else op.op
        if kind in ("rand_uniform", "rand_normal"):
            self.code.uses.update({"rand", "step"})
            draw = "uniform" if kind == "rand_uniform" else "normal"
            return f"rng.{draw}(_seed, step, neuron_id, lane, {args[0]}, FLOAT)"
        if kind == "cast":
            return f"{NUMPY_TYPES[op.dtype]}({args[0]})"
        if kind == "select":
            if shape_class == SCALAR:
                return f"({args[1]} if {args[0]} else {args[2]})"
            return f"np.where({args[0]}, {args[1]}, {args[2]})"
        if kind == "array_get":
            return f"np.take({args[0]}, {args[1]}, mode=\"clip\")"
        if kind in _OPERATORS:
            return _OPERATORS[kind].format(*args)
        return f"{_UFUNCS[kind]}({', '.join(args)})"

    def array_op(self, op: Op, args: list[str], dest: str, where: str) -> list[str]:
        """``op`` as in-place NumPy code writing ``dest``."""
        kind = op.fn if op.op == "call" else op.op
        if kind == "cast":
            return [f'np.copyto({dest}, {args[0]}, casting="unsafe"{where})']
        if kind == "select":
            condition, then, otherwise = args
            return [
                f"np.copyto({dest}, {otherwise})",
                f"np.copyto({dest}, {then}, where={condition})",
            ]
        if kind == "array_get":
            return [f'np.take({args[0]}, {args[1]}, mode="clip", out={dest})']
        return [f"{_UFUNCS[kind]}({', '.join(args)}, out={dest}{where})"]
