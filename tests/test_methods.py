"""Method choice with reasons, exponential Euler and noise against their defining formulas."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from ir_interp import Interpreter

import eqsnn
from eqsnn.pipeline import EqsnnWarning
from eqsnn.runtime import host

EXPECTED = {
    # example: (method, fragment of the reason exact was rejected or chosen)
    "lif_pulse": ("exact", "chosen"),
    "lif_held": ("exact", "chosen"),
    "lif_expsyn": ("exact", "chosen"),
    "lif_alpha": ("exact", "chosen"),
    "lif_noise": ("exact", "chosen"),
    "alif": ("exact", "chosen"),
    "two_compartment": ("exact", "chosen"),
    "integrator": ("exact", "chosen"),
    "coba_lif": ("exponential_euler", "term -V*g_exc/c_mem multiplies g_exc and V"),
    "hh": ("exponential_euler", "term -V*g_na*h*m**3/c_mem multiplies m and V"),
    "izhikevich": ("adaptive", "dv/dt is not linear in v: term 0.04*v**2"),
    "adex": ("adaptive", "dV/dt is not linear in V: term delta_t*g_leak*exp("),
    "poisson_source": ("none", None),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_method_and_reasons_for_each_example(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EqsnnWarning)
        model = eqsnn.load(f"examples/{name}.eqs")
    method, fragment = EXPECTED[name]
    assert model.method == method
    if fragment is not None:
        assert fragment in model.reasons["exact"]
    if method == "adaptive":
        assert "not linear in" in model.reasons["exponential_euler"]
        assert model.reasons["adaptive"].startswith("chosen")
        assert "crossings located and reset inside the step" in model.reasons["adaptive"]
        assert model.reasons["rk4"] == "applicable, but adaptive is preferred"
    if method == "exponential_euler":
        assert model.reasons["exponential_euler"].startswith("chosen")
    # every method considered is listed with a reason, and the text view shows them
    text = str(model)
    assert f"method: {method}" in text
    for other, reason in model.reasons.items():
        assert f"{other}: {reason}" in text


def test_rk4_warns_naming_the_nonlinear_term():
    """Where the adaptive method cannot apply (noise), RK4 is the default, with a warning."""
    with open("examples/izhikevich.eqs") as f:
        text = f.read().replace("dv/dt = 0.04 * v**2 + 5 * v + 140 - u + I",
                                "dv/dt = 0.04 * v**2 + 5 * v + 140 - u + I + 2 * xi")
    with pytest.warns(EqsnnWarning, match=r"0\.04\*v\*\*2"):
        model = eqsnn.compile(text)
    assert model.method == "rk4"
    assert model.reasons["adaptive"] == ("dv/dt has white noise (xi), which needs a fixed step "
                                         "(Euler–Maruyama)")


def test_requested_method_is_used_and_explained():
    text = "neuron M\n    state V = 1.0\n    dV/dt = -V / 10\n    method: euler\n"
    model = eqsnn.compile(text)
    assert model.method == "euler"
    assert model.reasons["euler"] == "requested by 'method:'"
    sim = Interpreter(model.ir, dt=0.5)
    sim.step()
    assert sim.state["V"][0] == pytest.approx(1.0 - 0.05, rel=1e-15)


@pytest.mark.parametrize("method,order", [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_explicit_methods_converge_at_their_order(method, order):
    text = ("neuron M\n    state V = 1.0\n    input I = 0.3\n"
            f"    dV/dt = -V**3 + I * sin(t)\n    method: {method}\n")
    from scipy.integrate import solve_ivp

    exact = solve_ivp(lambda t, y: -y**3 + 0.3 * np.sin(t), (0, 2.0), [1.0], rtol=1e-13,
                      atol=1e-15).y[0, -1]
    errors = []
    for steps in (20, 40):
        sim = Interpreter(eqsnn.compile(text).ir, dt=2.0 / steps)
        for _ in range(steps):
            sim.step()
        errors.append(abs(sim.state["V"][0] - exact))
    observed = math.log2(errors[0] / errors[1])
    # RK4 converges faster than 4 before its asymptotic regime; never slower than its order
    assert order - 0.3 <= observed <= order + 1.2


def exp_euler(x, a, b, dt):
    """The defining formula x e^{a dt} + b (e^{a dt} - 1)/a, with its a -> 0 limit."""
    if a == 0:
        return x + b * dt
    return x * math.exp(a * dt) + b * math.expm1(a * dt) / a


@pytest.mark.parametrize("g_exc,g_inh,g_leak", [(0.02, 0.01, 0.01), (0.0, 0.0, 0.0),
                                                (0.0, 0.03, 0.0)])
def test_coba_lif_follows_exponential_euler(g_exc, g_inh, g_leak):
    model = eqsnn.load("examples/coba_lif.eqs")
    dt, c = 0.1, 0.2
    sim = Interpreter(model.ir, dt=dt, params={"g_leak": g_leak, "v_thresh": 1e9},
                      init={"V": -55.0, "g_exc": g_exc, "g_inh": g_inh})
    sim.step({"spikes_exc": 0.0, "spikes_inh": 0.0})
    a = -(g_leak + g_exc + g_inh) / c
    b = (g_leak * -60.0 + g_exc * 0.0 + g_inh * -80.0) / c
    assert sim.state["V"][0] == pytest.approx(exp_euler(-55.0, a, b, dt), rel=1e-13, abs=1e-13)
    assert sim.state["g_exc"][0] == pytest.approx(g_exc * math.exp(-dt / 5.0), rel=1e-14)


def _rate(scale, x):
    """scale * x / (1 - exp(-x / 10)), with its limit 10 * scale at x = 0."""
    return 10 * scale if x == 0 else scale * x / (1 - math.exp(-x / 10))


@pytest.mark.parametrize("V", [-65.0, -40.001, -40.0, -55.0, 20.0])
def test_hh_gating_follows_exponential_euler(V):
    """Including V = -40 and -55 mV, where alpha_m and alpha_n are 0/0 as usually written
    (hh.eqs uses exprel): the gates take the limit there, 1 and 0.1 per ms."""
    model = eqsnn.load("examples/hh.eqs")
    dt = 0.05
    init = {"V": V, "m": 0.2, "h": 0.6, "n": 0.3}
    sim = Interpreter(model.ir, dt=dt, init=init)
    sim.step({"I": 0.0})
    alpha_m = _rate(0.1, V + 40)
    beta_m = 4 * math.exp(-(V + 65) / 18)
    alpha_h = 0.07 * math.exp(-(V + 65) / 20)
    beta_h = 1 / (1 + math.exp(-(V + 35) / 10))
    alpha_n, beta_n = _rate(0.01, V + 55), 0.125 * math.exp(-(V + 65) / 80)
    for var, alpha, beta in (("m", alpha_m, beta_m), ("h", alpha_h, beta_h),
                             ("n", alpha_n, beta_n)):
        expected = exp_euler(init[var], -(alpha + beta), alpha, dt)
        assert sim.state[var][0] == pytest.approx(expected, rel=1e-9)
    # V: linear in V with a conductance set by the (old) gates
    g = 120 * 0.2**3 * 0.6 + 36 * 0.3**4 + 0.3
    b = 120 * 0.2**3 * 0.6 * 50 + 36 * 0.3**4 * -77 + 0.3 * -54.387
    assert sim.state["V"][0] == pytest.approx(exp_euler(V, -g, b, dt), rel=1e-12)


ADEX_ADAPTATION = """
neuron AdExAdaptation
    "AdEx's adaptation current driven by a membrane that relaxes linearly."
    param tau_w = 144.0 (> 0)
    param a = 4.0
    param e_leak = -70.6
    param g_w = 0.0
    state V = -50.0
    state w = 10.0
    dV/dt = -(V - e_leak) / 20.0 - g_w * w * V
    dw/dt = (a * (V - e_leak) - w) / tau_w
"""


@pytest.mark.parametrize("g_w", [0.0, 1e-3])
def test_adex_adaptation_follows_exponential_euler(g_w):
    # With the w-dependent conductance g_w the system is only conditionally linear, so
    # exponential Euler integrates w with the coefficient -1/tau_w and V at its old value.
    assert eqsnn.compile(ADEX_ADAPTATION).method == "exponential_euler"
    model = eqsnn.compile(ADEX_ADAPTATION.replace("    dV/dt", "    method: exponential_euler\n"
                                                  "    dV/dt"))
    dt = 0.5
    sim = Interpreter(model.ir, dt=dt, params={"g_w": g_w})
    sim.step()
    expected_w = exp_euler(10.0, -1 / 144.0, 4.0 * (-50.0 + 70.6) / 144.0, dt)
    assert sim.state["w"][0] == pytest.approx(expected_w, rel=1e-13)
    expected_v = exp_euler(-50.0, -1 / 20.0 - g_w * 10.0, -70.6 * -1 / 20.0 * -1, dt)
    assert sim.state["V"][0] == pytest.approx(expected_v, rel=1e-13)


def test_adex_named_exponential_euler_freezes_its_exponential_and_says_so():
    """Not conditionally linear: Brian2's form, with the reason exact was rejected kept."""
    with open("examples/adex.eqs") as f:
        model = eqsnn.compile(f.read().replace(
            "    threshold:", "    method: exponential_euler\n    threshold:"))
    assert model.method == "exponential_euler"
    assert "not linear in V: term" in model.reasons["exact"]
    assert "nonlinear part B of each dx/dt = A x + B is frozen over the step" in (
        model.reasons["exponential_euler"])


def test_ornstein_uhlenbeck_noise_has_the_exact_variance():
    model = eqsnn.load("examples/lif_noise.eqs")
    values = {"tau_mem": 20.0, "mu": 0.8, "sigma": 0.3}
    for dt in (0.1, 1.0, 50.0):
        pre = host.evaluate_precompute(model.ir, values, dt)
        # stationary sd is sigma; one step adds sd sigma * sqrt(1 - e^{-2 dt / tau})
        assert pre["_sigma_V"] == pytest.approx(0.3 * math.sqrt(-math.expm1(-2 * dt / 20.0)),
                                                rel=1e-13)


def test_coupled_noise_covariance_matches_van_loan_by_quadrature():
    from scipy.integrate import quad_vec
    from scipy.linalg import expm

    model = eqsnn.compile("""
neuron Noisy
    param s1 = 0.5
    param s2 = 0.2
    state x = 0.0
    state y = 0.0
    dx/dt = -x / 5 + y / 3 + s1 * xi
    dy/dt = -y / 7 + s2 * xi
""")
    dt = 2.0
    pre = host.evaluate_precompute(model.ir, {"s1": 0.5, "s2": 0.2}, dt)
    L = np.array([[pre["_chol_x_x"], 0.0], [pre["_chol_y_x"], pre["_chol_y_y"]]])
    A = np.array([[-1 / 5, 1 / 3], [0.0, -1 / 7]])
    G = np.diag([0.5, 0.2])
    Q = quad_vec(lambda s: expm(A * s) @ G @ G.T @ expm(A.T * s), 0, dt, epsabs=1e-14)[0]
    np.testing.assert_allclose(L @ L.T, Q, rtol=1e-10)


@pytest.mark.parametrize("method", ["rk4", "adaptive", "exact"])
def test_a_method_named_on_a_model_without_odes_is_said_to_have_no_effect(method):
    """A model whose states change in ``after:`` and ``reset:`` only integrates nothing: a
    ``method:`` line there is a mistake worth a warning (it was ignored without one)."""
    text = ("neuron Counter\n    param th = 3.0\n    state n = 0.0\n    input I = 0.0\n"
            "    after: n += I\n    threshold: n >= th\n    reset: n = 0.0\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EqsnnWarning)
        eqsnn.compile(text + f"    method: {method}\n")
        named = [str(w.message) for w in caught]
    assert any(f"'method: {method}' has no effect: the model has no ODEs" in m for m in named)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EqsnnWarning)
        model = eqsnn.compile(text)
    assert not any("has no effect" in str(w.message) for w in caught)
    assert model.method == "none"


@pytest.mark.parametrize("body, what", [
    ("    param tau = 10.0\n    state V = 0.0\n    dV/dt = -V / tau\n",
     "has no effect on the exact update, exact at any step"),
    ("    state n = 0\n    after: n += 1\n", "has no effect on a model without ODEs"),
])
def test_substeps_without_effect_are_warned_about(body, what):
    with pytest.warns(EqsnnWarning, match=f"'substeps: 4' {what}"):
        eqsnn.compile("neuron S\n" + body + "    substeps: 4\n")


def test_substeps_on_a_fixed_step_method_are_not_warned_about():
    text = "neuron S\n    state V = 1.0\n    dV/dt = -V * V\n    method: rk4\n    substeps: 4\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error", EqsnnWarning)
        assert "in 4 substeps per step" in eqsnn.compile(text).reasons["rk4"]


def test_substeps_on_coupled_exact_equations_point_at_the_substeps_line():
    """The refusal had no line or column (and so no caret)."""
    from eqsnn.errors import SolverError

    text = ("neuron S\n    state V = 1.0\n    state I = 1.0\n    dV/dt = -V + I\n"
            "    dI/dt = -I\n    substeps: 4\n")
    with pytest.raises(SolverError) as caught:
        eqsnn.compile(text, filename="s.eqs")
    error = caught.value
    assert (error.line, error.column) == (6, 15)
    assert str(error).startswith("s.eqs:6:15: 'substeps:' does not apply to the exact update "
                                 "of coupled equations")
    assert "substeps: 4\n" in str(error) and "^" in str(error)


def test_a_blow_up_of_brian2_s_exponential_euler_is_not_blamed_on_the_model():
    """dv/dt = -sinh(v) decays smoothly to 0, but with B = -sinh(v) frozen over a step of 1
    it overshoots to -7, then to 541, then to infinity: the hint said the cause was likely
    in the model's params and statements."""
    text = ("neuron Sinh\n    state v = 3.0\n    dv/dt = (exp(-v) - exp(v)) / 2\n"
            "    method: exponential_euler\n")
    sim = eqsnn.Simulator(eqsnn.compile(text), 1, dt=1.0, precision="float64")
    with pytest.raises(eqsnn.errors.NumericalError, match="v became NaN or infinite at step 3") \
            as caught:
        sim.run(5)
    assert caught.value.hint.startswith(
        "Brian2's exponential Euler freezes the nonlinear part B of each dx/dt = A x + B over "
        "the step: try a smaller dt, or leave 'method:' out (the adaptive method); if that "
        "fails too, the cause is in the model")
    # the model is fine: the default (adaptive) follows v' = -sinh(v) from 3
    default = eqsnn.Simulator(eqsnn.compile(text.replace("    method: exponential_euler\n",
                                                         "")), 1, dt=1.0, precision="float64")
    v = default.run(5, record=["v"]).vars["v"].ravel()
    exact = 2 * np.arctanh(np.tanh(1.5) * np.exp(-np.arange(1, 6)))  # tanh(v/2) decays as e^-t
    np.testing.assert_allclose(v, exact, rtol=1e-6)


@pytest.mark.parametrize("backend", ["numpy", pytest.param("c", marks=pytest.mark.c), "cupy"])
def test_brian2_exponential_euler_takes_the_limit_where_a_is_zero_tiny_or_huge(backend):
    """A = a, a param that is 0, subnormal, tiny, huge or negative for some neurons only:
    -B/A + (x + B/A) e^{A dt} as written is 0/0 or inf - inf there; the update must be
    the formula's limit (Euler where A dt is 0 in floats, -B/A where e^{A dt} is 0)."""
    import contextlib

    import fake_cupy

    text = ("neuron Split\n    param a = 1.0\n    state v = 1.0\n    input I = 0.0\n"
            "    dv/dt = a * v + I * exp(0.01 * v)\n    method: exponential_euler\n")
    a = np.array([0.0, 5e-324, 1e-300, -1.0, 2.0, -1e300, -3e-10])
    dt, steps, current = 0.1, 3, 0.5
    with fake_cupy.installed() if backend == "cupy" else contextlib.nullcontext():
        sim = eqsnn.Simulator(eqsnn.compile(text), len(a), dt=dt, backend=backend,
                              precision="float64", params={"a": a})
        ours = sim.run(steps, inputs={"I": current}, record=["v"]).vars["v"][:, 0]
    v = np.ones(len(a))
    for k in range(steps):  # x e^{a dt} + B (e^{a dt} - 1)/a, B frozen; its limit at a dt = 0
        b = current * np.exp(0.01 * v)
        v = np.array([x + bi * dt if ai * dt == 0 else
                      x * math.exp(ai * dt) + bi * math.expm1(ai * dt) / ai
                      for x, ai, bi in zip(v, a, b)])
        np.testing.assert_allclose(ours[k], v, rtol=1e-14, atol=0)
    assert np.all(np.isfinite(ours)) and ours[0, 5] == pytest.approx(0.5 * math.exp(0.01) / 1e300)
