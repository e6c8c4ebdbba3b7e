"""Matrix exponentials of many small matrices at once (heterogeneous populations).

``scipy.linalg.expm`` handles a stack ``(m, d, d)`` by a Python-level loop,
about a hundred microseconds per matrix; a population with a million
distinct time constants needs a million exponentials.  :func:`expm_stack`
computes them together: the scaling-and-squaring method with a degree-13
Padé approximant (Higham 2005, the algorithm SciPy's ``expm`` is built on),
each matrix scaled by its own power of two and squared back in a masked
loop.  :func:`augmented_expm` gives the exact propagators of ``x' = A x + u``
(``expm([[A dt, I dt], [0, 0]])``): closed forms where ``A`` is 1×1, else a
scaled Taylor sum of ``φ1`` squared back, with ``k × k`` products only.

Accuracy: within 1e-13 normwise of ``scipy.linalg.expm`` for ``dt·λ`` in
``[-50, 0]``, nearly repeated eigenvalues and non-normal matrices included
(``tests/test_expm_stack.py``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["expm_stack", "augmented_expm", "MANY", "phi1_numeric"]

#: distinct matrices above which the stack is exponentiated here rather than by SciPy one at
#: a time; below it every matrix takes SciPy's path, so a population whose neurons all share
#: a value gets exactly the bits of the shared scalar
MANY = 64

# Higham (2005), Table 2.3 / SciPy: the degree-13 Padé coefficients and its norm bound
_B = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
      129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
      40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA_13 = 5.371920351148152


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



def expm_stack(A: np.ndarray) -> np.ndarray:
    """``expm(A[i])`` for each ``i`` of a float64 stack ``(m, d, d)``."""
    A = np.asarray(A, np.float64)
    m, d, _ = A.shape
    if m == 0:
        return A.copy()
    norms = np.abs(A).sum(axis=1).max(axis=1)  # 1-norm of each matrix
    with np.errstate(divide="ignore"):
        s = np.maximum(0, np.ceil(np.log2(norms / _THETA_13))).astype(np.int64)
    s[~np.isfinite(norms)] = 0
    A = A * np.ldexp(1.0, -s)[:, None, None]
    eye = np.broadcast_to(np.eye(d), A.shape)
    A2 = A @ A
    A4 = A2 @ A2
    A6 = A4 @ A2
    b = _B
    U = A @ (A6 @ (b[13] * A6 + b[11] * A4 + b[9] * A2)
             + b[7] * A6 + b[5] * A4 + b[3] * A2 + b[1] * eye)
    V = A6 @ (b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + b[2] * A2 \
        + b[0] * eye
    R = np.linalg.solve(V - U, V + U)
    for j in range(int(s.max(initial=0))):
        squared = np.flatnonzero(s > j)
        if len(squared) == m:
            R = R @ R
        else:
            R[squared] = R[squared] @ R[squared]
    return R


def augmented_expm(A: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """``(phi, gamma)`` of ``expm([[A dt, I dt], [0, 0]])`` for a stack ``(m, k, k)``:
    ``phi = e^{A dt}`` and ``gamma = dt·φ1(A dt)``, ``φ1(M) = ∫_0^1 e^{M u} du``.

    ``k = 1``: closed forms (``exp`` and ``expm1(z)/z``).  Above: ``k × k`` work only,
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
    M = A * dt
    norms = np.abs(M).sum(axis=1).max(axis=1)
    with np.errstate(divide="ignore"):
        s = np.maximum(0, np.ceil(np.log2(norms))).astype(np.int64)
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


def _upper_2x2(M: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Closed forms for upper-triangular ``M = [[a, b], [0, d]]`` (e.g. a membrane driven
    by a synaptic current): ``e^M``'s corner is ``b e^{(a+d)/2} sinhc((a-d)/2)``, exact
    for equal or nearly equal ``a`` and ``d``; ``φ1(M)``'s corner ``x`` follows from
    ``φ1(M) M = M φ1(M) = e^M - I``, divided by the larger of ``|a|, |d|`` (>= 1/2),
    else from the series of ``φ1``'s divided difference."""
    a, b, d = M[:, 0, 0], M[:, 0, 1], M[:, 1, 1]
    half = 0.5 * (a - d)
    small = np.abs(half) < 1e-4
    safe = np.where(small, 1.0, half)
    sinhc = np.where(small, 1.0 + half * half / 6.0 * (1.0 + half * half / 20.0),
                     np.sinh(safe) / safe)
    corner = b * np.exp(0.5 * (a + d)) * sinhc
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
