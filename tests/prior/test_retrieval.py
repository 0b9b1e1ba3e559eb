"""Merge functions: properties the web app relies on (no duplicates, length, determinism) and exact top-k."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from prior.retrieval import (
    per_seed_top_k,
    reciprocal_rank_fusion,
    reciprocal_rank_fusion_items,
    round_robin_merge,
    round_robin_merge_items,
    top_k_inner_product,
)

id_lists = st.lists(st.lists(st.integers(0, 30), max_size=12, unique=True), max_size=6)
mixed_lists = st.lists(st.lists(st.one_of(st.integers(0, 9), st.sampled_from("abcde")), max_size=8), max_size=5)
MERGES = (round_robin_merge, reciprocal_rank_fusion)


@settings(max_examples=150, deadline=None)
@given(lists=id_lists, k=st.integers(0, 60))
def test_merges_no_duplicates_length_deterministic(lists, k):
    distinct = {x for ids in lists for x in ids}
    for merge in MERGES:
        out = merge(lists, k)
        assert len(out) == len(set(out)) == min(k, len(distinct))
        assert set(out) <= distinct
        assert merge(lists, k) == out


@settings(max_examples=100, deadline=None)
@given(lists=mixed_lists, k=st.integers(0, 20))
def test_merges_accept_duplicates_within_a_seed_and_mixed_ids(lists, k):
    distinct = {x for ids in lists for x in ids}
    for merge in MERGES:
        out = merge(lists, k)
        assert len(out) == len(set(out)) == min(k, len(distinct))


@settings(max_examples=100, deadline=None)
@given(lists=id_lists, k=st.integers(1, 40))
def test_round_robin_prefix_property(lists, k):
    """Truncating the merge at k gives the prefix of a longer merge (Recall@10 = prefix of the top-100)."""
    assert round_robin_merge(lists, k) == round_robin_merge(lists, k + 7)[:k]


def test_round_robin_order_by_hand():
    assert round_robin_merge([[1, 2, 3], [4, 1, 5], [6]], 10) == [1, 4, 6, 2, 3, 5]
    assert round_robin_merge([[1, 2, 3], [4, 1, 5], [6]], 3) == [1, 4, 6]
    items = round_robin_merge_items([["a", "b"], ["a", "c"]], 3, per_seed_scores=[[0.9, 0.8], [0.7, 0.6]])
    assert [(i.id, i.seed, i.rank, i.score) for i in items] == [("a", 0, 0, 0.9), ("b", 0, 1, 0.8), ("c", 1, 1, 0.6)]


def test_rrf_favours_consensus_and_breaks_ties_deterministically():
    # 'x' is found by both seeds (rank 2 each) and beats single rank-1 hits
    out = reciprocal_rank_fusion([["a", "b", "x"], ["c", "d", "x"]], 5, c=1)
    assert out[0] == "a" and out[1] == "c"  # 1/2 each; tie broken by round-robin first appearance
    assert out[2] == "x"  # 2 * 1/4 = 0.5 > 1/3
    items = reciprocal_rank_fusion_items([[7], [7]], 1, c=60)
    assert items[0].id == 7 and abs(items[0].score - 2 / 61) < 1e-12


def test_numpy_ids_come_back_as_python_values():
    out = round_robin_merge([np.array([3, 1]), np.array([1, 2])], 3)
    assert out == [3, 1, 2] and all(type(x) is int for x in out)


def test_top_k_exact_and_tie_break():
    rng = np.random.default_rng(0)
    items = rng.normal(size=(200, 8)).astype(np.float32)
    queries = rng.normal(size=(5, 8)).astype(np.float32)
    idx, score = top_k_inner_product(queries, items, 10)
    brute = np.argsort(-(queries @ items.T), axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(idx, brute)
    assert np.all(np.diff(score, axis=1) <= 0)
    tied = np.ones((4, 2), np.float32)
    idx, _ = top_k_inner_product(np.ones((1, 2)), tied, 3)
    assert idx.tolist() == [[0, 1, 2]]
    assert top_k_inner_product(queries, items, 500)[0].shape == (5, 200)


def test_per_seed_top_k_shapes():
    rng = np.random.default_rng(1)
    items = rng.normal(size=(50, 4))
    idx, score = per_seed_top_k(rng.normal(size=(3, 2, 4)), items, 7)
    assert idx.shape == score.shape == (3, 2, 7)
