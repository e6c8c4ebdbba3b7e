"""Syntax expressions and statements → SymPy, with name resolution and types.

Types are ``float`` (the simulation precision), ``int`` and ``bool``:

* ``+ - *`` of ints is int, otherwise float; ``/`` is always true division
  (float); ``//`` and ``%`` are floor division and its remainder (int for
  ints); ``**`` is int only for an int base and a non-negative int literal
  exponent.  Arithmetic on bools is an error.
* comparisons give bool; ``and``/``or``/``not`` take bools.
* ``abs``, ``min``, ``max``, ``clip`` keep int; every other function is float.

Switches are replaced by their values and lets are substituted.  Each
``rand_uniform()``/``rand_normal()`` gets its own draw index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy
from sympy.core.function import AppliedUndef

from .. import ir
from ..errors import UnknownNameError, suggest
from . import syntax as s
from .constant_checks import ConstantChecks
from .habits import FOREIGN_FUNCTIONS, FOREIGN_NAMES, foreign_name_hint
from .lets import EXPAND_LIMIT, Lets, syntax_size
from .syntax import error_at as _error


def _clip(x, lo, hi):
    return sympy.Min(sympy.Max(x, lo), hi)


#: name -> (SymPy builder, minimum args, maximum args or None)
LANGUAGE_FUNCTIONS = {
    "exp": (sympy.exp, 1, 1), "expm1": (ir.expm1, 1, 1), "log": (sympy.log, 1, 1),
    "log1p": (ir.log1p, 1, 1), "sqrt": (sympy.sqrt, 1, 1), "abs": (sympy.Abs, 1, 1),
    "sin": (sympy.sin, 1, 1), "cos": (sympy.cos, 1, 1), "tanh": (sympy.tanh, 1, 1),
    "min": (sympy.Min, 2, None), "max": (sympy.Max, 2, None), "clip": (_clip, 3, 3),
    "floor": (sympy.floor, 1, 1), "ceil": (sympy.ceiling, 1, 1),
    "exprel": (ir.phi1, 1, 1),  # expm1(x)/x, 1 at x == 0 (Brian2's name)
    "rand_uniform": (None, 0, 0), "rand_normal": (None, 0, 0),
}
_SIGNATURES = {
    "min": "write min(a, b, ...)", "max": "write max(a, b, ...)",
    "clip": "write clip(x, low, high)", "rand_uniform": "write rand_uniform()",
    "rand_normal": "write rand_normal()",
}
_INT_FUNCTIONS = {"abs", "min", "max", "clip"}
BUILTIN_TYPES = ir.BUILTIN_TYPES
_COMPARE = {">=": sympy.Ge, ">": sympy.Gt, "<=": sympy.Le, "<": sympy.Lt}


INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
FLOAT64_MAX = sympy.Float(1.7976931348623157e308)


def _constant_hint(name: str, declared: bool) -> str:
    """The hint for a name where only numbers and switches may stand."""
    from ..units import is_unit

    if declared:
        return "only numbers and switches may be used"
    if is_unit(name):
        return (f"{name!r} is a unit, and a unit follows a number: write '10 {name}' "
                f"for 10 * {name}")
    return FOREIGN_NAMES.get(name, "only numbers and switches may be used")


def _short(value, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else f"{text[:12]}...{text[-12:]} ({len(text)} digits)"


def _nonzero_float(text: str, value: float, pos, exact=None) -> sympy.Float:
    """``value`` as a SymPy float; a CheckError where a literal that is not zero rounds to 0
    (``1e-400``, below the smallest float64): the model would silently use 0."""
    if value == 0 and (exact if exact is not None else any(c in "123456789"
                                                           for c in text.split("e")[0]
                                                           .split("E")[0])):
        raise _error(f"the constant {_short(text)} is too small for a float64: it would "
                     "become 0", pos, "write 0 if 0 is meant" + ("" if exact is None else
                                                                   ", or use a smaller unit"))
    return sympy.Float(value)


@dataclass
class Scope:
    switches: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)  # name -> dtype
    states: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)
    lets: dict = field(default_factory=dict)  # name -> LetDecl
    refractory: bool = False
    #: whether any branch of the model declares ``refractory:`` (where none does, reading
    #: ``refractory``, always false, is a mistake; a switched-off branch makes it false)
    refractory_anywhere: bool = True


class ExpressionConverter(ConstantChecks):
    """Converts expressions within one :class:`Scope` (statements: :mod:`.statements`)."""

    def __init__(self, scope: Scope):
        self.scope = scope
        self.let_values: dict[str, tuple] = {}
        self.let_stack: list[str] = []
        self.locals: list[dict[str, str]] = []  # block scopes: name -> dtype
        self.local_types: dict[str, str] = {}
        self.local_lines: dict[str, int] = {}
        #: name -> line of every ``let`` inside a block (set by the checker before anything
        #: is converted), so a condition that reads one is told why it cannot
        self.block_lets: dict[str, int] = {}
        self.draws = 0
        self.lets = Lets()  # the lets too big to substitute (eqsnn.frontend.lets)
        #: ``(low, high, pos)`` of every ``clip`` whose bounds read params (and ``dt``)
        #: only: the Simulator checks ``low <= high`` once the params are known
        self.clip_bounds: list[tuple] = []
        #: warnings about text that has no effect (``clip(x, 1, 1)``, ``V = V``)
        self.warnings: list[str] = []

    # -- expressions ----------------------------------------------------
    def expr(self, node, *, constant=False, initial=False, ode=False):
        """``(sympy_expr, type)``; ``constant``: literals and switches only;
        ``initial``: params too; ``ode``: ``xi`` allowed."""
        self.mode = (constant, initial, ode)
        return self._expr(node)

    def _expr(self, node):
        method = getattr(self, "_" + type(node).__name__.lower())
        value, kind = method(node)
        if value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            raise _error("this expression is infinite or undefined (e.g. a division by zero)",
                         node.pos, "check the constants in the expression")
        if value.has(sympy.I):
            raise _error("this expression is not a real number (a log or a root of a "
                         "negative constant?)", node.pos, "check the constants in the expression")
        if value.is_Float and not abs(value) <= FLOAT64_MAX:  # SymPy's floats do not overflow
            raise _error(f"this constant, {_short(sympy.sstr(value, full_prec=False))}, is "
                         "beyond the largest float64", node.pos,
                         "check the constants in the expression")
        if kind == "int" and value.is_Integer and not INT32_MIN <= int(value) <= INT32_MAX:
            raise _error(f"the int value {_short(value)} is outside the int32 range "
                         f"{INT32_MIN}..{INT32_MAX}", node.pos,
                         "ints are 32-bit on every backend; for a float write the number "
                         "with a decimal point or an exponent (e.g. 1e11)")
        return value, kind

    def _number(self, node: s.Number):
        if node.is_int:
            digits = node.text.lstrip("0")
            if len(digits) > 10:  # certainly outside int32; int() of it may be refused
                raise _error(f"the int literal {_short(node.text)} is outside the int32 range "
                             f"{INT32_MIN}..{INT32_MAX}", node.pos,
                             "ints are 32-bit on every backend; for a float write the number "
                             "with a decimal point or an exponent (e.g. 1e11)")
            return sympy.Integer(int(node.text)), "int"
        return _nonzero_float(node.text, float(node.text), node.pos), "float"

    def _quantity(self, node: s.Quantity):
        """``20 ms`` → its value in the internal unit (ms, mV, nA, nF, uS, MOhm, um, mM),
        correctly rounded; the dimensions are checked by :mod:`eqsnn.frontend.dimensions`."""
        from fractions import Fraction

        from .dimensions import quantity_unit

        unit = quantity_unit(node, self._all_names() | set(self.scope.switches))
        value = Fraction(node.number.text) * unit.factor
        if node.number.is_int and value.denominator == 1:  # 65 mV: SymPy keeps it exact
            return sympy.Integer(value.numerator), "float"
        try:
            return _nonzero_float(f"{node.number.text} {unit}", float(value), node.pos,
                                  value), "float"
        except OverflowError:
            raise _error(f"{node.number.text} {unit} is too large for a float", node.pos,
                         "write a smaller number or a larger unit") from None

    def _bool(self, node: s.Bool):
        return (sympy.true if node.value else sympy.false), "bool"

    def _name(self, node: s.Name):
        name = node.id
        constant, initial, ode = self.mode
        scope = self.scope
        if name in scope.switches:
            value = scope.switches[name]
            if isinstance(value, bool):
                return (sympy.true if value else sympy.false), "bool"
            return sympy.sympify(value), "int" if isinstance(value, int) else "float"
        if constant:
            raise _error(f"{name!r} is not a constant here", node.pos,
                         _constant_hint(name, declared=name in self._all_names()))
        if name in scope.params:
            return sympy.Symbol(name), scope.params[name]
        if initial:
            if name == "dt":
                return sympy.Symbol(name), "float"
            raise _error(f"initial values may use params, not {name!r}", node.pos,
                         "set the initial value from the Simulator's init= instead")
        for frame in reversed(self.locals):
            if name in frame:
                return sympy.Symbol(name), frame[name]
        for table in (scope.states, scope.inputs):
            if name in table:
                return sympy.Symbol(name), table[name]
        if name in scope.lets:
            value, kind = self.let(name)
            if (constant or initial) and self.lets.has_shared(value):
                value = self.written_out(value, node.pos, "an initial value or a constant")
            return value, kind
        if name in BUILTIN_TYPES:
            return sympy.Symbol(name), BUILTIN_TYPES[name]
        if name == "refractory":
            if not scope.refractory_anywhere:
                raise _error(
                    "'refractory' is read, but no 'refractory:' line declares when the neuron "
                    "is refractory, so it would always be false", node.pos,
                    "declare it, e.g. 'refractory: RefracTime > 0' with a countdown state set "
                    "in the reset (docs/language.md, 'Spikes, signed spikes and refractoriness')")
            return (sympy.Symbol(name) if scope.refractory else sympy.false), "bool"
        if name == "xi":
            if not ode:
                raise _error("white noise 'xi' may only appear in an ODE", node.pos,
                             "use rand_normal() for a random number in a statement")
            return sympy.Symbol("xi"), "float"
        if name in scope.arrays:
            raise _error(f"array {name!r} must be indexed", node.pos, f"write {name}[i]")
        if name in self.local_types:
            raise _error(f"local {name!r} is not visible here", node.pos,
                         f"it is defined at line {self.local_lines[name]} inside another block")
        if name in self.block_lets:  # later in this block, or a block converted later
            line = self.block_lets[name]
            if self.locals and line > node.pos.line:
                raise _error(f"local {name!r} is used before its definition", node.pos,
                             f"it is defined at line {line}; a block's let is seen only below "
                             "it, in the same block")
            raise _error(f"local {name!r} is not visible here", node.pos,
                         f"it is defined at line {line} inside a block, and a block's lets "
                         "are seen only in that block: to use it here too, declare it "
                         "outside the block")
        raise UnknownNameError(f"unknown name {name!r}", unknown=name, line=node.pos.line,
                               column=node.pos.column, hint=self._suggest(name))

    def _suggest(self, name):
        scope = self.scope
        names = [*scope.switches, *scope.params, *scope.states, *scope.inputs, *scope.lets,
                 *BUILTIN_TYPES, *(n for frame in self.locals for n in frame)]
        hint = foreign_name_hint(name) or suggest(name, names)
        if hint is None and name in LANGUAGE_FUNCTIONS:
            hint = f"{name} is a function: call it as {name}(...)"
        from ..units import is_unit

        if is_unit(name):
            unit_hint = f"{name!r} is a unit, and a unit follows a number: write '1 {name}'"
            hint = unit_hint + (f" ({hint[0].lower()}{hint[1:]})" if hint else "")
        return hint or "declare it with param, state, input or let"

    def let(self, name):
        if name in self.let_values:
            return self.let_values[name]
        decl = self.scope.lets[name]
        if name in self.let_stack:
            cycle = " -> ".join(self.let_stack[self.let_stack.index(name):] + [name])
            raise _error(f"let {name!r} depends on itself ({cycle})", decl.pos,
                         "break the cycle: a let cannot refer back to itself")
        self.let_stack.append(name)
        saved_mode, saved_locals = getattr(self, "mode", (False, False, False)), self.locals
        self.locals = []  # lets see declarations, not block locals
        try:
            self.mode = (False, False, True)
            value = self._expr(decl.expr)
        finally:
            self.let_stack.pop()
            self.mode, self.locals = saved_mode, saved_locals
        value = (self.lets.share(name, *value, syntax_size(decl.expr)), value[1])
        self.let_values[name] = value
        return value

    def written_out(self, value, pos, where: str):
        """``value`` with its shared lets substituted, for a place that has no statements
        to compute them in; a CheckError if that is too large."""
        size = self.lets.size(value)
        if size > EXPAND_LIMIT:
            names = sorted({self.lets.of(a).name for a in value.atoms(AppliedUndef)
                            if self.lets.of(a) is not None})
            raise _error(f"the let{'s' if len(names) > 1 else ''} {', '.join(names)} written "
                         f"out {'have' if len(names) > 1 else 'has'} about {size} terms, too "
                         f"many for {where}, where lets are substituted", pos,
                         "compute the value into a state in 'after:' and use the state here")
        return self.lets.expand(value)

    def _call(self, node: s.Call):
        if node.func not in LANGUAGE_FUNCTIONS:
            hint = (f"{node.func!r} is not a function" if node.func in self._all_names()
                    else None)
            raise _error(f"unknown function {node.func!r}", node.pos,
                         hint or FOREIGN_FUNCTIONS.get(node.func)
                         or suggest(node.func, LANGUAGE_FUNCTIONS)
                         or f"functions: {', '.join(sorted(LANGUAGE_FUNCTIONS))}")
        build, low, high = LANGUAGE_FUNCTIONS[node.func]
        n = len(node.args)
        if n < low or (high is not None and n > high):
            want = f"{low}" if low == high else f"at least {low}"
            raise _error(f"{node.func}() takes {want} argument{'s' if low != 1 else ''}, "
                         f"got {n}", node.pos,
                         _SIGNATURES.get(node.func, f"write {node.func}(x)"))
        if node.func.startswith("rand_"):
            if self.mode[0] or self.mode[1]:
                raise _error(f"{node.func}() cannot be used in a constant", node.pos)
            cls = ir.RandUniform if node.func == "rand_uniform" else ir.RandNormal
            self.draws += 1
            return cls(sympy.Integer(self.draws - 1)), "float"
        args = [self._expr(arg) for arg in node.args]
        for (_, kind), arg in zip(args, node.args):
            if kind == "bool":
                raise _error(f"{node.func}() takes numbers, not a condition", arg.pos)
        kinds = {kind for _, kind in args}
        kind = "int" if node.func in _INT_FUNCTIONS and kinds == {"int"} else "float"
        if node.func == "clip":
            self._clip_bounds(args[1][0], args[2][0], node)
        return build(*(value for value, _ in args)), kind

    def _all_names(self):
        scope = self.scope
        return {*scope.params, *scope.states, *scope.inputs, *scope.lets, *scope.arrays}

    def _index(self, node: s.Index):
        if node.array not in self.scope.arrays:
            raise _error(f"{node.array!r} is not an array", node.pos,
                         f"declare it with 'array {node.array}'")
        index, kind = self._expr(node.index)
        if kind != "int":
            raise _error(f"the index of {node.array} must be an int, not {kind}",
                         node.index.pos, "use int states/params or floor division '//'")
        return ir.ArrayGet(sympy.Symbol(node.array), index), self.scope.arrays[node.array]

    def _unary(self, node: s.Unary):
        value, kind = self._expr(node.operand)
        if node.op == "not":
            if kind != "bool":
                raise _error("'not' takes a condition", node.operand.pos,
                             "compare first, e.g. 'not (V > 0)'")
            return sympy.Not(value), "bool"
        if kind == "bool":
            raise _error(f"cannot apply '{node.op}' to a condition", node.pos)
        return (-value if node.op == "-" else value), kind

    def _binary(self, node: s.Binary):
        (left, lkind), (right, rkind) = self._expr(node.left), self._expr(node.right)
        op = node.op
        if op in ("and", "or"):
            for kind, side in ((lkind, node.left), (rkind, node.right)):
                if kind != "bool":
                    raise _error(f"'{op}' takes conditions", side.pos,
                                 "compare with a number first, e.g. 'x > 0'")
            return (sympy.And if op == "and" else sympy.Or)(left, right), "bool"
        if op in ("==", "!="):
            if (lkind == "bool") != (rkind == "bool"):
                raise _error(f"cannot compare a condition with a number using '{op}'", node.pos,
                             "compare conditions with conditions (e.g. 'b == (V > 0)'); "
                             "'a < b < c' chains as 'a < b and b < c'")
            cls = sympy.Eq if op == "==" else sympy.Ne
            return cls(left, right, evaluate=False), "bool"
        for kind, side in ((lkind, node.left), (rkind, node.right)):
            if kind == "bool":
                raise _error(f"cannot use a condition as a number with '{op}'", side.pos,
                             "arithmetic needs numbers")
        if op in _COMPARE:
            return _COMPARE[op](left, right), "bool"
        both_int = lkind == rkind == "int"
        if op == "+":
            return left + right, "int" if both_int else "float"
        if op == "-":
            return left - right, "int" if both_int else "float"
        if op == "*":
            return left * right, "int" if both_int else "float"
        if op in ("/", "//", "%") and right.is_zero:
            raise _error("division by zero", node.right.pos, "divide by a non-zero value")
        if op == "/":
            return left / right, "float"
        if op == "//":
            return ir.floor_div(left, right), "int" if both_int else "float"
        if op == "%":
            return ir.mod(left, right), "int" if both_int else "float"
        # **
        if right.is_number and left.is_number and abs(float(right)) > 1000:
            raise _error("exponent too large for a constant", node.right.pos,
                         "use exp() or a param for huge values")
        int_power = both_int and right.is_Integer and right >= 0
        return left**right, "int" if int_power else "float"
