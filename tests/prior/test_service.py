import numpy as np
import pytest

from prior.checkpoint import update_sampling
from prior.service import PriorSampler, RegressionModel
from prior.spaces import EmbeddingSpace, SpaceMismatchError
from tests.prior.prior_toys import (
    COND_DIM,
    COND_SPACE,
    MUSIC_DIM,
    MUSIC_SPACE,
    query,
)


def test_shapes_dtype_and_unit_norm(sampler):
    one = sampler.sample(query(), n_seeds=5, seed=0)
    assert one.shape == (5, MUSIC_DIM) and one.dtype == np.float32
    assert np.allclose(np.linalg.norm(one, axis=1), 1, atol=1e-5)
    batch = sampler.sample(np.stack([query(0), query(1), query(2)]), n_seeds=4, seed=0)
    assert batch.shape == (3, 4, MUSIC_DIM)
    assert sampler.cond_space == COND_SPACE and sampler.music_space == MUSIC_SPACE


@pytest.mark.parametrize("name", ["reference", "heun", "dpmpp_2m"])
def test_same_seed_same_samples(sampler, name):
    nfe = 16 if name == "reference" else None
    a = sampler.sample(query(), n_seeds=4, sampler=name, nfe=nfe, seed=7)
    b = sampler.sample(query(), n_seeds=4, sampler=name, nfe=nfe, seed=7)
    c = sampler.sample(query(), n_seeds=4, sampler=name, nfe=nfe, seed=8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_steering_raises_and_negative_k_lowers_similarity(sampler):
    z = np.random.default_rng(0).standard_normal(MUSIC_DIM).astype(np.float32)
    z /= np.linalg.norm(z)
    base = sampler.sample(query(), n_seeds=32, seed=1) @ z
    towards = sampler.sample(query(), n_seeds=32, seed=1, steer=[(z, 0.2)]) @ z
    away = sampler.sample(query(), n_seeds=32, seed=1, steer=[(z, -0.2)]) @ z
    assert towards.mean() > base.mean() > away.mean()


def test_steering_by_batch_of_vectors_and_all_schedules(sampler):
    conds = np.stack([query(0), query(1)])
    z = np.random.default_rng(1).standard_normal((2, MUSIC_DIM)).astype(np.float32)
    for schedule in ("constant", "sigma2", "snr"):
        out = sampler.sample(conds, n_seeds=3, seed=0, steer=[(z, 0.1), (z[0], -0.05)], steer_schedule=schedule)
        assert out.shape == (2, 3, MUSIC_DIM) and np.isfinite(out).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cond": np.zeros(COND_DIM + 1)}, "dimension"),
        ({"cond": np.full(COND_DIM, np.nan)}, "NaN"),
        ({"cond": np.zeros((2, 3, COND_DIM))}, "vector"),
        ({"n_seeds": 0}, "n_seeds"),
        ({"sampler": "euler"}, "unknown sampler"),
        ({"steer_schedule": "linear"}, "steer_schedule"),
        ({"steer": [(np.zeros(MUSIC_DIM + 1), 0.1)]}, "dimension"),
        ({"steer": [(np.zeros(MUSIC_DIM), 0.1)]}, "zero"),
        ({"steer": [np.ones(MUSIC_DIM)]}, "pair"),
        ({"guidance": float("nan")}, "guidance"),
    ],
)
def test_invalid_input_gives_value_errors(sampler, kwargs, message):
    args = {"cond": query(), **kwargs}
    with pytest.raises(ValueError, match=message):
        sampler.sample(**args)


def test_guidance_zero_and_defaults_from_checkpoint(checkpoint, tmp_path):
    sampler = PriorSampler.load(checkpoint, device="cpu")
    assert sampler.defaults.guidance == 1.0
    a = sampler.sample(query(), n_seeds=4, seed=3, guidance=2.5)
    import shutil

    copy = shutil.copytree(checkpoint, tmp_path / "tuned")
    update_sampling(copy, guidance=2.5)
    tuned = PriorSampler.load(copy, device="cpu")
    assert np.array_equal(tuned.sample(query(), n_seeds=4, seed=3), a)


def test_load_refuses_other_spaces_and_kinds(checkpoint):
    with pytest.raises(SpaceMismatchError):
        PriorSampler.load(checkpoint, expect_music_space=EmbeddingSpace(name="clap", dim=MUSIC_DIM, encoder="x"))
    with pytest.raises(ValueError, match="regression"):
        RegressionModel.load(checkpoint)
