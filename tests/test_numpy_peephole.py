"""The NumPy printers' peephole (eqsnn/printing/numpy_peephole.py): fewer ops, same bits.

The oracle is the lowered expression as the lowering gives it, evaluated op by op by a
plain NumPy interpreter written here, on values chosen to break a wrong rewrite: signed
zeros, infinities, NaN, subnormals, huge and tiny magnitudes.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import eqsnn
from eqsnn.printing.lower import lower
from eqsnn.printing.numpy_compact import GATHER_FUNCTION
from eqsnn.printing.numpy_peephole import simplify
from eqsnn.printing.ops import Const, Lowered, Op, Ref, Temp

x, y, z = sympy.symbols("x y z")
TYPES = {"x": "float", "y": "float", "z": "float", "k": "int"}

_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
           "min": np.fmin, "max": np.fmax, "lt": np.less, "le": np.less_equal,
           "gt": np.greater, "ge": np.greater_equal, "eq": np.equal, "ne": np.not_equal,
           "and": np.logical_and, "or": np.logical_or}
_CALLS = {"exp": np.exp, "log": np.log, "abs": np.absolute, "sqrt": np.sqrt,
          "floor": np.floor, "tanh": np.tanh}


def evaluate(lowered, env, dtype):
    """The ops one by one, each a NumPy call on arrays of ``dtype``."""
    values = []

    def operand(arg):
        if isinstance(arg, Temp):
            return values[arg.index]
        if isinstance(arg, Ref):
            return env[arg.name]
        assert isinstance(arg, Const)
        return dtype(arg.value) if arg.dtype == "float" else arg.value

    with np.errstate(all="ignore"):
        for op in lowered.ops:
            args = [operand(arg) for arg in op.args]
            if op.op == "neg":
                values.append(np.negative(args[0]))
            elif op.op == "not":
                values.append(np.logical_not(args[0]))
            elif op.op == "select":
                values.append(np.where(*args))
            elif op.op == "cast":
                values.append(np.asarray(args[0]).astype(dtype if op.dtype == "float"
                                                         else np.int64))
            elif op.op == "call":
                values.append(_CALLS[op.fn](*args))
            else:
                values.append(_BINARY[op.op](*args))
    return np.asarray(operand(lowered.result))


def samples(dtype):
    """Every pair of some awkward values, as the arrays x, y, z."""
    info = np.finfo(dtype)
    special = np.array([0.0, -0.0, 1.0, -1.0, 0.1, -3.7, np.inf, -np.inf, np.nan,
                        info.tiny / 4, -info.tiny / 4, info.max, -info.max, info.eps,
                        1e-30, -7e20], dtype)
    grid = np.array(np.meshgrid(special, special, special[::-1])).reshape(3, -1)
    rng = np.random.default_rng(3)
    noise = (rng.standard_normal((3, 500)) * 10.0 ** rng.integers(-8, 8, (3, 500))).astype(dtype)
    values = np.concatenate([grid, noise], axis=1)
    return {"x": values[0], "y": values[1], "z": values[2]}


def same_bits(a, b):
    """Equal bit for bit, where a NaN may differ from a NaN in its sign only."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind != "f":
        return np.array_equal(a, b)
    nan = np.isnan(a)
    return np.array_equal(nan, np.isnan(b)) and np.array_equal(
        a[~nan].view(f"u{a.itemsize}"), b[~nan].view(f"u{a.itemsize}"))


CASES = [
    # (expression, ops fewer after simplify)
    (x - y, 0),  # nothing to do
    (x * z - y, 1),  # add(neg y, x*z) -> sub(x*z, y)
    (y * (-56 * x / 15 + 32 * z / 9), 1),  # add(neg(mul(c, x)), ...) -> sub
    (3 * x * z / 7 - 3 * y / 7, 1),
    (z * (-3 * x / 40 - 9 * y / 40 + z), 0),
    (-3 * x * y, 0),  # the negation of a product of symbols, the result: stays
    (-x, 0),
    (sympy.exp(x - y) + (x - y) ** 2, 1),  # x - y computed once
    (sympy.Max(abs(x), abs(x - y)) + sympy.Min(abs(x), abs(x - y)), 3),
    (sympy.Piecewise((x / (x - y), sympy.Eq(x - y, 0)), (y / (x - y), True)), 2),
]


def manual(*ops, result=None):
    """A Lowered of the given (op, args) pairs; the last is the result."""
    built = tuple(Op(Temp(k), name, args, "float", fn) for k, (name, args, fn) in
                  enumerate(ops))
    return Lowered(built, result or built[-1].dest, "float")


MANUAL = [  # op lists the lowering does not print today but a printer may meet
    (manual(("neg", (Ref("y"),), None), ("sub", (Ref("x"), Temp(0)), None)), 1),
    (manual(("neg", (Ref("y"),), None), ("mul", (Const(2.5, "float"), Temp(0)), None)), 1),
    (manual(("neg", (Ref("y"),), None), ("mul", (Temp(0), Const(-0.1, "float")), None)), 1),
    (manual(("mul", (Ref("x"), Const(3.0, "float")), None), ("neg", (Temp(0),), None)), 1),
    (manual(("neg", (Ref("y"),), None), ("add", (Temp(0), Temp(0)), None)), 0),  # read twice
    (manual(("neg", (Ref("y"),), None), ("neg", (Ref("z"),), None),
            ("add", (Temp(0), Temp(1)), None)), 1),
    (manual(("call", (Ref("x"),), "exp"), ("call", (Ref("x"),), "exp"),
            ("sub", (Temp(0), Temp(1)), None)), 1),
]


@pytest.mark.parametrize("lowered, saved", MANUAL, ids=[str(k) for k in range(len(MANUAL))])
@pytest.mark.parametrize("precision", [np.float64, np.float32])
def test_simplify_of_op_lists_keeps_every_bit(lowered, saved, precision):
    simplified = simplify(lowered)
    assert len(lowered.ops) - len(simplified.ops) == saved
    env = samples(precision)
    assert same_bits(evaluate(simplified, env, precision), evaluate(lowered, env, precision))


@pytest.mark.parametrize("expr, saved", CASES, ids=[str(case[0]) for case in CASES])
@pytest.mark.parametrize("precision", [np.float64, np.float32])
def test_simplify_saves_ops_and_keeps_every_bit(expr, saved, precision):
    lowered = lower(expr, TYPES, "float")
    simplified = simplify(lowered)
    assert len(lowered.ops) - len(simplified.ops) == saved
    assert all(op.dest == Temp(k) for k, op in enumerate(simplified.ops))
    env = samples(precision)
    assert same_bits(evaluate(simplified, env, precision), evaluate(lowered, env, precision))


def test_the_oracle_sees_a_wrong_rewrite():
    """The comparison catches rewrites that change bits: (x + y) - y is not x, and
    -(x * y) is not x * y."""
    env = samples(np.float64)
    plain = manual(("mul", (Ref("x"), Const(1.0, "float")), None))
    round_trip = manual(("add", (Ref("x"), Ref("y")), None), ("sub", (Temp(0), Ref("y")), None))
    negated = manual(("mul", (Ref("x"), Ref("y")), None), ("neg", (Temp(0),), None))
    product = manual(("mul", (Ref("x"), Ref("y")), None))
    assert not same_bits(evaluate(round_trip, env, np.float64), evaluate(plain, env, np.float64))
    assert not same_bits(evaluate(negated, env, np.float64), evaluate(product, env, np.float64))


def test_draws_are_never_merged():
    from eqsnn import ir
    expr = ir.RandNormal(0) + ir.RandNormal(0) * x
    lowered = lower(expr, TYPES, "float")
    draws = [op for op in simplify(lowered).ops if op.op == "call" and op.fn == "rand_normal"]
    assert len(draws) == 2


def test_scatter_is_put_on_contiguous_and_strided_targets():
    namespace = {"np": np}
    exec("\n".join(GATHER_FUNCTION), namespace)
    scatter = namespace["_scatter"]
    rng = np.random.default_rng(0)
    for make in (lambda: np.zeros((3, 50)), lambda: np.zeros((3, 80))[:, 10:60],
                 lambda: np.zeros((3, 50), bool)):
        target = make()
        at = np.sort(rng.choice(target.size, 40, replace=False))
        for value in (rng.uniform(-1, 1, 40).astype(target.dtype), target.dtype.type(1)):
            expected, got = make(), make()
            np.put(expected, at, value)
            scatter(got, at, value)
            assert same_bits(got, expected)


QUADRATIC = """
neuron Q
    param tau = 10.0
    state v = 0.5
    input I = 1.0
    dv/dt = (v * v + I) / tau
    threshold: v >= 5.0
    reset:
        v = -1.0
"""


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_the_compacted_loop_with_0_d_constants_gives_the_bits_of_numpy_scalars(precision):
    """The adaptive loop phase reads its constants and params as 0-d arrays of FLOAT;
    the same module with NumPy scalars there (as printed before) gives the same bits."""
    import warnings

    from eqsnn.backends.numpy import Program

    def simulator():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return eqsnn.Simulator(eqsnn.compile(QUADRATIC), 6, dt=1.0, backend="numpy",
                                   precision=precision)

    runs = []
    for scalars in (False, True):
        sim = simulator()
        if scalars:
            phases = sim._runner.program.phases
            text = sim.source.extra["phases"]["loop"][1]
            twins = [line for line in text.splitlines() if " = np.asarray(" in line]
            assert twins and all(" if type(" in line for line in twins)
            for line in twins:  # "_zN = np.asarray(X) if type(X) is FLOAT else X" -> "= X"
                name, value = line.strip().split(" = np.asarray(")[0], line.split()[-1]
                text = text.replace(line, line[:line.index(name)] + f"{name} = {value}")
            assert " = np.asarray(" not in text
            phases.programs["loop"] = Program(sim._runner.program.source, text)
        current = np.array([0.5, 1.0, 2.0, 4.0, 8.0, 30.0])
        result = sim.run(30, inputs={"I": current}, record={"v": None, "spikes": None})
        runs.append(result)
    assert len(runs[0].spikes.step) > 10
    assert runs[0].vars["v"].dtype == np.dtype(precision)
    assert same_bits(runs[0].vars["v"], runs[1].vars["v"])
    assert np.array_equal(runs[0].spikes.step, runs[1].spikes.step)
    assert np.array_equal(runs[0].spikes.neuron, runs[1].spikes.neuron)
