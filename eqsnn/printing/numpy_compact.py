"""A loop (``ir.While``) on the neurons still in it only: gathered, computed, scattered.

Masked full-array code pays for every neuron in every iteration, and a loop
runs as many iterations as its slowest neuron needs (the adaptive
integrator: one substep for most neurons, dozens for one in a spike's
upswing).  So each iteration of a loop is printed as

1. the loop's condition on the full arrays, ``_act``: the flat positions
   where it holds (the loop ends where it holds nowhere);
2. the body on 1-D arrays of those positions: every name is gathered
   (``np.take``) the first time the body reads it, assignments make new
   arrays, an ``if`` inside becomes ``np.where`` on its mask (its body is
   skipped where the mask holds nowhere);
3. every state or outer local the body assigned is scattered back
   (``_scatter``: ``np.put``, as an indexed store where the array is contiguous).

Each element goes through the same IEEE operations as in the masked form;
only transcendental functions may take NumPy's scalar instead of its SIMD
loop on a short array (a last-bit difference in float64, none after the
rounding in float32 almost always).
"""

from __future__ import annotations

from .. import ir
from .lower import lower
from .numpy_ops import FULL, SCALAR, expression
from .numpy_peephole import simplify
from .ops import Const, Ref, Temp

__all__ = ["GATHER_FUNCTION", "compactable", "CompactLoop"]

#: statements from which an ``if`` body runs on the elements its mask picks out only
SELECT_MIN = 16

#: module-level helpers the emitted code calls to gather a value at flat positions and to
#: scatter one back
GATHER_FUNCTION = [
    "def _gather(value, at, shape):",
    '    """``value`` (a scalar or broadcastable to ``shape``) at flat positions ``at``."""',
    "    if np.ndim(value) == 0:",
    "        return value",
    "    if value.shape == shape:",
    "        return np.take(value, at)",
    "    return np.take(np.broadcast_to(value, shape), at)",
    "",
    "",
    "def _scatter(target, at, value):",
    '    """``np.put(target, at, value)``; an indexed store (a third of its time) where',
    '    ``target`` is contiguous (its flat view is itself)."""',
    "    if target.flags.c_contiguous:",
    "        target.reshape(-1)[at] = value",
    "    else:",
    "        np.put(target, at, value)",
    "",
    "",
    "def _pick(value, at):",
    '    """``value[at]``, or ``value`` where it is one number (0-d) for every element."""',
    "    return value[at] if np.ndim(value) else value",
    "",
    "",
    "def _with(value, at, new, like):",
    '    """A copy of ``value`` (broadcast to the shape of ``like`` where it is 0-d) with',
    '    ``new`` at ``at``."""',
    "    out = np.array(np.broadcast_to(value, np.shape(like)))",
    "    out[at] = new",
    "    return out",
]


def compactable(loop: ir.While) -> bool:
    """Whether the loop's body can run on gathered elements (no draws, no nested loop)."""
    for stmt in ir.walk_statements(loop.body):
        if isinstance(stmt, ir.While):
            return False
        expr = stmt.cond if isinstance(stmt, ir.If) else stmt.expr
        if expr.atoms(ir.RandUniform, ir.RandNormal):
            return False
    return True


def _weight(body) -> int:
    """Statements of an ``if`` body, not counting the bodies of nested ``if`` statements
    long enough to run on the elements their own masks pick out."""
    weight = 0
    for stmt in body:
        weight += 1
        if isinstance(stmt, ir.If):
            weight += sum(part for part in (_weight(stmt.body), _weight(stmt.orelse))
                          if part < SELECT_MIN)
    return weight


def _branch_locals(model: ir.Model, body) -> set[str]:
    """Locals declared in ``body`` that no statement or condition of ``model`` outside it
    names."""
    declared = {s.name for s in ir.walk_statements(body) if isinstance(s, ir.Local)}
    if not declared:
        return set()
    inside = set(map(id, ir.walk_statements(body)))
    named: set[str] = set()
    for block in (model.step, model.reset, model.negative_reset):
        for stmt in ir.walk_statements(block):
            if id(stmt) in inside:
                continue
            expr = stmt.cond if isinstance(stmt, (ir.If, ir.While)) else stmt.expr
            named |= {str(symbol) for symbol in expr.free_symbols}
            if not isinstance(stmt, (ir.If, ir.While)):
                named.add(stmt.name if isinstance(stmt, ir.Local) else stmt.target)
    for cond in (model.threshold, model.negative_threshold):
        if cond is not None:
            named |= {str(symbol) for symbol in cond.free_symbols}
    return declared - named


class CompactLoop:
    """Prints the body of one loop iteration on the gathered elements ``at``.

    ``printer`` is the step printer (:class:`eqsnn.printing.numpy._StepPrinter`):
    its names, types, shape classes and constants are shared.
    """

    def __init__(self, printer, at: str, written_outside):
        self.p = printer
        #: states and locals: arrays of the population's shape, gathered by ``take``
        self.whole = {s.name for s in printer.model.states} | {
            s.name for s in printer.model.locals()}
        #: locals declared in an ``if`` body and named nowhere else (a crossing's Newton steps):
        #: neither gathered before the branch nor kept after it
        self.branch_local: set[str] = set()
        self.at = at
        self.local: dict[str, str] = {}  # model name -> gathered 1-D value
        self.assigned: list[str] = []  # model names assigned in the body, in order
        self.declared_inside: set[str] = set()
        self.written_outside = written_outside  # names read after the loop or carried over
        self.count = 0
        #: name -> how to read it from the enclosing selection (a nested `if` on few elements)
        self.pending: dict[str, str] = {}

    def fresh(self) -> str:
        self.count += 1
        return f"_g{self.count - 1}"

    # --- values -------------------------------------------------------
    def value(self, name: str) -> str:
        """The gathered value of ``name`` (gathered now if the body has not yet)."""
        if name not in self.local and name in self.pending:
            self.local[name] = gathered = self.fresh()
            self.p.line(f"{gathered} = {self.pending[name]}")
        if name not in self.local:
            shape_class = self.p.place.classes.get(name, FULL)
            printed = self.p.names[name]
            if name in ("t", "step"):
                self.p.code.uses.add(name)
            if shape_class == SCALAR:
                return self.zero_d(printed) if name in self.p.place.invariant else printed
            self.buffer_for(name)
            self.local[name] = gathered = self.fresh()
            if shape_class == FULL and name in self.whole:  # (batch, n): no broadcast
                self.p.line(f"{gathered} = {printed}.take({self.at})")
            else:
                self.p.line(f"{gathered} = _gather({printed}, {self.at}, _shape)")
        return self.local[name]

    def buffer_for(self, name: str) -> None:
        """A local lives in a full work buffer between iterations and after the loop."""
        if name in self.p.model.name_types() and name not in self.p.place.invariant:
            kinds = {s.name: s.dtype for s in self.p.model.locals()}
            if name in kinds:
                self.p.code.buffers.setdefault(self.p.names[name], (FULL, kinds[name]))

    def expression(self, expr, dtype: str) -> str:
        lowered = simplify(lower(expr, self.p.types, dtype))
        where_is: dict[int, str] = {}
        for index, op in enumerate(lowered.ops):
            args = [self.operand(arg, where_is) for arg in op.args]
            name = self.fresh()
            self.p.line(f"{name} = {expression(op, args, FULL)}")
            where_is[index] = name
        result = self.operand(lowered.result, where_is)
        # the intermediates are dead: freed now, their memory is reused while in cache
        dead = [name for name in where_is.values() if name != result]
        if dead:
            self.p.line(f"del {', '.join(dead)}")
        return result

    def operand(self, operand, where_is) -> str:
        if isinstance(operand, Temp):
            return where_is[operand.index]
        if isinstance(operand, Ref):
            return self.value(operand.name)
        assert isinstance(operand, Const)
        printed = self.p.printed(operand, where_is)
        return self.zero_d(printed) if operand.dtype == "float" else printed

    def zero_d(self, printed: str) -> str:
        """A 0-d array of a scalar of the run (a constant, a param): the same value and
        type, and an op with an array costs 0.15 us less than with a NumPy scalar (the
        compacted loop's calls are mostly overhead).  Only a FLOAT scalar is converted."""
        key = ("0-d", printed)
        if key not in self.p.constants:
            self.p.constants[key] = twin = self.p.fresh("_z")
            self.p.code.constants.append(
                f"{twin} = np.asarray({printed}) if type({printed}) is FLOAT else {printed}")
        return self.p.constants[key]

    # --- statements ---------------------------------------------------
    def statements(self, statements, mask: str | None) -> None:
        for stmt in statements:
            if isinstance(stmt, ir.If):
                cond = self.expression(stmt.cond, "bool")
                inside = cond if mask is None else self.combined(f"{cond} & {mask}")
                self.guarded(inside, stmt.body)
                if stmt.orelse:
                    outside = self.combined(f"~{cond}" if mask is None else f"~{cond} & {mask}")
                    self.guarded(outside, stmt.orelse)
                continue
            target = stmt.name if isinstance(stmt, ir.Local) else stmt.target
            self.p.comment(f"{'local ' if isinstance(stmt, ir.Local) else ''}{target} = "
                           f"{stmt.expr}")
            value = self.expression(stmt.expr, self.p.types[target])
            if mask is None:
                if isinstance(stmt, ir.Local) and target not in self.local:
                    self.declared_inside.add(target)
                new = self.fresh()
                self.p.line(f"{new} = {value}")
            else:
                old = self.value(target)
                new = self.fresh()
                self.p.line(f"{new} = np.where({mask}, {value}, {old})")
            self.local[target] = new
            if target not in self.assigned:
                self.assigned.append(target)

    def combined(self, text: str) -> str:
        name = self.fresh()
        self.p.line(f"{name} = {text}")
        return name

    def guarded(self, mask: str, body) -> None:
        """``body`` where ``mask`` holds; skipped where it holds nowhere.  A name the body
        assigns keeps, after the ``if``, the value it had before where the mask fails.  A
        long body (a crossing's location) runs on the elements the mask picks out only."""
        statements = list(ir.walk_statements(body))
        names = set()
        for stmt in statements:
            expr = stmt.cond if isinstance(stmt, ir.If) else stmt.expr
            names |= {str(symbol) for symbol in expr.free_symbols}
            if not isinstance(stmt, ir.If):
                names.add(stmt.name if isinstance(stmt, ir.Local) else stmt.target)
        own = _branch_locals(self.p.model, body)
        self.branch_local |= own
        for name in sorted(names - own):  # gathered before the branch: both paths have them
            if self.p.place.classes.get(name, FULL) != SCALAR or name in self.p.types and \
                    name not in self.p.place.invariant and name not in ("t", "step", "dt"):
                self.value(name)
        before = dict(self.local)
        if _weight(body) >= SELECT_MIN:
            self.selected(mask, body, before)
            return
        self.p.line(f"if np.any({mask}):")
        self.p.depth += 1
        self.statements(body, mask)
        after = dict(self.local)
        # every name the branch changed gets one name on both paths
        changed = [name for name in after if after[name] != before.get(name)
                   and name not in own]
        for name in changed:
            self.p.line(f"{before[name]} = {after[name]}")
        self.p.depth -= 1
        self.local = {**{name: value for name, value in after.items() if name not in own},
                      **{name: before[name] for name in changed}}

    def selected(self, mask: str, body, before: dict) -> None:
        """``body`` on the elements where ``mask`` holds, written back into them."""
        at = self.fresh()
        self.p.line(f"{at} = np.flatnonzero({mask})")
        self.p.line(f"if {at}.size:")
        self.p.depth += 1
        inner = CompactLoop(self.p, at, self.written_outside)
        inner.branch_local = self.branch_local
        inner.count = self.count
        # a value may be 0-d (a local set to a constant, du/dt = 0): one for every element
        inner.pending = {name: f"_pick({value}, {at})" for name, value in before.items()}
        inner.statements(body, None)
        self.count = inner.count
        for name in inner.assigned:
            if name not in before:
                continue  # a local of the branch alone
            self.p.line(f"{before[name]} = _with({before[name]}, {at}, {inner.local[name]}, "
                        f"{mask})")
        self.p.depth -= 1
        self.local = dict(before)
        for name in inner.assigned:
            if name in before and name not in self.assigned:
                self.assigned.append(name)

    def scatter(self) -> None:
        """Write back every state and outer local the body assigned."""
        for name in self.assigned:
            if name in self.declared_inside and name not in self.written_outside or \
                    name in self.branch_local:
                continue
            self.buffer_for(name)
            self.p.line(f"_scatter({self.p.names[name]}, {self.at}, {self.local[name]})")
