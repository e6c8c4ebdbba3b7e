"""Matrix exponentials of many small matrices at once (heterogeneous populations).

``scipy.linalg.expm`` handles a stack ``(m, d, d)`` by a Python-level loop,
about a hundred microseconds per matrix; a population with a million
distinct time constants needs a million exponentials, computed here
together.  :func:`augmented_expm` gives the exact propagators of ``x' = A x + u``
(``expm([[A dt, I dt], [0, 0]])``): closed forms where ``A`` is 1×1 or 2×2
(``cosh``/``sinhc`` of half the eigenvalue gap), else a scaled Taylor sum of
``φ1`` squared back, with ``k × k`` products only.

Accuracy: within 1e-13 normwise of ``scipy.linalg.expm`` for ``dt·λ`` in
``[-50, 0]``, nearly repeated and complex eigenvalues and non-normal matrices
included, or of 40-digit mpmath where SciPy is off (``tests/test_expm_stack.py``).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

__all__ = ["augmented_expm", "scipy_augmented_expm", "MANY", "STIFF_NORM", "phi1_numeric"]

#: distinct matrices above which the stack is exponentiated here rather than by SciPy one at
#: a time; below it every matrix takes SciPy's path, so a population whose neurons all share
#: a value gets exactly the bits of the shared scalar
MANY = 64


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



def augmented_expm(A: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """``(phi, gamma)`` of ``expm([[A dt, I dt], [0, 0]])`` for a stack ``(m, k, k)``:
    ``phi = e^{A dt}`` and ``gamma = dt·φ1(A dt)``, ``φ1(M) = ∫_0^1 e^{M u} du``.

    ``k = 1``: closed forms (``exp`` and ``expm1(z)/z``); ``k = 2``: closed forms too
    (:func:`_upper_2x2`, :func:`_general_2x2`), the Taylor path below only for a neuron
    where none is well conditioned.  Above: ``k × k`` work only,
    never the ``2k × 2k`` augmented matrix: each ``M = A dt`` is scaled by its own power
    of two to norm <= 1/2, ``φ1`` summed by Horner's rule (17 terms: the remainder is
    below 1e-22), ``e^X = I + X φ1(X)``, and both squared back with
    ``φ1(2X) = φ1(X)(e^X + I)/2``, ``e^{2X} = (e^X)^2``.
    """
    A = np.asarray(A, np.float64)
    m, k, _ = A.shape
    if k == 1:
        z = A[:, 0, 0] * dt
        return np.exp(z)[:, None, None], (dt * phi1_numeric(z))[:, None, None]
    if k == 2 and not np.any(A[:, 1, 0]):
        return _upper_2x2(A * dt, dt)
    if k == 2:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            phi, gamma, rest = _general_2x2(A * dt, dt)  # non-finite ones are in rest
        if len(rest):
            phi[rest], gamma[rest] = _taylor(A[rest] * dt, dt)
        return phi, gamma
    return _taylor(A * dt, dt)


def _taylor(M: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """``(e^M, dt·φ1(M))`` by the scaled Taylor sum of ``φ1``, squared back; a stiff
    neuron (norm of ``M`` above ``2^_MOST_SQUARINGS``, a time constant far below ``dt``)
    by SciPy's ``expm`` of its augmented matrix instead: each squaring loses a little of
    the small entries' relative accuracy (``φ1``'s entries of a fast state are ``1/|λ|``),
    1e-12 at ``dt·λ = -1e4`` and 5e-11 at ``-1e6``, where SciPy keeps them."""
    m, k, _ = M.shape
    norms = np.abs(M).sum(axis=1).max(axis=1)
    with np.errstate(divide="ignore"):
        s = np.maximum(0, np.ceil(np.log2(norms))).astype(np.int64)
    stiff = np.flatnonzero(~(s <= _MOST_SQUARINGS))
    if len(stiff):
        phi, gamma = np.empty_like(M), np.empty_like(M)
        mild = np.flatnonzero(s <= _MOST_SQUARINGS)
        if len(mild):
            phi[mild], gamma[mild] = _taylor(M[mild], dt)
        phi[stiff], gamma[stiff] = scipy_augmented_expm(M[stiff], dt)
        return phi, gamma
    order = np.argsort(-s, kind="stable")  # most squarings first: each round is a prefix
    s = s[order]
    X = M[order] * np.ldexp(1.0, -s)[:, None, None]
    eye = np.eye(k)
    phi1 = eye + X / (_TERMS + 1)
    for j in range(_TERMS, 1, -1):
        phi1 = eye + (X @ phi1) / j
    E = eye + X @ phi1
    for j in range(int(s.max(initial=0))):
        c = int(np.count_nonzero(s > j))
        phi1[:c] = 0.5 * (phi1[:c] @ (E[:c] + eye))
        E[:c] = E[:c] @ E[:c]
    phi, gamma = np.empty_like(E), np.empty_like(E)
    phi[order] = E
    gamma[order] = dt * phi1
    return phi, gamma


#: Taylor terms of φ1 for ``||X|| <= 1``: ``1 / 22! < 1e-21``
_TERMS = 20

#: squarings the Taylor path takes at most (``||A dt|| <= 64``: within 1e-14 of 50-digit
#: mpmath entrywise); a stiffer neuron takes SciPy's ``expm``
_MOST_SQUARINGS = 6
#: the norm ``||A dt||`` above which a neuron is stiff here (a time constant below dt / 64)
STIFF_NORM = 2.0 ** _MOST_SQUARINGS


def scipy_augmented_expm(M: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """``(e^M, dt·φ1(M))`` of a stack ``M = A dt`` ``(m, k, k)`` by SciPy's ``expm`` of the
    augmented matrices ``[[A dt, I dt], [0, 0]]``."""
    m, k, _ = M.shape
    aug = np.zeros((m, 2 * k, 2 * k))
    aug[:, :k, :k] = M
    aug[:, :k, k:] = np.eye(k) * dt
    E = scipy.linalg.expm(aug)
    return E[:, :k, :k], E[:, :k, k:]


def _upper_2x2(M: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Closed forms for upper-triangular ``M = [[a, b], [0, d]]`` (e.g. a membrane driven
    by a synaptic current): ``e^M``'s corner is ``b e^{max(a,d)} φ1(-|a-d|)``, exact
    for equal or nearly equal ``a`` and ``d`` and finite where one is far below -700;
    ``φ1(M)``'s corner ``x`` follows from ``φ1(M) M = M φ1(M) = e^M - I``, divided by
    the larger of ``|a|, |d|`` (>= 1/2), else from the series of ``φ1``'s divided difference."""
    a, b, d = M[:, 0, 0], M[:, 0, 1], M[:, 1, 1]
    # (e^a - e^d)/(a - d) = e^max φ1(min - max): no e^{(a+d)/2} that underflows while
    # sinh((a-d)/2) overflows (a time constant far below dt), and φ1(0) = 1 where a = d
    top = np.maximum(a, d)
    corner = b * np.exp(top) * phi1_numeric(np.minimum(a, d) - top)
    pa, pd = phi1_numeric(a), phi1_numeric(d)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(np.abs(d) >= np.abs(a), (corner - b * pa) / d, (corner - b * pd) / a)
    near_zero = np.maximum(np.abs(a), np.abs(d)) < 0.5
    if near_zero.any():  # φ1[a, d] = sum_n h_n(a, d) / (n + 2)!, h_n = sum_i a^i d^(n-i)
        an, dn = a[near_zero], d[near_zero]
        h, power, total, factorial = np.ones_like(an), np.ones_like(an), 0.5, 2.0
        for n in range(1, 30):
            power = power * dn
            h = an * h + power
            factorial *= n + 2
            total = total + h / factorial
        x[near_zero] = b[near_zero] * total
    m = len(M)
    phi, gamma = np.zeros((m, 2, 2)), np.zeros((m, 2, 2))
    phi[:, 0, 0], phi[:, 0, 1], phi[:, 1, 1] = np.exp(a), corner, np.exp(d)
    gamma[:, 0, 0], gamma[:, 0, 1], gamma[:, 1, 1] = dt * pa, dt * x, dt * pd
    return phi, gamma


#: the branch of :func:`_general_2x2` whose estimated loss (a multiple of the unit
#: roundoff in ``φ1``'s off-diagonal coefficient) is below this is trusted; neurons with
#: none go to the scaled Taylor path
_TRUSTED = 64.0


def _split(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dekker's split of ``x`` into two halves of 26 bits each (``x = hi + lo`` exactly)."""
    t = 134217729.0 * x  # 2^27 + 1
    hi = t - (t - x)
    return hi, x - hi


def _two_product(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x y = p + err`` exactly, ``p`` the rounded product (Dekker)."""
    p = x * y
    xh, xl = _split(x)
    yh, yl = _split(y)
    return p, ((xh * yh - p) + xh * yl + xl * yh) + xl * yl


def _gap(a, d, b, c) -> tuple[np.ndarray, np.ndarray]:
    """``h = (a − d)/2`` (rounded) and ``q = ((a − d)/2)² + bc`` to about the unit roundoff
    of ``q``: where the two terms cancel (complex or nearly repeated eigenvalues of a
    strongly non-normal matrix) ``a − d``, both products and their sum are carried with
    their rounding errors (Knuth's two-sum, Dekker's product)."""
    h = 0.5 * (a - d)
    hh, bc = h * h, b * c
    q = hh + bc
    with np.errstate(over="ignore", invalid="ignore"):
        cancels = np.flatnonzero(~(4.0 * np.abs(q) >= hh + np.abs(bc)))
    if len(cancels):
        q[cancels] = _exact_gap(a[cancels], d[cancels], b[cancels], c[cancels])
    return h, q


def _exact_gap(a, d, b, c) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        diff = a - d
        virtual = diff - a
        diff_err = (a - (diff - virtual)) - (d + virtual)
        h, h_err = 0.5 * diff, 0.5 * diff_err
        hh, hh_err = _two_product(h, h)
        bc, bc_err = _two_product(b, c)
        total = hh + bc
        virtual = total - hh
        total_err = (hh - (total - virtual)) + (bc - virtual)
        return total + (total_err + hh_err + bc_err + 2.0 * h * h_err)


def _cosh_sinhc(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(cosh δ, sinh(δ)/δ)`` with ``δ² = q`` (``cos ω, sin(ω)/ω`` for ``q = -ω² < 0``);
    even power series for ``|q| < 0.1`` (the first term left out is below 1e-18)."""
    small = np.abs(q) < 0.1
    if small.all():
        return _even_series(q)
    root = np.sqrt(np.abs(np.where(small, 1.0, q)))
    with np.errstate(over="ignore", invalid="ignore"):
        c = np.where(q > 0, np.cosh(root), np.cos(root))
        s = np.where(q > 0, np.sinh(root), np.sin(root)) / root
    if small.any():
        c[small], s[small] = _even_series(q[small])
    return c, s


def _even_series(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``cosh √z`` and ``sinh(√z)/√z`` by their series (``|z| < 0.1``), to the first
    power whose term is below 1e-18 for the largest ``|z|``."""
    top = float(np.abs(z).max(initial=0.0))
    k, term = 1, top / 2.0
    while term > 1e-18:
        term *= top / ((2 * k + 1) * (2 * k + 2))
        k += 1
    c, s = np.ones_like(z), np.ones_like(z)
    scratch = np.empty_like(z)
    for j in range(k, 0, -1):  # Horner: 1 + z/((2j-1)2j) (1 + ...)
        np.multiply(z, c, out=scratch)
        scratch *= 1.0 / ((2 * j - 1) * (2 * j))
        np.add(scratch, 1.0, out=c)
        np.multiply(z, s, out=scratch)
        scratch *= 1.0 / ((2 * j) * (2 * j + 1))
        np.add(scratch, 1.0, out=s)
    return c, s


def _general_2x2(M: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed forms for a general real ``M = [[a, b], [c, d]]``: with ``μ = (a+d)/2``,
    ``N = M − μI`` and ``δ² = q = ((a−d)/2)² + bc`` (so ``N² = q I``; ``q < 0`` for
    complex eigenvalues ``μ ± iω``),

        e^M   = e^μ (C I + S N),       C = cosh δ, S = sinh(δ)/δ  (cos ω, sin(ω)/ω)
        φ1(M) = (e^μ S − μ F) I + F N,  F = φ1[μ+δ, μ−δ]  (φ1's divided difference)

    (the ``I`` part follows from ``φ1(M) M = e^M − I``).  ``F`` is taken from whichever of
    three forms is well conditioned for the neuron:

    * eigenvalues within 1/2 of zero: the series ``F = Σ h_n / (n+2)!`` of the complete
      symmetric polynomials ``h_n = 2μ h_{n−1} − det(M) h_{n−2}``;
    * else ``F = (1 + e^μ (μS − C)) / det(M)`` (no ``δ`` in a denominator: exact for
      repeated eigenvalues), unless the numerator cancels (an eigenvalue near zero);
    * else, for real ``δ``, ``(φ1(μ+δ) − φ1(μ−δ)) / 2δ`` (eigenvalues far apart).

    Returns ``(phi, gamma, rest)``: ``rest`` indexes the neurons where no form's estimated
    loss is below :data:`_TRUSTED` (or a value is not finite), left for the Taylor path.
    """
    m = len(M)
    a, b, c, d = np.ascontiguousarray(M.reshape(m, 4).T)  # columns, not strided views
    mu = 0.5 * (a + d)
    h, q = _gap(a, d, b, c)
    det = mu * mu - q
    C, S = _cosh_sinhc(q)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(mu)
        eC, eS = e * C, e * S
        rho = np.abs(mu) + np.sqrt(np.abs(q))  # bounds both eigenvalues' moduli
    near = rho <= 0.5
    every = bool(near.all())
    if every:
        F, loss = np.empty(m), np.ones(m)
    else:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            numerator = 1.0 + (mu * eS - eC)
            F = numerator / det
            loss = (1.0 + np.abs(mu * eS) + np.abs(eC)) / np.abs(numerator)
            apart = (q > 0) & ~(loss <= _TRUSTED)
            if apart.any():  # the divided difference where the eigenvalues are far apart
                delta = np.sqrt(q[apart])
                hi, lo = phi1_numeric(mu[apart] + delta), phi1_numeric(mu[apart] - delta)
                F_dd = (hi - lo) / (2.0 * delta)
                loss_dd = (np.abs(hi) + np.abs(lo)) / np.abs(hi - lo)
                better = loss_dd < loss[apart]
                idx = np.flatnonzero(apart)[better]
                F[idx], loss[idx] = F_dd[better], loss_dd[better]
    if every or near.any():
        m2, p = (2.0 * mu, det) if every else (2.0 * mu[near], det[near])
        r = float((rho if every else rho[near]).max(initial=0.0))
        prev, cur = np.ones_like(m2), m2.copy()  # h_0, h_1
        total, factorial, n = cur / 6.0, 6.0, 1
        total += 0.5
        scratch = np.empty_like(m2)
        # |h_n| <= (n+1) r^n: stop once the next term's bound is below 1e-18 (F ~ 1/2)
        while (n + 2) * r ** (n + 1) / (factorial * (n + 3)) > 1e-18:
            n += 1
            np.multiply(p, prev, out=scratch)
            np.multiply(m2, cur, out=prev)
            prev -= scratch  # h_n, in h_{n-2}'s buffer
            prev, cur = cur, prev
            factorial *= n + 2
            np.divide(cur, factorial, out=scratch)
            total += scratch
        if every:
            F = total
        else:
            F[near], loss[near] = total, 1.0
    F0 = eS - mu * F
    Fh, eSh = F * h, eS * h
    phi = np.stack((eC + eSh, eS * b, eS * c, eC - eSh), axis=1).reshape(m, 2, 2)
    gamma = np.stack((F0 + Fh, F * b, F * c, F0 - Fh), axis=1).reshape(m, 2, 2)
    gamma *= dt
    if every and np.isfinite(phi).all() and np.isfinite(gamma).all():
        return phi, gamma, np.empty(0, np.int64)
    ok = (loss < _TRUSTED) & np.isfinite(phi).all(axis=(1, 2)) \
        & np.isfinite(gamma).all(axis=(1, 2))
    return phi, gamma, np.flatnonzero(~ok)
