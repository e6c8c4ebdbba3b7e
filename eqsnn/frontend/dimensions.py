"""Dimension checking of a model with units, on the syntax tree (so errors point at the text).

A model *uses units* when it writes a quantity (``20 ms``) or a unit
annotation (``param g [nS]``) anywhere; then every equation, assignment,
comparison and function argument is checked here, after
:mod:`eqsnn.frontend.check` has resolved names and types.  A model without units is
not checked (it keeps ml_genn's dimensionless semantics).

Rules (see ``docs/language.md#units``):

* a param, state or input has the dimension of its annotation, else of its
  default (``-65 mV``, or the dimension of the expression; a bare number is
  dimensionless);
* a bare number is dimensionless, except a literal ``0``, which matches any
  dimension (``RefracTime <= 0``);
* ``t`` and ``dt`` are times, ``xi`` is time^-1/2, ``step``, ``id`` and
  ``batch`` are dimensionless;
* ``+ - < <= == min max clip %`` need equal dimensions; ``* /`` combine them;
  ``x ** p`` needs a dimensionless ``p``, a constant one where ``x`` has a
  dimension; ``sqrt`` halves the exponents; ``abs`` keeps them, ``floor ceil //`` need a ratio;
  every other function needs a dimensionless argument;
* ``dX/dt`` has the dimension of ``X`` per time; ``X = e``, ``X += e`` that
  of ``X``; ``X *= e`` a dimensionless ``e``.

The units written in the text (``20 ms``, ``[mV/ms]``) are read by
:mod:`eqsnn.frontend.unit_syntax`.
"""

from __future__ import annotations

from fractions import Fraction

from .. import units as u
from ..units import Dimension, Unit
from . import syntax as s
from .syntax import error_at as _error
from .syntax import start
from .unit_syntax import constant_number as _constant_number
from .unit_syntax import quantity_unit, unit_from_syntax, uses_units

__all__ = ["check_dimensions", "check_synapse_dimensions", "quantity_unit", "start",
           "unit_from_syntax", "uses_units"]

DIMENSIONLESS, RATE, TIME = u.DIMENSIONLESS, u.RATE, u.TIME
UnitError, internal_symbol, internal_unit, lookup = (
    u.UnitError, u.internal_symbol, u.internal_unit, u.lookup)

#: ``0`` in an expression: matches any dimension
ANY = "any"
_KEEP = {"abs", "floor", "ceil"}
#: rounding is not the same in every unit: floor(-0.0653 V) is -1 V, floor(-65.3 mV) -66 mV
_ROUND = {"floor", "ceil"}
_SAME = {"min", "max", "clip"}
_DIMENSIONLESS_BUILTINS = {"step", "id", "batch", "refractory"}


def describe(dim) -> str:
    if dim is ANY:
        return "0 (any dimension)"
    return f"a {dim}" if not dim.dimensionless else "a dimensionless value"


def _fix(found: Dimension, wanted: Dimension) -> str:
    """A hint that turns ``found`` into ``wanted``: 'multiply by a resistance'."""
    ratio, inverse = wanted / found, found / wanted
    if found.dimensionless:
        return (f"give the number a unit, e.g. '1 {internal_symbol(wanted)}'"
                if "internal units" not in internal_symbol(wanted) else
                "give the value a unit")
    named = u._NAMES  # prefer a plain name (a capacitance) to a compound (resistance per time)
    if ratio in named and ratio != RATE:
        return f"multiply by a {named[ratio]}"
    if inverse in named:
        return f"divide by a {named[inverse]}"
    if ratio.words() != ratio.si():
        return f"multiply by a {ratio.words()}"
    if inverse.words() != inverse.si():
        return f"divide by a {inverse.words()}"
    return f"check the units: {internal_symbol(found)} is not {internal_symbol(wanted)}"


class DimensionChecker:
    """Checks the flattened declarations of one model; :meth:`run` gives the declared units."""

    def __init__(self, declarations, switches: dict):
        self.decls = list(declarations)
        self.switches = switches
        self.names = {d.name for d in self.decls if hasattr(d, "name")}
        self.units: dict[str, Unit | None] = {}
        self.dims: dict[str, Dimension] = {}
        self.lets = {d.name: d for d in self.decls if isinstance(d, s.LetDecl)}
        self.let_dims: dict[str, object] = {}
        self.locals: list[dict[str, object]] = []

    def run(self) -> dict[str, Unit]:
        """Check everything; the declared unit of each param, state and input with one."""
        for name in self.switches:
            self.dims[name] = DIMENSIONLESS
        for decl in self.decls:
            if isinstance(decl, s.ArrayDecl):
                self.dims[decl.name] = DIMENSIONLESS
        for kind in (s.ParamDecl, s.InputDecl, s.StateDecl):
            for decl in self.decls:
                if isinstance(decl, kind):
                    self._declare(decl)
        for decl in self.decls:
            if isinstance(decl, s.LetDecl):
                self._let(decl.name)
            elif isinstance(decl, s.OdeDecl):
                self._ode(decl)
            elif isinstance(decl, s.ConditionDecl):
                self.dim(decl.cond)
            elif isinstance(decl, s.BlockDecl):
                self._block(decl.body)
        return {name: unit for name, unit in self.units.items() if unit is not None}

    # -- declarations -------------------------------------------------------
    def _declare(self, decl):
        value = decl.init if isinstance(decl, s.StateDecl) else decl.default
        annotated = None
        if decl.unit is not None:
            if decl.dtype != "float":
                raise _error(f"{decl.name!r} is {decl.dtype}; only float values have units",
                             decl.unit, "drop the unit, or declare it as float")
            annotated = unit_from_syntax(decl.unit)
        unit = annotated
        if value is not None:
            found = self.dim(value)
            if annotated is not None:
                number, sign = value, ""
                while isinstance(number, s.Unary) and number.op in "+-":  # -65: a number
                    number, sign = number.operand, sign + (number.op if number.op == "-" else "")
                text = ("-" if len(sign) % 2 else "") + getattr(number, "text", "")
                if isinstance(number, s.Number) and found is not ANY:
                    raise _error(f"the value of {decl.name}, declared in {annotated}, has no "
                                 "unit", value, f"write it with its unit: '{text} "
                                 f"{annotated}'" if "/" not in str(annotated) and "*" not in
                                 str(annotated) else f"write '{text} [{annotated}]'")
                self._same(found, annotated.dimension, value,
                           f"the value of {decl.name}, declared in {annotated},")
            else:
                unit = self._unit_of_value(value, found)
        self.units[decl.name] = unit
        self.dims[decl.name] = unit.dimension if unit is not None else DIMENSIONLESS
        # a param's constraints, a state's bounds (``state V = -70 mV (> -1 V)``)
        for bound in (*getattr(decl, "constraints", ()), *getattr(decl, "bounds", ())):
            self._bound(decl, bound)

    def _unit_of_value(self, value, found) -> Unit | None:
        """The unit written in a default: ``-65 mV`` → mV; a param's name → its unit."""
        while isinstance(value, s.Unary) and value.op in "+-":
            value = value.operand
        if isinstance(value, s.Quantity):
            return quantity_unit(value, self.names)
        if isinstance(value, s.Name) and self.units.get(value.id) is not None:
            return self.units[value.id]
        if found is ANY or found.dimensionless:
            return None
        return internal_unit(found)

    def _bound(self, decl, bound: s.Constraint):
        wanted = self.dims[decl.name]
        if bound.unit is not None:
            unit = unit_from_syntax(bound.unit)
            if unit.dimension != wanted:
                raise _error(f"the bound of {decl.name} is {describe(unit.dimension)}, but "
                             f"{decl.name} is {describe(wanted)}", bound.unit,
                             f"write the bound in {internal_symbol(wanted)}")
        elif bound.bound != 0 and not wanted.dimensionless:
            raise _error(f"the bound {bound.bound:g} of {decl.name} has no unit, but "
                         f"{decl.name} is {describe(wanted)}", bound.pos,
                         f"give the bound a unit: ({bound.op} {bound.bound:g} "
                         f"{self.units[decl.name]})")

    def _let(self, name):
        if name not in self.let_dims:
            saved, self.locals = self.locals, []
            try:
                self.let_dims[name] = self.dim(self.lets[name].expr)
            finally:
                self.locals = saved
        return self.let_dims[name]

    # -- equations and statements --------------------------------------------
    def _ode(self, decl: s.OdeDecl):
        wanted = self.dims[decl.var] / TIME
        found = self.dim(decl.rhs)
        self._same(found, wanted, decl.rhs, f"d{decl.var}/dt, which must be {decl.var}'s "
                   "unit per time,")
        if decl.unless is not None:
            self.dim(decl.unless)

    def _block(self, body):
        self.locals.append({})
        try:
            for stmt in body:
                self._statement(stmt)
        finally:
            self.locals.pop()

    def _statement(self, stmt):
        if isinstance(stmt, s.LocalDef):
            self.locals[-1][stmt.name] = self.dim(stmt.expr)
        elif isinstance(stmt, s.Assign):
            wanted = self._lookup(stmt.target, stmt.pos)
            found = self.dim(stmt.expr)
            if stmt.op in ("*=", "/="):
                self._same(found, DIMENSIONLESS, stmt.expr, f"the factor of '{stmt.op}'")
            elif wanted is not ANY:
                self._same(found, wanted, stmt.expr, f"the value assigned to {stmt.target}")
        else:
            for cond, body in stmt.branches:
                self.dim(cond)
                self._block(body)
            self._block(stmt.orelse)

    def _same(self, found, wanted, node, what):
        if found is ANY or wanted is ANY or found == wanted:
            return
        raise _error(f"{what} is {describe(found)}, not {describe(wanted)}", node,
                     _fix(found, wanted))

    # -- expressions ----------------------------------------------------------
    def _lookup(self, name, pos):
        for frame in reversed(self.locals):
            if name in frame:
                return frame[name]
        if name in self.dims:
            return self.dims[name]
        if name in self.lets:
            return self._let(name)
        if name in ("t", "dt"):
            return TIME
        if name == "xi":
            return TIME ** Fraction(-1, 2)
        return DIMENSIONLESS  # step, id, batch, refractory; unknown names fail in check

    def dim(self, node):
        """The dimension of an expression, or :data:`ANY` for a literal 0."""
        method = getattr(self, "_" + type(node).__name__.lower())
        return method(node)

    def _number(self, node: s.Number):
        return ANY if float(node.text) == 0 else DIMENSIONLESS

    def _quantity(self, node: s.Quantity):
        return quantity_unit(node, self.names).dimension

    def _bool(self, node):
        return DIMENSIONLESS

    def _name(self, node: s.Name):
        return self._lookup(node.id, node.pos)

    def _index(self, node: s.Index):
        self._same(self.dim(node.index), DIMENSIONLESS, node.index, f"the index of {node.array}")
        return DIMENSIONLESS

    def _unary(self, node: s.Unary):
        return self.dim(node.operand) if node.op != "not" else DIMENSIONLESS

    def _call(self, node: s.Call):
        dims = [self.dim(arg) for arg in node.args]
        if node.func == "sqrt":
            return ANY if dims[0] is ANY else dims[0] ** Fraction(1, 2)
        if node.func in _ROUND and dims[0] is not ANY and not dims[0].dimensionless:
            unit = internal_symbol(dims[0])
            raise _error(f"the argument of {node.func}() is {describe(dims[0])}; rounding it "
                         "depends on the unit it is in", node.args[0],
                         f"round a ratio in the unit meant: {node.func}(x / 1 {unit}) * 1 {unit}")
        if node.func in _KEEP:
            return dims[0]
        if node.func in _SAME:
            return self._common(dims, node.args, f"the arguments of {node.func}()")
        for dim, arg in zip(dims, node.args):
            self._same(dim, DIMENSIONLESS, arg, f"the argument of {node.func}()")
        return DIMENSIONLESS

    def _common(self, dims, nodes, what):
        known = [(d, n) for d, n in zip(dims, nodes) if d is not ANY]
        if not known:
            return ANY
        first = known[0][0]
        for dim, node in known[1:]:
            if dim != first:
                raise _error(f"{what} mix {describe(first)} and {describe(dim)}", node,
                             _fix(dim, first))
        return first

    def _binary(self, node: s.Binary):
        op = node.op
        if op in ("and", "or"):
            self.dim(node.left), self.dim(node.right)
            return DIMENSIONLESS
        if op in ("+", "-"):
            return self._sum(node)
        left, right = self.dim(node.left), self.dim(node.right)
        if op in ("%", "<", "<=", ">", ">=", "==", "!="):  # + and -: _sum
            if left is not ANY and right is not ANY and left != right:
                verb = "take the remainder of" if op == "%" else "compare"
                raise _error(f"cannot {verb} {describe(left)} and {describe(right)}",
                             node.right, _fix(right, left))
            if op == "%":
                return right if left is ANY else left
            return DIMENSIONLESS
        if op in ("*", "/", "//"):
            if left is ANY:
                return ANY
            if right is ANY:
                return left if op == "*" else ANY
            if op == "//" and not (left / right).dimensionless:
                raise _error(f"'//' of {describe(left)} and {describe(right)} rounds "
                             f"{describe(left / right)}, which depends on the unit it is in",
                             node, "divide values of one dimension, V // (2 mV), or round "
                             "a ratio: (V / 1 mV) // 2")
            return left * right if op == "*" else left / right
        # **
        self._same(right, DIMENSIONLESS, node.right, "an exponent")
        if left is ANY or left.dimensionless:
            return left
        power = self._constant_power(node.right)
        if power is None:
            raise _error(f"the power of {describe(left)} must be a constant number",
                         node.right, "write a number such as 2 or 0.5 as the exponent")
        return left ** power

    def _sum(self, node: s.Binary):
        """A chain of ``+`` and ``-`` as one list of terms, checked in reading order against
        the first term with a dimension (a long chain is a balanced tree, see
        ``chains.fold``: the first mismatch is found where a left fold finds it)."""
        terms, stack = [], [("+", node)]
        while stack:
            op, item = stack.pop()
            if isinstance(item, s.Binary) and item.op in ("+", "-"):
                stack += [(item.op, item.right), (op, item.left)]
            else:
                terms.append((op, item))
        first = ANY
        for op, term in terms:
            dim = self.dim(term)
            if first is ANY:
                first = dim
            elif dim is not ANY and dim != first:
                message = (f"cannot subtract {describe(dim)} from {describe(first)}" if op == "-"
                           else f"cannot add {describe(first)} and {describe(dim)}")
                raise _error(message, term, _fix(dim, first))
        return first

    def _constant_power(self, expr):
        if isinstance(expr, s.Name) and isinstance(self.switches.get(expr.id), (int, float)) \
                and not isinstance(self.switches.get(expr.id), bool):
            return Fraction(self.switches[expr.id]).limit_denominator(1000)
        value = _constant_number(expr)
        return None if value is None else value.limit_denominator(1000)


def check_dimensions(declarations, switches: dict) -> dict[str, Unit]:
    """Check a model's dimensions; ``{}`` for a model without units (nothing to check)."""
    if not uses_units(declarations):
        return {}
    return DimensionChecker(declarations, switches).run()


def check_synapse_dimensions(declarations, switches: dict,
                             output) -> tuple[dict[str, Unit], Unit | None]:
    """:func:`check_dimensions` of a synapse model, and the internal unit of its ``output``
    expression's dimension: ``None`` without units, or for an output of any dimension (a
    literal 0)."""
    if not uses_units(declarations):
        return {}, None
    checker = DimensionChecker(declarations, switches)
    units = checker.run()
    found = checker.dim(output)
    return units, None if found is ANY else internal_unit(found)
