"""Golden tests: the emitted NumPy source of three examples is pinned.

A change to code generation shows up here as a readable diff.  After
reviewing it, regenerate with ``EQSNN_UPDATE_GOLDEN=1 python -m pytest
tests/test_golden_numpy.py``.
"""

from __future__ import annotations

import os
import warnings

import pytest

import eqsnn
from eqsnn.backends import EmitOptions, emit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden", "numpy")


@pytest.mark.parametrize("name", ["lif_pulse", "lif_expsyn", "coba_lif"])
def test_emitted_numpy_source_is_unchanged(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = eqsnn.load(os.path.join(ROOT, "examples", f"{name}.eqs"))
    text = emit(model.ir, "numpy", EmitOptions(precision="float32")).text
    path = os.path.join(GOLDEN, f"{name}.py.txt")
    if os.environ.get("EQSNN_UPDATE_GOLDEN"):
        with open(path, "w") as handle:
            handle.write(text)
    with open(path) as handle:
        assert text == handle.read()
