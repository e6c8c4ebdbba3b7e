"""The lowered IR's op table: every op and function in it runs on every backend.

A model whose step uses every entry of ``eqsnn.printing.ops.OPS`` and
``CALL_FUNCTIONS`` is emitted and run on each available backend and compared with
the NumPy backend; an op outside the table cannot be made.  A printer that
lacks an entry fails here, not for a user.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import sympy
from test_backend_equivalence import (
    EMULATED,
    EXACT,
    OTHERS,
    Case,
    close,
    first_spike_difference,
    run_backend,
)
from test_backend_equivalence import backend as backend  # noqa: F401 (the fixture)

from eqsnn import ir
from eqsnn.backends import EmitOptions, get_backend
from eqsnn.errors import InternalError
from eqsnn.printing.lower import lower
from eqsnn.printing.ops import CALL_FUNCTIONS, OPS, Const, Op, Temp

S = sympy.Symbol
V, I, n, A = S("V"), S("I"), S("n"), S("A")


def every_op_model(draws: bool = True) -> ir.Model:
    """One step that lowers to every op of the table and calls every function (the random
    draws only with ``draws``: GeNN draws from its own generator)."""
    floats = [
        V + I, V - I, V * I, V / (I + 2), sympy.Mod(V, 3), sympy.Min(V, I), sympy.Max(V, I),
        -V, sympy.exp(-sympy.Abs(V)), ir.expm1(-sympy.Abs(V)), sympy.log(1 + sympy.Abs(V)),
        ir.log1p(sympy.Abs(V)), sympy.sqrt(sympy.Abs(V)), sympy.sin(V), sympy.cos(V),
        sympy.tanh(V), sympy.floor(V), sympy.ceiling(V), sympy.Abs(V) ** sympy.Float(1.7),
        *([ir.RandUniform(0), ir.RandNormal(1)] if draws else []), ir.ArrayGet(A, n),
        sympy.Piecewise((V, I > 0), (I, True)), ir.keep_nonfinite(I, V),
    ]
    bools = [V < I, V <= I, V > I, V >= I, sympy.Eq(V, I), sympy.Ne(V, I),
             sympy.And(V > 0, I > 0), sympy.Or(V > 0, I > 0), sympy.Not(S("b0"))]
    step = [ir.Local(f"f{i}", "float", e) for i, e in enumerate(floats)]
    step += [ir.Local(f"b{i}", "bool", e) for i, e in enumerate(bools)]
    step += [ir.Local("three", "int", sympy.Integer(3)),
             ir.Local("q", "int", ir.floor_div(n, S("three")))]  # int floor division
    total = sympy.Add(*[S(f"f{i}") for i in range(len(floats))], evaluate=False)
    flags = sympy.Add(*[sympy.Piecewise((sympy.Float(0.01 * (i + 1)), S(f"b{i}")),
                                        (sympy.Float(0.0), True))
                        for i in range(len(bools))], evaluate=False)
    step += [
        ir.Assign("V", sympy.Float(0.5) * V + sympy.Float(0.01) * total + flags),
        ir.Assign("n", sympy.Mod(sympy.floor(sympy.Abs(V) * 3) + S("q"), 4)),
    ]
    return ir.Model(
        name="EveryOp" if draws else "EveryDeterministicOp",
        states=(ir.State("V", init=sympy.Float(0.3)), ir.State("n", "int")),
        inputs=(ir.Input("I", default=0.2),),
        arrays=(ir.Array("A"),),
        step=tuple(step),
        threshold=V > 1,
        reset=(ir.Assign("V", sympy.Float(0.0)),),
        method=ir.Method("none"),
    ).validate()


ARRAYS = {"A": np.array([0.5, -1.0, 2.0, 0.25])}
CASE = Case("every-op", every_op_model(), 0.5, arrays=ARRAYS)
DETERMINISTIC = Case("every-deterministic-op", every_op_model(draws=False), 0.5, arrays=ARRAYS)


def _lowered_kinds(model: ir.Model) -> tuple[set, set]:
    types = model.name_types()
    ops, fns = set(), set()
    for stmt in ir.walk_statements(model.step + model.reset):
        expr = stmt.cond if isinstance(stmt, ir.If) else stmt.expr
        dtype = types[stmt.target] if isinstance(stmt, ir.Assign) else getattr(stmt, "dtype", None)
        for op in lower(expr, types, dtype).ops:
            ops.add(op.op)
            if op.op == "call":
                fns.add(op.fn)
    return ops, fns


def test_the_model_uses_every_op_and_function_of_the_table():
    ops, fns = _lowered_kinds(CASE.model)
    assert ops == set(OPS)
    assert fns == set(CALL_FUNCTIONS)


@pytest.mark.parametrize("backend", EXACT + OTHERS, indirect=True)
def test_every_op_runs_on_every_backend_as_on_numpy(backend):
    # the exact backends draw numpy's random numbers; the others (GeNN) their own
    case = CASE if backend in ("c", "cupy", EMULATED) else DETERMINISTIC
    a, _ = run_backend("numpy", case, "float64", steps=20)
    b, _ = run_backend(backend, case, "float64", steps=20)
    for name in a.vars:
        ok = close(a.vars[name], b.vars[name], 1e-9)
        assert ok.all(), f"{name}: {a.vars[name][~ok][:3]} vs {b.vars[name][~ok][:3]}"
    assert first_spike_difference(a, b) is None
    assert a.vars["V"].std() > 0  # the model moves: a printer that dropped a term would show


def test_genn_code_calls_every_function():
    # the run above covers numpy, c and the CUDA kernels; GeNN's code needs PyGeNN to run,
    # so without it the emitted code strings are checked for every function of the table
    text = get_backend("pygenn").emit(CASE.model, EmitOptions("float32")).text
    called = set(re.findall(r"\b([a-z_0-9]+)\(", text))
    genn_names = {"abs": "fabs", "ceil": "ceil", "rand_uniform": "gennrand_uniform",
                  "rand_normal": "gennrand_normal"}
    assert {genn_names.get(fn, fn) for fn in CALL_FUNCTIONS} <= called
    assert {"fmod", "fmin", "fmax"} <= called  # mod, min, max


def test_an_op_outside_the_table_cannot_be_made():
    with pytest.raises(InternalError, match="not in the op table"):
        Op(Temp(0), "fma", (Const(1.0, "float"),) * 3, "float")
    with pytest.raises(InternalError, match="not in CALL_FUNCTIONS"):
        Op(Temp(0), "call", (Const(1.0, "float"),), "float", "erf")
    with pytest.raises(InternalError, match="takes 2 operands"):
        Op(Temp(0), "add", (Const(1.0, "float"),), "float")
