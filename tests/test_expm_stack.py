"""Propagators of heterogeneous populations against SciPy (and mpmath where SciPy is off)."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import scipy.linalg

import eqsnn
from eqsnn.runtime import Simulator, expm_stack, host

EXAMPLES = "examples"


def augmented(A, dt):
    k = A.shape[-1]
    aug = np.zeros((2 * k, 2 * k))
    aug[:k, :k] = A * dt
    aug[:k, k:] = np.eye(k) * dt
    return aug


def assembled(phi, gamma):
    k = phi.shape[-1]
    out = np.zeros((2 * k, 2 * k))
    out[:k, :k], out[:k, k:], out[k:, k:] = phi, gamma, np.eye(k)
    return out


def relative(a, b):
    return np.linalg.norm(a - b, 1) / np.linalg.norm(b, 1)


def random_matrices(seed, count, k, repeated=False, off=1.0, rotate=True):
    """``count`` matrices ``M = dt A`` with eigenvalues in [-50, 0] (or nearly equal ones),
    upper-triangular part of scale ``off`` relative to the largest (non-normal), rotated by a
    random orthogonal matrix unless ``rotate`` is false."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        lam = -rng.uniform(0, 50, k)
        if repeated:
            lam[:] = lam[0] * (1 + rng.uniform(-1e-9, 1e-9, k))
        T = np.triu(rng.normal(scale=off * max(1.0, abs(lam).max()), size=(k, k)), 1)
        T += np.diag(lam)
        if rotate:
            Q, _ = np.linalg.qr(rng.normal(size=(k, k)))
            T = Q @ T @ Q.T
        out.append(T)
    return np.array(out)


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("rotate", [False, True])
@pytest.mark.parametrize("off", [0.0, 0.1, 1.0])
def test_augmented_expm_matches_scipy(k, rotate, off):
    M = random_matrices(10 * k + rotate, 30, k, off=off, rotate=rotate)
    for dt in (0.1, 1.0):
        phi, gamma = expm_stack.augmented_expm(M / dt, dt)
        for i in range(len(M)):
            want = scipy.linalg.expm(augmented(M[i] / dt, dt))
            assert relative(assembled(phi[i], gamma[i]), want) < 1e-13, (k, i, dt)


@pytest.mark.parametrize("k", [2, 3])
def test_nearly_repeated_eigenvalues_rotated_match_scipy(k):
    M = random_matrices(7 + k, 60, k, repeated=True, off=0.2)
    phi, gamma = expm_stack.augmented_expm(M, 1.0)
    for i in range(len(M)):
        want = scipy.linalg.expm(augmented(M[i], 1.0))
        assert relative(assembled(phi[i], gamma[i]), want) < 1e-13


def exact(aug):
    mpmath.mp.dps = 40
    return np.array(mpmath.expm(mpmath.matrix(aug.tolist())).tolist(), dtype=float)


def test_triangular_2x2_nearly_repeated_against_40_digits():
    """A membrane driven by a synaptic current with tau_syn ~ tau_mem: the closed form is
    exact where SciPy's Padé loses digits (it is checked against mpmath, not SciPy)."""
    M = random_matrices(3, 25, 2, repeated=True, off=1.0, rotate=False)
    M[:5, 1, 1] = M[:5, 0, 0]  # exactly repeated
    M[5:8] *= 1e-6  # nearly zero
    phi, gamma = expm_stack.augmented_expm(M, 1.0)
    scipy_worst = 0.0
    for i in range(len(M)):
        want = exact(augmented(M[i], 1.0))
        assert relative(assembled(phi[i], gamma[i]), want) < 1e-14, i
        scipy_worst = max(scipy_worst, relative(scipy.linalg.expm(augmented(M[i], 1.0)), want))
    assert scipy_worst > 1e-12  # why SciPy is not the oracle here


def general_2x2(seed, count):
    """Full 2×2 matrices ``M = dt A`` of every kind the closed form tells apart: complex
    eigenvalues ``μ ± iω`` (``ω`` down to ``1e-8 |μ|``), an eigenvalue at or near zero with
    the other down to -50, both within 1/2 of zero, and exactly repeated ones (a rotated
    Jordan block); each made non-normal and rotated."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        kind = i % 4
        if kind == 0:
            mu = -rng.uniform(0, 50)
            w = rng.uniform(0, 50) * rng.choice([1e-8, 1e-3, 0.1, 1.0])
            T = np.array([[mu, w], [-w, mu]])
            S = np.eye(2) + np.triu(rng.normal(scale=0.5, size=(2, 2)), 1)
            T = S @ T @ np.linalg.inv(S)
        else:
            if kind == 1:
                lam = [-rng.uniform(0, 50), -10.0 ** rng.uniform(-12, 0) * rng.choice([0, 1])]
            elif kind == 2:
                lam = -rng.uniform(0, 0.25, 2)
            else:
                lam = [-rng.uniform(0, 50)] * 2
            T = np.diag(lam)
            T[0, 1] = rng.normal(scale=rng.choice([0.1, 1.0, 20.0]))
        Q, _ = np.linalg.qr(rng.normal(size=(2, 2)))
        out.append(Q @ T @ Q.T)
    return np.array(out)


def check_against_scipy_or_40_digits(M, phi, gamma, dt):
    for i in range(len(M)):
        aug = augmented(M[i] / dt, dt)
        got = assembled(phi[i], gamma[i])
        if relative(got, scipy.linalg.expm(aug)) >= 1e-13:  # SciPy may be the one off
            assert relative(got, exact(aug)) < 1e-13, (i, dt)


@pytest.mark.parametrize("dt", [1.0, 0.1])
def test_general_2x2_closed_form_matches_scipy(dt):
    M = general_2x2(21, 400)
    phi, gamma, rest = expm_stack._general_2x2(M, dt)
    assert len(rest) == 0  # no neuron needed the Taylor path
    check_against_scipy_or_40_digits(M, phi, gamma, dt)


def test_general_2x2_strongly_non_normal_complex_against_40_digits():
    """Complex eigenvalues of a matrix with entries up to ~1e3: ``δ² = ((a−d)/2)² + bc``
    cancels, and is summed with its rounding errors; SciPy is off by more than 1e-13 here
    (checked), so the oracle is mpmath."""
    rng = np.random.default_rng(4)
    M = []
    for _ in range(40):
        mu, w = -rng.uniform(0, 50), rng.uniform(0, 50)
        S = np.eye(2) + np.triu(rng.normal(scale=3.0, size=(2, 2)), 1)
        T = S @ np.array([[mu, w], [-w, mu]]) @ np.linalg.inv(S)
        Q, _ = np.linalg.qr(rng.normal(size=(2, 2)))
        M.append(Q @ T @ Q.T)
    M = np.array(M)
    phi, gamma = expm_stack.augmented_expm(M, 1.0)
    scipy_worst = 0.0
    for i in range(len(M)):
        want = exact(augmented(M[i], 1.0))
        assert relative(assembled(phi[i], gamma[i]), want) < 1e-14, i
        scipy_worst = max(scipy_worst, relative(scipy.linalg.expm(augmented(M[i], 1.0)), want))
    assert scipy_worst > 1e-13


def test_general_2x2_special_matrices():
    """A pure integrator, a rotation, uncoupled and lower-triangular matrices, coupled
    compartments with an eigenvalue exactly zero."""
    M = np.array([np.zeros((2, 2)), [[0.0, 1.0], [-1.0, 0.0]], [[-50.0, 0.0], [0.0, 0.0]],
                  [[0.0, 0.0], [3.0, -50.0]], [[-40.0, 40.0], [40.0, -40.0]],
                  [[-1e-3, 1e-3], [1e-3, -1e-3]], [[-20.0, -30.0], [30.0, -20.0]]])
    phi, gamma = expm_stack.augmented_expm(M, 1.0)
    assert (phi[0] == np.eye(2)).all() and (gamma[0] == np.eye(2)).all()
    check_against_scipy_or_40_digits(M, phi, gamma, 1.0)


def test_general_2x2_neurons_without_a_trusted_form_take_the_taylor_path(monkeypatch):
    M = general_2x2(22, 40)
    monkeypatch.setattr(expm_stack, "_TRUSTED", 0.0)
    assert len(expm_stack._general_2x2(M, 1.0)[2]) == len(M)
    phi, gamma = expm_stack.augmented_expm(M, 1.0)
    want_phi, want_gamma = expm_stack._taylor(M, 1.0)
    assert (phi == want_phi).all() and (gamma == want_gamma).all()


def van_loan(A, G):
    k = A.shape[0]
    block = np.zeros((2 * k, 2 * k))
    block[:k, :k], block[:k, k:], block[k:, k:] = -A, G @ G.T, A.T
    return block


def per_neuron_scipy(model, params, dt):
    """The propagators the old way: one SciPy expm per neuron's matrix."""
    n = len(next(v for v in params.values() if np.ndim(v)))
    out = {}
    for i in range(n):
        mine = {name: (v[i] if np.ndim(v) else v) for name, v in params.items()}
        for name, value in host.evaluate_precompute(model, mine, dt).items():
            out.setdefault(name, []).append(float(value))
    return {name: np.array(v) for name, v in out.items()}


@pytest.mark.parametrize("example, varying", [
    ("lif_expsyn", ("tau_mem",)), ("lif_expsyn", ("tau_mem", "tau_syn")),
    ("two_compartment", ("tau_soma", "g_couple")), ("lif_noise", ("tau_mem",)),
    ("lif_alpha", ("tau_syn",)),
])
def test_heterogeneous_precompute_matches_one_scipy_expm_per_neuron(example, varying,
                                                                    monkeypatch):
    monkeypatch.setattr(expm_stack, "MANY", 8)  # the stack's path from 9 distinct neurons
    model = eqsnn.load(f"{EXAMPLES}/{example}.eqs").ir
    n = 40
    rng = np.random.default_rng(1)
    params = {p.name: np.float64(p.default) for p in model.params}
    for name in varying:
        params[name] = params[name] * rng.uniform(0.5, 2.0, n)
    params[varying[0]][:10] = params[varying[0]][10]  # some repeats
    got = host.evaluate_precompute(model, params, 0.5)
    want = per_neuron_scipy(model, params, 0.5)
    assert set(got) == set(want)
    for name in want:
        scale = max(np.abs(want[name]).max(), 1e-300)
        assert np.abs(got[name] - want[name]).max() <= 1e-13 * scale, name


@pytest.mark.parametrize("example", ["lif_expsyn", "two_compartment", "lif_noise"])
def test_equal_per_neuron_values_give_the_bits_of_the_shared_scalar(example):
    model = eqsnn.load(f"{EXAMPLES}/{example}.eqs").ir
    params = {p.name: np.float64(p.default) for p in model.params}
    shared = host.evaluate_precompute(model, params, 1.0)
    n = 5 * expm_stack.MANY
    per = host.evaluate_precompute(
        model, {name: np.full(n, value) for name, value in params.items()}, 1.0)
    for name, value in shared.items():
        assert per[name].shape == (n,)
        assert (per[name].view(np.int64) == np.float64(value).view(np.int64)).all(), name


def test_the_simulator_evaluates_the_precompute_once(monkeypatch):
    calls = []
    original = host.evaluate_precompute

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(host, "evaluate_precompute", counting)
    model = eqsnn.load(f"{EXAMPLES}/lif_expsyn.eqs")
    Simulator(model, 300, params={"tau_mem": np.linspace(10, 30, 300)})
    assert len(calls) == 1
