"""Lowering of SymPy expressions to typed, ordered three-address code.

:func:`lower` turns one expression into a list of
:class:`~eqsnn.printing.ops.Op` s (the lowered IR, defined with its op table
in :mod:`eqsnn.printing.ops`), each computing one value from operands that
are constants, named model values or earlier results.  The list fixes the
floating-point evaluation order (see :mod:`eqsnn.printing` for the
convention), so every printer that prints the ops in list order computes the
same bits for the arithmetic.

Types are ``float`` (the model precision), ``int`` (int32) and ``bool``;
conversions are explicit ``cast`` ops (float to int truncates toward zero,
as a C cast does).

>>> import sympy
>>> x, y = sympy.symbols("x y")
>>> for op in lower(x * y / 3 + 1, {"x": "float", "y": "float"}).ops:
...     print(op)
t0 = mul(0.3333333333333333, x)
t1 = mul(t0, y)
t2 = add(1.0, t1)
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy
from sympy.codegen.cfunctions import expm1, log1p
from sympy.core.relational import Relational

from .. import ir
from ..errors import EqsnnError
from .ops import Const, Lowered, Op, Operand, Ref, Temp

__all__ = ["MAX_EXPANDED_POWER", "lower"]

#: Largest ``|n|`` for which ``x**n`` becomes repeated multiplication.
MAX_EXPANDED_POWER = 16

_FUNCTION_OF = {
    sympy.exp: "exp", expm1: "expm1", sympy.log: "log", log1p: "log1p",
    sympy.Abs: "abs", sympy.sin: "sin", sympy.cos: "cos", sympy.tanh: "tanh",
    sympy.floor: "floor", sympy.ceiling: "ceil",
}
_TYPE_PRESERVING = frozenset({"abs", "floor", "ceil"})
_COMPARISON_OF = {
    sympy.StrictLessThan: "lt", sympy.LessThan: "le", sympy.StrictGreaterThan: "gt",
    sympy.GreaterThan: "ge", sympy.Equality: "eq", sympy.Unequality: "ne",
}


def lower(expr: sympy.Basic, types: Mapping[str, str], dtype: str | None = None) -> Lowered:
    """Lower ``expr`` given the type of every name; convert the result to ``dtype`` if given."""
    lowerer = _Lowerer(types)
    result, result_type = lowerer.value(sympy.sympify(expr))
    if dtype is not None:
        result, result_type = lowerer.coerce(result, result_type, dtype), dtype
    return Lowered(tuple(lowerer.ops), result, result_type)


def _arithmetic_type(*types: str) -> str:
    return "float" if "float" in types else "int"


def _integral(number: sympy.Basic) -> bool:
    return bool(number.is_Integer or (number.is_Float and number == int(number)))


class _Lowerer:
    def __init__(self, types: Mapping[str, str]):
        self.types = types
        self.ops: list[Op] = []

    # --- building blocks ----------------------------------------------
    def emit(self, op: str, args, dtype: str, fn: str | None = None) -> Temp:
        dest = Temp(len(self.ops))
        self.ops.append(Op(dest, op, tuple(args), dtype, fn))
        return dest

    def coerce(self, operand: Operand, have: str, want: str) -> Operand:
        if have == want:
            return operand
        if isinstance(operand, Const):
            convert = {"float": float, "int": int, "bool": bool}[want]
            return Const(convert(operand.value), want)
        return self.emit("cast", [operand], want)

    def arithmetic(self, op: str, left, right) -> tuple[Operand, str]:
        """``left op right`` after promoting both to a common type (``div``: always float)."""
        (a, ta), (b, tb) = left, right
        dtype = "float" if op == "div" else _arithmetic_type(ta, tb)
        return self.emit(op, [self.coerce(a, ta, dtype), self.coerce(b, tb, dtype)], dtype), dtype

    def negate(self, value) -> tuple[Operand, str]:
        operand, dtype = value
        dtype = _arithmetic_type(dtype)
        if isinstance(operand, Const):
            return Const(-self.coerce(operand, value[1], dtype).value, dtype), dtype
        return self.emit("neg", [self.coerce(operand, value[1], dtype)], dtype), dtype

    def call(self, fn: str, *args) -> tuple[Operand, str]:
        operands = [self.coerce(a, t, "float") for a, t in args]
        return self.emit("call", operands, "float", fn), "float"

    def as_float(self, expr) -> Operand:
        operand, dtype = self.value(expr)
        return self.coerce(operand, dtype, "float")

    # --- dispatch -----------------------------------------------------
    def value(self, expr: sympy.Basic) -> tuple[Operand, str]:
        if isinstance(expr, sympy.Symbol):
            if expr.name not in self.types:
                raise EqsnnError(f"cannot lower {expr}: unknown name {expr.name!r}")
            return Ref(expr.name), self.types[expr.name]
        if expr is sympy.true or expr is sympy.false:
            return Const(bool(expr), "bool"), "bool"
        if expr.is_Number or expr.is_NumberSymbol:
            return self.number(expr)
        if expr.is_Add:
            return self.add(expr)
        if expr.is_Mul:
            return self.mul(expr)
        if expr.is_Pow:
            return self.power(expr.base, expr.exp)
        if isinstance(expr, Relational):
            return self.compare(expr)
        if isinstance(expr, (sympy.And, sympy.Or)):
            op = "and" if isinstance(expr, sympy.And) else "or"
            return self.fold(op, expr.args, "bool")
        if isinstance(expr, sympy.Not):
            return self.emit("not", [self.as_bool(expr.args[0])], "bool"), "bool"
        if isinstance(expr, sympy.Piecewise):
            return self.piecewise(expr.args)
        if isinstance(expr, sympy.ITE):
            cond, then, otherwise = expr.args
            return self.select(cond, then, otherwise)
        return self.function(expr)

    def number(self, expr) -> tuple[Const, str]:
        if expr.is_Integer:
            return Const(int(expr), "int"), "int"
        return Const(float(expr), "float"), "float"

    def as_bool(self, expr) -> Operand:
        operand, dtype = self.value(expr)
        return self.coerce(operand, dtype, "bool")

    def fold(self, op: str, args, dtype: str | None = None) -> tuple[Operand, str]:
        """Left fold of a binary op over ``args`` in their order."""
        if dtype == "bool":
            acc = self.as_bool(args[0])
            for arg in args[1:]:
                acc = self.emit(op, [acc, self.as_bool(arg)], "bool")
            return acc, "bool"
        acc = self.value(args[0])
        for arg in args[1:]:
            acc = self.arithmetic(op, acc, self.value(arg))
        return acc

    # --- arithmetic ---------------------------------------------------
    def add(self, expr) -> tuple[Operand, str]:
        """Left fold in ``args`` order; a negative term ``-u`` is subtracted (``acc - u``)."""
        acc = None
        for term in expr.args:
            negative = (term.is_Number and term < 0) or (
                term.is_Mul and term.args[0].is_Number and term.args[0] < 0
            )
            magnitude = self.value(-term if negative else term)
            if acc is None:
                acc = self.negate(magnitude) if negative else magnitude
            else:
                acc = self.arithmetic("sub" if negative else "add", acc, magnitude)
        return acc

    def mul(self, expr) -> tuple[Operand, str]:
        """(numerator factors, left fold) / (denominator factors, left fold).

        A negative coefficient is taken out as a final ``neg`` (exact).
        """
        args = expr.args
        if args[0].is_Number and args[0] < 0:
            return self.negate(self.value(-expr))
        numerator, denominator = [], []
        for factor in args:
            if factor.is_Pow and factor.exp.is_Number and factor.exp < 0:
                denominator.append(factor)
            else:
                numerator.append(factor)
        if numerator:
            top = self.fold("mul", numerator)
        else:
            top = (Const(1, "int"), "int")
        if not denominator:
            return top
        bottom = self.power(denominator[0].base, -denominator[0].exp)
        for factor in denominator[1:]:
            bottom = self.arithmetic("mul", bottom, self.power(factor.base, -factor.exp))
        return self.arithmetic("div", top, bottom)

    def power(self, base, exponent) -> tuple[Operand, str]:
        """``x**n`` (|n| <= 16) by left-folded multiplication, ``x**-n = 1/x**n``,
        ``x**±0.5`` by sqrt, anything else by ``pow``."""
        if exponent.is_Number and _integral(exponent) and abs(int(exponent)) <= MAX_EXPANDED_POWER:
            n = int(exponent)
            x = self.value(base)
            if n < 0:
                x = (self.coerce(x[0], x[1], "float"), "float")
            if n == 0:
                one = 1.0 if x[1] == "float" else 1
                return Const(one, _arithmetic_type(x[1])), _arithmetic_type(x[1])
            x = (self.coerce(x[0], x[1], _arithmetic_type(x[1])), _arithmetic_type(x[1]))
            acc = x
            for _ in range(abs(n) - 1):
                acc = self.arithmetic("mul", acc, x)
            return self.arithmetic("div", (Const(1.0, "float"), "float"), acc) if n < 0 else acc
        if exponent.is_Integer and exponent > 0:
            x = self.value(base)
            if x[1] == "int":  # by squaring, in int32: wraps as int arithmetic does
                return self.int_power(x, int(exponent))
        if exponent.is_Number and abs(float(exponent)) == 0.5:
            root = self.call("sqrt", self.value(base))
            if exponent < 0:
                return self.arithmetic("div", (Const(1.0, "float"), "float"), root)
            return root
        return self.call("pow", self.value(base), self.value(exponent))

    def int_power(self, x, n: int) -> tuple[Operand, str]:
        """``x**n`` of an int ``x`` and ``n > 16`` by repeated squaring (int multiplies)."""
        result, square = None, x
        while n:
            if n & 1:
                result = square if result is None else self.arithmetic("mul", result, square)
            n >>= 1
            if n:
                square = self.arithmetic("mul", square, square)
        return result

    # --- logic --------------------------------------------------------
    def compare(self, expr) -> tuple[Operand, str]:
        op = _COMPARISON_OF[type(expr)]
        (a, ta), (b, tb) = self.value(expr.lhs), self.value(expr.rhs)
        dtype = "bool" if ta == tb == "bool" else _arithmetic_type(ta, tb)
        return self.emit(op, [self.coerce(a, ta, dtype), self.coerce(b, tb, dtype)], "bool"), "bool"

    def select(self, cond, then, otherwise) -> tuple[Operand, str]:
        """``then`` where ``cond`` else ``otherwise``; both are evaluated."""
        condition = self.as_bool(cond)
        (a, ta) = then if isinstance(then, tuple) else self.value(then)
        (b, tb) = otherwise if isinstance(otherwise, tuple) else self.value(otherwise)
        dtype = "bool" if ta == tb == "bool" else _arithmetic_type(ta, tb)
        args = [condition, self.coerce(a, ta, dtype), self.coerce(b, tb, dtype)]
        return self.emit("select", args, dtype), dtype

    def piecewise(self, pieces) -> tuple[Operand, str]:
        """Nested selects, the first piece outermost; with no ``True`` piece the rest is NaN."""
        (expr, cond), rest = pieces[0], pieces[1:]
        if cond is sympy.true:
            return self.value(expr)
        if not rest:
            return self.select(cond, expr, sympy.nan)
        return self.select(cond, self.value(expr), self.piecewise(rest))

    # --- functions ----------------------------------------------------
    def function(self, expr) -> tuple[Operand, str]:
        kind = type(expr)
        if kind in _FUNCTION_OF:
            fn = _FUNCTION_OF[kind]
            operand, dtype = self.value(expr.args[0])
            if fn in _TYPE_PRESERVING and dtype != "float":
                if fn != "abs":
                    return operand, dtype  # floor/ceil of an integer
                operand = self.coerce(operand, dtype, "int")
                return self.emit("call", [operand], "int", fn), "int"
            return self.call(fn, (operand, dtype))
        if isinstance(expr, (sympy.Min, sympy.Max)):
            return self.fold("min" if isinstance(expr, sympy.Min) else "max", expr.args)
        if isinstance(expr, (sympy.Mod, ir.mod)):
            return self.arithmetic("mod", self.value(expr.args[0]), self.value(expr.args[1]))
        if isinstance(expr, ir.floor_div):
            return self.floor_division(*expr.args)
        if isinstance(expr, ir.phi1):
            return self.phi1(expr.args[0])
        if isinstance(expr, ir.keep_nonfinite):
            value, state = (self.as_float(arg) for arg in expr.args)
            return self.emit("keep", [value, state], "float"), "float"
        if isinstance(expr, (ir.RandUniform, ir.RandNormal)):
            fn = "rand_uniform" if isinstance(expr, ir.RandUniform) else "rand_normal"
            if not expr.args[0].is_Integer or expr.args[0] < 0:
                raise EqsnnError(f"the draw index of {expr} must be a non-negative integer")
            return self.emit("call", [Const(int(expr.args[0]), "int")], "float", fn), "float"
        if isinstance(expr, ir.ArrayGet):
            return self.array_get(*expr.args)
        raise EqsnnError(
            f"cannot lower {type(expr).__name__} in {expr}",
            hint="supported: + - * / **, exp expm1 log log1p sqrt abs sin cos tanh "
            "min max floor ceil mod, phi1, keep_nonfinite, comparisons, and/or/not, piecewise",
        )

    def floor_division(self, numerator, denominator) -> tuple[Operand, str]:
        """``a // b``: of two ints the int op ``floordiv`` (exact, where a float32 division
        is not above 2**24; 0 for a zero divisor, as NumPy; wrapping for ``-2**31 // -1``);
        else ``floor`` of the rounded quotient ``a / b`` (a division, never a product with
        ``1 / b``)."""
        top, bottom = self.value(numerator), self.value(denominator)
        if top[1] == bottom[1] == "int":
            return self.emit("floordiv", [top[0], bottom[0]], "int"), "int"
        return self.call("floor", self.arithmetic("div", top, bottom))

    def phi1(self, z) -> tuple[Operand, str]:
        """``phi1(z) = expm1(z)/z``, 1 at ``z == 0``: ``select(z == 0, 1, expm1(z) / z)``."""
        arg = self.as_float(z)
        quotient = self.arithmetic("div", self.call("expm1", (arg, "float")), (arg, "float"))
        is_zero = self.emit("eq", [arg, Const(0.0, "float")], "bool")
        return self.emit("select", [is_zero, Const(1.0, "float"), quotient[0]], "float"), "float"

    def array_get(self, array, index) -> tuple[Operand, str]:
        if not isinstance(array, sympy.Symbol) or array.name not in self.types:
            raise EqsnnError(f"cannot lower ArrayGet({array}, {index}): unknown array")
        position, dtype = self.value(index)
        position = self.coerce(position, dtype, "int")
        element = self.types[array.name]
        return self.emit("array_get", [Ref(array.name), position], element), element
