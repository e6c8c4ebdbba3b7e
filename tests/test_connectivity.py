"""Every connectivity against its definition; CSR order; per-connection keys."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from eqsnn.errors import ParameterError
from eqsnn.network import (
    Dense,
    FixedInDegree,
    FixedProbability,
    FromList,
    OneToOne,
)


def _rng(seed=0):
    return np.random.default_rng(seed)


def _is_csr(pre, post, n_post):
    key = pre * n_post + post
    return bool(np.all(np.diff(key) > 0))


def test_dense_is_every_pair_in_row_order():
    pre, post, order = Dense().build(3, 4, False, _rng())
    assert order is None
    assert list(zip(pre.tolist(), post.tolist())) == [(i, j) for i in range(3) for j in range(4)]


def test_one_to_one():
    pre, post, _ = OneToOne().build(5, 5, True, _rng())
    np.testing.assert_array_equal(pre, np.arange(5))
    np.testing.assert_array_equal(post, np.arange(5))
    with pytest.raises(ParameterError, match="same size"):
        OneToOne().build(5, 4, False, _rng())


@pytest.mark.parametrize("autapses", [True, False])
def test_fixed_probability_counts_and_autapses(autapses):
    n_pre, n_post, p = 300, 200, 0.05
    pre, post, _ = FixedProbability(p, autapses=autapses).build(n_pre, n_post, True, _rng(1))
    assert _is_csr(pre, post, n_post)  # distinct pairs, sorted by (pre, post)
    assert pre.min() >= 0 and pre.max() < n_pre and post.max() < n_post
    if not autapses:
        assert not np.any(pre == post)
    pairs = n_pre * n_post - (0 if autapses else min(n_pre, n_post))
    # the count is Binomial(pairs, p): within 5 standard deviations
    assert abs(pre.size - pairs * p) < 5 * np.sqrt(pairs * p * (1 - p))
    # every pair equally likely: the per-post counts are Binomial(n_pre, p) (chi-square on rows)
    rows = np.bincount(pre, minlength=n_pre)
    assert stats.chisquare(rows).pvalue > 1e-4


def test_fixed_probability_edges():
    pre, _, _ = FixedProbability(0.0).build(10, 10, False, _rng())
    assert pre.size == 0
    pre, post, _ = FixedProbability(1.0, autapses=False).build(4, 4, True, _rng())
    assert pre.size == 12 and not np.any(pre == post)
    # autapses only matter from a population to itself
    pre, post, _ = FixedProbability(1.0, autapses=False).build(4, 4, False, _rng())
    assert pre.size == 16
    for bad in (-0.1, 1.5, "0.1", True):
        with pytest.raises(ParameterError, match="probability"):
            FixedProbability(bad)


@pytest.mark.parametrize("autapses", [True, False])
def test_fixed_in_degree_gives_exactly_k_distinct_sources(autapses):
    n_pre, n_post, k = 50, 40, 7
    pre, post, _ = FixedInDegree(k, autapses=autapses).build(n_pre, n_post, True, _rng(2))
    assert _is_csr(pre, post, n_post)  # no repeated (pre, post) pair
    np.testing.assert_array_equal(np.bincount(post, minlength=n_post), np.full(n_post, k))
    if not autapses:
        assert not np.any(pre == post)
    # sources uniform over the pres
    assert stats.chisquare(np.bincount(pre, minlength=n_pre)).pvalue > 1e-4


def test_fixed_in_degree_limits():
    pre, post, _ = FixedInDegree(4, autapses=False).build(5, 5, True, _rng())
    np.testing.assert_array_equal(np.bincount(post), [4] * 5)
    assert not np.any(pre == post)
    with pytest.raises(ParameterError, match="only 4 are available"):
        FixedInDegree(5, autapses=False).build(5, 5, True, _rng())
    with pytest.raises(ParameterError, match="non-negative integer"):
        FixedInDegree(2.5)


def test_from_list_keeps_the_order_within_a_row():
    conn = FromList([2, 0, 2, 1, 0], [1, 3, 0, 0, 2])
    pre, post, order = conn.build(3, 4, False, _rng())
    np.testing.assert_array_equal(pre, [0, 0, 1, 2, 2])
    np.testing.assert_array_equal(post, [3, 2, 0, 1, 0])
    np.testing.assert_array_equal(order, [1, 4, 3, 0, 2])
    with pytest.raises(ParameterError, match="post index 4"):
        FromList([0], [4]).build(3, 4, False, _rng())
    with pytest.raises(ParameterError, match="as many post ids"):
        FromList([0, 1], [0])
    with pytest.raises(ParameterError, match="integer neuron ids"):
        FromList([0.5], [1])


def test_the_same_seed_gives_the_same_connectivity_and_connections_differ():
    import eqsnn
    from eqsnn.network import Exponential, Network

    lif = eqsnn.compile("neuron L\n    state V = 0.0\n    input Isyn = 0.0\n"
                        "    dV/dt = -V\n    threshold: V > 1.0\n    reset: V = 0.0\n")

    def build(seed):
        net = Network(seed=seed)
        net.add_population("a", lif, 50)
        c0 = net.connect("a", "a", Exponential(), connectivity=FixedProbability(0.1))
        c1 = net.connect("a", "a", Exponential(), connectivity=FixedProbability(0.1))
        return c0, c1

    a0, a1 = build(7)
    b0, _ = build(7)
    np.testing.assert_array_equal(a0.post, b0.post)
    assert a0.n_synapses != a1.n_synapses or not np.array_equal(a0.post, a1.post)


def test_fixed_in_degree_of_every_other_source():
    pre, post, _ = FixedInDegree(9, autapses=False).build(10, 10, True, _rng(3))
    for j in range(10):
        assert sorted(pre[post == j].tolist()) == [i for i in range(10) if i != j]


def test_fixed_in_degree_subsets_are_uniform():
    # 2 of 4 sources: each of the 6 pairs equally likely over many targets
    pre, post, _ = FixedInDegree(2).build(4, 6000, False, _rng(4))
    pairs = np.sort(np.stack([pre[np.argsort(post, kind="stable")][0::2],
                              pre[np.argsort(post, kind="stable")][1::2]]), axis=0)
    codes = pairs[0] * 4 + pairs[1]
    counts = np.array([np.sum(codes == c) for c in (1, 2, 3, 6, 7, 11)])
    assert counts.sum() == 6000
    assert stats.chisquare(counts).pvalue > 1e-4
