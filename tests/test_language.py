"""Every element of the language, from text to IR."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from ir_interp import Interpreter

import eqsnn
from eqsnn import ir
from eqsnn.errors import CheckError
from eqsnn.frontend.parse import parse

FULL = '''
# a comment before the model
neuron Everything
    """First line of the docstring.

    More text.
    """
    param v_thresh = 1.0
    param tau = 20.0 (> 0, <= 1000)   # trailing comment
    param k: int = 3 (>= 0)
    param flag: bool = true
    switch relative = true
    switch gain = 2.5
    state V = v_thresh / 2
    state count: int = 0
    state fired: bool = false
    input Isyn = 0.0
    input drive
    array table: float
    let leak = -V / tau

    if relative:
        state R = 0.0
        refractory: R > 0
    else:
        param never = 1.0

    dV/dt = leak + drive unless refractory
    before:
        let x = table[count % 4]
        if relative and x > 100: V = 0.0
    after:
        V += Isyn * gain
        if relative and refractory:
            R -= dt
        elif V < -1:
            V = -1.0
        else:
            pass
    threshold: V >= v_thresh and not fired
    negative threshold: V <= -v_thresh
    reset:
        V -= v_thresh
        count += 1
        if relative: R = 2.0
    negative reset: V += v_thresh
    method: exact
'''


def test_parse_keeps_positions_and_docstring():
    model = parse(FULL, "everything.eqs")
    assert model.name == "Everything"
    assert model.doc == "First line of the docstring.\n\nMore text."
    assert model.pos.line == 3
    kinds = [type(d).__name__ for d in model.declarations]
    assert kinds[:4] == ["ParamDecl", "ParamDecl", "ParamDecl", "ParamDecl"]
    tau = model.declarations[1]
    assert (tau.pos.line, tau.pos.column) == (9, 11)
    assert [(c.op, c.bound) for c in tau.constraints] == [(">", 0.0), ("<=", 1000.0)]


def test_every_declaration_reaches_the_ir():
    m = eqsnn.compile(FULL).ir
    assert [p.name for p in m.params] == ["v_thresh", "tau", "k", "flag"]
    assert m.param("k").dtype == "int" and m.param("k").default == 3
    assert m.param("flag").default is True
    assert [(s.name, s.dtype) for s in m.states] == [
        ("V", "float"), ("count", "int"), ("fired", "bool"), ("R", "float")]
    assert m.state("V").init == sympy.Symbol("v_thresh") / 2
    assert [(i.name, i.default) for i in m.inputs] == [("Isyn", 0.0), ("drive", None)]
    assert [a.name for a in m.arrays] == ["table"]
    assert m.method.name == "exact"
    assert m.negative_threshold is not None and m.negative_reset
    assert m.step[0] == ir.Local("refractory", "bool", sympy.Symbol("R") > 0)


def test_switches_select_declarations_and_statements():
    other = eqsnn.compile(FULL, switches={"relative": False}).ir
    assert "never" in [p.name for p in other.params]
    assert "R" not in [s.name for s in other.states]
    # 'relative and x > 100' became 'false and ...' and disappeared at compile time
    before = [s for s in other.step if isinstance(s, ir.If) and "table" in str(s.cond)]
    assert before == []


def test_numeric_switch_is_a_constant():
    m = eqsnn.compile(FULL).ir
    text = str(eqsnn.compile(FULL))
    assert "2.5*Isyn" in text.replace(" ", "") or "Isyn*2.5" in text.replace(" ", "")
    assert "gain" not in {str(s) for e in m.expressions() for s in e.free_symbols}


def test_semantics_of_statements_with_the_interpreter():
    text = """
neuron Counter
    param step_size = 0.4
    state V = 0.0
    state n: int = 0
    input I = 1.0
    after:
        let inc = I * step_size
        V += inc
        if V > 1:
            n += 1
        elif V > 0.5:
            n += 10
        else:
            n += 100
    threshold: V >= 1.1
    reset: V = 0.0
"""
    sim = Interpreter(eqsnn.compile(text).ir)
    spikes = [bool(sim.step()[0]) for _ in range(3)]
    # V: 0.4 (n+100), 0.8 (n+10), 1.2 (n+1, spike, reset)
    assert spikes == [False, False, True]
    assert sim.state["n"][0] == 111 and sim.state["V"][0] == 0.0


def test_unless_freezes_the_equation():
    text = """
neuron Frozen
    state V = 1.0
    state hold = 1.0
    dV/dt = -V unless hold > 0
    after: hold -= 1
"""
    sim = Interpreter(eqsnn.compile(text).ir, dt=0.5)
    sim.step()
    assert sim.state["V"][0] == 1.0  # frozen in the first step
    sim.step()
    assert sim.state["V"][0] == pytest.approx(np.exp(-0.5), rel=1e-15)


def test_builtins_and_arrays():
    text = """
neuron Builtins
    array table
    state a = 0.0
    state b = 0.0
    after:
        a = t + dt * 10 + id * 100
        b = table[step + 7]
"""
    m = eqsnn.compile(text).ir
    assert isinstance(m.step[1].expr, ir.ArrayGet)
    table = np.arange(10.0) * 1.5
    sim = Interpreter(m, n=2, dt=0.5, arrays={"table": table})
    for _ in range(4):
        sim.step()
    # step 3: t = 1.5; the index 3 + 7 = 10 is clamped to the last element
    np.testing.assert_array_equal(sim.state["a"], [1.5 + 5.0, 1.5 + 5.0 + 100.0])
    np.testing.assert_array_equal(sim.state["b"], [table[9], table[9]])


def test_random_draws_get_distinct_indices():
    text = """
neuron Random
    state a = 0.0
    after:
        a = rand_uniform() + rand_uniform() + rand_normal()
"""
    m = eqsnn.compile(text).ir
    draws = sorted(m.step[0].expr.atoms(ir.RandUniform, ir.RandNormal), key=str)
    assert len(draws) == 3 and m.random_draws() == 3


def test_noise_draws_follow_the_statement_draws():
    text = """
neuron Noisy
    state V = 0.0
    before:
        V += rand_uniform()
    dV/dt = -V + 0.1 * xi
"""
    m = eqsnn.compile(text).ir
    assert m.random_draws() == 2


def test_model_views_show_the_derivation():
    model = eqsnn.load("examples/lif_expsyn.eqs")
    text = str(model)
    assert "dV/dt = (I - V)/tau_mem" in text
    assert "expm([[A, I], [0, 0]] * dt)" in text
    assert model._repr_latex_().startswith("$$\\begin{aligned}")
    assert "**LifExpSyn**" in model._repr_markdown_()
    assert repr(model) == "<eqsnn.Model LifExpSyn: 2 states, method exact>"


def test_with_switches_recompiles():
    model = eqsnn.compile(FULL)
    other = model.with_switches(relative=False)
    assert "never" in other.params and "never" not in model.params


def test_importing_eqsnn_prints_nothing(capfd):
    import importlib

    importlib.reload(eqsnn)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


REFRACTORY_UNDECLARED = """
neuron R
    switch with_refractoriness = true
    state V = 0.0
    input I = 0.1
    dV/dt = -V / 10.0 unless refractory
    after: V += I
    threshold: V >= 1.0
    reset: V = 0.0
"""


def test_reading_refractory_that_no_branch_declares_is_an_error():
    """A Brian2 habit: 'unless refractory' without saying when; it would always be false."""
    with pytest.raises(CheckError, match="no 'refractory:' line declares") as info:
        eqsnn.compile(REFRACTORY_UNDECLARED)
    assert (info.value.line, info.value.column) == (6, 30)
    assert "RefracTime > 0" in info.value.hint
    # declared in a branch that a switch turns off: false there, and no error
    switched = REFRACTORY_UNDECLARED.replace(
        "    state V = 0.0\n",
        "    state V = 0.0\n    if with_refractoriness:\n        refractory: V < 0\n")
    for on in (False, True):
        assert eqsnn.compile(switched, switches={"with_refractoriness": on}).method == "exact"
