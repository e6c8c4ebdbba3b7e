"""Checks of values known when a model compiles, mixed into the expression converter
(:class:`eqsnn.frontend.expressions.ExpressionConverter`): the bounds of ``clip`` (in the
wrong order: an error; equal: a warning; reading params only: kept for the Simulator) and
the warnings about text without effect, which skip what a switch made constant."""

from __future__ import annotations

from sympy.core.function import AppliedUndef

from . import syntax as s
from .lets import EXPAND_LIMIT
from .syntax import error_at as _error
from .syntax import start

__all__ = ["ConstantChecks"]


def _number_text(value) -> str:
    """A SymPy number as a message shows it (``1.0``, ``-2``), not ``1.00000000000000``."""
    text = repr(int(value) if value.is_Integer else float(value))
    return text if len(text) <= 40 else f"{text[:12]}...{text[-12:]}"


class ConstantChecks:
    """Needs the converter's ``scope``, ``lets``, ``warnings`` and ``clip_bounds``."""

    def _clip_bounds(self, low, high, node: s.Call) -> None:
        """A CheckError where ``clip(x, low, high)`` has constant bounds ``low > high``
        (every backend would give ``high`` whatever ``x`` is); bounds that read params
        only are kept for the Simulator to check (``runtime.host.check_clip_bounds``)."""
        if any(self.lets.has_shared(b) and self.lets.size(b) > EXPAND_LIMIT
               for b in (low, high)):
            return
        low, high = (self.lets.expand(b) for b in (low, high))
        numbers = low.is_number and high.is_number
        lo, hi = (_number_text(low), _number_text(high)) if numbers else (low, high)
        if low == high and not any(self.reads_switch(a) for a in node.args[1:]):
            self.warn(f"clip(x, {lo}, {hi}) has equal bounds: it is {hi} whatever x is; "
                      f"write {hi} if that is meant", node.pos)
        if numbers:
            if low > high:
                raise _error(f"clip(x, low, high) with low = {lo} above high = {hi}: the "
                             f"result would be {hi} whatever x is", node.pos,
                             "write the lower bound second and the upper bound third: "
                             "clip(x, low, high)")
            return
        known = set(self.scope.params) | {"dt"}
        if {str(a) for a in (low + high).free_symbols} <= known and not (
                low.atoms(AppliedUndef) | high.atoms(AppliedUndef)):
            self.clip_bounds.append((low, high, node.pos))

    def warn(self, message: str, where) -> None:
        """A warning about the text at ``where``, a position or an expression (where it
        begins), shown as an EqsnnWarning on compile."""
        pos = where if isinstance(where, s.Pos) else start(where)
        self.warnings.append(f"line {pos.line}, column {pos.column}: {message}")

    def reads_switch(self, node, _lets: frozenset = frozenset()) -> bool:
        """Whether the expression ``node`` reads a switch (through lets too): a value made
        constant by a switch is the switch's purpose, not a mistake to warn about."""
        if isinstance(node, s.Name):
            if node.id in self.scope.switches or node.id == "refractory":
                return True  # 'refractory' is false where a switch removes 'refractory:'
            let = self.scope.lets.get(node.id)
            return (let is not None and node.id not in _lets
                    and self.reads_switch(let.expr, _lets | {node.id}))
        children = {s.Call: lambda n: n.args, s.Index: lambda n: (n.index,),
                    s.Unary: lambda n: (n.operand,),
                    s.Binary: lambda n: (n.left, n.right)}.get(type(node))
        return children is not None and any(self.reads_switch(c, _lets)
                                            for c in children(node))
