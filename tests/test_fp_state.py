"""Loading compiled code must not change the process's floating-point state."""

from __future__ import annotations

import numpy as np
import pytest

import eqsnn
from eqsnn.backends import EmitOptions, get_backend


def subnormals_survive() -> bool:
    tiny = np.float32(1e-38)
    return bool(tiny / np.float32(1000) != 0) and bool(np.float64(1e-310) * 0.5 != 0)


@pytest.mark.c
def test_fast_math_library_leaves_subnormals_alone():
    assert subnormals_survive()
    c = get_backend("c")
    model = eqsnn.load("examples/lif_pulse.eqs").ir
    program = c.load(c.emit(model, EmitOptions("float32", fast_math=True)))
    assert program is not None
    # a -ffast-math shared library built by GCC < 13 sets flush-to-zero when it is loaded
    assert subnormals_survive()
