"""Lark's parse tree → the frozen dataclasses of :mod:`eqsnn.frontend.syntax`.

:class:`ToSyntax` has one method per grammar rule (``grammar/eqsnn.lark``);
each returns a syntax node with its source position.  The few errors the
grammar cannot express (a chained comparison that would draw twice, a bad
docstring escape, a synapse declaration word misspelt) are raised here.
"""

from __future__ import annotations

import ast
import dataclasses

import lark

from ..errors import ParseError, suggest
from . import syntax as s
from .chains import draws as _draws
from .chains import expr_pos as _expr_pos
from .chains import fold as _fold
from .chains import fold_keyword as _fold_keyword
from .habits import foreign_syntax
from .parse_errors import DECLARATION_WORDS

#: the words of the statement blocks of synapse and weight-update models
BLOCK_WORDS = ("on_spike", "on_pre", "on_post", "pre_spike", "post_spike")


def _pos(meta_or_token) -> s.Pos:
    return s.Pos(meta_or_token.line, meta_or_token.column)


class ToSyntax(lark.Transformer):
    """Lark tree → syntax dataclasses."""

    def __init__(self, source: str, filename: str | None):
        super().__init__()
        self.source = source
        self.filename = filename

    # -- model and declarations ------------------------------------------
    def start(self, items):
        return items[-1]

    @lark.v_args(meta=True)
    def model(self, meta, items):
        return self._declaration(items, "neuron")

    def synapse_model(self, items):
        return self._declaration(items, "synapse")

    def weight_update_model(self, items):
        return self._declaration(items, "weight_update")

    def _declaration(self, items, kind: str):
        """A model's name, its doc string if it has one, and its items."""
        name, rest = items[0], items[1:]
        doc = ""
        if rest and isinstance(rest[0], _Doc):
            doc, rest = rest[0].text, rest[1:]
        return s.ModelDecl(str(name), doc, tuple(rest), _pos(name), self.source, self.filename,
                           kind=kind)

    def scoped_state(self, items):  # pre state x = 0.0 / post state y = 0.0
        scope, state = items
        if str(scope) not in ("pre", "post"):
            raise ParseError(f"unexpected {str(scope)!r} before 'state'", line=scope.line,
                             column=scope.column,
                             hint="a weight-update model's traces are 'pre state NAME = ...' "
                             "and 'post state NAME = ...'")
        return dataclasses.replace(state, scope=str(scope))

    def _word(self, token, word, form: str):
        words = (word,) if isinstance(word, str) else word
        if str(token) not in words:
            habit = foreign_syntax(self.source, token.line, token.column)
            if habit is not None and habit[0] is not None:
                raise ParseError(habit[0], line=habit[3], column=habit[2], hint=habit[1])
            close = suggest(str(token), DECLARATION_WORDS)
            raise ParseError(f"unexpected {str(token)!r}", line=token.line, column=token.column,
                             hint=close or f"'{form}' is a synapse model's declaration; other "
                             "declarations start with param, state, input, let, switch, array, "
                             "dX/dt, before:, after:, threshold:, reset:, refractory:, method: "
                             "or if")

    def named_block(self, items):  # on_spike: suite (on_pre:, on_post:, pre_spike:, ...)
        self._word(items[0], BLOCK_WORDS, f"{items[0]}: ...")
        return s.BlockDecl(str(items[0]), items[-1], _pos(items[0]))

    def named_expr(self, items):  # output: expr
        if str(items[0]) == "on_spike":
            raise ParseError("'on_spike:' takes statements ('g += w')", line=items[0].line,
                             column=items[0].column, hint="write e.g. 'on_spike: g += w'")
        if str(items[0]) in BLOCK_WORDS:
            raise ParseError(f"'{items[0]}:' takes statements", line=items[0].line,
                             column=items[0].column, hint=f"write e.g. '{items[0]}: w += 0.1'")
        self._word(items[0], "output", "output: EXPR")
        return s.OutputDecl(items[-1], _pos(items[0]))

    def named_name(self, items):  # post NAME, post NAME [UNIT]
        self._word(items[0], "post", "post NAME")
        unit = items[2].expr if len(items) > 2 else None
        return s.PostDecl(str(items[1]), _pos(items[1]), unit)

    def docstring(self, items):
        return _Doc(_unquote(items[0]))

    def dtype(self, items):
        return _Dtype(str(items[0]))

    @lark.v_args(meta=True)
    def param(self, meta, items):
        name, rest = items[0], items[1:]
        dtype, rest = _take_dtype(rest)
        unit, rest = _take_unit(rest)
        constraints: tuple = ()
        if rest and isinstance(rest[-1], tuple):
            constraints, rest = rest[-1], rest[:-1]
        default = rest[0] if rest else None
        return s.ParamDecl(str(name), dtype, default, constraints, _pos(name), unit)

    def constraints(self, items):
        return tuple(item for item in items if isinstance(item, s.Constraint))

    def constraint(self, items):
        op, number = items[0], items[1]
        unit = items[2] if len(items) > 2 else None
        return s.Constraint(str(op), number, _pos(op), getattr(unit, "expr", unit))

    def unit(self, items):
        if len(items) == 1:
            return s.Name(str(items[0]), _pos(items[0]))
        return _Unit(items[1])

    def unit_annotation(self, items):
        return _Unit(items[1])

    def quantity(self, items):
        number, unit = items
        bracketed = isinstance(unit, _Unit)
        return s.Quantity(s.Number(str(number), _pos(number)),
                          unit.expr if bracketed else unit, _pos(number), bracketed)

    def signed_number(self, items):
        value = float(items[-1])
        return -value if len(items) == 2 and items[0] == "-" else value

    def state(self, items):
        name, rest = items[0], items[1:]
        dtype, rest = _take_dtype(rest)
        unit, rest = _take_unit(rest)
        bounds = rest[1] if len(rest) > 1 else ()
        return s.StateDecl(str(name), dtype, rest[0], _pos(name), unit, bounds)

    def input(self, items):
        name, rest = items[0], items[1:]
        dtype, rest = _take_dtype(rest)
        unit, rest = _take_unit(rest)
        return s.InputDecl(str(name), dtype, rest[0] if rest else None, _pos(name), unit)

    def let(self, items):
        name, expr = items
        return s.LetDecl(str(name), expr, _pos(name))

    def switch(self, items):
        name, value = items[0], items[1:]
        if value[0].type == "TRUE":
            parsed: bool | int | float = True
        elif value[0].type == "FALSE":
            parsed = False
        else:
            text = "".join(str(v) for v in value)
            parsed = int(text) if text.lstrip("+-").isdigit() else float(text)
        return s.SwitchDecl(str(name), parsed, _pos(name))

    def array(self, items):
        name, rest = items[0], items[1:]
        dtype, _ = _take_dtype(rest)
        return s.ArrayDecl(str(name), dtype, _pos(name))

    def ode(self, items):
        token = items[0]
        var = str(token)[1:].split("/")[0].strip()
        unless = items[2] if len(items) > 2 else None
        return s.OdeDecl(var, items[1], unless, _pos(token))

    def block(self, items):
        kind = "_".join(str(item) for item in items[:-1])
        return s.BlockDecl(kind, items[-1], _pos(items[0]))

    def condition(self, items):
        kind = "_".join(str(item) for item in items[:-1])
        return s.ConditionDecl(kind, items[-1], _pos(items[0]))

    def method(self, items):
        options = items[1] if len(items) > 1 else ()
        return s.MethodDecl(str(items[0]), _pos(items[0]), options)

    def method_options(self, items):
        return tuple(item for item in items if isinstance(item, tuple))

    def method_option(self, items):
        return (str(items[0]), items[1], _pos(items[0]))

    def substeps(self, items):
        return s.SubstepsDecl(str(items[0]), _pos(items[0]))

    @lark.v_args(meta=True)
    def decl_if(self, meta, items):
        return s.IfDecl(*_branches(items), _pos(meta))

    def decl_elif(self, items):
        return _Elif(items[0], items[1])

    def decl_else(self, items):
        return _Else(items[0])

    def decl_suite(self, items):
        return tuple(items)

    # -- statements ---------------------------------------------------------
    def suite(self, items):
        return tuple(item for item in items if item is not None)

    def assign(self, items):
        name, op, expr = items
        return s.Assign(str(name), str(op), expr, _pos(name))

    def local(self, items):
        name, expr = items
        return s.LocalDef(str(name), expr, _pos(name))

    def pass_(self, items):
        return None

    @lark.v_args(meta=True)
    def if_statement(self, meta, items):
        return s.IfStatement(*_branches(items), _pos(meta))

    elif_clause = decl_elif
    else_clause = decl_else

    # -- expressions --------------------------------------------------------
    def number(self, items):
        return s.Number(str(items[0]), _pos(items[0]))

    def true(self, items):
        return s.Bool(True, _pos(items[0]))

    def false(self, items):
        return s.Bool(False, _pos(items[0]))

    def name(self, items):
        return s.Name(str(items[0]), _pos(items[0]))

    def call(self, items):
        name = items[0]
        args = items[2] if len(items) == 4 else ()
        return s.Call(str(name), tuple(args), _pos(name))

    def arguments(self, items):
        return tuple(items)

    def index(self, items):
        return s.Index(str(items[0]), items[2], _pos(items[0]))

    def atom(self, items):  # parenthesised expression
        return items[1]

    def unary(self, items):
        op, operand = items
        return s.Unary(str(op), operand, _pos(op))

    def not_(self, items):
        (operand,) = items
        return s.Unary("not", operand, _expr_pos(operand))

    def power(self, items):
        return s.Binary("**", items[0], items[2], _pos(items[1]))

    def comparison(self, items):
        """``a < b`` and, as in Python, ``a < b < c`` = ``a < b and b < c`` (``b`` once)."""
        if len(items) == 3:
            left, op, right = items
            return s.Binary(str(op), left, right, _pos(op))
        for middle in items[2:-1:2]:
            if _draws(middle):
                raise ParseError("a chained comparison repeats its middle term, which here "
                                 "draws a random number", line=middle.pos.line,
                                 column=middle.pos.column,
                                 hint="draw it once into a let, then compare the let")
        parts = [s.Binary(str(op), left, right, _pos(op))
                 for left, op, right in zip(items[0:-1:2], items[1::2], items[2::2])]
        return _fold_keyword(parts, "and")

    def sum(self, items):
        return _fold(items)

    def product(self, items):
        return _fold(items)

    def and_expr(self, items):
        return _fold_keyword(items, "and")

    def or_expr(self, items):
        return _fold_keyword(items, "or")


def _branches(items):
    """``if c: a elif d: b else: e`` → ``(((c, a), (d, b)), e)``."""
    branches = [(items[0], items[1])]
    orelse: tuple = ()
    for item in items[2:]:
        if isinstance(item, _Else):
            orelse = item.body
        else:
            branches.append((item.cond, item.body))
    return tuple(branches), orelse


class _Doc:
    def __init__(self, text):
        self.text = text


class _Dtype:
    def __init__(self, name):
        self.name = name


class _Elif:
    def __init__(self, cond, body):
        self.cond, self.body = cond, body


class _Else:
    def __init__(self, body):
        self.body = body


class _Unit:
    def __init__(self, expr):
        self.expr = expr


def _take_unit(items):
    if items and isinstance(items[0], _Unit):
        return items[0].expr, items[1:]
    return None, items


def _take_dtype(items):
    if items and isinstance(items[0], _Dtype):
        return items[0].name, items[1:]
    return "float", items


def _unquote(token) -> str:
    text = str(token)
    try:
        value = ast.literal_eval(text)
    except (SyntaxError, ValueError) as exc:  # a bad escape such as \x or \N
        why = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise ParseError(f"the docstring is not a valid string: {why}",
                         line=getattr(token, "line", None), column=getattr(token, "column", None),
                         hint="write a backslash as \\\\ in a docstring") from None
    lines = value.strip("\n").splitlines()
    indents = [len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()]
    cut = min(indents) if indents else 0
    return "\n".join([lines[0].strip()] + [line[cut:] for line in lines[1:]]).strip()
