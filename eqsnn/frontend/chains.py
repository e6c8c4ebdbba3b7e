"""Chains of binary operators in the parse tree → syntax trees.

``a + b - c`` folds left into :class:`~eqsnn.frontend.syntax.Binary` nodes, as
written; a chain longer than :data:`_LONG_CHAIN` terms of ``+``/``-`` (or of ``*``)
folds as a balanced tree of the same value, so that later passes do not recurse
once per term.  :func:`draws` tells where a chained comparison would draw twice.
Used by :mod:`eqsnn.frontend.to_syntax`.
"""

from __future__ import annotations

from . import syntax as s

__all__ = ["draws", "expr_pos", "fold", "fold_keyword"]


def _pos(token) -> s.Pos:
    return s.Pos(token.line, token.column)


def draws(expr) -> bool:
    """Whether a syntax expression calls a random function."""
    if isinstance(expr, s.Call):
        return expr.func.startswith("rand") or any(draws(arg) for arg in expr.args)
    if isinstance(expr, s.Binary):
        return draws(expr.left) or draws(expr.right)
    if isinstance(expr, s.Unary):
        return draws(expr.operand)
    if isinstance(expr, s.Index):
        return draws(expr.index)
    return False


#: a longer chain of ``+``/``-`` (or of ``*``) is folded as a balanced tree: folded left,
#: a sum of 600 terms nests 600 deep, past Python's recursion limit in the later passes
_LONG_CHAIN = 64


def fold(items):
    """``[operand, op, operand, ...]`` (op tokens with positions) → nested Binary nodes."""
    ops = {str(op) for op in items[1::2]}
    if len(items) > 2 * _LONG_CHAIN and (ops <= {"+", "-"} or ops == {"*"}):
        signs = ["+" if "*" not in ops else "*"] + [str(op) for op in items[1::2]]
        return _balanced(list(zip(signs, items[0::2], [None] + list(items[1::2]))))
    expr = items[0]
    for op, right in zip(items[1::2], items[2::2]):
        expr = s.Binary(str(op), expr, right, _pos(op))
    return expr


def _balanced(terms):
    """``[(op, operand, op_token)]``, the first op ``+`` (or ``*``) → the same value as the
    left fold, nested log2(n) deep: ``a + b - c + d`` = ``(a + b) - (c - d)``; the ops of
    the right half are flipped where it is subtracted."""
    if len(terms) == 1:
        return terms[0][1]
    mid = len(terms) // 2
    op, _, token = terms[mid]
    flip = {"+": "-", "-": "+"} if op == "-" else {}
    right = [("+" if op != "*" else "*", terms[mid][1], None)] + [
        (flip.get(o, o), x, tok) for o, x, tok in terms[mid + 1:]]
    return s.Binary(op, _balanced(terms[:mid]), _balanced(right), _pos(token))


def fold_keyword(items, op):
    """``and`` / ``or`` chains, folded left; each node at its left operand."""
    expr = items[0]
    for right in items[1:]:
        expr = s.Binary(op, expr, right, expr_pos(expr))
    return expr


def expr_pos(expr) -> s.Pos:
    return expr.pos
