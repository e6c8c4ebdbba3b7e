"""The exact update under attack: singular, nearly singular, stiff and oscillating linear
systems, per neuron and for heterogeneous populations, against 50-digit mpmath."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import test_exact as exact_tests

import eqsnn
from eqsnn.runtime import expm_stack, host

mpmath.mp.dps = 50

#: distinct values of a per-neuron param that send a population down the stacked path
STACKED = expm_stack.MANY + 6


def mp_trajectory(A, u, x0, dt, steps) -> np.ndarray:
    """The state after ``steps`` exact steps, from the 50-digit augmented exponential."""
    k = len(u)
    aug = mpmath.zeros(2 * k, 2 * k)
    for i in range(k):
        for j in range(k):
            aug[i, j] = mpmath.mpf(float(A[i][j])) * mpmath.mpf(dt)
        aug[i, k + i] = mpmath.mpf(dt)
    E = mpmath.expm(aug)
    phi, gamma = E[0:k, 0:k], E[0:k, k:2 * k]
    x = mpmath.matrix([mpmath.mpf(float(v)) for v in x0])
    f = mpmath.matrix([mpmath.mpf(float(v)) for v in u])
    for _ in range(steps):
        x = phi * x + gamma * f
    return np.array([float(v) for v in x])


def simulate(A, u, x0, dt, steps, *, vary=None, precision="float64") -> np.ndarray:
    """States ``(k, n)`` after ``steps``; ``vary = (i, j, values)`` makes ``a_ij`` per neuron."""
    k = len(u)
    params = {f"a{i}{j}": float(A[i][j]) for i in range(k) for j in range(k)}
    n = 1
    if vary is not None:
        params[f"a{vary[0]}{vary[1]}"] = np.asarray(vary[2], dtype=float)
        n = len(vary[2])
    text = exact_tests.linear_model(np.zeros((k, k)), np.zeros(k))  # each entry a param
    sim = eqsnn.Simulator(eqsnn.compile(text), n, dt=dt, precision=precision, params=params,
                          init={f"x{i}": float(x0[i]) for i in range(k)})
    sim.run(steps, inputs={f"u{i}": float(u[i]) for i in range(k)})
    return np.array([np.asarray(sim.state[f"x{i}"], dtype=float).ravel() for i in range(k)])


def relative_error(actual, expected) -> float:
    return float(np.max(np.abs(actual - expected) / np.abs(expected)))


def stacked_values(base: float) -> np.ndarray:
    """``base`` for neuron 0, and distinct nearby values for the rest of a stacked population."""
    values = np.full(STACKED, base)
    values[1:] = base * (1.0 + np.linspace(1e-3, 5e-2, STACKED - 1))
    return values


EXPSYN = exact_tests.EXPSYN.replace("input Iext = 0.0", "input Iext = 0.4")  # a drive too


@pytest.mark.parametrize("precision, bound", [("float64", 1e-13), ("float32", 2e-5)])
@pytest.mark.parametrize("eps", [0.0, 1e-15, 1e-12, 1e-8])
@pytest.mark.parametrize("population", ["default", "some neurons", "stacked"])
def test_equal_and_nearly_equal_time_constants_after_100_steps(precision, bound, eps,
                                                               population):
    # 1/(1/tau_mem - 1/tau_syn) has a pole at tau_syn = tau_mem; every neuron that sits on
    # it or next to it must follow 50-digit mpmath (float32: 100 steps of its rounding)
    tau_syn = 20.0 * (1.0 + eps)
    A = [[-1 / 20.0, 1 / 20.0], [0.0, -1 / tau_syn]]
    expected = mp_trajectory(A, [0.0, 0.4 / tau_syn], [0.3, 1.7], 0.1, 100)
    params, n, on_pole = {}, 1, [0]
    if population == "default":
        text = EXPSYN.replace("param tau_syn = 5.0", f"param tau_syn = {tau_syn!r}")
    else:
        text = EXPSYN
        values = np.linspace(5.0, 40.0, 3 if population == "some neurons" else STACKED)
        values[1::2] = tau_syn
        params, n, on_pole = {"tau_syn": values}, len(values), list(range(1, len(values), 2))
    sim = eqsnn.Simulator(eqsnn.compile(text), n, dt=0.1, precision=precision, params=params)
    sim.run(100)
    for name, column in (("V", 0), ("I", 1)):
        got = np.asarray(sim.state[name], dtype=float).ravel()[on_pole]
        assert relative_error(got, expected[column]) < bound, name


@pytest.mark.parametrize("case", ["chain", "triple eigenvalue", "eigenvalues 1e-10 apart",
                                  "damped oscillator", "integrator and leak",
                                  "integrator chain"])
@pytest.mark.parametrize("stacked", [False, True])
def test_coupled_systems_after_100_steps(case, stacked):
    A, u = {
        "chain": ([[-1 / 20, 1 / 20, 0.0], [0.0, -1 / 5, 1 / 5], [0.0, 0.0, -1 / 3]],
                  [0.0, 0.0, 0.1]),
        "triple eigenvalue": ([[-0.1, 1.0, 0.0], [0.0, -0.1, 1.0], [0.0, 0.0, -0.1]],
                              [0.2, 0.0, 0.1]),
        "eigenvalues 1e-10 apart": ([[-0.1, 1.0, 0.0], [0.0, -0.1 - 1e-10, 1.0],
                                     [0.0, 0.0, -0.1 + 1e-10]], [0.2, 0.0, 0.1]),
        # resonate-and-fire: dv/dt = -v/tau + w, dw/dt = -omega^2 v
        "damped oscillator": ([[-0.05, 1.0], [-4.0, 0.0]], [0.1, 0.0]),
        "integrator and leak": ([[0.0, 1.0, 0.0], [0.0, -0.1, 0.1], [0.0, 0.0, -0.2]],
                                [0.3, 0.0, 0.1]),
        "integrator chain": ([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0],
                              [0.0, 0.0, 0.0, 1.0], [0.0] * 4], [0.0, 0.0, 0.0, 1.0]),
    }[case]
    x0 = [0.3 * (i + 1) for i in range(len(u))]
    expected = mp_trajectory(A, u, x0, 0.1, 100)
    vary = (0, 0, stacked_values(A[0][0]) if A[0][0] else
            np.r_[0.0, np.linspace(-1e-3, -5e-2, STACKED - 1)]) if stacked else None
    got = simulate(A, u, x0, 0.1, 100, vary=vary)
    assert relative_error(got[:, 0], expected) < 1e-13


# a membrane (tau 20 ms) driven by a synaptic current: one of the two time constants far
# below dt, where e^{(a+d)/2} underflows and sinh((a-d)/2) overflows
STIFF_MEMBRANE = {
    "fast synapse": ([[-1 / 20, 1 / 20], [0.0, -1e6]], [0.0, 0.4e6]),
    "fast membrane": ([[-1e6, 1e6], [0.0, -1 / 5]], [0.0, 0.4 / 5]),
    "moderately fast synapse": ([[-1 / 20, 1 / 20], [0.0, -2000.0]], [0.0, 800.0]),
}


@pytest.mark.parametrize("case", sorted(STIFF_MEMBRANE))
def test_stiff_membrane_and_synapse_in_a_heterogeneous_population(case):
    A, u = STIFF_MEMBRANE[case]
    x0 = [0.3, 0.6]
    expected = mp_trajectory(A, u, x0, 1.0, 5)
    single = simulate(A, u, x0, 1.0, 5)
    stacked = simulate(A, u, x0, 1.0, 5, vary=(0, 0, stacked_values(A[0][0])))
    assert relative_error(single[:, 0], expected) < 1e-13
    assert relative_error(stacked[:, 0], expected) < 1e-13


def test_stiff_chain_of_three_in_a_heterogeneous_population():
    # membrane <- synapse <- a fast filter: a 3x3 matrix with dt/tau = 1e6
    A = [[-1 / 20, 1 / 20, 0.0], [0.0, -1e6, 1e6], [0.0, 0.0, -1 / 3]]
    u, x0 = [0.0, 0.0, 0.1], [0.3, 0.6, 0.9]
    expected = mp_trajectory(A, u, x0, 1.0, 5)
    stacked = simulate(A, u, x0, 1.0, 5, vary=(0, 0, stacked_values(A[0][0])))
    assert relative_error(stacked[:, 0], expected) < 1e-13


@pytest.mark.parametrize("ratio", [1.0, 1.0 + 1e-9, 1.0 + 1e-3, 3.0])
def test_both_time_constants_far_below_dt(ratio):
    # tau_mem = 1e-6 ms and tau_syn = ratio * tau_mem at dt = 1 ms: the state is the forcing's
    # fixed point, (1/|lambda|)-sized entries of the propagators that must keep their digits
    A = [[-1e6, 1e6], [0.0, -1e6 / ratio]]
    u, x0 = [0.0, 0.4], [0.3, 0.6]
    expected = mp_trajectory(A, u, x0, 1.0, 5)
    for values in (None, stacked_values(A[0][0])):
        got = simulate(A, u, x0, 1.0, 5, vary=None if values is None else (0, 0, values))
        assert relative_error(got[:, 0], expected) < 1e-13


OU_SYNAPSE = """
neuron OuSynapse
    param tau_mem = 20.0 (> 0)
    param tau_syn = 5.0 (> 0)
    param sigma = 0.5
    state V = 0.0
    state I = 0.0
    dV/dt = (I - V) / tau_mem
    dI/dt = -I / tau_syn + sigma * xi
"""


def mp_ou_covariance(tau_mem, tau_syn, sigma, dt):
    """``Q = ∫_0^dt e^{As} G Gᵀ e^{Aᵀs} ds`` of :data:`OU_SYNAPSE` in closed form, 50 digits:
    with ``a = -1/tau_mem``, ``d = -1/tau_syn``, ``b = 1/tau_mem`` the noise enters through
    e^{As}'s second column ``(b (e^{as} - e^{ds})/(a - d), e^{ds})``."""
    a, d, b = -1 / mpmath.mpf(tau_mem), -1 / mpmath.mpf(tau_syn), 1 / mpmath.mpf(tau_mem)
    dt, s2 = mpmath.mpf(dt), mpmath.mpf(sigma) ** 2

    def integral(p):  # ∫_0^dt e^{ps} ds
        return mpmath.expm1(p * dt) / p

    c = b / (a - d)
    q11 = s2 * c * c * (integral(2 * a) - 2 * integral(a + d) + integral(2 * d))
    q12 = s2 * c * (integral(a + d) - integral(2 * d))
    q22 = s2 * integral(2 * d)
    return np.array([[float(q11), float(q12)], [float(q12), float(q22)]])


@pytest.mark.parametrize("tau_syn", [5.0, 0.025, 2.5e-3, 1e-3, 1e-6])
@pytest.mark.parametrize("many", [False, True])
def test_ou_noise_covariance_of_a_fast_synapse(tau_syn, many):
    # the Van Loan block holds e^{-A dt}: e^{40} at dt/tau_syn = 40, e^{1000} at 1000
    model = eqsnn.compile(OU_SYNAPSE)
    taus = stacked_values(tau_syn) if many else tau_syn
    values = host.evaluate_precompute(model.ir, {"tau_mem": 20.0, "tau_syn": taus,
                                                 "sigma": 0.5}, 1.0)
    chol = np.zeros((2, 2))
    for (i, name_i), (j, name_j) in [((0, "V"), (0, "V")), ((1, "I"), (0, "V")),
                                     ((1, "I"), (1, "I"))]:
        chol[i, j] = np.atleast_1d(values[f"_chol_{name_i}_{name_j}"])[0]
    expected = mp_ou_covariance(20.0, tau_syn, 0.5, 1.0)
    np.testing.assert_allclose(chol @ chol.T, expected, rtol=1e-12, atol=0)


LEAKY = """
neuron Leaky
    param tau = 20.0
    param v_rest = -65.0
    state V = -70.0
    dV/dt = (v_rest - V) / tau
"""


@pytest.mark.parametrize("tau", [1e-320, -1e-320])
def test_a_rate_that_overflows_is_refused(tau):
    # -dt/tau overflows to -inf: e^{-inf} = 0 and dt φ1(-inf) = 0 where it is tau, so the
    # hoisted dt φ1(-dt/tau) v_rest / tau was 0 and V went to 0 instead of v_rest
    model = eqsnn.compile(LEAKY)
    with pytest.raises(eqsnn.errors.ParameterError, match=r"(?s)overflows.*tau"):
        eqsnn.Simulator(model, 1, dt=1.0, precision="float64", params={"tau": tau})


def test_a_tiny_time_constant_that_does_not_overflow_is_exact():
    model = eqsnn.compile(LEAKY)
    sim = eqsnn.Simulator(model, 1, dt=1.0, precision="float64", params={"tau": 1e-300})
    sim.run(3)
    assert float(np.asarray(sim.state["V"]).ravel()[0]) == -65.0


@pytest.mark.parametrize("rate", [-1e6, -1e-6, -1e-12, -800.0, 0.1, 5.0])
def test_one_equation_stiff_slow_and_growing(rate):
    # dt/tau = 1e6 (e^{-dt/tau} underflows), 1e-6 and 1e-12 (1 - e^{-dt/tau} cancels unless
    # expm1 is used), 800 (e^{+800} in an intermediate would overflow), growing solutions
    expected = mp_trajectory([[rate]], [0.5], [0.3], 1.0, 5)
    got = simulate([[rate]], [0.5], [0.3], 1.0, 5)
    assert relative_error(got[:, 0], expected) < 1e-14


def test_a_growing_solution_that_overflows_in_a_step_is_refused():
    with pytest.raises(eqsnn.errors.ParameterError, match=r"(?s)not finite.*parameters"):
        simulate([[800.0]], [0.5], [0.3], 1.0, 5)


COBA = """
neuron Coba
    param g_l = 0.05
    param E_e = 0.0
    param E_l = -65.0
    param tau_e = 5.0
    state V = -65.0
    state g = 0.3
    dV/dt = g * (E_e - V) + g_l * (E_l - V)
    dg/dt = -g / tau_e
"""


def test_exponential_euler_on_a_conductance_is_first_order_and_exact_for_the_linear_one():
    from scipy.integrate import solve_ivp

    model = eqsnn.compile(COBA)
    assert model.method == "exponential_euler"
    reference = solve_ivp(lambda t, y: [y[1] * (0.0 - y[0]) + 0.05 * (-65.0 - y[0]),
                                        -y[1] / 5.0], (0.0, 20.0), [-65.0, 0.3],
                          method="DOP853", rtol=1e-12, atol=1e-12).y[:, -1]
    errors = []
    for dt in (0.2, 0.1, 0.05):
        sim = eqsnn.Simulator(model, 1, dt=dt, precision="float64")
        sim.run(round(20.0 / dt))
        errors.append(abs(float(np.asarray(sim.state["V"]).ravel()[0]) - reference[0]))
        g = float(np.asarray(sim.state["g"]).ravel()[0])
        assert abs(g - reference[1]) < 1e-11 * reference[1]  # e^{-dt/tau_e}: exact
    ratios = [errors[i] / errors[i + 1] for i in range(2)]
    assert all(1.9 < r < 2.1 for r in ratios), ratios  # halving dt halves the error


@pytest.mark.parametrize("tau_mem, tau_syn, dt", [(2000.0, 1e-9, 1.0), (1e5, 1e-6, 1.0),
                                                  (1e4, 1e-3, 1.0), (2000.0, 50.0, 0.01)])
def test_a_small_variance_beside_a_large_one_keeps_its_noise(tau_mem, tau_syn, dt):
    # V's variance is 2e-16 of I's: a pivot below 1e-14 of the trace was taken for 0, and V
    # (and its correlation with I) got no noise at all
    model = eqsnn.compile(OU_SYNAPSE)
    values = host.evaluate_precompute(model.ir, {"tau_mem": tau_mem, "tau_syn": tau_syn,
                                                 "sigma": 0.5}, dt)
    chol = np.array([[values["_chol_V_V"], 0.0], [values["_chol_I_V"], values["_chol_I_I"]]],
                    dtype=float)
    expected = mp_ou_covariance(tau_mem, tau_syn, 0.5, dt)
    np.testing.assert_allclose(chol @ chol.T, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("omega, dt", [(2.0, 0.1), (2.0, 5.0), (30.0, 1.0)])
def test_ou_noise_covariance_of_a_noisy_oscillator(omega, dt):
    # complex eigenvalues, many doublings at omega dt = 30: dv/dt = -v/10 + w,
    # dw/dt = -omega^2 v + sigma xi
    model = eqsnn.compile(f"""
neuron NoisyResonator
    param sigma = 0.7
    state v = 0.0
    state w = 0.0
    dv/dt = -v / 10.0 + w
    dw/dt = -{omega}**2 * v + sigma * xi
""")
    values = host.evaluate_precompute(model.ir, {"sigma": 0.7}, dt)
    chol = np.array([[values["_chol_v_v"], 0.0], [values["_chol_w_v"], values["_chol_w_w"]]],
                    dtype=float)
    A = mpmath.matrix([[-mpmath.mpf(1) / 10, 1], [-mpmath.mpf(omega) ** 2, 0]])
    noise = mpmath.matrix([[0, 0], [0, mpmath.mpf("0.7") ** 2]])
    with mpmath.workdps(25):
        expected = np.array([[float(mpmath.quad(
            lambda s, i=i, j=j: (mpmath.expm(A * s) * noise * mpmath.expm(A.T * s))[i, j],
            mpmath.linspace(0, dt, 8))) for j in range(2)] for i in range(2)])
    np.testing.assert_allclose(chol @ chol.T, expected, rtol=1e-11, atol=0)


@pytest.mark.parametrize("count", [5, STACKED * 3])
def test_float32_coefficients_are_the_correctly_rounded_propagators(count):
    # the host computes in float64 and rounds once to float32: each coefficient must be
    # mpmath's value rounded to 24 bits (equal and nearly equal time constants included)
    model = eqsnn.compile(EXPSYN)
    taus = np.random.default_rng(3).uniform(0.5, 60.0, count)
    taus[:3] = [20.0, 20.0 * (1 + 1e-12), 20.0 * (1 + 1e-8)]
    dt = 0.1
    values = host.evaluate_precompute(model.ir, {"tau_mem": 20.0, "tau_syn": taus}, dt)
    names = {"_phi_V_V": (0, 0), "_phi_V_I": (0, 1), "_phi_I_I": (1, 1),
             "_gamma_V_I": (0, 3), "_gamma_I_I": (1, 3)}
    for neuron, tau in enumerate(taus):
        aug = mpmath.zeros(4, 4)
        aug[0, 0], aug[0, 1] = -mpmath.mpf(dt) / 20, mpmath.mpf(dt) / 20
        aug[1, 1] = -mpmath.mpf(dt) / mpmath.mpf(float(tau))
        aug[0, 2] = aug[1, 3] = mpmath.mpf(dt)
        exact = mpmath.expm(aug)
        for name, (i, j) in names.items():
            with mpmath.workprec(24):
                rounded = float(+exact[i, j])
            got = np.float32(np.broadcast_to(values[name], taus.shape)[neuron])
            assert got == np.float32(rounded), (name, tau)


def test_the_default_exponential_euler_blowing_up_is_not_called_brian2s():
    # a negative conductance: V grows as e^{500 (1 - e^{-t/5})} (1e187 after 10 ms), but
    # e^{-g dt} with g frozen at -100 over dt = 10 overflows. No 'method:' line was written,
    # and nothing nonlinear is frozen: the hint must not say so
    model = eqsnn.compile("""
neuron NegativeConductance
    param E_e = 0.0
    state V = -65.0
    state g = -100.0
    dV/dt = g * (E_e - V)
    dg/dt = -g / 5.0
""")
    assert model.method == "exponential_euler"
    sim = eqsnn.Simulator(model, 1, dt=10.0, precision="float64")
    with pytest.raises(eqsnn.errors.NumericalError) as caught:
        sim.run(1)
    hint = caught.value.hint
    assert "Brian2" not in hint and "nonlinear part" not in hint and "method:' out" not in hint
    assert "smaller dt" in hint and "method: adaptive" in hint


@pytest.mark.parametrize("eps", [1e-15, 1e-12, 1e-9])
@pytest.mark.parametrize("rate", [5.0, 30.0])
@pytest.mark.parametrize("k", [2, 3])
def test_nearly_equal_time_constants_at_a_coarse_step(eps, rate, k):
    # dt/tau = 5 or 30 with time constants 1e-15 apart: SciPy's expm of the (triangular)
    # augmented matrix put the membrane's response to its synapse 1% off
    A = np.zeros((k, k))
    for i in range(k):
        A[i, i] = -rate * (1.0 + eps * i)
        if i + 1 < k:
            A[i, i + 1] = rate
    u, x0 = [0.0] * (k - 1) + [0.5], [0.3 * (i + 1) for i in range(k)]
    expected = mp_trajectory(A.tolist(), u, x0, 1.0, 3)
    got = simulate(A.tolist(), u, x0, 1.0, 3)
    assert relative_error(got[:, 0], expected) < 1e-13


@pytest.mark.xfail(strict=True, reason="a stiff chain of three or more states takes SciPy's "
                   "expm, whose triangular path is off for nearly equal diagonal entries")
def test_stiff_chain_with_nearly_equal_fast_time_constants():
    A = [[-1 / 20, 1 / 20, 0.0], [0.0, -1e3, 1e3], [0.0, 0.0, -1e3 * (1 + 1e-12)]]
    u, x0 = [0.0, 0.0, 100.0], [0.3, 0.6, 0.9]
    expected = mp_trajectory(A, u, x0, 1.0, 3)
    assert relative_error(simulate(A, u, x0, 1.0, 3)[:, 0], expected) < 1e-13
