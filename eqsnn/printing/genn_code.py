"""GeNN printer: one model's step as the code strings of a GeNN 5 neuron model.

Each expression is printed by :mod:`eqsnn.printing.genn_expressions` (GeNN
names, literals, one nested C expression per lowered expression, in the
lowered evaluation order); this module prints the statements around them.
The rest of a GeNN neuron model (params, vars, derived params, extra global
params, additional input vars) is :mod:`eqsnn.printing.genn`; printing the
code is kept apart from deciding what each name becomes.

How the IR maps to GeNN:

* ``sim_code``: the random draws of the step (``const scalar rand0 =
  gennrand_uniform();``, in draw order, every step), then the ``step``
  statements.  A local declared inside an ``if`` is declared (zero) at the
  top, since GeNN locals, like C's, end with their block; locals of the sim
  code are visible to the threshold and the reset (GeNN prints the three
  into one block).
* ``threshold_condition_code``: the threshold, one expression.  A model with
  a negative threshold instead sets the int8 state ``SpikeSign`` at the end
  of the sim code (+1 where the threshold holds, -1 where only the negative
  one does, else 0); its threshold is ``SpikeSign != 0`` and its reset runs
  ``reset`` or ``negative_reset`` by the sign.
* built-ins: ``t`` is ``(scalar)t`` and ``dt`` ``(scalar)dt`` (eqsnn rounds
  ``step * dt``, computed in float64, to the precision: exact when GeNN's
  time precision is double), ``step`` is ``(int)round(t / dt)``, ``id`` and
  ``batch`` are cast to int (GeNN's are unsigned).
* names that GeNN cannot take (a leading ``_``, a keyword, a GeNN built-in
  or library function) are renamed: ``_phi_V`` becomes ``phi_V_``;
  :func:`~eqsnn.printing.genn_expressions.genn_names` gives the mapping.
* arrays (GeNN extra global params) read their index clamped to
  ``[0, num_<array> - 1]``, ``num_<array>`` being an int param.

>>> import sympy
>>> from eqsnn import ir
>>> V = sympy.Symbol("V")
>>> model = ir.Model("Leak", states=(ir.State("V"),), precompute=(
...     ir.Derived("_phi", sympy.exp(-sympy.Symbol("dt"))),),
...     step=(ir.Assign("V", sympy.Symbol("_phi") * V),), threshold=V > 1)
>>> code = print_genn(model, "float64")
>>> print(code.sim_code)
V = V * phi_;
>>> code.threshold_condition_code
'V > 1.0'
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import ir
from .genn_expressions import GENN_TYPES, GeNNExpressionPrinter, genn_names

__all__ = ["GeNNCode", "print_genn"]

_ZERO = {"float": "0.0", "int": "0", "bool": "false"}


@dataclass(frozen=True)
class GeNNCode:
    """The code strings of one model and the names they use.

    ``names`` maps every eqsnn name the code can read to its GeNN
    identifier; ``draws`` lists ``(draw index, "uniform" | "normal")`` in the
    order the sim code draws them; ``sign_var`` is the GeNN name of the
    spike-sign state of a model with a negative threshold, else ``None``;
    ``array_lengths`` maps an array's eqsnn name to its length param;
    ``carried`` lists the step's locals that the threshold or a reset reads
    (the adaptive method's flag of a threshold crossed inside the step):
    ``(eqsnn name, dtype)``, each a hidden READ_WRITE var that the sim code
    assigns, since a local of the sim code is not in scope in the threshold
    and reset code.
    """

    names: dict
    sim_code: str
    threshold_condition_code: str | None
    reset_code: str | None
    draws: tuple = ()
    sign_var: str | None = None
    array_lengths: dict | None = None
    carried: tuple = ()


def print_genn(model: ir.Model, precision: str = "float32", batch: str | None = None, *,
               wide_math: bool = True) -> GeNNCode:
    """The sim, threshold and reset code of ``model``.

    ``batch`` replaces the built-in ``batch`` by another int expression (the
    runner uses a param where each batch lane is its own population).  In a
    float model ``wide_math`` prints the :data:`~eqsnn.printing.ops.WIDE_FUNCTIONS`
    as the double function rounded, ``(scalar)exp((double)x)``, as every eqsnn
    backend computes them; off (``fast_math``), GeNN's float functions.
    """
    names, allocator = genn_names(model)
    printer = _StatementPrinter(model, names, allocator, precision, batch, wide_math)
    return printer.print()


class _StatementPrinter(GeNNExpressionPrinter):
    """Prints the statements of one model into the sim, threshold and reset code."""

    def __init__(self, model, names, allocator, precision, batch, wide_math=True):
        super().__init__(model, names, allocator, precision, batch, wide_math)
        self.declared: set[str] = set()
        blocks = (model.step, model.reset, model.negative_reset)
        self.assigned = {s.target for block in blocks for s in ir.walk_statements(block)
                         if isinstance(s, ir.Assign)}
        self.loops = 0
        step_locals = {s.name: s.dtype for s in ir.walk_statements(model.step)
                       if isinstance(s, ir.Local)}
        read = _names_read((model.reset, model.negative_reset),
                           (model.threshold, model.negative_threshold))
        #: step locals the threshold or a reset reads: hidden vars (see GeNNCode.carried)
        self.carried = tuple((name, dtype) for name, dtype in step_locals.items()
                             if name in read)
        self.declared.update(name for name, _ in self.carried)

    # --- whole model ----------------------------------------------------
    def print(self) -> GeNNCode:
        model = self.model
        lines = [f"const scalar {self.draw_names[k]} = gennrand_{kind}();"
                 for k, kind in self.draws]
        nested = [n for n in self._nested_locals(model.step) if n not in self.declared]
        lines += [f"{GENN_TYPES[self.types[name]]} {self.names[name]} = "
                  f"{_ZERO[self.types[name]]};" for name in nested]
        self.declared.update(nested)
        lines += self.block(model.step, 0)
        sign_var = None
        if model.signed:
            sign_var = self.allocator.fresh("SpikeSign")
            lines += self.sign_lines(sign_var)
            threshold = f"{sign_var} != 0"
            reset = self.signed_reset(sign_var)
        else:
            threshold = None if model.threshold is None else self.condition(model.threshold)
            reset = self.reset_block(model.reset)
        return GeNNCode(
            names=dict(self.names), sim_code="\n".join(lines),
            threshold_condition_code=threshold, reset_code=reset or None,
            draws=self.draws, sign_var=sign_var, array_lengths=dict(self.array_lengths),
            carried=self.carried)

    def sign_lines(self, sign: str) -> list[str]:
        model = self.model
        lines = [f"{sign} = 0;"]
        if model.threshold is not None:
            lines.append(f"if ({self.condition(model.threshold)}) {{")
            lines.append(f"    {sign} = 1;")
            lines.append(f"}} else if ({self.condition(model.negative_threshold)}) {{")
        else:
            lines.append(f"if ({self.condition(model.negative_threshold)}) {{")
        lines += [f"    {sign} = -1;", "}"]
        return lines

    def signed_reset(self, sign: str) -> str:
        positive = self.reset_block(self.model.reset)
        negative = self.reset_block(self.model.negative_reset)
        lines = []
        if positive:
            lines += [f"if ({sign} > 0) {{", *_indent(positive.splitlines()), "}"]
        if negative:
            lines += ["else {" if positive else f"if ({sign} < 0) {{",
                      *_indent(negative.splitlines()), "}"]
        return "\n".join(lines)

    def reset_block(self, statements) -> str:
        nested = [n for n in self._nested_locals(statements) if n not in self.declared]
        lines = [f"{GENN_TYPES[self.types[n]]} {self.names[n]} = {_ZERO[self.types[n]]};"
                 for n in nested]
        self.declared.update(nested)
        return "\n".join(lines + self.block(statements, 0))

    def _nested_locals(self, statements) -> list[str]:
        """Locals that must be declared up front: declared in an ``if`` or a loop, or more
        than once."""
        seen, nested = set(), []
        for stmt in statements:
            if isinstance(stmt, (ir.If, ir.While)):
                blocks = (stmt.body, stmt.orelse) if isinstance(stmt, ir.If) else (stmt.body,)
                branch_locals = [s for block in blocks
                                 for s in ir.walk_statements(block) if isinstance(s, ir.Local)]
                for local in branch_locals:
                    if local.name not in nested and local.name not in self.declared:
                        nested.append(local.name)
            elif isinstance(stmt, ir.Local):
                if stmt.name in seen and stmt.name not in nested:
                    nested.append(stmt.name)
                seen.add(stmt.name)
        return nested

    # --- statements -----------------------------------------------------
    def block(self, statements, depth: int) -> list[str]:
        lines: list[str] = []
        for stmt in statements:
            if isinstance(stmt, ir.If):
                pre, cond = self.expression(stmt.cond, "bool")
                lines += pre + [f"if ({cond}) {{"]
                lines += _indent(self.block(stmt.body, depth + 1))
                if stmt.orelse:
                    lines += ["} else {", *_indent(self.block(stmt.orelse, depth + 1))]
                lines.append("}")
                continue
            if isinstance(stmt, ir.While):
                lines += self.loop(stmt, depth)
                continue
            target = stmt.name if isinstance(stmt, ir.Local) else stmt.target
            pre, value = self.expression(stmt.expr, self.types[target])
            lines += pre
            name = self.names[target]
            if isinstance(stmt, ir.Local) and target not in self.declared:
                self.declared.add(target)
                const = "" if target in self.assigned else "const "
                lines.append(f"{const}{GENN_TYPES[stmt.dtype]} {name} = {value};")
            else:
                lines.append(f"{name} = {value};")
        return lines


    def loop(self, stmt: ir.While, depth: int) -> list[str]:
        """At most ``limit`` passes of the body, leaving as soon as ``cond`` fails (tested
        before each pass), as the C backend's loop."""
        counter = self.allocator.fresh(f"loop{self.loops}")
        self.loops += 1
        pre, cond = self.expression(stmt.cond, "bool")
        return [f"for (int {counter} = 0; {counter} < {stmt.limit}; {counter}++) {{",
                *_indent(pre), f"    if (!({cond})) {{", "        break;", "    }",
                *_indent(self.block(stmt.body, depth + 1)), "}"]


def _names_read(blocks, conditions) -> set[str]:
    """The names that ``conditions`` and the statements of ``blocks`` read."""
    names = {str(symbol) for cond in conditions if cond is not None
             for symbol in cond.free_symbols}
    for block in blocks:
        for stmt in ir.walk_statements(block):
            expr = stmt.cond if isinstance(stmt, (ir.If, ir.While)) else stmt.expr
            names.update(str(symbol) for symbol in expr.free_symbols)
    return names


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]
