"""``exp`` of a few known values, read from a table of the C library's own results.

The adaptive method's step-size factor is ``exp(c·j)`` with ``j = min(max(floor(x), lo),
hi)`` (:func:`eqsnn.solve.adaptive._factor`): one of a few values, which decide whether
the next step may be tried whole (``h >= dt``).  A vectorised loop computes ``exp`` with
the SIMD math of glibc's libmvec, which may differ from the scalar ``exp`` (and from the
``numpy`` backend) in the last bit, and a last bit can flip ``h >= dt``: the backends would
then take different step sequences (results apart by the tolerance, not by rounding).  Where
``exp``'s argument is a constant times such a clamped integer, the printer reads the value
from a table filled here with the scalar ``exp`` (Python's ``math.exp`` is the C
library's): the same bits in scalar and vector code.
"""

from __future__ import annotations

import math

import numpy as np

from .ops import Const, Op

__all__ = ["ExactExp"]

#: the most entries of a table
_LARGEST = 64


class ExactExp:
    """Follows the ops of one expression: integer-valued temporaries with known bounds
    (``floor`` clamped by constant ``min``/``max``), a constant times one, and ``exp`` of
    that (:meth:`table`)."""

    def __init__(self, precision: str, wide_math: bool):
        self.on = precision == "float64" or wide_math
        self.precision = precision
        self.bounds: dict[str, tuple] = {}  # temp -> (lo, hi): an integer-valued float
        self.scaled: dict[str, tuple] = {}  # temp -> (c, temp of j, lo, hi)

    def see(self, op: Op, args: list[str], dest: str) -> None:
        kind = op.fn if op.op == "call" else op.op
        if op.dtype != "float" or not self.on:
            return
        if kind == "floor":
            self.bounds[dest] = (-math.inf, math.inf)
        elif kind in ("min", "max"):
            for mine, other in ((0, 1), (1, 0)):
                if args[mine] in self.bounds and isinstance(op.args[other], Const):
                    bound = float(op.args[other].value)
                    lo, hi = self.bounds[args[mine]]
                    if bound == int(bound):
                        self.bounds[dest] = (max(lo, bound), hi) if kind == "max" else (
                            lo, min(hi, bound))
                    return
        elif kind == "mul":
            for mine, other in ((0, 1), (1, 0)):
                if args[mine] in self.bounds and isinstance(op.args[other], Const):
                    lo, hi = self.bounds[args[mine]]
                    if math.isfinite(lo) and math.isfinite(hi) and hi - lo < _LARGEST:
                        self.scaled[dest] = (float(op.args[other].value), args[mine],
                                             int(lo), int(hi))
                    return

    def table(self, op: Op, args: list[str], literal, dest: str) -> str | None:
        """The C text of ``dest = exp(...)`` as a sum of selects, one value per integer, all
        0 but one (exact; flat selects vectorise, a chain or an indexed array does not
        inside a conditional block), or None where this ``op`` is no such ``exp``;
        ``literal`` prints a float."""
        if op.op != "call" or op.fn != "exp" or args[0] not in self.scaled:
            return None
        c, j, lo, hi = self.scaled[args[0]]
        terms = " + ".join(f"({j} == {literal(float(k))} ? {literal(self._exp(c, k))} : "
                           f"{literal(0.0)})" for k in range(lo, hi + 1))
        return f"const FLOAT {dest} = {terms};"

    def _exp(self, c: float, k: int) -> float:
        if self.precision == "float32":  # float product, widened exp, rounded (wide_math)
            product = float(np.float32(c) * np.float32(k))
            return float(np.float32(math.exp(product)))
        return math.exp(c * k)
