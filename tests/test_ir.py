"""The IR: validation, transformations, and the closed form as a second derivation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import sympy

import eqsnn
from eqsnn import ir
from eqsnn.errors import EqsnnError
from eqsnn.runtime import host


def lif():
    return eqsnn.load("examples/lif_pulse.eqs").ir


def test_compiled_models_validate():
    model = lif()
    assert model.validate() is model


def test_transformations_add_states_and_statements():
    model = lif()
    count = sympy.Symbol("count")
    changed = (model.with_state(ir.State("count", "int", sympy.Integer(0)))
               .with_reset(ir.Assign("count", count + 1)))
    changed.validate()
    assert [s.name for s in changed.states] == ["V", "count"]
    assert changed.reset[-1] == ir.Assign("count", count + 1)
    assert len(model.states) == 1  # frozen: the original is untouched
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.name = "other"


@pytest.mark.parametrize("bad,message", [
    (lambda m: m.with_step(ir.Assign("v_thresh", sympy.Integer(1))), "not a state or local"),
    (lambda m: m.with_step(ir.Assign("V", sympy.Symbol("nope"))), "undefined ['nope']"),
    (lambda m: m.with_state(ir.State("V")), "declared as state and state"),
    (lambda m: m.replace(precompute=m.precompute + (ir.Derived("_x", sympy.Symbol("V")),)),
     "not host values"),
    (lambda m: m.replace(readout=ir.Readout("var", "W")), "unknown state 'W'"),
])
def test_validate_rejects_inconsistent_ir(bad, message):
    with pytest.raises(EqsnnError) as info:
        bad(lif()).validate()
    assert message in info.value.message


def test_closed_form_agrees_with_the_numeric_propagator():
    # SymPy's symbolic e^{A dt} is an independent derivation of the same propagator
    model = eqsnn.load("examples/lif_alpha.eqs")
    ((label, matrix),) = model.closed_form()
    values = {"tau_mem": 20.0, "tau_syn": 5.0, "v_thresh": 1.0, "v_reset": 0.0}
    dt = 0.7
    pre = host.evaluate_precompute(model.ir, values, dt)
    numeric = matrix.subs({sympy.Symbol("tau_mem"): 20.0, sympy.Symbol("tau_syn"): 5.0,
                           sympy.Symbol("dt", positive=True): dt})
    names = ["V", "I", "x"]
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            expected = float(numeric[i, j])
            got = pre.get(f"_phi_{a}_{b}", 0.0)
            assert np.isclose(got, expected, rtol=1e-13, atol=1e-300), (a, b)


def test_closed_form_shows_the_singular_denominator():
    ((_, matrix),) = eqsnn.load("examples/lif_expsyn.eqs").closed_form()
    assert "tau_mem - tau_syn" in str(matrix[0, 1])
