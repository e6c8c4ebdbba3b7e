"""Lets too big to substitute are kept as shared sub-expressions (``eqsnn.frontend.lets``): the
compiled model grows linearly with the chain of lets, and every use still means
substitution, checked against plain NumPy oracles on numpy and c."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sympy

import eqsnn
from eqsnn import ir
from eqsnn.backends import EmitOptions, emit
from eqsnn.errors import CheckError
from eqsnn.frontend.lets import INLINE_LIMIT

BACKENDS = ["numpy", pytest.param("c", marks=pytest.mark.c)]


def _chain_lets(k: int, base: str = "V") -> list[str]:
    """``let a{i} = a{i-1} * a{i-1} + a{i-1}``: written out, a{k} has about 2**k terms."""
    return [f"    let a0 = {base}"] + [f"    let a{i} = a{i - 1} * a{i - 1} + a{i - 1}"
                                       for i in range(1, k + 1)]


def _chain(value, k: int):
    for _ in range(k):
        value = value * value + value
    return value


def _compile(lines) -> eqsnn.Model:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # RK4 (not exact) for the nonlinear ODE
        return eqsnn.compile("\n".join(lines) + "\n")


def _after_chain(k):
    return _compile(["neuron Chain", "    state V = 0.01", *_chain_lets(k), "    after:",
                     f"        V = a{k}"])


def _ode_chain(k):
    return _compile(["neuron Chain", "    state V = 0.01", *_chain_lets(k),
                     f"    dV/dt = -V + a{k}", "    method: rk4"])


def _nodes(model: ir.Model) -> int:
    """Nodes of the per-step IR, counted as trees (what every later stage walks)."""
    def size(expr):
        return 1 + sum(size(a) for a in expr.args if isinstance(a, sympy.Basic))

    total = 0
    for stmt in ir.walk_statements(model.step):
        total += size(stmt.cond if isinstance(stmt, (ir.If, ir.While)) else stmt.expr)
    return total


@pytest.mark.parametrize("make", [_after_chain, _ode_chain], ids=["after", "ode"])
def test_the_compiled_model_grows_linearly_with_the_chain(make):
    """40 lets (2**40 terms written out) give a model twice the size of 20 lets, give or take
    the constant part; substituted, it could not be built at all."""
    small, large = _nodes(make(20).ir), _nodes(make(40).ir)
    assert large < 3 * small and large < 40 * 4 * 25
    for backend in ("numpy", "c", "cupy", "pygenn"):  # every emitter handles the locals
        assert len(emit(make(40).ir, backend, EmitOptions("float64")).text) < 400_000


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_chain_in_a_statement_is_what_substitution_means(backend):
    model = _after_chain(40)
    sim = eqsnn.Simulator(model, 3, backend=backend, precision="float64")
    got = sim.run(1, record=["V"]).vars["V"][0, 0, 0]
    assert got == pytest.approx(_chain(0.01, 40), rel=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_chain_inside_an_ode_is_integrated_as_written(backend):
    """dV/dt = -V + a40(V) is not linear in V (the analysis sees the dependence through the
    shared let): with 'method: rk4', checked against RK4 written as a NumPy loop."""
    model = _ode_chain(40)
    assert model.method == "rk4"
    # the chain overflows within a few steps, as the loop below does: the numerical check
    # would report it, so it is off to compare the arithmetic
    sim = eqsnn.Simulator(model, 2, backend=backend, precision="float64", dt=0.1, check=False)
    got = sim.run(20, record=["V"]).vars["V"][:, 0, 0]
    v, h, expected = 0.01, 0.1, []

    def f(x):
        return -x + _chain(x, 40)

    for _ in range(20):
        k1 = f(v)
        k2 = f(v + h / 2 * k1)
        k3 = f(v + h / 2 * k2)
        k4 = f(v + h * k3)
        v = v + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        expected.append(v)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_big_let_of_an_input_is_a_forcing_term_integrated_exactly(backend):
    k = 14
    model = _compile(["neuron Forced", "    param tau = 10.0", "    state V = 0.0",
                      "    input I = 0.01", *_chain_lets(k, "I"), f"    dV/dt = -V / tau + a{k}"])
    assert model.method == "exact"
    sim = eqsnn.Simulator(model, 2, backend=backend, precision="float64")
    got = sim.run(30, record=["V"]).vars["V"][:, 0, 0]
    t = np.arange(1, 31)
    np.testing.assert_allclose(got, 10 * _chain(0.01, k) * (1 - np.exp(-t / 10)), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_use_sees_the_values_of_its_place(backend):
    """Used before and after V changes, in an if condition and in a reset: each use is
    evaluated where it stands, as substitution would."""
    k = 12
    model = _compile(["neuron Places", "    state V = 0.01", "    state W = 0.0",
                      "    state U = 0.0", "    state R = 0.0", *_chain_lets(k),
                      "    before:", f"        W = a{k}", "        V = V * 2",
                      "    after:", f"        U = a{k}", f"        if a{k} > 0.5:",
                      "            V = 0.01", "        else:", "            V = V + 0.05",
                      "    threshold: V > 0.2", "    reset:", f"        R = a{k}",
                      "        V = 0.01"])
    sim = eqsnn.Simulator(model, 1, backend=backend, precision="float64")
    got = sim.run(12, record=["V", "W", "U", "R"]).vars
    v = w = u = r = 0.0
    v = 0.01
    rows = []
    for _ in range(12):
        w = _chain(v, k)
        v = v * 2
        u = _chain(v, k)
        v = 0.01 if _chain(v, k) > 0.5 else v + 0.05
        if v > 0.2:
            r = _chain(v, k)
            v = 0.01
        rows.append((v, w, u, r))
    for column, name in enumerate("VWUR"):
        np.testing.assert_allclose(got[name][:, 0, 0], [row[column] for row in rows],
                                   rtol=1e-13, err_msg=name)


def test_small_lets_are_still_substituted():
    model = _compile(["neuron Small", "    param tau = 20.0", "    state V = 0.0",
                      "    let leak = -V / tau", "    dV/dt = leak"])
    assert model.method == "exact"
    assert not any(isinstance(s, ir.Local) and s.name.startswith("_let_")
                   for s in ir.walk_statements(model.ir.step))


def test_a_big_let_in_a_threshold_is_written_out_up_to_a_limit():
    small = _compile(["neuron T", "    state V = 0.01", *_chain_lets(9), "    after:",
                      "        V += 0.01", "    threshold: a9 > 0.1", "    reset:",
                      "        V = 0.01"])
    sim = eqsnn.Simulator(small, 1, precision="float64")
    spikes = sim.run(60, record=["spikes"]).spikes.step
    v, expected = 0.01, []
    for step in range(60):
        v += 0.01
        if _chain(v, 9) > 0.1:
            expected.append(step)
            v = 0.01
    assert list(spikes) == expected and expected
    with pytest.raises(CheckError, match="too many for 'threshold:'") as caught:
        _compile(["neuron T", "    state V = 0.01", *_chain_lets(30),
                  "    threshold: a30 > 1"])
    assert caught.value.line == 34 and "compute the value into a state" in str(caught.value)


def test_the_inline_limit_is_where_sharing_starts():
    """The lets whose written-out size passes INLINE_LIMIT are shared, the others not:
    sizes counted here on the substituted SymPy trees."""
    from eqsnn.frontend.check import check
    from eqsnn.frontend.parse import parse

    text = "\n".join(["neuron Chain", "    state V = 0.01", *_chain_lets(12), "    after:",
                      "        V = a12"]) + "\n"
    checked = check(parse(text))
    shared = {let.name for let in checked.lets.shared()}
    first = min(int(name[1:]) for name in shared)
    assert shared == {f"a{i}" for i in range(first, 13)} and first > 1

    def tree_size(expr):
        return 1 + sum(tree_size(a) for a in expr.args)

    written = sympy.Symbol("V")
    for i in range(1, first + 1):
        written = written * written + written
        if i < first:
            assert tree_size(written) <= INLINE_LIMIT
    assert tree_size(written) > INLINE_LIMIT
    assert all(let.size > INLINE_LIMIT for let in checked.lets.shared())


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_big_let_of_params_is_computed_once_on_the_host(backend):
    """The rate of a linear ODE is a chain of lets of a param: it lands in the host
    precompute, and the ODE is still integrated exactly."""
    k = 14
    model = _compile(["neuron Rate", "    param p = 0.01", "    state V = 0.0",
                      *_chain_lets(k, "p"), f"    dV/dt = (1 - V) * a{k}"])
    assert model.method == "exact"
    assert any(item.name.startswith("_let_") for item in model.ir.precompute)
    sim = eqsnn.Simulator(model, 2, backend=backend, precision="float64",
                          params={"p": [0.01, 0.02]})
    got = sim.run(25, record=["V"]).vars["V"][:, 0, :]
    t = np.arange(1, 26)[:, None]
    rate = np.array([_chain(0.01, k), _chain(0.02, k)])
    np.testing.assert_allclose(got, 1 - np.exp(-rate * t), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_chain_inside_an_ode_runs_under_the_adaptive_default(backend):
    """Without 'method:', the nonlinear chain gets the adaptive default, whose substep loop
    evaluates the shared lets inside the loop; checked against solve_ivp."""
    from scipy.integrate import solve_ivp

    model = _compile(["neuron Chain", "    state V = 0.01", *_chain_lets(6),
                      "    dV/dt = -V + a6"])
    assert model.method == "adaptive"
    sim = eqsnn.Simulator(model, 2, backend=backend, precision="float64", dt=0.1)
    got = sim.run(20, record=["V"]).vars["V"][:, 0, 0]
    reference = solve_ivp(lambda t, y: -y + _chain(y, 6), (0, 2.0), [0.01], rtol=1e-12,
                          atol=1e-14, t_eval=np.arange(1, 21) * 0.1).y[0]
    np.testing.assert_allclose(got, reference, rtol=1e-6)
