"""Property tests of the pure diversification: MMR under an artist cap, then artist separation."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommend.diversify import (
    DiversifyParams,
    artist_keys,
    diversify,
    has_adjacent_artist,
    mmr_select,
    separable,
    separate_artists,
)

ARTISTS = ["a", "b", "c", "d", "", "A "]


@st.composite
def candidate_sets(draw):
    n = draw(st.integers(0, 40))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, 8))
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    relevance = rng.uniform(-1, 1, n)
    artists = draw(st.lists(st.sampled_from(ARTISTS), min_size=n, max_size=n))
    k = draw(st.integers(0, 30))
    params = DiversifyParams(mmr_lambda=draw(st.floats(0, 1)), max_per_artist=draw(st.integers(1, 4)))
    exclude = draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=5)) if n else []
    return relevance, vectors, artists, k, params, exclude


def capacity(artists, params, exclude) -> int:
    """How many tracks the cap and exclusions allow at most."""
    keys = artist_keys(artists)
    counts = Counter(keys[i] for i in range(len(artists)) if i not in set(exclude))
    return sum(min(c, params.max_per_artist) for c in counts.values())


@settings(max_examples=200, deadline=None)
@given(candidate_sets())
def test_diversify_properties(case):
    relevance, vectors, artists, k, params, exclude = case
    order = diversify(relevance, vectors, k, artists=artists, params=params, exclude=exclude)
    assert len(order) == len(set(order)), "no duplicates"
    assert not set(order) & set(exclude), "exclusions respected"
    assert len(order) == min(k, capacity(artists, params, exclude)), "length as asked when the catalog allows"
    keys = artist_keys(artists)
    assert max(Counter(keys[i] for i in order).values(), default=0) <= params.max_per_artist, "artist cap"
    if separable(order, artists):
        assert not has_adjacent_artist(order, artists), "no adjacent same artist when feasible"
    again = diversify(relevance, vectors, k, artists=artists, params=params, exclude=exclude)
    assert again == order, "deterministic"


def textbook_mmr(relevance, vectors, k, artists, params, pinned, exclude) -> list[int]:
    """MMR as the docstring states it, one candidate at a time in plain Python: what mmr_select must equal."""
    keys = artist_keys(artists)
    n, chosen, counts = len(relevance), [], Counter()
    sim = vectors @ vectors.T
    for i in pinned:
        if len(chosen) < k and 0 <= i < n and i not in chosen and i not in exclude:
            chosen.append(i)
            counts[keys[i]] += 1
    soft_cap = min(params.max_per_artist, max(1, -(-k // 2)))
    for cap in dict.fromkeys((soft_cap, params.max_per_artist)):
        while len(chosen) < k and n:
            best, best_gain = None, -np.inf
            for i in range(n):
                if i in chosen or i in exclude or counts[keys[i]] >= cap:
                    continue
                penalty = max((sim[i, j] for j in chosen), default=0.0)
                gain = params.mmr_lambda * relevance[i] - (1 - params.mmr_lambda) * penalty
                if best is None or gain > best_gain:
                    best, best_gain = i, gain
            if best is None:
                break
            chosen.append(best)
            counts[keys[best]] += 1
    return chosen


@settings(max_examples=200, deadline=None)
@given(candidate_sets(), st.lists(st.integers(-2, 42), max_size=4))
def test_mmr_select_is_the_textbook_greedy_choice(case, pinned):
    relevance, vectors, artists, k, params, exclude = case
    got = mmr_select(relevance, vectors, k, artists=artists, params=params, pinned=pinned, exclude=exclude)
    assert got == textbook_mmr(relevance, vectors, k, artists, params, pinned, set(exclude))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", ""]), max_size=7))
def test_separation_succeeds_exactly_when_some_order_does(artists):
    order = list(range(len(artists)))
    result = separate_artists(order, artists)
    assert sorted(result) == order
    brute = any(not has_adjacent_artist(list(p), artists) for p in itertools.permutations(order))
    assert separable(order, artists) == brute
    assert (not has_adjacent_artist(result, artists)) == brute


def test_pinned_come_first_and_count_towards_the_cap():
    vectors = np.eye(4)
    order = mmr_select(
        np.array([0.1, 0.9, 0.8, 0.7]), vectors, 3, artists=["x", "x", "y", "z"],
        params=DiversifyParams(max_per_artist=1), pinned=[0],
    )
    assert order[0] == 0
    assert 1 not in order  # same artist as the pinned track, cap 1
    assert sorted(order) == [0, 2, 3]


def test_lambda_one_is_relevance_order_and_lambda_zero_prefers_novelty():
    vectors = np.array([[1.0, 0.0], [0.99, 0.141], [0.0, 1.0]])
    relevance = np.array([1.0, 0.95, 0.5])
    artists = ["a", "b", "c"]
    assert mmr_select(relevance, vectors, 2, artists=artists, params=DiversifyParams(mmr_lambda=1.0)) == [0, 1]
    assert mmr_select(relevance, vectors, 2, artists=artists, params=DiversifyParams(mmr_lambda=0.3)) == [0, 2]


def test_unknown_artists_never_collide_and_names_are_normalised():
    assert artist_keys(["", ""])[0] != artist_keys(["", ""])[1]
    assert artist_keys(["The  Band", "the band"]) == ["the band", "the band"]


def test_bad_params_are_refused():
    with pytest.raises(ValueError):
        DiversifyParams(mmr_lambda=1.5)
    with pytest.raises(ValueError):
        DiversifyParams(max_per_artist=0)
