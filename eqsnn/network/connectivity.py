"""Connectivity: which (pre, post) pairs a connection has, built once on the host.

Every connectivity returns its synapses in CSR order: sorted by pre, and
within a pre's row by post (an explicit list keeps its own order within a
row).  That order is the synapses' order everywhere: ``Connection.pre``,
``.post``, ``.weights``, ``.delays``, and the order in which a step's arrivals
are summed.  Random connectivity draws from a PCG64 generator keyed by the
network seed and the connection's index, with geometric skips for fixed
probability (no loop over pairs), so 1e7 synapses take well under 2 s.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError

__all__ = ["Connectivity", "Dense", "FixedInDegree", "FixedProbability", "FromList", "OneToOne",
           "check_memory"]


#: bytes a synapse takes while it is made and kept: pre, post, its weight as given and as
#: stored, its delay
SYNAPSE_BYTES = 40


class Connectivity:
    """Base class: :meth:`build` gives ``(pre, post, order)``."""

    def expected(self, n_pre: int, n_post: int) -> float | None:
        """How many synapses :meth:`build` makes (on average), or None if unknown."""
        return None

    def build(self, n_pre: int, n_post: int, same: bool, rng: np.random.Generator):
        """``pre``, ``post`` (int64, CSR order) and ``order``: for an explicit list, the
        position in the user's list of each synapse (else None).  ``same`` is true when
        the connection goes from a population to itself (autapses possible)."""
        raise NotImplementedError


def _by_pre(post_sorted_pre: np.ndarray, n_pre: int, n_post: int, k: int) -> np.ndarray:
    """The stable permutation that sorts synapses given post by post (``k`` each) by pre:
    a counting-sort transposition (scipy's CSC -> CSR), O(synapses), no comparison sort."""
    from scipy import sparse

    nnz = post_sorted_pre.size
    csc = sparse.csc_matrix(
        (np.arange(1, nnz + 1, dtype=np.int64), post_sorted_pre.astype(np.int64),
         np.arange(0, nnz + 1, k, dtype=np.int64)), shape=(n_pre, n_post))
    return csc.tocsr().data - 1


@dataclass(frozen=True)
class Dense(Connectivity):
    """Every pre to every post (autapses included, as ml_genn's Dense)."""

    def expected(self, n_pre, n_post):
        return n_pre * n_post

    def build(self, n_pre, n_post, same, rng):
        pre = np.repeat(np.arange(n_pre, dtype=np.int64), n_post)
        post = np.tile(np.arange(n_post, dtype=np.int64), n_pre)
        return pre, post, None


@dataclass(frozen=True)
class OneToOne(Connectivity):
    """Pre i to post i; the populations must have the same size."""

    def expected(self, n_pre, n_post):
        return n_pre

    def build(self, n_pre, n_post, same, rng):
        if n_pre != n_post:
            raise ParameterError(
                f"OneToOne connects populations of the same size, not {n_pre} to {n_post}",
                hint="use Dense, FixedProbability or FromList between populations of "
                "different sizes")
        ids = np.arange(n_pre, dtype=np.int64)
        return ids, ids.copy(), None


def _autapses(value) -> None:
    """``autapses`` is a flag: a string such as ``"no"`` would read as true."""
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"autapses must be True or False, not {value!r}",
                             hint="autapses=False leaves out i -> i where a population "
                             "connects to itself; True (the default) keeps them")


def _probability(p):
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ParameterError(f"FixedProbability needs a probability in [0, 1], not {p!r}")
    return float(p)


@dataclass(frozen=True)
class FixedProbability(Connectivity):
    """Each (pre, post) pair independently with probability ``p``.

    ``autapses=False`` leaves out pre == post where a population connects to
    itself.  The pairs are drawn as geometric skips over the flat index
    ``pre * n_post + post``, so the cost is that of the synapses made.
    """

    p: float
    autapses: bool = True

    def expected(self, n_pre, n_post):
        return float(self.p) * n_pre * n_post

    def __post_init__(self):
        _probability(self.p)
        _autapses(self.autapses)
        object.__setattr__(self, "autapses", bool(self.autapses))

    def build(self, n_pre, n_post, same, rng):
        p, total = float(self.p), n_pre * n_post
        if p == 0 or total == 0:
            flat = np.zeros(0, np.int64)
        elif p == 1:
            flat = np.arange(total, dtype=np.int64)
        else:
            chunks, last = [], -1
            while True:
                expected = int((total - last) * p)
                size = expected + 6 * int(np.sqrt(expected + 1)) + 16
                # a gap beyond the end ends the draw: clipped there, so that the sum of
                # the gaps of a tiny p (each near 2**63) cannot overflow
                gaps = np.minimum(rng.geometric(p, size=size), total - last)
                positions = last + np.cumsum(gaps, dtype=np.int64)
                chunks.append(positions[positions < total])
                if positions[-1] >= total:
                    break
                last = int(positions[-1])
            flat = np.concatenate(chunks)
        pre, post = np.divmod(flat, n_post)
        if same and not self.autapses:
            keep = pre != post
            pre, post = pre[keep], post[keep]
        return pre, post, None


@dataclass(frozen=True)
class FixedInDegree(Connectivity):
    """Each post gets exactly ``k`` distinct pres, drawn uniformly without replacement.

    ``autapses=False`` never picks pre == post where a population connects to itself.
    """

    k: int
    autapses: bool = True

    def __post_init__(self):
        if isinstance(self.k, bool) or not isinstance(self.k, numbers.Integral) or self.k < 0:
            raise ParameterError(f"FixedInDegree needs a non-negative integer k, not {self.k!r}")
        _autapses(self.autapses)
        object.__setattr__(self, "autapses", bool(self.autapses))

    def expected(self, n_pre, n_post):
        return int(self.k) * n_post

    def build(self, n_pre, n_post, same, rng):
        k = int(self.k)
        exclude = same and not self.autapses
        available = n_pre - 1 if exclude else n_pre
        if k > available:
            raise ParameterError(
                f"FixedInDegree({k}) needs {k} distinct sources per target, but only "
                f"{available} are available", hint=f"choose k <= {available}")
        if k == 0 or n_post == 0:
            empty = np.zeros(0, np.int64)
            return empty, empty, None
        targets = np.arange(n_post, dtype=np.int64)
        # without autapses: draw from n_pre - 1 values, then skip the target's own index
        draws = rng.integers(0, available, size=(n_post, k))
        draws.sort(axis=1)
        # a row's repeated sources are drawn again until the row's k are distinct: "draw
        # until k distinct values", which gives every k-subset the same probability
        rows = np.flatnonzero((draws[:, 1:] == draws[:, :-1]).any(axis=1))
        for _ in range(64):
            if rows.size == 0:
                break
            sub = draws[rows]
            repeated = np.zeros(sub.shape, bool)
            repeated[:, 1:] = sub[:, 1:] == sub[:, :-1]
            sub[repeated] = rng.integers(0, available, int(repeated.sum()))
            sub.sort(axis=1)
            draws[rows] = sub
            rows = rows[(sub[:, 1:] == sub[:, :-1]).any(axis=1)]
        for row in rows:  # k close to the number of sources: draw without replacement
            draws[row] = np.sort(rng.choice(available, size=k, replace=False))
        if exclude:
            draws = draws + (draws >= targets[:, None])
        pre = draws.ravel()
        post = np.repeat(targets, k)
        order = _by_pre(pre, n_pre, n_post, k)
        return pre[order], post[order], None


class FromList(Connectivity):
    """Explicit synapses: ``pre[i] -> post[i]``.  Per-synapse weights and delays given as
    arrays follow this list's order; within a pre's row the list's order is kept."""

    def __init__(self, pre, post):
        self.pre = _ids("FromList pre", pre)
        self.post = _ids("FromList post", post)
        if self.pre.shape != self.post.shape:
            raise ParameterError(
                f"FromList needs as many post ids as pre ids, not {self.pre.size} and "
                f"{self.post.size}")

    def build(self, n_pre, n_post, same, rng):
        for what, ids, n in (("pre", self.pre, n_pre), ("post", self.post, n_post)):
            bad = (ids < 0) | (ids >= n)
            if bad.any():
                i = int(np.argmax(bad))
                raise ParameterError(
                    f"FromList {what} index {int(ids[i])} (entry {i}) is out of range "
                    f"0..{n - 1}", hint=f"the {what} population has {n} neurons")
        order = np.argsort(self.pre, kind="stable")
        return self.pre[order], self.post[order], order

    def expected(self, n_pre, n_post):
        return self.pre.size

    def __repr__(self) -> str:
        return f"FromList({self.pre.size} synapses)"


def check_memory(what: str, connectivity: Connectivity, n_pre: int, n_post: int) -> None:
    """Refuse, before drawing anything, a connectivity whose synapses would not fit in the
    memory available: NumPy would raise a MemoryError, or the system start to swap or kill
    the process where it allocates lazily."""
    from ..runtime import guard
    expected, available = connectivity.expected(n_pre, n_post), guard.available_memory()
    if expected is None or available is None or expected * SYNAPSE_BYTES <= available:
        return
    raise ParameterError(
        f"{what}: {connectivity!r} between {n_pre} and {n_post} neurons makes about "
        f"{expected:.3g} synapses, {guard._size(expected * SYNAPSE_BYTES)} (about "
        f"{SYNAPSE_BYTES} bytes each), more than the {guard._size(available)} available; "
        "nothing was added", hint="use sparser connectivity (FixedProbability(p) with a "
        "smaller p, FixedInDegree(k)) or smaller populations")


def _ids(what, value) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise ParameterError(f"{what} must be a 1-D array of integer neuron ids, "
                             f"not {array.dtype} of shape {array.shape}")
    if array.size and array.dtype.kind == "u" and array.max() > np.iinfo(np.int64).max:
        i = int(np.argmax(array))  # int64 would wrap it to a negative id in the message
        raise ParameterError(f"{what} index {int(array[i])} (entry {i}) is out of range",
                             hint="neuron ids count from 0 to the population's size - 1")
    return array.astype(np.int64)
