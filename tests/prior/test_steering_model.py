"""The steering model (prior.steering): its budget, fading, avoid and liked directions, the tag pool, and that the
checkpoint carries its defaults."""

import json
from dataclasses import replace

import numpy as np
import pytest

from prior.checkpoint import load_checkpoint, update_steering
from prior.config import SteeringConfig
from prior.steering import (
    NULL_GUIDANCE,
    SteeringState,
    age_weights,
    condition_direction,
    retrieval_vectors,
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
    tag, avoid, liked = np.eye(MUSIC_DIM, dtype=np.float32)[:3]
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
    plan = steering_plan(SteeringState(), SteeringConfig(condition_weight=0.6))
    assert plan.pairs == () and not plan.steered and not plan.adds_condition


def test_bad_vectors_and_settings_are_refused():
    with pytest.raises(ValueError, match="tag vector is zero"):
        steering_plan(SteeringState(tags=np.zeros((1, MUSIC_DIM))))
    with pytest.raises(ValueError, match="NaN"):
        steering_plan(SteeringState(avoid=np.full((1, MUSIC_DIM), np.nan)))
    for bad in ({"tag_k": -1.0}, {"schedule": "linear"}, {"condition_weight": -0.1}, {"fade": float("inf")}):
        with pytest.raises(ValueError, match="steering"):
            replace(SteeringConfig(), **bad).check()


def test_the_condition_direction_is_what_the_condition_adds():
    null = unit_rows(16, seed=9)
    shift = np.eye(MUSIC_DIM, dtype=np.float32)[2]
    assert condition_direction(null + 0.5 * shift, null) @ shift > 0.999, "the shared noise cancels"
    assert not condition_direction(null, null).any(), "no condition, no direction"


def test_retrieval_adds_the_condition_back_to_every_seed():
    """The tag-steered seeds retrieve by seed + condition_weight x c: among tracks equally near a seed, the one
    where the condition points ranks first; without a wanted tag the seeds retrieve as they are."""
    e = np.eye(MUSIC_DIM, dtype=np.float32)
    tag, mood, other_mood = e[0], e[1], e[2]
    tracks = np.stack([(tag + 0.5 * mood) / np.linalg.norm(tag + 0.5 * mood),
                       (tag + 0.5 * other_mood) / np.linalg.norm(tag + 0.5 * other_mood)])
    null = 0.1 * unit_rows(16, seed=11) + tag  # the null draw, steered to the tag like the query's own seeds
    seeds = null + 0.3 * mood  # the condition moved them towards `mood`
    config = SteeringConfig(condition_weight=0.5)
    plan = steering_plan(SteeringState(tags=[tag]), config)
    assert plan.adds_condition
    vectors = retrieval_vectors(plan, seeds, null)
    assert vectors.shape == seeds.shape and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    expected = seeds + 0.5 * mood
    np.testing.assert_allclose(vectors, expected / np.linalg.norm(expected, axis=1, keepdims=True), atol=1e-5)
    margin = lambda q: (q @ tracks[0] - q @ tracks[1]).mean()  # noqa: E731
    assert margin(vectors) > margin(seeds / np.linalg.norm(seeds, axis=1, keepdims=True)) > 0
    assert not steering_plan(SteeringState(avoid=[tag]), config).adds_condition


def test_null_guidance_ignores_the_condition(sampler):
    draw = {"n_seeds": 8, "guidance": NULL_GUIDANCE, "seed": 3}
    assert np.allclose(sampler.sample(query(0), **draw), sampler.sample(query(1), **draw), atol=1e-5)
    assert not np.allclose(sampler.sample(query(0), n_seeds=8, seed=3), sampler.sample(query(1), n_seeds=8, seed=3))


def test_train_writes_the_steering_defaults_and_they_can_be_updated(checkpoint, tmp_path):
    config = json.loads((checkpoint / "config.json").read_text())
    assert config["steering"] == {**json.loads(json.dumps(SteeringConfig().__dict__))}
    copy = tmp_path / "ck"
    copy.mkdir()
    for f in checkpoint.iterdir():
        if f.is_file():
            (copy / f.name).write_bytes(f.read_bytes())
    update_steering(copy, condition_weight=0.4, schedule="sigma2")
    assert load_checkpoint(copy).steering_config() == replace(SteeringConfig(), condition_weight=0.4,
                                                              schedule="sigma2")
    with pytest.raises(ValueError, match="unknown steering"):
        update_steering(copy, strength=1)
    with pytest.raises(ValueError, match="condition_weight"):
        update_steering(copy, condition_weight=-1)
