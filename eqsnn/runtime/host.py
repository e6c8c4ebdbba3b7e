"""Host-side evaluation in float64: the precompute and initial values.

Every backend gets its precompute values from here, so they are the same
bits everywhere.  Values are NumPy float64 arrays of shape ``()`` (the same
for all neurons) or ``(n,)`` (per neuron).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import sympy

from .. import ir
from ..errors import ParameterError
from . import expm_stack
from .expm_stack import phi1_numeric


def floor_division(a, b):
    """The language's ``a // b`` on the host: of ints NumPy's (0 for a zero divisor), of
    floats ``floor(a / b)`` of the rounded quotient, as every backend computes it."""
    a, b = np.asarray(a), np.asarray(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        if a.dtype.kind in "iu" and b.dtype.kind in "iu":
            return np.floor_divide(a, b)
        return np.floor(np.true_divide(a, b))


NUMPY_FUNCTIONS = {
    "phi1": phi1_numeric,
    "expm1": np.expm1,
    "log1p": np.log1p,
    # the language's % and float // (ir.mod, ir.floor_div), as every backend computes them
    "mod": np.remainder,
    "floor_div": floor_division,
    # ir.keep_nonfinite(value, x): value where x is finite, NaN where it is not
    "keep_nonfinite": lambda value, x: value + 0.0 * np.asarray(x, dtype=np.float64),
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
    check_clip_bounds(model, values)
    out: dict[str, np.ndarray] = {}
    for item in model.precompute:
        if isinstance(item, ir.Derived):
            _check_exponent_arguments(model, item, values)
            out[item.name] = values[item.name] = evaluate(item.expr, values)
        else:
            for name, value in evaluate_propagator(item, values, dt).items():
                out[name] = values[name] = value
    for name, value in out.items():
        if not np.all(np.isfinite(value)):
            bad = np.flatnonzero(~np.isfinite(np.atleast_1d(value)))
            where = f" (neurons {bad[:5].tolist()})" if np.ndim(value) else ""
            raise ParameterError(
                f"the precomputed value {describe_precompute(model, name)} is not finite"
                f"{where}",
                hint="check the parameters for NaN, infinite or out-of-range values",
            )
    return out


def _check_exponent_arguments(model: ir.Model, item: ir.Derived, values) -> None:
    """A ParameterError where the argument of an ``exp`` or ``φ1`` of the precompute
    overflows (``-dt/tau`` with ``tau = 1e-320``): ``e^{-inf} = 0`` and ``dt φ1(-inf) = 0``
    where it is ``tau``, and a hoisted ``dt φ1(-dt/tau) v_rest / tau`` gave 0, not 1."""
    for call in item.expr.atoms(sympy.exp, ir.phi1):
        argument = call.args[0]
        names = {str(s) for s in argument.free_symbols}
        if not names <= values.keys() or not all(
                np.all(np.isfinite(values[name])) for name in names):
            continue  # a non-finite param is refused where it is given
        value = np.atleast_1d(evaluate(argument, values))
        bad = np.flatnonzero(np.isinf(value))
        if len(bad):
            where = f" (neurons {bad[:5].tolist()})" if value.size > 1 else ""
            shown = ", ".join(f"{name} = {_shown(values[name], bad[0])!r}"
                              for name in sorted(names))
            raise ParameterError(
                f"the precomputed value {describe_precompute(model, item.name)}: the "
                f"argument {argument} overflows to infinity{where} with {shown}",
                hint="give the time constants (or rates) values within about 1e300 of dt")


def _shown(value, neuron: int) -> float:
    """A value as a message shows it: the scalar, or the first offending neuron's."""
    array = np.asarray(value, dtype=np.float64)
    return float(array.reshape(-1)[neuron] if array.ndim else array)


def check_clip_bounds(model: ir.Model, values: Mapping[str, object]) -> None:
    """A ParameterError where a ``clip(x, low, high)`` whose bounds read params only has
    ``low > high`` for these params: every backend would give ``high`` whatever ``x`` is
    (``Min(Max(x, low), high)``), which is never what ``clip`` was written for.  Constant
    bounds are checked where they are written (``frontend.expressions``)."""
    meta = getattr(model, "meta", {})  # an ir.WeightUpdate has none: not checked
    for low, high, line, column in meta.get("clip_bounds", ()):
        # each bound's names (in low + high, -k and k would cancel to 0 and show none)
        names = sorted({str(s) for s in low.free_symbols | high.free_symbols})
        if not all(name in values for name in names):
            continue  # a model rebuilt under other names (a network's composed neuron)
        lo, hi = evaluate(low, values), evaluate(high, values)
        bad = np.asarray(lo > hi)
        if not bad.any():
            continue
        where, at = (), ""
        if bad.ndim:
            where = np.unravel_index(int(np.argmax(bad)), bad.shape)
            at = f" for neuron {int(np.ravel_multi_index(where, bad.shape))}"
        shown = ", ".join(f"{name} = {_value_at(values[name], where)!r}" for name in names)
        raise ParameterError(
            f"{model.name}: clip(x, {low}, {high}) has its low bound above its high bound"
            f"{at}: {_value_at(lo, where)!r} > {_value_at(hi, where)!r} with {shown}; every "
            f"backend would give the high bound whatever x is",
            line=line, column=column, source=meta.get("source"),
            filename=meta.get("filename"),
            hint=f"give params with {low} <= {high}, or swap the bounds in the model: "
                 "clip(x, low, high)")


def _value_at(value, where) -> float:
    array = np.asarray(value, dtype=np.float64)
    return float(array[where] if array.ndim else array)


def describe_precompute(model: ir.Model, name: str) -> str:
    """Precompute value ``name`` with what it is, for a message (``_c0 = a**2``: the
    internal name alone says nothing to the model's author)."""
    for item in model.precompute:
        if isinstance(item, ir.Derived) and item.name == name:
            return f"{name} = {item.expr}"
        if isinstance(item, ir.Propagator) and name in item.names():
            return (f"{name} (of the exact update over a step of the linear ODEs, "
                    f"A = {item.matrix.tolist()})")
    return name


def _entries(matrix: sympy.Matrix, values) -> list[list[np.ndarray]]:
    """Each entry of a symbolic matrix evaluated: shape ``()`` or ``(n,)``."""
    rows, cols = matrix.shape
    return [[evaluate(matrix[i, j], values) for j in range(cols)] for i in range(rows)]


def _distinct(entry_lists) -> tuple[np.ndarray | None, np.ndarray | None, tuple]:
    """``(first, inverse, shape)`` over the entries that vary between neurons: the index of
    one neuron per distinct combination, each neuron's combination, and the neurons' shape;
    ``None, None, ()`` where nothing varies."""
    varying = [e for entries in entry_lists for row in entries for e in row if e.ndim]
    if not varying:
        return None, None, ()
    shape = np.broadcast_shapes(*(e.shape for e in varying))
    columns = np.stack([np.broadcast_to(e, shape).reshape(-1) for e in varying], axis=1)
    columns = np.ascontiguousarray(columns + 0.0)  # -0.0 and 0.0 alike
    if columns.shape[1] == 1:
        keys = columns[:, 0]
    else:  # rows as opaque bytes: one sort of n keys, not a lexsort of every column
        keys = columns.view(np.dtype((np.void, columns.dtype.itemsize * columns.shape[1])))[:, 0]
    # np.unique without its stable sort: any neuron of a combination represents it
    order = np.argsort(keys)
    ordered = columns[order]
    new = np.empty(len(keys), bool)
    new[:1] = True
    np.any(ordered[1:] != ordered[:-1], axis=1, out=new[1:])
    inverse = np.empty(len(keys), np.intp)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse, shape


def _stack_at(entries, first) -> np.ndarray:
    """The matrices ``(m, rows, cols)`` of the neurons ``first`` (all: one where None)."""
    rows, cols = len(entries), len(entries[0])
    m = 1 if first is None else len(first)
    out = np.empty((m, rows, cols))
    for i in range(rows):
        for j in range(cols):
            e = entries[i][j]
            out[:, i, j] = e.reshape(-1)[first] if e.ndim and first is not None else e
    return out


def evaluate_propagator(item: ir.Propagator, values, dt: float) -> dict[str, np.ndarray]:
    """Exact propagators from the augmented matrix exponential, per neuron where needed.

    One exponential per distinct combination of the matrix entries that vary
    (per-neuron params often take few values); many distinct ones are
    exponentiated together (:mod:`eqsnn.runtime.expm_stack`), a few by SciPy.
    """
    matrix = _entries(item.matrix, values)
    noise = _entries(item.noise, values) if item.noise is not None else None
    first, inverse, shape = _distinct([matrix] + ([noise] if noise else []))
    A = _stack_at(matrix, first)
    m, k, _ = A.shape
    if m > expm_stack.MANY:
        phi, gamma = expm_stack.augmented_expm(A, dt)
    else:
        phi, gamma = expm_stack.scipy_augmented_expm(A * dt, dt)
        # SciPy's expm of an upper-triangular matrix with nearly equal diagonal entries
        # (time constants 1e-15 apart, dt/τ = 5) is off by 1% in the corner (SciPy 1.17), and
        # of a stiff 2×2 accurate only normwise (2e-10 in its 1/|λ|-sized entries): those
        # take expm_stack's closed forms and Taylor sums, checked against 50-digit mpmath
        norms = np.abs(A * dt).sum(axis=1).max(axis=1)
        own = np.flatnonzero(~np.tril(A, -1).any(axis=(1, 2))
                             | ((norms > expm_stack.STIFF_NORM) if k == 2 else False))
        if len(own):
            phi[own], gamma[own] = expm_stack.augmented_expm(A[own], dt)
    out = {}
    _collect(out, item.phi, phi, shape, inverse)
    _collect(out, item.gamma, gamma, shape, inverse)
    if noise is not None:
        Q = _noise_covariance(A, _stack_at(noise, first), dt)
        _collect(out, item.chol, _psd_factor(Q), shape, inverse)
    return out


def _collect(out, names, matrices, shape, inverse=None):
    for i, row in enumerate(names):
        for j, name in enumerate(row):
            if name is not None:
                value = matrices[:, i, j]
                out[name] = value[inverse].reshape(shape) if shape else np.float64(value[0])


def _noise_covariance(A: np.ndarray, G: np.ndarray, dt: float) -> np.ndarray:
    """``Q = ∫_0^dt e^{As} G Gᵀ e^{Aᵀs} ds`` over a step ``h = dt / 2^s`` short enough that
    ``‖A h‖ <= 1``, by the series ``Q(h) = Σ h^{n+1}/(n+1)! Lⁿ(G Gᵀ)``, ``L(X) = AX + XAᵀ``
    (and ``e^{Ah}`` by its own), then doubled back: ``Q(2h) = Q(h) + e^{Ah} Q(h) e^{Aᵀh}``.

    Each entry keeps its own digits: a membrane's variance 1e-16 of its fast synaptic
    current's is right to rounding.  Van Loan's block exponential over the whole step held
    ``e^{-A dt}`` (``e^{40}`` at ``dt/τ = 40``: ``Q`` indefinite), and over a short step its
    error, relative to the norm, swamped such small entries."""
    n, k, _ = A.shape
    GG = G @ np.swapaxes(G, 1, 2)
    norms = np.abs(A * dt).sum(axis=1).max(axis=1)
    with np.errstate(divide="ignore"):
        s = np.maximum(0, np.ceil(np.log2(norms))).astype(np.int64)
    s[~np.isfinite(norms)] = 0
    h = (dt * np.ldexp(1.0, -s))[:, None, None]
    X = A * h  # ‖A h‖ <= 1
    term = GG * h
    # e^{Ah} is squared as I + D: squared as a matrix near I it would lose the digits of
    # e^{-h/τ} for a slow τ (2^30 squarings of 1 - 5e-13: 4e-8 off), squared as D it does
    # not; Q is updated with E = I + D itself (in D's terms Q's cross entries cancel)
    Q, D, power = term.copy(), X.copy(), X.copy()
    Xt = np.swapaxes(X, 1, 2)
    r = float(np.abs(X).sum(axis=1).max(initial=0.0))  # ‖A h‖ <= r <= 1
    # an entry reached through 2(k-1) small couplings starts that many terms later: the
    # first term left out is below 1e-19 of the entry's first
    terms = next((j for j in range(1, _SERIES_TERMS) if (2.0 * r) ** max(j - 2 * (k - 1), 0)
                  / math.factorial(j + 1) < 1e-19), _SERIES_TERMS)
    for j in range(1, terms + 1):
        term = (X @ term + term @ Xt) / (j + 1)
        Q += term
        power = power @ X / (j + 1)
        D += power
    eye = np.eye(k)
    for j in range(int(s.max(initial=0))):  # Q += E Q Eᵀ with E = I + D, D = 2D + D²
        more = np.flatnonzero(s > j)
        q, d = Q[more], D[more]
        E = eye + d
        Q[more] = q + E @ q @ np.swapaxes(E, 1, 2)
        D[more] = 2.0 * d + d @ d
    return 0.5 * (Q + np.swapaxes(Q, 1, 2))


#: terms of the series of ``Q(h)`` and ``e^{Ah}`` at most (``‖A h‖ <= 1``: 2^26/27! < 1e-20)
_SERIES_TERMS = 26


def _psd_factor(Q: np.ndarray) -> np.ndarray:
    """Lower-triangular ``L`` with ``L Lᵀ = Q`` for positive semi-definite ``Q``.

    A Cholesky factorisation that sets a column to zero where its pivot is
    (numerically) zero, so noise that drives only some states works.  Zero is judged
    against the column's own variance ``Q[j, j]``, not the trace: a membrane's variance
    2e-16 of its fast synaptic current's is small, not zero.
    """
    n, k, _ = Q.shape
    L = np.zeros_like(Q)
    for j in range(k):
        pivot = Q[:, j, j] - np.sum(L[:, j, :j] ** 2, axis=1)
        ok = pivot > np.maximum(1e-14 * Q[:, j, j], np.finfo(float).tiny)
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
