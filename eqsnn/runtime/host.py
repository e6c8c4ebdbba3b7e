"""Host-side evaluation in float64: the precompute and initial values.

Every backend gets its precompute values from here, so they are the same
bits everywhere.  Values are NumPy float64 arrays of shape ``()`` (the same
for all neurons) or ``(n,)`` (per neuron).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.linalg
import sympy

from .. import ir
from ..errors import ParameterError


def phi1_numeric(z):
    """``expm1(z)/z`` evaluated stably, ``1`` at ``z = 0``.

    >>> float(phi1_numeric(0.0))
    1.0
    >>> abs(float(phi1_numeric(1e-12)) - (1 + 0.5e-12)) < 1e-16
    True
    """
    z = np.asarray(z, dtype=np.float64)
    small = np.abs(z) < 1e-8
    safe = np.where(small, 1.0, z)
    # Taylor 1 + z/2 + z^2/6 is exact to double precision for |z| < 1e-8
    return np.where(small, 1.0 + z / 2.0 + z * z / 6.0, np.expm1(safe) / safe)


NUMPY_FUNCTIONS = {
    "phi1": phi1_numeric,
    "expm1": np.expm1,
    "log1p": np.log1p,
}


def lambdify(symbols, expr):
    """A NumPy function of ``symbols`` computing ``expr`` in float64."""
    return sympy.lambdify(symbols, expr, modules=[NUMPY_FUNCTIONS, "numpy"])


def evaluate(expr: sympy.Basic, values: Mapping[str, object]) -> np.ndarray:
    """Evaluate ``expr`` with the named values (scalars or arrays), in float64."""
    expr = sympy.sympify(expr)
    names = sorted(str(s) for s in expr.free_symbols)
    missing = [name for name in names if name not in values]
    if missing:
        raise ParameterError(f"no value for {', '.join(missing)} in {expr}")
    fn = lambdify([sympy.Symbol(name) for name in names], expr)
    args = [np.asarray(values[name], dtype=np.float64) for name in names]
    with np.errstate(all="ignore"):
        result = np.asarray(fn(*args), dtype=np.float64)
    if args:
        result = np.broadcast_to(result, np.broadcast_shapes(*(a.shape for a in args)))
    return np.array(result, dtype=np.float64)


def evaluate_precompute(
    model: ir.Model, params: Mapping[str, object], dt: float
) -> dict[str, np.ndarray]:
    """All precompute values of ``model`` for these params (scalars or ``(n,)`` arrays)."""
    values: dict[str, object] = {
        name: np.asarray(v, dtype=np.float64) for name, v in params.items()}
    values["dt"] = np.float64(dt)
    out: dict[str, np.ndarray] = {}
    for item in model.precompute:
        if isinstance(item, ir.Derived):
            out[item.name] = values[item.name] = evaluate(item.expr, values)
        else:
            for name, value in evaluate_propagator(item, values, dt).items():
                out[name] = values[name] = value
    for name, value in out.items():
        if not np.all(np.isfinite(value)):
            bad = np.flatnonzero(~np.isfinite(np.atleast_1d(value)))
            raise ParameterError(
                f"precomputed value {name} is not finite (neurons {bad[:5].tolist()})",
                hint="check the parameters for NaN, infinite or out-of-range values",
            )
    return out


def _stack_matrix(matrix: sympy.Matrix, values) -> np.ndarray:
    """Evaluate a symbolic matrix to shape ``(m, rows, cols)`` with ``m`` neurons (or 1)."""
    rows, cols = matrix.shape
    entries = [[evaluate(matrix[i, j], values) for j in range(cols)] for i in range(rows)]
    shape = np.broadcast_shapes(*(e.shape for row in entries for e in row))
    n = int(np.prod(shape)) if shape else 1
    out = np.empty((n, rows, cols))
    for i in range(rows):
        for j in range(cols):
            out[:, i, j] = np.broadcast_to(entries[i][j], shape).reshape(n)
    return out, shape


def evaluate_propagator(item: ir.Propagator, values, dt: float) -> dict[str, np.ndarray]:
    """Exact propagators from the augmented matrix exponential, per neuron where needed."""
    A, shape = _stack_matrix(item.matrix, values)
    n, k, _ = A.shape
    # one exponential per distinct matrix: per-neuron params often take few values
    distinct, inverse = np.unique(A.reshape(n, k * k), axis=0, return_inverse=True)
    m = len(distinct)
    aug = np.zeros((m, 2 * k, 2 * k))
    aug[:, :k, :k] = distinct.reshape(m, k, k) * dt
    aug[:, :k, k:] = np.eye(k) * dt
    E = scipy.linalg.expm(aug)[inverse.reshape(n)]
    phi, gamma = E[:, :k, :k], E[:, :k, k:]
    out = {}
    _collect(out, item.phi, phi, shape)
    _collect(out, item.gamma, gamma, shape)
    if item.noise is not None:
        G, gshape = _stack_matrix(item.noise, values)
        shape = np.broadcast_shapes(shape, gshape)
        Q = _van_loan_covariance(np.broadcast_to(A, (max(n, G.shape[0]), k, k)), G, dt)
        _collect(out, item.chol, _psd_factor(Q), shape)
    return out


def _collect(out, names, matrices, shape):
    for i, row in enumerate(names):
        for j, name in enumerate(row):
            if name is not None:
                value = matrices[:, i, j]
                out[name] = value.reshape(shape) if shape else np.float64(value[0])


def _van_loan_covariance(A: np.ndarray, G: np.ndarray, dt: float) -> np.ndarray:
    """``Q = ∫_0^dt e^{As} G Gᵀ e^{Aᵀs} ds`` by Van Loan's block exponential."""
    n, k, _ = A.shape
    GG = G @ np.swapaxes(G, 1, 2)
    block = np.zeros((n, 2 * k, 2 * k))
    block[:, :k, :k] = -A * dt
    block[:, :k, k:] = GG * dt
    block[:, k:, k:] = np.swapaxes(A, 1, 2) * dt
    F = scipy.linalg.expm(block)
    F22 = F[:, k:, k:]
    F12 = F[:, :k, k:]
    Q = np.swapaxes(F22, 1, 2) @ F12
    return 0.5 * (Q + np.swapaxes(Q, 1, 2))


def _psd_factor(Q: np.ndarray) -> np.ndarray:
    """Lower-triangular ``L`` with ``L Lᵀ = Q`` for positive semi-definite ``Q``.

    A Cholesky factorisation that sets a column to zero where its pivot is
    (numerically) zero, so noise that drives only some states works.
    """
    n, k, _ = Q.shape
    L = np.zeros_like(Q)
    scale = np.maximum(np.trace(Q, axis1=1, axis2=2), np.finfo(float).tiny)
    for j in range(k):
        pivot = Q[:, j, j] - np.sum(L[:, j, :j] ** 2, axis=1)
        ok = pivot > 1e-14 * scale
        root = np.sqrt(np.where(ok, pivot, 1.0))
        L[:, j, j] = np.where(ok, root, 0.0)
        for i in range(j + 1, k):
            value = (Q[:, i, j] - np.sum(L[:, i, :j] * L[:, j, :j], axis=1)) / root
            L[:, i, j] = np.where(ok, value, 0.0)
    return L


def evaluate_initial(
    model: ir.Model, params: Mapping[str, object], precompute: Mapping[str, object], dt: float
) -> dict[str, np.ndarray]:
    """Initial value of every state from its declared expression (scalar or per neuron)."""
    values = {**params, **precompute, "dt": dt}
    return {state.name: evaluate(state.init, values) for state in model.states}
