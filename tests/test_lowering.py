"""The shared lowering: evaluation order, types, and values against SymPy."""

import numpy as np
import pytest
import sympy

from eqsnn import ir
from eqsnn.errors import EqsnnError
from eqsnn.printing.lower import lower
from eqsnn.printing.ops import Const, Ref, Temp

x, y, z, a, b, c = sympy.symbols("x y z a b c")
k, m = sympy.symbols("k m")
FLOATS = {name: "float" for name in "xyzabc"}
TYPES = {**FLOATS, "k": "int", "m": "int", "flag": "bool", "data": "float"}


def ops(expr, dtype=None):
    return [str(op) for op in lower(expr, TYPES, dtype).ops]


# --- evaluation order --------------------------------------------------------
@pytest.mark.parametrize("expr, expected", [
    (a * x + y, ["t0 = mul(a, x)", "t1 = add(y, t0)"]),
    (x * y / c, ["t0 = mul(x, y)", "t1 = div(t0, c)"]),
    (a * b / (c * x**2), ["t0 = mul(a, b)", "t1 = mul(x, x)", "t2 = mul(c, t1)",
                          "t3 = div(t0, t2)"]),
    (x**2, ["t0 = mul(x, x)"]),
    (x**3, ["t0 = mul(x, x)", "t1 = mul(t0, x)"]),
    (1 / x, ["t0 = div(1.0, x)"]),
    (x**-2, ["t0 = mul(x, x)", "t1 = div(1.0, t0)"]),
    (sympy.sqrt(x), ["t0 = sqrt(x)"]),
    (x**sympy.Float(0.5), ["t0 = sqrt(x)"]),
    (1 / sympy.sqrt(x), ["t0 = sqrt(x)", "t1 = div(1.0, t0)"]),
    (x**2.5, ["t0 = pow(x, 2.5)"]),
    (x**y, ["t0 = pow(x, y)"]),
    (x - y, ["t0 = sub(x, y)"]),
    (-2 * x / b, ["t0 = mul(2.0, x)", "t1 = div(t0, b)", "t2 = neg(t1)"]),
    (x - 2 * y, ["t0 = mul(2.0, y)", "t1 = sub(x, t0)"]),
    (sympy.Min(x, y, z), ["t0 = min(x, y)", "t1 = min(t0, z)"]),
])
def test_evaluation_order_follows_the_documented_convention(expr, expected):
    assert ops(expr) == expected


def test_add_folds_left_in_sympy_argument_order():
    expr = x + y + z + a
    lowered = lower(expr, TYPES)
    names = [str(arg) for arg in expr.args]
    assert [str(op.args[1]) for op in lowered.ops] == names[1:]
    assert str(lowered.ops[0].args[0]) == names[0]


def test_rational_constants_are_float64_values():
    lowered = lower(x / 3, TYPES)
    assert lowered.ops[0].args[0] == Const(1 / 3, "float")


def test_result_and_type():
    lowered = lower(x, TYPES)
    assert lowered.ops == () and lowered.result == Ref("x") and lowered.dtype == "float"
    assert lower(sympy.Integer(3), TYPES).result == Const(3, "int")
    assert lower(x + 1, TYPES).result == Temp(0)


# --- types -------------------------------------------------------------------
def test_integers_are_converted_before_mixing_with_floats():
    assert ops(k * x) == ["t0 = cast_float(k)", "t1 = mul(t0, x)"]
    assert ops(k + m) == ["t0 = add(k, m)"]
    assert lower(k + m, TYPES).dtype == "int"


def test_division_is_true_division():
    assert ops(k / m) == ["t0 = cast_float(k)", "t1 = cast_float(m)", "t2 = div(t0, t1)"]


def test_assignment_converts_to_the_target_type():
    assert ops(x + 1, "int") == ["t0 = add(1.0, x)", "t1 = cast_int(t0)"]
    assert lower(sympy.Integer(2), TYPES, "float").result == Const(2.0, "float")


def test_array_index_is_converted_to_int():
    expr = ir.ArrayGet(sympy.Symbol("data"), x)
    assert ops(expr) == ["t0 = cast_int(x)", "t1 = array_get(data, t0)"]


def test_conditions():
    flag = sympy.Symbol("flag")
    assert ops(sympy.And(x > 1, k < 3)) == ["t0 = gt(x, 1.0)", "t1 = lt(k, 3)", "t2 = and(t0, t1)"]
    assert ops(sympy.Not(flag)) == ["t0 = not(flag)"]
    assert ops(sympy.Or(flag, sympy.Eq(k, 2))) == ["t0 = eq(k, 2)", "t1 = or(flag, t0)"]


def test_random_draws_keep_their_index():
    assert ops(ir.RandNormal(2) * x) == ["t0 = rand_normal(2)", "t1 = mul(x, t0)"]
    assert ops(ir.RandUniform(0)) == ["t0 = rand_uniform(0)"]


def test_unknown_names_and_functions_raise_eqsnn_errors():
    with pytest.raises(EqsnnError, match="unknown name 'q'"):
        lower(sympy.Symbol("q") + 1, TYPES)
    with pytest.raises(EqsnnError, match="cannot lower"):
        lower(sympy.gamma(x), TYPES)


# --- values: a direct interpreter of the ops against SymPy ----------------------
_BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "mod": np.remainder, "min": np.fmin, "max": np.fmax, "lt": np.less, "le": np.less_equal,
    "gt": np.greater, "ge": np.greater_equal, "eq": np.equal, "ne": np.not_equal,
    "and": np.logical_and, "or": np.logical_or,
}
_UNARY = {"neg": np.negative, "not": np.logical_not, "exp": np.exp, "expm1": np.expm1,
          "log": np.log, "log1p": np.log1p, "sqrt": np.sqrt, "abs": np.abs, "sin": np.sin,
          "cos": np.cos, "tanh": np.tanh, "floor": np.floor, "ceil": np.ceil}
_TYPES = {"float": np.float64, "int": np.int64, "bool": np.bool_}


def _run_ops(lowered, env):
    values = {}

    def get(arg):
        if isinstance(arg, Const):
            return _TYPES[arg.dtype](arg.value)
        return values[arg.index] if isinstance(arg, Temp) else env[arg.name]

    for op in lowered.ops:
        args = [get(arg) for arg in op.args]
        kind = op.fn if op.op == "call" else op.op
        if kind == "cast":
            result = np.asarray(args[0]).astype(_TYPES[op.dtype])
        elif kind == "select":
            result = np.where(*args)
        elif kind == "pow":
            result = np.power(*args)
        else:
            result = (_BINARY.get(kind) or _UNARY[kind])(*args)
        values[op.dest.index] = result
    return get(lowered.result)


def run_ops(lowered, env):
    with np.errstate(all="ignore"):  # every branch is evaluated
        return _run_ops(lowered, env)


@pytest.mark.parametrize("expr", [
    a * x + y - z / 3,
    x**2 * y**-3 / (1 + z**2),
    sympy.exp(-x / a) * ir.expm1(y) + ir.log1p(z**2),
    sympy.Piecewise((x, x > y), (y, z > 0), (z, True)),
    sympy.Max(sympy.Min(x, 0.5), -0.5) + sympy.Abs(y) + sympy.floor(z) + sympy.ceiling(x),
    sympy.Mod(x, 0.7) + sympy.tanh(y) * sympy.sin(z) - sympy.cos(x),
    sympy.sqrt(x**2 + y**2) + 1 / sympy.sqrt(1 + z**2),
])
def test_lowered_ops_compute_the_expression(expr):
    rng = np.random.default_rng(0)
    env = {name: rng.uniform(-2, 2, 50) for name in "xyzabc"}
    env["a"] = np.abs(env["a"]) + 0.5
    expected = sympy.lambdify(sympy.symbols("x y z a b c"), expr, "numpy")(
        *(env[name] for name in "xyzabc"))
    np.testing.assert_allclose(run_ops(lower(expr, TYPES), env), expected, rtol=1e-13)


def test_phi1_is_stable_and_one_at_zero():
    z_values = np.array([0.0, 1e-300, -1e-12, 1e-6, 0.5, -3.0])
    got = run_ops(lower(ir.phi1(x), TYPES), {"x": z_values})
    with np.errstate(all="ignore"):
        expected = np.where(z_values == 0, 1.0, np.expm1(z_values) / z_values)
    np.testing.assert_array_equal(got, expected)
    assert got[0] == 1.0 and got[1] == 1.0 and abs(got[2] - 1) < 1e-12


def test_float32_order_is_numerator_over_denominator():
    """``a*b/c`` in float32 is ``(a*b)/c``: it differs from ``a*b*(1/c)`` for some inputs."""
    rng = np.random.default_rng(1)
    env = {name: rng.uniform(0.1, 10, 2000).astype(np.float32) for name in "abc"}
    lowered = lower(a * b / c, TYPES)
    ours = run_ops(lowered, env)
    np.testing.assert_array_equal(ours, (env["a"] * env["b"]) / env["c"])
    reciprocal = env["a"] * env["b"] * (np.float32(1) / env["c"])
    assert np.any(ours != reciprocal)
