"""The Jamendo steering bench's world and metrics (bench/steering.py) on a hand-made tag world: tiny, no encoder."""

from __future__ import annotations

import numpy as np
import pytest

from prior.data.jamendo import JamendoTrack, parse_fields


def track(n: int, artist: str, *tags: str) -> JamendoTrack:
    parsed = parse_fields([f"track_{n:07d}", artist, "album_1", "x.mp3", "100.0", *tags])
    assert isinstance(parsed, JamendoTrack)
    return parsed


TRACKS = [
    track(1, "a1", "genre---rock", "instrument---electricguitar", "mood/theme---energetic"),
    track(2, "a1", "genre---rock", "instrument---drums"),
    track(3, "a2", "genre---pop", "instrument---electricguitar"),
    track(4, "a3", "genre---jazz", "instrument---piano", "mood/theme---calm"),
    track(5, "a4", "genre---rock"),  # no condition: never a query
]


def test_queries_have_a_genre_outside_their_condition(bench):
    split = bench.make_split(TRACKS, None, seed=0)
    assert split.queries.tolist() == [0, 1, 2, 3]
    for i, genre, cond in zip(split.queries, split.genre, split.condition, strict=True):
        assert genre in TRACKS[i].categories["genre"] and genre not in cond
        assert "genre" not in bench.condition_text(TRACKS[i]) and genre not in bench.condition_text(TRACKS[i])
    assert bench.condition_text(TRACKS[0]) == "music with electric guitar; mood: energetic"
    assert "rock" in bench.track_text(TRACKS[0], "tags") and "rock" not in bench.track_text(TRACKS[0], "no-genre")
    assert len(bench.make_split(TRACKS, 2, seed=0).queries) == 2


def test_list_metrics_count_steered_condition_and_joint_hits(bench):
    split = bench.make_split(TRACKS[:1], None, seed=0)  # one query: rock, condition {electric guitar, energetic}
    split = bench.Split(TRACKS, [frozenset(t.tags) for t in TRACKS], np.array([t.artist_id for t in TRACKS]),
                        split.queries, split.genre, split.condition)
    catalog = np.eye(5, dtype=np.float32)
    m = bench.list_metrics([[1, 2, 0, 3]], split, catalog)
    # rock: tracks 1, 0 -> 2/4; a condition tag: 2 (guitar), 0 -> 2/4; both: only 0 -> 1/4
    assert (m["steered_p@20"], m["condition_kept@20"], m["joint_p@20"]) == (0.5, 0.5, 0.25)
    assert m["artists@20"] == 3.0 and m["ils@20"] == 0.0 and m["n"] == 1
    assert bench.tag_share([[1, 2, 0, 3]], ["drums"], split) == 0.25
    assert bench.tag_share([[1]], [None], split) == 0.0


def test_intra_list_similarity_and_merged_lists(bench):
    same = np.tile(np.array([[1.0, 0.0]]), (3, 1))
    assert bench.intra_list_similarity(same) == pytest.approx(1.0)
    assert bench.intra_list_similarity(np.eye(3)) == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    catalog = bench.l2(rng.standard_normal((50, 8)))
    lists = bench.merged(catalog[:3, None, :].repeat(2, axis=1), catalog, k=10)
    assert [len(x) for x in lists] == [10, 10, 10] and [x[0] for x in lists] == [0, 1, 2]
    assert all(len(set(x)) == 10 for x in lists)


def test_baseline_seed_shapes_and_avoid_choice(bench):
    rng = np.random.default_rng(1)
    pred = bench.l2(rng.standard_normal((4, 8)))
    seeds = bench.jitter_seeds(pred, 5, 0.5, seed=0)
    assert seeds.shape == (4, 5, 8) and np.allclose(np.linalg.norm(seeds, axis=-1), 1, atol=1e-5)
    assert (np.einsum("qsd,qd->qs", seeds, pred) > 0.5).all()  # near their prediction, not on it
    tags = bench.l2(rng.standard_normal((4, 8)))
    steered = bench.additive(seeds, tags, 2.0)
    assert (np.einsum("qsd,qd->qs", steered, tags) > np.einsum("qsd,qd->qs", seeds, tags)).all()
    train_cond, train_music = bench.l2(rng.standard_normal((20, 8))), bench.l2(rng.standard_normal((20, 8)))
    knn = bench.knn_seeds(train_cond[:2], train_cond, train_music, 3)
    assert knn.shape == (2, 3, 8) and np.allclose(knn[:, 0], train_music[:2])  # each condition's own pair first
    split = bench.make_split(TRACKS, None, seed=0)
    avoid = dict(zip(split.queries.tolist(), bench.avoid_instruments(split), strict=True))
    if split.genre[1] == "rock":  # track 2 (drums) steered to rock: electric guitar is rock's other instrument
        assert avoid[1] == "electric guitar"
    assert avoid[3] is None  # jazz has no instrument outside track 4's condition


class PointPrior:
    """A stand-in with the PriorSampler.sample signature: every seed is unit(cond + sum of k z) (the null draw:
    unit(sum of k z)), so the bench's bookkeeping around the steering model can be checked exactly."""

    def sample(self, cond, n_seeds, guidance=None, steer=(), seed=0, steer_schedule="constant"):
        base = np.zeros_like(cond) if guidance == -1.0 else np.asarray(cond, np.float32)
        for vectors, k in steer:
            base = base + k * vectors
        return np.repeat(base[:, None, :], n_seeds, axis=1) / np.maximum(
            np.linalg.norm(base, axis=-1, keepdims=True)[:, None, :], 1e-12)


def test_feedback_effect_likes_pull_and_skips_push(bench):
    split = bench.make_split(TRACKS[:4], None, seed=0)
    rng = np.random.default_rng(3)
    # the five hand-made tracks plus 60 others, so a like can bring new neighbours into the top 20
    tracks = TRACKS + [track(100 + n, "a9", "instrument---synthesizer") for n in range(60)]
    split = bench.Split(tracks, [frozenset(t.tags) for t in tracks], np.array([t.artist_id for t in tracks]),
                        split.queries, split.genre, split.condition)
    catalog = bench.l2(rng.standard_normal((len(tracks), 6)))
    cond, tags = bench.l2(rng.standard_normal((4, 6))), bench.l2(rng.standard_normal((4, 6)))
    config = bench.SteeringConfig(liked_k=2.0, skipped_k=2.0, condition_weight=0.0)
    lists = bench.merged(bench.served_steering(PointPrior(), cond, tags, config), catalog, k=20)
    lists = [[0, 1, 2, 3] + [i for i in items if i >= 5][:16] for items in lists]  # the tagged tracks first
    out = bench.feedback_effect(PointPrior(), cond, tags, config, lists, split, catalog)
    assert out["liked_queries"] >= 1 and out["skipped_queries"] >= 1
    assert out["liked_similarity_after@20"] > out["liked_similarity_before@20"]
    assert out["skipped_similarity_after@20"] < out["skipped_similarity_before@20"]
