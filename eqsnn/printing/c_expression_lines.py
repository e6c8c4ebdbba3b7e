"""Expressions in the C step function (:mod:`eqsnn.printing.c`): one ``const`` temporary
per lowered op (:func:`eqsnn.printing.lower.lower`), in list order, so that the arithmetic
runs in the order the ``numpy`` backend runs it; an op whose value is the same for every
neuron of a step (no draw, every operand a constant, ``t``, ``step``, ``dt`` or such an op)
goes into the uniform function instead, and becomes a parameter of the step where the step
reads it.  :class:`ExpressionLines` is the part of the step printer that prints them.
"""

from __future__ import annotations

from .c_ops import op_text
from .c_printer import VALUE_TYPES
from .lower import lower
from .ops import Const, Lowered, Op, Ref, Temp

__all__ = ["ExpressionLines"]


class ExpressionLines:
    """The expression printing of the step printer (``eqsnn.printing.c._StepBody``, which
    provides ``line``, ``types``, ``names``, ``printer``, ``exact``, ``temps``,
    ``uniform_names``, ``uniform_temps``, ``uniform_lines``, ``uniforms``, ``helpers`` and
    ``suffix``)."""

    def expression(self, expr, dtype: str) -> str:
        """Print the ops of ``expr`` as temporaries; return the operand holding its value."""
        lowered: Lowered = lower(expr, self.types, dtype)
        first = self.temps
        self.temps += len(lowered.ops)
        for op in lowered.ops:
            args = [self.operand(arg, first) for arg in op.args]
            dest = self.operand(op.dest, first)
            text = self.exact.table(op, args, self.printer.float_literal, dest)  # c_exact
            self.exact.see(op, args, dest)
            text = text or f"const {VALUE_TYPES[op.dtype]} {dest} = {self.op_text(op, args)};"
            if self.is_uniform(op, args):
                self.uniform_temps[dest] = VALUE_TYPES[op.dtype]
                self.uniform_lines.append("    " + text)
                continue
            for arg in args:
                self.export(arg)
            self.line(text)
        result = self.operand(lowered.result, first)
        self.export(result)
        return result

    def is_uniform(self, op: Op, args: list[str]) -> bool:
        """Whether ``op`` has one value for all neurons of a step (no draw; every operand a
        constant, a uniform name or a uniform temporary)."""
        if op.op == "call" and op.fn in ("rand_uniform", "rand_normal"):
            return False
        return all(isinstance(arg, Const)
                   or (isinstance(arg, Ref) and arg.name in self.uniform_names)
                   or (isinstance(arg, Temp) and text in self.uniform_temps)
                   for arg, text in zip(op.args, args))

    def export(self, operand: str) -> None:
        """A uniform temporary the step reads becomes a parameter of the step."""
        if operand in self.uniform_temps and operand not in (n for _, n in self.uniforms):
            self.uniforms.append((self.uniform_temps[operand], operand))

    def operand(self, operand, first: int) -> str:
        if isinstance(operand, Temp):
            return f"_t{first + operand.index}"
        if isinstance(operand, Ref):
            return self.names[operand.name]
        if operand.dtype == "float":
            return self.printer.float_literal(float(operand.value))
        value = int(operand.value)
        return f"({value})" if value < 0 else str(value)

    def op_text(self, op: Op, args: list[str]) -> str:
        return op_text(op, args, self.printer, self.helpers, self.suffix)
