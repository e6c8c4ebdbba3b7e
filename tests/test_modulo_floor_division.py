"""``%`` and ``//`` as the language defines them (docs/language.md, "Expressions"), on
every backend, against Python's own float and int arithmetic written here.

Each case was a silently wrong result on every backend alike (so the differential fuzzer
could not see it), found while widening the fuzzer to these operators:

* ``I // b`` of floats was ``floor(I * (1/b))``: SymPy writes ``I / b`` as ``I * b**-1``,
  and hoisting (or constant folding) made the reciprocal a rounded number, so
  ``49.0 // 49.0`` was 0;
* ``(I - 1.3) % 0.5`` was ``(I + 0.2) % 0.5``: SymPy's ``Mod`` reduced the constant term
  modulo the divisor in its own arithmetic, which rounds another way, and gave 0.5 (the
  divisor itself) for ``I = 0.3`` where Python gives 0.0;
* the constant ``1.0 % 0.1`` folded to 0.0 (SymPy), not 0.09999999999999995;
* a literal zero divisor of ``%`` or of a float ``//`` failed with an ``InternalError``
  (a ``ZeroDivisionError`` inside SymPy).
"""

from __future__ import annotations

import contextlib
import math
import re

import fake_cupy
import fuzz_expressions
import numpy as np
import pytest
from helpers import EVERY_BACKEND
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eqsnn
from eqsnn.errors import CheckError, NumericalError, ParameterError

BACKENDS = EVERY_BACKEND  # numpy, c, the CUDA emulation, pygenn


def _model(statement: str, params: str = "") -> str:
    return (f"neuron Ops\n{params}    state y = 0.0\n    state m: int = 1000000000\n"
            f"    input I = 0.0\n    after:\n        {statement}\n")


def _run(statement, inputs, backend, params="", values=None, record="y"):
    model = eqsnn.compile(_model(statement, params))
    context = fake_cupy.installed() if backend == "cupy" else contextlib.nullcontext()
    with context:
        sim = eqsnn.Simulator(model, len(inputs), dt=1.0, backend=backend,
                              precision="float64", params=values or {})
        result = sim.run(1, inputs={"I": np.asarray(inputs, np.float64)}, record=[record],
                         progress=False)
    return result.vars[record][0, 0]


#: dividends at and next to exact multiples of 49, and of both signs
DIVIDENDS = [49.0, 98.0, 147.0, -49.0, -98.0, 0.1, -0.1, 48.999999999999993, 5e-324, -0.0]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("divisor", ["b", "49.0", "49"])
def test_float_floor_division_divides_instead_of_multiplying_by_a_rounded_reciprocal(
        backend, divisor):
    got = _run(f"y = I // {divisor}", DIVIDENDS, backend, "    param b = 49.0\n")
    want = [math.floor(a / 49.0) for a in DIVIDENDS]  # the rounded quotient, floored
    np.testing.assert_array_equal(got, want)
    assert got[0] == 1.0 and got[3] == -1.0  # 49.0 * (1 / 49.0) is 0.9999999999999999


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("expression", ["(I - 1.3) % 0.5", "(I + 1.3) % 0.5",
                                        "(I + 1.7) % 0.1", "(I - 1.7) % -0.1",
                                        "(2.5 - I) % 0.7"])
def test_a_constant_term_inside_a_float_modulo_is_added_as_written(backend, expression):
    inputs = [0.3, -0.3, 0.2, 49.0, -0.0, 1e-17, 1.7, 1e16]
    got = _run(f"y = {expression}", inputs, backend)
    want = [eval(expression, {"I": value}) for value in inputs]  # Python's float %
    np.testing.assert_array_equal(got, want)
    divisor = float(expression.rsplit("%", 1)[1])
    # the floored remainder lies in [0, b) (or (b, 0]); the old rewrite gave 0.5 at I = 0.3
    assert np.all(np.abs(got) < abs(divisor)) and np.all(got * divisor >= 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_constant_float_modulo_folds_to_the_float_remainder(backend):
    got = _run("y = 1.0 % 0.1 + (-7.5) % 2.0 + 7.5 % -2.0 + 0.0 * I", [0.0], backend)
    assert got[0] == (1.0 % 0.1) + (-7.5 % 2.0) + (7.5 % -2.0)
    assert _run("y = 1.0 % 0.1 + 0.0 * I", [0.0], backend)[0] == 0.09999999999999995


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_int_modulo_keeps_its_constant_term_inside_the_int_range(backend):
    """``(m - 647483647) % 2000000000`` with m = 10^9 is 352516353 (SymPy's Mod rewrote it
    as ``(m + 1352516353) % 2000000000``, whose sum wraps past 2**31: 57549057)."""
    got = _run("m = (m - 647483647) % 2000000000 + 0 * step", [0.0], backend, record="m")
    assert got[0] == (10**9 - 647483647) % 2000000000 == 352516353


@pytest.mark.parametrize("statement", ["y = I % 0.0", "y = I // -0.0", "m = m % 0",
                                       "m = m // 0", "y = I % (1.0 - 1.0)"])
def test_a_constant_zero_divisor_of_modulo_and_floor_division_is_a_check_error(statement):
    with pytest.raises(CheckError, match="division by zero") as caught:
        eqsnn.compile(_model(statement))
    assert "divide by a non-zero value" in str(caught.value)
    assert "^" in str(caught.value)  # points at the divisor in the text


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_written_floor_of_an_int_quotient_is_the_floor_of_a_true_division(backend):
    """``floor(m / k)`` of ints: ``/`` is true division (docs/language.md), so 5 / 0 is inf
    and -2**31 / -1 is 2**31; it was lowered as the int ``//`` (0, and a wrap to -2**31).
    ``m // k`` keeps the int rule: 0 for a zero divisor, -2**31 // -1 wraps."""
    text = ("neuron IntQuotient\n    param k: int = 1\n    state m: int = 0\n"
            "    state y = 0.0\n    state w: int = 0\n"
            "    after:\n        y = floor(m / k)\n        w = m // k\n")
    context = fake_cupy.installed() if backend == "cupy" else contextlib.nullcontext()
    with context:
        sim = eqsnn.Simulator(eqsnn.compile(text), 4, backend=backend, precision="float64",
                              params={"k": np.array([0, -1, 2, -3])},
                              init={"m": np.array([[5, -2147483648, 7, 7]])})
        with pytest.raises(NumericalError, match="y became NaN or infinite") as caught:
            sim.run(1, record=["y", "w"], progress=False)
    result = caught.value.result
    want = [math.inf, 2147483648.0, math.floor(7 / 2), math.floor(7 / -3)]
    np.testing.assert_array_equal(result.vars["y"][0, 0], want)
    np.testing.assert_array_equal(result.vars["w"][0, 0], [0, -2147483648, 3, -3])


# --- the fuzzer's float statements against NumPy ------------------------------------------
#: statements whose value the oracle below computes as eqsnn does: not ``/`` or ``**``
#: (a product with the reciprocal, repeated multiplications: documented last-bit
#: conventions) and not the int names
_NOT_ORACLE = re.compile(r" / |\*\*|\bq\b|\bkd\b|\bstep\b")


class _Floats(np.ndarray):
    """float64 values whose ``//`` is the language's: ``floor`` of the rounded quotient
    (NumPy's ``floor_divide`` is Python's divmod, ``1.0 // 0.1 == 9.0``)."""

    def __floordiv__(self, other):
        return _floats(np.floor(np.true_divide(np.asarray(self), np.asarray(other))))

    def __rfloordiv__(self, other):
        return _floats(np.floor(np.true_divide(np.asarray(other), np.asarray(self))))


def _floats(value) -> _Floats:
    return np.asarray(value, np.float64).view(_Floats)


_ORACLE_FUNCTIONS = {
    "floor": np.floor, "ceil": np.ceil, "abs": np.abs, "min": np.fmin, "max": np.fmax,
    "clip": lambda x, low, high: np.fmin(np.fmax(x, low), high), "sqrt": np.sqrt,
    "log": np.log, "log1p": np.log1p, "expm1": np.expm1,
    "exprel": lambda x: np.where(x == 0, 1.0, np.expm1(x) / np.where(x == 0, 1.0, x)),
}


@st.composite
def _float_statements(draw):
    picked = [fuzz_expressions._float_statement(draw, False, [])[len("y = "):]
              for _ in range(3)]
    return [text for text in picked if not _NOT_ORACLE.search(text)]


@settings(max_examples=12, suppress_health_check=list(HealthCheck))
@given(_float_statements(), st.integers(0, 2**32 - 1))
def test_the_fuzzers_float_operators_give_what_numpy_computes_for_the_text(statements, seed):
    """The operators of ``fuzz_expressions`` (``%``, ``//``, ``floor``, ``clip``, ``-0.0``,
    ``sqrt`` of negatives, ...) in ``after:``, with edge values of the dividend, the divisor
    and the state, against the text evaluated by NumPy in float64.  The differential
    fuzzers compare backends with each other, which cannot see a rewrite in the compiler
    that every backend shares (SymPy's ``Mod``, the reciprocal of ``//``)."""
    if not statements:
        return
    n = 48
    rng = np.random.default_rng(seed)
    divisors = rng.choice(fuzz_expressions.DIVISORS, n) * rng.choice([1.0, 1e-300, 1e300], n)
    edges = np.array(fuzz_expressions.J_EDGES["float64"])
    inputs, start = rng.choice(edges, n), rng.choice(edges, n)
    text = ("neuron Oracle\n    param dm = 0.7\n    state y = 0.0\n    input J = 0.0\n"
            "    after:\n" + "".join(f"        y = {line}\n" for line in statements))
    try:  # a param-only term that is not finite (sqrt(dm)) is refused: nothing to compare
        sim = eqsnn.Simulator(eqsnn.compile(text), n, precision="float64",
                              params={"dm": divisors}, init={"y": start})
    except ParameterError as error:
        assert "is not finite" in str(error)
        return
    try:
        got = sim.run(1, inputs={"J": inputs}, record=["y"], progress=False).vars["y"][0, 0]
    except NumericalError as error:  # a NaN or inf: the result is kept
        got = error.result.vars["y"][0, 0]
    y = _floats(start)
    names = dict(_ORACLE_FUNCTIONS, J=_floats(inputs), dm=_floats(divisors), t=_floats(0.0))
    with np.errstate(all="ignore"):
        for line in statements:
            y = _floats(np.broadcast_to(eval(line, {**names, "y": y}), (n,)))
    want = np.asarray(y)
    same = (want == got) | (np.isnan(want) & np.isnan(got))
    assert same.all(), [(line, inputs[i], divisors[i], start[i], got[i], want[i])
                        for i in np.flatnonzero(~same)[:1] for line in [statements]]
