"""Exact updates against closed forms and scipy's solve_ivp (independent oracles)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ir_interp import Interpreter
from scipy.integrate import solve_ivp

import eqsnn

RTOL = 1e-10


def ivp(rhs, y0, t_end):
    """Reference trajectory end point, integrated far more tightly than the tolerance."""
    sol = solve_ivp(rhs, (0.0, t_end), np.asarray(y0, dtype=float), method="DOP853",
                    rtol=1e-13, atol=1e-15)
    assert sol.success
    return sol.y[:, -1]


def close(actual, expected, rtol=RTOL, atol=1e-13):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


LIF_HELD = """
neuron LifHeld
    param tau_mem = 20.0 (> 0)
    param r_mem = 1.5
    param v_rest = -65.0
    state V = -70.0
    input I = 12.0
    dV/dt = (v_rest - V + r_mem * I) / tau_mem
"""


@pytest.mark.parametrize("dt", [1e-4, 0.1, 1.0, 7.3, 200.0])
def test_lif_held_input_matches_closed_form(dt):
    model = eqsnn.compile(LIF_HELD)
    assert model.method == "exact"
    sim = Interpreter(model.ir, dt=dt)
    v_inf = -65.0 + 1.5 * 12.0
    for k in range(1, 6):
        sim.step()
        close(sim.state["V"][0], v_inf + (-70.0 - v_inf) * math.exp(-k * dt / 20.0))


EXPSYN = """
neuron ExpSyn
    param tau_mem = 20.0 (> 0)
    param tau_syn = 5.0 (> 0)
    state V = 0.3
    state I = 1.7
    input Iext = 0.0
    dV/dt = (I - V) / tau_mem
    dI/dt = (Iext - I) / tau_syn
"""


@pytest.mark.parametrize("tau_syn", [5.0, 20.0, 20.0 + 1e-9, 80.0])
@pytest.mark.parametrize("dt", [0.1, 1.0, 25.0])
def test_exp_synapse_lif_against_solve_ivp(tau_syn, dt):
    model = eqsnn.compile(EXPSYN)
    sim = Interpreter(model.ir, dt=dt, params={"tau_syn": tau_syn})
    inputs = {"Iext": 0.4}
    for _ in range(4):
        y0 = [sim.state["V"][0], sim.state["I"][0]]
        sim.step(inputs)
        expected = ivp(lambda t, y: [(y[1] - y[0]) / 20.0, (0.4 - y[1]) / tau_syn], y0, dt)
        close([sim.state["V"][0], sim.state["I"][0]], expected)


def test_equal_time_constants_match_the_closed_form_limit():
    # tau_s == tau_m == tau: V(t) = (V0 + I0 t / tau) e^{-t/tau}, I(t) = I0 e^{-t/tau}
    model = eqsnn.compile(EXPSYN)
    tau, dt = 20.0, 0.5
    sim = Interpreter(model.ir, dt=dt, params={"tau_syn": tau})
    for k in range(1, 40):
        sim.step()
        t = k * dt
        close(sim.state["V"][0], (0.3 + 1.7 * t / tau) * math.exp(-t / tau))
        close(sim.state["I"][0], 1.7 * math.exp(-t / tau))


def test_per_neuron_time_constants_with_a_singular_value():
    model = eqsnn.compile(EXPSYN)
    tau_syn = np.array([5.0, 20.0, 20.0 * (1 + 1e-12), 20.0, 1e-3])
    dt = 1.0
    sim = Interpreter(model.ir, n=5, dt=dt, params={"tau_syn": tau_syn})
    for name, value in sim.values.items():
        assert np.all(np.isfinite(value)), name
    sim.step()
    for i, ts in enumerate(tau_syn):
        def rhs(t, y, ts=ts):
            return [(y[1] - y[0]) / 20.0, -y[1] / ts]

        sol = solve_ivp(rhs, (0, dt), [0.3, 1.7], method="Radau", rtol=1e-13,
                        atol=1e-15)
        close([sim.state["V"][i], sim.state["I"][i]], sol.y[:, -1], rtol=1e-9)


def test_zero_leak_per_neuron_gives_the_integrator_limit():
    model = eqsnn.compile("""
neuron MaybeLeaky
    param g = 0.1 (>= 0)
    state V = 1.0
    input I = 0.5
    dV/dt = -g * V + I
""")
    g = np.array([0.0, 0.1, 1e-14, 0.0])
    sim = Interpreter(model.ir, n=4, dt=2.0, params={"g": g})
    sim.step()
    expected = [1.0 + 0.5 * 2.0, math.exp(-0.2) + 0.5 * (1 - math.exp(-0.2)) / 0.1,
                1.0 + 1.0 - 1e-14 * 2.0 * 1.0 - 1e-14 * 0.5 * 2.0, 2.0]
    close(sim.state["V"], expected, rtol=1e-12)


def test_pure_integrator_is_exact_without_inverting_a():
    model = eqsnn.load("examples/integrator.eqs")
    assert model.method == "exact"
    sim = Interpreter(model.ir, dt=0.25)
    sim.step({"I": 0.8})
    close(sim.state["V"][0], 0.8 / 10.0 * 0.25)


def test_alpha_synapse_against_solve_ivp():
    model = eqsnn.load("examples/lif_alpha.eqs")
    dt = 0.7
    sim = Interpreter(model.ir, dt=dt, params={"v_thresh": 1e9},
                      init={"V": 0.1, "I": 0.2, "x": 1.3})
    y = [0.1, 0.2, 1.3]
    for _ in range(5):
        sim.step({"Isyn": 0.0})
        y = ivp(lambda t, y: [(y[1] - y[0]) / 20.0, (y[2] - y[1]) / 5.0, -y[2] / 5.0], y, dt)
        close([sim.state[k][0] for k in ("V", "I", "x")], y)


def test_two_compartments_against_solve_ivp():
    model = eqsnn.load("examples/two_compartment.eqs")
    dt, g, current = 0.5, 0.5, 0.2
    sim = Interpreter(model.ir, dt=dt, params={"v_thresh": 1e9})

    def rhs(t, y):
        vs, vd = y
        return [(-vs + g * (vd - vs)) / 10.0, (-vd + g * (vs - vd) + 30 * current) / 30.0]

    y = [0.0, 0.0]
    for _ in range(10):
        sim.step()
        y = ivp(rhs, y, dt)
        close([sim.state["V_soma"][0], sim.state["V_dend"][0]], y)


@st.composite
def stable_linear_systems(draw):
    k = draw(st.integers(1, 4))
    kind = draw(st.sampled_from(["random", "repeated", "jordan", "diagonal"]))
    rates = [draw(st.floats(0.05, 5.0)) for _ in range(k)]
    if kind == "repeated":
        rates = [rates[0]] * k
    A = -np.diag(rates)
    if kind in ("random", "jordan"):
        for i in range(k):
            for j in range(k):
                if (kind == "jordan" and j == i + 1) or (kind == "random" and j > i):
                    A[i, j] = draw(st.floats(-2.0, 2.0))
    if kind == "random" and draw(st.booleans()):
        # a similarity transform keeps the (stable) eigenvalues but couples every state
        Q = np.eye(k) + np.tril(np.array(
            [[draw(st.floats(-0.5, 0.5)) for _ in range(k)] for _ in range(k)]), -1)
        A = Q @ A @ np.linalg.inv(Q)
    forcing = [draw(st.floats(-1.0, 1.0)) for _ in range(k)]
    x0 = [draw(st.floats(-1.0, 1.0)) for _ in range(k)]
    slowest = 1.0 / max(min(abs(np.linalg.eigvals(A))), 1e-3)
    dt = draw(st.floats(1e-4, 10.0)) * slowest
    return A, forcing, x0, dt


def linear_model(A, forcing):
    k = len(forcing)
    lines = ["neuron Linear"]
    lines += [f"    param a{i}{j} = {float(A[i, j])!r}" for i in range(k) for j in range(k)]
    lines += [f"    state x{i} = 0.0" for i in range(k)]
    lines += [f"    input u{i} = {float(forcing[i])!r}" for i in range(k)]
    for i in range(k):
        terms = " + ".join(f"a{i}{j} * x{j}" for j in range(k))
        lines.append(f"    dx{i}/dt = {terms} + u{i}")
    return "\n".join(lines) + "\n"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stable_linear_systems())
def test_random_stable_linear_systems_against_solve_ivp(system):
    A, forcing, x0, dt = system
    k = len(forcing)
    model = eqsnn.compile(linear_model(A, forcing))
    assert model.method == "exact"
    sim = Interpreter(model.ir, dt=dt, init={f"x{i}": x0[i] for i in range(k)})
    sim.step()
    sol = solve_ivp(lambda t, y: A @ y + forcing, (0, dt), x0, method="Radau",
                    rtol=1e-13, atol=1e-14, jac=A)
    scale = max(1.0, np.max(np.abs(sol.y)))
    close([sim.state[f"x{i}"][0] for i in range(k)], sol.y[:, -1], rtol=1e-9,
          atol=1e-11 * scale)
