"""Per-seed lists -> playlist (pure): merge (round-robin / RRF) then diversify; and the ANN is one round trip."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st

from recommend.diversify import DiversifyParams, has_adjacent_artist, separable
from recommend.ranking import merge_candidates, playlist_pool, rank_playlist


@st.composite
def retrievals(draw):
    n_tracks = draw(st.integers(1, 60))
    n_seeds = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    vectors = rng.standard_normal((n_tracks, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    seeds = rng.standard_normal((n_seeds, 8)).astype(np.float32)
    seeds /= np.linalg.norm(seeds, axis=1, keepdims=True)
    k = draw(st.integers(1, n_tracks))
    scores = seeds @ vectors.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    ids = [[int(i) + 100 for i in row] for row in order]  # track ids are not indices
    per_seed_scores = [[float(scores[s, i - 100]) for i in row] for s, row in enumerate(ids)]
    artists = {i + 100: f"artist {draw(st.integers(0, 9))}" for i in range(n_tracks)}
    pinned = draw(st.lists(st.sampled_from(sorted(artists)), max_size=3, unique=True))
    return {
        "seeds": seeds, "ids": ids, "scores": per_seed_scores, "artists": artists, "pinned": pinned,
        "vectors": {i + 100: vectors[i] for i in range(n_tracks)},
        "size": draw(st.integers(1, 30)), "merge": draw(st.sampled_from(["round_robin", "rrf"])),
        "params": DiversifyParams(mmr_lambda=draw(st.floats(0, 1)), max_per_artist=draw(st.integers(1, 3))),
    }


def run(case):
    pool = playlist_pool(case["seeds"], case["ids"], case["scores"], case["vectors"], case["size"], merge=case["merge"],
                         pinned=case["pinned"])
    return rank_playlist(case["seeds"], pool, case["vectors"], case["artists"], case["size"], params=case["params"])


@settings(max_examples=150, deadline=None)
@given(retrievals())
def test_playlist_properties(case):
    items = run(case)
    ids = [item.track_id for item in items]
    assert len(ids) == len(set(ids)), "no duplicates"
    assert len(ids) <= case["size"]
    counts = Counter(case["artists"][t] for t in ids)
    pinned_counts = Counter(case["artists"][t] for t in case["pinned"][: case["size"]])
    for artist, count in counts.items():
        assert count <= max(case["params"].max_per_artist, pinned_counts[artist]), "artist cap"
    assert set(case["pinned"][: case["size"]]) <= set(ids), "liked tracks are kept"
    if separable(list(range(len(ids))), [case["artists"][t] for t in ids]):
        assert not has_adjacent_artist(list(range(len(ids))), [case["artists"][t] for t in ids])
    available = {t for row in case["ids"] for t in row} | set(case["pinned"])
    by_artist = Counter(case["artists"][t] for t in available)
    capacity = sum(min(c, case["params"].max_per_artist) for c in by_artist.values())
    pool = min(len(available), case["size"] * 3 + len(case["pinned"]))
    if capacity >= case["size"] and pool == len(available):
        assert len(ids) == case["size"], "length as asked when the catalog allows"
    for item in items:
        assert item.score == pytest.approx(float(case["seeds"][item.seed] @ case["vectors"][item.track_id]), abs=1e-5)
    assert run(case) == items, "deterministic"


def test_round_robin_gives_every_seed_its_top_track_and_rrf_favours_consensus():
    per_seed = [[1, 2, 3], [4, 2, 5], [6, 2, 7]]
    scores = [[0.9, 0.8, 0.7]] * 3
    assert [t for t, _ in merge_candidates(per_seed, scores, 3, "round_robin")] == [1, 4, 6]
    assert merge_candidates(per_seed, scores, 1, "rrf")[0][0] == 2
    with pytest.raises(ValueError, match="unknown merge"):
        merge_candidates(per_seed, scores, 3, "borda")


def test_ann_for_all_seeds_is_one_round_trip(catalog, db):
    from recommend.services.playlist import compute_playlist
    from recommend.services.steering_vectors import SteeringState

    cond = np.full(48, 1 / np.sqrt(48), dtype=np.float32)
    compute_playlist(cond, SteeringState(), size=5, n_seeds=4, guidance=None)  # warm-up: model and type loading
    with CaptureQueriesContext(connection) as queries:
        computed = compute_playlist(cond, SteeringState(), size=10, n_seeds=16, guidance=None)
    ann = [q for q in queries.captured_queries if "unnest(" in q["sql"]]
    assert len(ann) == 1
    assert len(queries.captured_queries) <= 2  # the space, then the ANN (which returns vectors + artists too)
    assert len(computed.items) == 10
    assert set(computed.timings_ms) >= {"sample", "ann", "merge"}
