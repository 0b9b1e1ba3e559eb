"""The steering model (prior.steering): its budget, fading, avoid and liked directions, the tag pool, and that the
checkpoint carries its defaults."""

import json
from dataclasses import replace

import numpy as np
import pytest

from prior.checkpoint import load_checkpoint, update_steering
from prior.config import SteeringConfig
from prior.steering import (
    SteeringState,
    age_weights,
    pool_query,
    pool_scores,
    rank_pool,
    steering_plan,
)
from tests.prior.prior_toys import MUSIC_DIM, query


def unit_rows(n: int, dim: int = MUSIC_DIM, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def direction(plan) -> np.ndarray:
    """sum_n k_n z_n: what the sampler's gradient steering pulls along (prior.guidance is linear in it)."""
    return sum((k * z.astype(np.float64) for z, k in plan.pairs), np.zeros(MUSIC_DIM))


@pytest.mark.parametrize("fade", [1.0, 0.5])
def test_budget_does_not_grow_with_the_number_of_tags(fade):
    config = SteeringConfig(tag_k=0.3, avoid_k=0.2, fade=fade)
    for n in (1, 2, 5, 16):
        tags, avoid = unit_rows(n, seed=n), unit_rows(n, seed=100 + n)
        plan = steering_plan(SteeringState(tags=tags, avoid=avoid), config)
        ks = np.array([k for _, k in plan.pairs])
        assert np.isclose(ks[ks > 0].sum(), 0.3) and np.isclose(ks[ks < 0].sum(), -0.2)
        assert np.linalg.norm(direction(plan)) <= 0.5 + 1e-6
    # the same tag repeated 16 times steers exactly as hard as once
    one = steering_plan(SteeringState(tags=unit_rows(1)), config)
    many = steering_plan(SteeringState(tags=np.repeat(unit_rows(1), 16, axis=0)), config)
    assert np.allclose(direction(one), direction(many), atol=1e-6)


def test_older_tags_fade_and_the_newest_weighs_most():
    weights = age_weights(3, 0.5)
    assert np.allclose(weights, np.array([1, 2, 4]) / 7)
    assert np.allclose(age_weights(4, 1.0), 0.25)
    first, second = np.eye(MUSIC_DIM, dtype=np.float32)[:2]
    plan = steering_plan(SteeringState(tags=np.stack([first, second])), SteeringConfig(tag_k=1.0, fade=0.5))
    assert [k for _, k in plan.pairs] == pytest.approx([1 / 3, 2 / 3])
    toward = plan.toward
    assert toward @ second > toward @ first > 0, "a second steer takes over from the first without dropping it"
    with pytest.raises(ValueError, match="fade"):
        steering_plan(SteeringState(tags=unit_rows(1)), SteeringConfig(fade=0.0))


def test_avoid_points_away_and_likes_point_towards():
    tag, avoid, liked = unit_rows(3, seed=4)
    plan = steering_plan(SteeringState(tags=[tag], avoid=[avoid], liked=[liked]), SteeringConfig())
    d = direction(plan)
    assert d @ avoid < 0 < d @ tag and d @ liked > 0
    assert plan.away @ avoid == pytest.approx(1, abs=1e-6)


def test_avoid_moves_the_seeds_away_and_a_liked_track_pulls_them_in(sampler):
    z, liked = unit_rows(2, seed=5)
    config = SteeringConfig(tag_k=0.0, avoid_k=0.3, liked_k=0.3)

    def seeds(state):
        plan = steering_plan(state, config)
        return sampler.sample(query(), n_seeds=32, seed=1, steer=list(plan.pairs), steer_schedule=plan.schedule)

    plain = seeds(SteeringState())
    assert (seeds(SteeringState(avoid=[z])) @ z).mean() < (plain @ z).mean()
    assert (seeds(SteeringState(liked=[liked])) @ liked).mean() > (plain @ liked).mean()


def test_nothing_said_is_no_steering():
    plan = steering_plan(SteeringState(), SteeringConfig(pool=200))
    assert plan.pairs == () and not plan.steered and not plan.pooled


def test_bad_vectors_and_settings_are_refused():
    with pytest.raises(ValueError, match="tag vector is zero"):
        steering_plan(SteeringState(tags=np.zeros((1, MUSIC_DIM))))
    with pytest.raises(ValueError, match="NaN"):
        steering_plan(SteeringState(avoid=np.full((1, MUSIC_DIM), np.nan)))
    for bad in ({"tag_k": -1.0}, {"schedule": "linear"}, {"pool": -3}, {"avoid_weight": float("inf")}):
        with pytest.raises(ValueError, match="steering"):
            replace(SteeringConfig(), **bad).check()


def test_the_pool_is_the_tracks_nearest_the_tags_less_the_avoided_ones():
    catalog = unit_rows(300, seed=6)
    tag, avoid = catalog[0], catalog[1]
    plan = steering_plan(SteeringState(tags=[tag], avoid=[avoid]), SteeringConfig(pool=50, avoid_weight=1.0))
    scores = pool_scores(catalog, plan)
    assert np.allclose(scores, catalog @ tag - catalog @ avoid, atol=1e-5)
    # one ANN query by pool_query finds the same order (cosine to it is proportional to the score)
    assert np.array_equal(np.argsort(-scores)[:50], np.argsort(-(catalog @ pool_query(plan)))[:50])
    plain = steering_plan(SteeringState(tags=[tag]), SteeringConfig(pool=50))
    with_avoid, without = np.argsort(-scores)[:50], np.argsort(-pool_scores(catalog, plain))[:50]
    assert (catalog[with_avoid] @ avoid).mean() < (catalog[without] @ avoid).mean()
    assert 1 not in with_avoid, "the avoided track itself is never in the pool"


def test_rank_pool_orders_the_pool_by_each_seed():
    pool = unit_rows(40, seed=7)
    seeds = pool[[3, 17]] + 0.01 * unit_rows(2, seed=8)
    order, scores = rank_pool(seeds, pool, 5)
    assert order.shape == (2, 5) and list(order[:, 0]) == [3, 17]
    assert np.all(np.diff(scores, axis=1) <= 0)
    assert rank_pool(seeds, pool, 100)[0].shape == (2, 40), "k is capped by the pool's size"


def test_train_writes_the_steering_defaults_and_they_can_be_updated(checkpoint, tmp_path):
    config = json.loads((checkpoint / "config.json").read_text())
    assert config["steering"] == {**json.loads(json.dumps(SteeringConfig().__dict__))}
    copy = tmp_path / "ck"
    copy.mkdir()
    for f in checkpoint.iterdir():
        if f.is_file():
            (copy / f.name).write_bytes(f.read_bytes())
    update_steering(copy, pool=120, schedule="sigma2")
    assert load_checkpoint(copy).steering_config() == replace(SteeringConfig(), pool=120, schedule="sigma2")
    with pytest.raises(ValueError, match="unknown steering"):
        update_steering(copy, strength=1)
    with pytest.raises(ValueError, match="pool"):
        update_steering(copy, pool=-1)
