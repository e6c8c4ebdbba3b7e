"""The typeset view (eqsnn.latex) is read off the IR and says what the backends run."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import sympy
from scipy.linalg import expm

import eqsnn
from eqsnn import ir
from eqsnn.latex import closed_form, latex_expr, latex_name, math_sections, propagator_states

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return eqsnn.load(os.path.join(ROOT, "examples", f"{name}.eqs"))


@pytest.mark.parametrize("name,states,latex", [
    ("tau_mem", (), r"\tau_{\mathrm{mem}}"),
    ("V", (), "V"),
    ("Isyn", (), r"\mathit{Isyn}"),
    ("RefracTime", (), r"\mathit{RefracTime}"),
    ("V_soma", (), r"V_{\mathrm{soma}}"),
    ("dt", (), r"\Delta t"),
    ("_c12", (), "c_{12}"),
    ("_phi_V", ("V",), r"\Phi_{V}"),
    ("_phi_V_soma_V_dend", ("V_soma", "V_dend"), r"\Phi_{V_{\mathrm{soma}},V_{\mathrm{dend}}}"),
    ("_gamma_V_I", ("V", "I"), r"\Gamma_{V,I}"),
    ("_g_exc_new", ("g_exc",), r"{g_{\mathrm{exc}}}^{\mathrm{new}}"),
    ("_k3_w", ("w",), "k_{3,w}"),
    ("_z_V", ("V",), "z_{V}"),
    ("_odd_local", ("V",), r"\mathtt{odd\_local}"),
])
def test_names_read_as_in_a_paper(name, states, latex):
    assert latex_name(name, states) == latex


def test_functions_of_the_ir_have_their_own_notation():
    z = sympy.Symbol("z")
    assert latex_expr(ir.phi1(z)) == r"\varphi_1\left(z\right)"
    assert latex_expr(ir.RandNormal(0)) == r"\xi_{0}"
    assert latex_expr(ir.RandUniform(1)) == r"u_{1}"
    assert latex_expr(ir.ArrayGet(sympy.Symbol("SpikeTimes"), sympy.Symbol("i"))) == \
        r"\mathit{SpikeTimes}\left[i\right]"


def test_closed_form_of_a_triangular_propagator_is_the_matrix_exponential():
    # independent oracle: scipy's expm of A dt at numbers
    model = load("lif_alpha")
    (item,) = [p for p in model.ir.precompute if isinstance(p, ir.Propagator)]
    assert propagator_states(item, [s.name for s in model.ir.states]) == ("V", "I", "x")
    values = {sympy.Symbol("tau_mem"): 20.0, sympy.Symbol("tau_syn"): 5.0}
    form = closed_form(item).subs({**values, sympy.Symbol("dt"): 0.7})
    numeric = np.array(item.matrix.subs(values), dtype=float)
    np.testing.assert_allclose(np.array(form, dtype=float), expm(numeric * 0.7), rtol=1e-12)


def test_no_closed_form_is_shown_for_a_full_coupled_system():
    model = load("two_compartment")
    (item,) = [p for p in model.ir.precompute if isinstance(p, ir.Propagator)]
    assert closed_form(item) is None
    sections = dict(math_sections(model.ir))
    assert r"\exp\left(" in sections["Propagator"] and "e^{A \\Delta t} &=" not in \
        sections["Propagator"]


def test_every_part_of_the_ir_is_typeset():
    model = load("lif_held")
    sections = dict(math_sections(model.ir))
    assert list(sections) == ["Equations", "Host precompute (once per run, float64)",
                              "Each step", "Spike and reset"]
    assert r"\frac{dV}{dt} &= \frac{I r_{\mathrm{mem}} - V + v_{\mathrm{rest}}}" \
        r"{\tau_{\mathrm{mem}}}" in sections["Equations"]
    assert r"\Phi_{V} &= e^{- \frac{\Delta t}{\tau_{\mathrm{mem}}}}" in \
        sections["Host precompute (once per run, float64)"]
    step = sections["Each step"]
    assert r"\textbf{if } \neg \mathit{refractory}" in step  # branches are kept
    assert r"\mathit{RefracTime} \leftarrow \mathit{RefracTime} - \Delta t" in step
    reset = sections["Spike and reset"]
    assert r"V \geq v_{\mathrm{thresh}} \wedge \mathit{RefracTime} \leq 0" in reset
    assert r"\mathit{RefracTime} \leftarrow \tau_{\mathrm{refrac}}" in reset


def test_exponential_euler_and_rk4_stages_are_shown():
    coba = dict(math_sections(load("coba_lif").ir))["Each step"]
    assert r"{V}^{\mathrm{new}} = V e^{z_{V}}" in coba and r"\varphi_1\left(z_{V}\right)" in coba
    adex = dict(math_sections(load("adex").ir))["Each step"]
    assert all(f"k_{{{k},V}} =" in adex for k in (1, 2, 3, 4))


def test_a_model_displays_its_latex_in_a_notebook():
    model = load("lif_expsyn")
    latex = model._repr_latex_()
    assert latex.startswith("$$\\begin{aligned}") and latex.endswith("\\end{aligned}$$")
    assert r"\textbf{Propagator}" in latex and r"\Phi = e^{A \Delta t} =" in latex
    assert latex in model._repr_markdown_()


def test_doctests_of_the_display_modules():
    import doctest

    from eqsnn import latex
    from eqsnn.tools import gallery

    for module in (latex, gallery):
        assert doctest.testmod(module).failed == 0


def test_coupled_noise_shows_its_covariance_and_draws():
    model = eqsnn.compile("""neuron NoisySyn
    param tau = 10.0 (> 0)
    param sigma = 0.5
    state V = 0.0
    state I = 0.0
    dV/dt = (I - V) / tau
    dI/dt = -I / tau + sigma * xi
    threshold: V >= 1
    reset: V = 0
""")
    sections = dict(math_sections(model.ir))
    assert r"G &= \left[\begin{matrix}0 & 0\\0 & \sigma\end{matrix}\right]" in \
        sections["Propagator"]
    assert r"L_{I,I} \xi_{1}" in sections["Each step"]


def test_the_adaptive_loop_is_typeset():
    import warnings

    from eqsnn.latex import math_sections

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = eqsnn.load("examples/adex.eqs")
    step = dict(math_sections(model.ir))["Each step"]
    assert r"\textbf{while }" in step and "at most 1000 times" in step
