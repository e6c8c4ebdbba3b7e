"""An int state that passes the int32 range wraps around, the same on every backend (the
documented int semantics, docs/language.md "Expressions"); the numerical check does not
report it (it tests float states only), and this file pins both facts."""

from __future__ import annotations

import contextlib

import fake_cupy
import helpers
import numpy as np
import pytest
import test_backend_equivalence as equivalence

import eqsnn

COUNTER = """neuron Counter
    state count: int = 2147483645
    state scaled: int = 1
    state passed: bool = false
    state negated: int = 0
    state magnitude: int = 0
    state minus_one: int = -1
    state quotient: int = 0
    state big: int = 1500000000
    state remainder: int = 0
    after:
        count += 1
        scaled = scaled * 65536 + 1
        passed = count + 1 > count
        negated = -count
        magnitude = abs(count)
        quotient = count // minus_one
        remainder = big % 2000000000
"""

BACKENDS = helpers.EVERY_BACKEND


def _int32(value: int) -> int:
    return (value + 2**31) % 2**32 - 2**31


def _oracle(steps: int):
    """Plain Python integers reduced to int32 after every operation."""
    count, scaled, rows = 2147483645, 1, []
    for _ in range(steps):
        count = _int32(count + 1)
        scaled = _int32(_int32(scaled * 65536) + 1)
        rows.append((count, scaled, _int32(count + 1) > count, _int32(-count),
                     _int32(abs(count)), _int32(count // -1),
                     1500000000 % 2000000000))
    return rows


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_int_counter_wraps_silently_and_alike_on_every_backend(backend):
    context = (fake_cupy.installed() if backend == "cupy" and not equivalence.gpu_available()
               else contextlib.nullcontext())
    with context:
        sim = eqsnn.Simulator(eqsnn.compile(COUNTER), 2, backend=backend)
        result = sim.run(5, record=["count", "scaled", "passed", "negated", "magnitude",
                                    "quotient", "remainder"])
    vars_ = result.vars  # the run's numerical check (on) reported nothing
    got = [(int(vars_["count"][k, 0, 1]), int(vars_["scaled"][k, 0, 1]),
            bool(vars_["passed"][k, 0, 1]), int(vars_["negated"][k, 0, 1]),
            int(vars_["magnitude"][k, 0, 1]), int(vars_["quotient"][k, 0, 1]),
            int(vars_["remainder"][k, 0, 1])) for k in range(5)]
    assert got == _oracle(5)
    assert got[2][0] == -(2**31)  # 2**31 - 1 + 1
    assert got[2][3] == got[2][4] == -(2**31)  # -(-2**31) and abs(-2**31) wrap, as NumPy
    assert got[2][5] == -(2**31)  # -2**31 // -1 wraps (GeNN's code once trapped: SIGFPE)
    assert got[0][6] == 1500000000  # % of a divisor above 2**30 (GeNN's once overflowed)
    assert np.asarray(result.vars["count"]).dtype == np.int32


STEP_READER = """neuron StepReader
    state k: int = 0
    state x = 0.0
    after:
        k = step
        x = step + rand_uniform()
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_built_in_step_is_an_int_and_wraps_alike_past_2_31(backend):
    """`step` is an int in the model text (docs/language.md "Built-ins"), so past 2**31 - 1 it
    wraps as every int does; the NumPy reference once raised OverflowError there mid-run
    while C wrapped (and GeNN's code converted a double past INT_MAX to int). The random
    draws, keyed on the step mod 2**32, stay the same stream."""
    context = (fake_cupy.installed() if backend == "cupy" and not equivalence.gpu_available()
               else contextlib.nullcontext())
    model = eqsnn.compile(STEP_READER)
    with context:
        sim = eqsnn.Simulator(model, 3, backend=backend, precision="float64", seed=7)
        sim._step = 2**31 - 2  # a long run's count, without running it
        result = sim.run(4, record=["k", "x"])
    steps = [2**31 - 2 + k for k in range(4)]
    assert [int(v) for v in result.vars["k"][:, 0, 0]] == [_int32(s) for s in steps]
    assert result.spikes is None or len(result.spikes) == 0
    draws = np.asarray(result.vars["x"]) - np.asarray(result.vars["k"], dtype=np.float64)
    assert np.all((draws >= 0) & (draws < 1))
    if "pygenn" in str(backend):
        return  # GeNN draws from its own generator (docs/random.md)
    reference = eqsnn.Simulator(model, 3, backend="numpy", precision="float64", seed=7)
    reference._step = 2**31 - 2
    expected = reference.run(4, record=["x"]).vars["x"]
    np.testing.assert_array_equal(result.vars["x"], expected)
