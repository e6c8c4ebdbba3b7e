"""Where each op of a step is computed, and the shape class of every value.

An op is

* ``hoist``: it reads only params, precompute values, constants, array data
  and other hoisted values, so it runs once per run, before the step loop;
* ``held``: it reads inputs too, and nothing else that changes during a run:
  once per run when those inputs are held for the whole run, at the top of
  each step otherwise;
* ``rand``: a random draw; ``scalar``: a per-step Python scalar (``t``,
  ``step``); ``array``: an in-place NumPy op of the step.
"""

from __future__ import annotations

from .. import ir
from .numpy_ops import FULL, LANE, NEURON, SCALAR, join
from .ops import ELEMENTWISE, Const, Lowered, Op, Ref, Temp

__all__ = ["Placement", "POSITIONS_FUNCTION"]

_DRAWS = ("rand_uniform", "rand_normal")


class Placement:
    """Shape classes of the names of ``model`` (``per_neuron`` params are ``neuron``)."""

    def __init__(self, model: ir.Model, per_neuron: frozenset):
        self.classes = {name: SCALAR for name in ("t", "step", "dt")}
        self.classes.update(id=NEURON, batch=LANE)
        invariant = ["dt", "id", "batch", *model.runtime_params, *model.precompute_names]
        invariant += [p.name for p in model.params] + [a.name for a in model.arrays]
        for name in invariant:
            self.classes.setdefault(name, NEURON if name in per_neuron else SCALAR)
        self.invariant = frozenset(invariant)
        self.inputs = frozenset(item.name for item in model.inputs)
        for group in (model.states, model.inputs):
            self.classes.update({item.name: FULL for item in group})
        for local in model.locals():
            self.classes[local.name] = FULL

    def operand_class(self, operand, ops) -> str:
        if isinstance(operand, Const):
            return SCALAR
        if isinstance(operand, Ref):
            return self.classes[operand.name]
        return self.op_class(ops[operand.index], ops)

    def op_class(self, op: Op, ops) -> str:
        if op.fn in _DRAWS:
            return FULL
        args = op.args[1:] if op.op == "array_get" else op.args
        return join(*(self.operand_class(arg, ops) for arg in args))

    def invariant_op(self, op: Op, hoisted: set) -> bool:
        if op.fn in _DRAWS:
            return False
        return all(
            isinstance(a, Const)
            or (isinstance(a, Ref) and a.name in self.invariant)
            or (isinstance(a, Temp) and a.index in hoisted)
            for a in op.args
        )

    def held_inputs(self, op: Op, hoisted: set, held: dict) -> frozenset | None:
        """The inputs ``op`` depends on, if nothing else it reads changes during a run."""
        if op.fn in _DRAWS:
            return None
        inputs = frozenset()
        for a in op.args:
            if isinstance(a, Ref) and a.name in self.inputs:
                inputs |= {a.name}
            elif isinstance(a, Temp) and a.index in held:
                inputs |= held[a.index]
            elif not (isinstance(a, Const) or (isinstance(a, Ref) and a.name in self.invariant)
                      or (isinstance(a, Temp) and a.index in hoisted)):
                return None
        return inputs or None

    def modes(self, lowered: Lowered, target: str | None) -> tuple[list[str], dict]:
        """How each op is printed: hoist, held, rand, scalar or array."""
        ops = lowered.ops
        hoisted, held, modes = set(), {}, []
        for index, op in enumerate(ops):
            if self.invariant_op(op, hoisted):
                hoisted.add(index)
                modes.append("hoist")
            elif op.fn in _DRAWS:
                modes.append("rand")
            elif (inputs := self.held_inputs(op, hoisted, held)) is not None:
                held[index] = inputs
                modes.append("held")
            else:
                modes.append("scalar" if self.op_class(op, ops) == SCALAR else "array")
        if (modes and modes[-1] == "held" and target is not None
                and lowered.result == ops[-1].dest and ops[-1].op in ELEMENTWISE):
            modes[-1] = "array"  # its store into the target costs what the op costs
        return modes, held

    def layout(self, operand, ops, modes) -> str | None:
        """SCALAR or FULL where ``operand`` is one of those for sure, else None."""
        if isinstance(operand, Const):
            return SCALAR
        if isinstance(operand, Ref):
            shape_class = self.classes[operand.name]
            known = operand.name not in self.inputs and shape_class in (SCALAR, FULL)
            return shape_class if known else None
        mode, shape_class = modes[operand.index], self.op_class(ops[operand.index], ops)
        if mode == "held":
            return FULL
        if mode == "rand" or (mode == "hoist" and shape_class != SCALAR):
            return None  # a draw or a hoisted array has a shape of its own
        return shape_class if shape_class in (SCALAR, FULL) else None


#: the emitted module's ``_positions(mask)``, which chooses the form of a masked store
POSITIONS_FUNCTION = [
    "_SPARSE_MIN = 16384  # fewest elements on which a masked store may be sparse",
    "_NOWHERE = np.zeros(0, np.intp)",
    "",
    "",
    "class _Outside:",
    '    """The flat positions ``at`` where a mask does not hold (it holds almost everywhere)."""',
    "",
    "    def __init__(self, at):",
    "        self.at = at",
    "",
    "",
    "def _positions(mask):",
    '    """Flat positions where ``mask`` holds, or None where ``where=`` is the cheaper way.',
    "",
    "    A masked store may update just these elements (take, op, put) instead: cheaper",
    "    where the mask holds nowhere or on 1/64 to 1/2 of its elements (a ``where=``",
    "    ufunc pays for every run of equal mask values, flatnonzero for every element",
    "    set).  Where it holds on all but fewer than 1/64 of them, an ``_Outside`` of the",
    "    others: the store runs on every element, and those get their old value back.",
    "    Every way gives the same bits.",
    '    """',
    "    count = np.count_nonzero(mask)",
    "    if count == 0:",
    "        return _NOWHERE",
    "    if 64 * (mask.size - count) < mask.size:",
    "        return _Outside(np.flatnonzero(~mask))",
    "    if 64 * count < mask.size or 2 * count > mask.size:",
    "        return None",
    "    return np.flatnonzero(mask)",
]
