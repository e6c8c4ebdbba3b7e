"""``clip(x, low, high)`` with ``low > high``: refused where it is written (constant
bounds) or where the params are given (bounds that read params only); bounds that read
states reach the backends, which all give ``high`` (``Min(Max(x, low), high)``)."""

from __future__ import annotations

import contextlib

import fake_cupy
import helpers
import numpy as np
import pytest
import test_backend_equivalence as equivalence

import eqsnn
from eqsnn.errors import CheckError, ParameterError

PARAM_BOUNDS = """neuron Clipped
    param lo = 0.0
    param hi = 1.0
    state v = 0.5
    input drive = 0.0
    after:
        v = clip(v + drive, lo, hi)
"""


@pytest.mark.parametrize("call, column", [("clip(v + 1.0, 5.0, 3.0)", 13),
                                          ("clip(v, 2, -2)", 13),
                                          ("0.5 * clip(v, 1 + 1, 0.5 * 2)", 19)])
def test_constant_bounds_in_the_wrong_order_are_a_check_error_at_the_call(call, column):
    with pytest.raises(CheckError) as info:
        eqsnn.compile(f"neuron A\n    state v = 0.0\n    after:\n        v = {call}\n")
    err = info.value
    assert (err.line, err.column) == (4, column)
    assert "low = " in str(err) and "above high" in str(err)
    assert "^" in str(err)  # the caret under the call
    assert "clip(x, low, high)" in err.hint


def test_constant_bounds_through_a_switch_and_a_let_are_checked_too():
    text = ("neuron A\n    switch top = 1.0\n    let low = 2.0 * top\n    state v = 0.0\n"
            "    after:\n        v = clip(v, low, top)\n")
    with pytest.raises(CheckError, match="low = 2.0"):
        eqsnn.compile(text)


def test_equal_and_ordered_constant_bounds_compile():
    eqsnn.compile("neuron A\n    state v = 0.0\n    after:\n        v = clip(v, -1, 1)\n")


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_param_bounds_in_the_wrong_order_are_refused_when_the_params_are_given(backend):
    model = eqsnn.compile(PARAM_BOUNDS)
    with pytest.raises(ParameterError) as info:
        eqsnn.Simulator(model, 3, backend=backend,
                        params={"lo": np.array([0.0, 2.0, 0.0]), "hi": 1.0})
    err = info.value
    assert err.line == 7 and err.column == 13
    message = str(err)
    assert "for neuron 1" in message and "2.0 > 1.0" in message
    assert "hi = 1.0" in message and "lo = 2.0" in message
    assert "swap the bounds" in err.hint


def test_param_bounds_that_are_ordered_run_and_clip():
    model = eqsnn.compile(PARAM_BOUNDS)
    sim = eqsnn.Simulator(model, 2, params={"lo": -1.0, "hi": np.array([1.0, 2.0])},
                          precision="float64")
    result = sim.run(3, inputs={"drive": 1.0}, record=["v"])
    np.testing.assert_array_equal(result.vars["v"][:, 0], [[1.0, 1.5], [1.0, 2.0],
                                                            [1.0, 2.0]])


def test_param_bounds_with_a_unit_and_dt():
    text = ("neuron A\n    param width = 1 ms\n    state v = 0 ms\n    after:\n"
            "        v = clip(v + dt, width, dt)\n")
    model = eqsnn.compile(text)
    eqsnn.Simulator(model, 1, dt=1.0)  # 1 ms <= 1 ms
    with pytest.raises(ParameterError, match="dt = 0.5"):
        eqsnn.Simulator(model, 1, dt=0.5)


STATE_BOUNDS = """neuron StateClip
    state lo = 3.0
    state hi = 1.0
    state v = 0.0
    input x = 0.0
    after:
        v = clip(x, lo, hi)
"""


BACKENDS = helpers.EVERY_BACKEND


@pytest.mark.parametrize("backend", BACKENDS)
def test_state_bounds_in_the_wrong_order_give_high_on_every_backend(backend):
    """Not knowable before the run: every backend computes Min(Max(x, low), high) with
    fmin/fmax, so the result is high (compared with a plain NumPy oracle; on the cupy
    backend the CPU emulation of CUDA where there is no GPU)."""
    x = np.array([[-5.0, 0.0, 2.0, 10.0]])
    context = (fake_cupy.installed() if backend == "cupy" and not equivalence.gpu_available()
               else contextlib.nullcontext())
    with context:
        sim = eqsnn.Simulator(eqsnn.compile(STATE_BOUNDS), 4, backend=backend,
                              precision="float64")
        result = sim.run(1, inputs={"x": x[None]}, record=["v"])
    oracle = np.minimum(np.maximum(x, 3.0), 1.0)
    np.testing.assert_array_equal(result.vars["v"][0], oracle)
    np.testing.assert_array_equal(result.vars["v"][0], 1.0)


def test_bounds_that_cancel_in_a_sum_still_name_their_params():
    """``clip(q, -k, k)`` with k = -3: the message names ``k`` (the names were taken from
    ``low + high``, which is 0 here, and the message read "with ;")."""
    model = eqsnn.compile("neuron Sym\n    param k: int = 3\n    state q: int = 5\n"
                          "    after:\n        q = clip(q, -k, k)\n")
    with pytest.raises(ParameterError) as info:
        eqsnn.Simulator(model, 3, params={"k": np.array([1, -3, 2])})
    message = str(info.value)
    assert "for neuron 1" in message and "with k = -3.0;" in message
    assert "with ;" not in message
