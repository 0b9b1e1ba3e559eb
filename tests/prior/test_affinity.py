"""The prior's affinity of a track for a condition (prior.affinity) and the re-ranking built on it
(prior.steering.affinity_relevance): exact on a Gaussian world, right on the trained toy prior, reproducible."""

import numpy as np
import pytest
import torch

from prior.affinity import AFFINITY_LEVELS, condition_affinity
from prior.steering import affinity_relevance
from tests.prior.prior_toys import MUSIC_DIM, query, toy_world

S2 = 0.3**2  # variance of the Gaussian world's data around its mean


def gaussian_denoiser(x, sigma, cond, cond_mask):
    """Exact denoisers of p(t | q) = N(q, s^2 I) (condition rows) and p(t) = N(0, s^2 I) (null rows)."""
    mean = torch.where(cond_mask, cond, torch.zeros_like(cond))
    shrink = S2 / (S2 + sigma * sigma)
    return mean + shrink * (x - mean)


def test_orders_tracks_exactly_as_the_true_log_likelihood_ratio_on_a_gaussian_world():
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(MUSIC_DIM, generator=gen) * 0.5
    tracks = torch.randn(200, MUSIC_DIM, generator=gen) * 0.4
    log_ratio = (2 * tracks @ q - q @ q) / (2 * S2)  # log N(t; q, s^2) - log N(t; 0, s^2)
    a = condition_affinity(gaussian_denoiser, q, tracks, sigma_data=0.3, generator=torch.Generator().manual_seed(1))
    # the tracks share their noise draws, so the estimate's noise is one constant: the order is exact
    assert torch.equal(torch.argsort(a), torch.argsort(log_ratio.double()))
    slope = np.polyfit(log_ratio.numpy(), a.numpy(), 1)[0]
    assert slope > 0 and np.allclose(a.numpy(), np.polyval(np.polyfit(log_ratio.numpy(), a.numpy(), 1),
                                                           log_ratio.numpy()), atol=1e-6 * np.abs(a.numpy()).max())


def test_needs_one_condition_and_a_matrix_of_tracks():
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="tracks must be"):
        condition_affinity(gaussian_denoiser, torch.zeros(MUSIC_DIM), torch.zeros(MUSIC_DIM), 0.3, gen)
    assert len(AFFINITY_LEVELS) >= 2 and list(AFFINITY_LEVELS) == sorted(set(AFFINITY_LEVELS))


def test_trained_toy_prior_prefers_the_tracks_of_the_query_cluster(sampler):
    cond, music = toy_world(n=400, seed=0)  # the world the toy prior was trained on (its modes come from the seed)
    cluster = cond.argmax(axis=1)
    for c in range(6):
        a = sampler.condition_affinity(query(c), music, seed=0)
        assert a.shape == (400,) and a.dtype == np.float64
        inside, outside = a[cluster == c], a[cluster != c]
        # AUC, the share of (inside, outside) pairs ordered right: 0.72-1.0 over the clusters for this prior of 60
        # training steps; chance is 0.5
        assert (inside[:, None] > outside[None, :]).mean() > 0.65


def test_same_seed_same_affinity_and_input_checked(sampler):
    _, music = toy_world(n=30, seed=4)
    a = sampler.condition_affinity(query(1), music, seed=5)
    np.testing.assert_array_equal(a, sampler.condition_affinity(query(1), music, seed=5))
    assert not np.array_equal(a, sampler.condition_affinity(query(1), music, seed=6))
    # unit-normalised inside: the scale a track vector arrives in does not matter
    np.testing.assert_allclose(a, sampler.condition_affinity(query(1), 3 * music, seed=5), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="tracks has dimension"):
        sampler.condition_affinity(query(1), music[:, :3])
    with pytest.raises(ValueError, match="one vector"):
        sampler.condition_affinity(np.stack([query(1), query(2)]), music)


def test_affinity_relevance_scale_free_monotone_and_neutral_at_zero():
    rng = np.random.default_rng(0)
    relevance, affinity = rng.uniform(0.2, 0.9, 40), rng.standard_normal(40) * 50
    np.testing.assert_array_equal(affinity_relevance(relevance, affinity, 0.0), relevance)
    out = affinity_relevance(relevance, affinity, 2.0)
    # the affinity's scale and offset mean nothing: only its z-score counts
    np.testing.assert_allclose(out, affinity_relevance(relevance, 0.01 * affinity + 7, 2.0))
    # weight 1: one standard deviation of affinity is worth one of relevance
    z = (affinity - affinity.mean()) / affinity.std()
    np.testing.assert_allclose(affinity_relevance(relevance, affinity, 1.0), relevance + relevance.std() * z)
    # more affinity never ranks a track lower; with a large weight the affinity decides the order
    bumped = affinity.copy()
    bumped[3] += 100
    assert (affinity_relevance(relevance, bumped, 2.0) > affinity_relevance(relevance, bumped, 2.0)[3]).sum() <= (
        out > out[3]).sum()
    assert np.array_equal(np.argsort(affinity_relevance(relevance, affinity, 1e6)), np.argsort(affinity))
    np.testing.assert_array_equal(affinity_relevance(relevance[:1], affinity[:1], 2.0), relevance[:1])
    with pytest.raises(ValueError, match="alike"):
        affinity_relevance(relevance, affinity[:3], 1.0)
    with pytest.raises(ValueError, match="NaN"):
        affinity_relevance(relevance, np.full(40, np.nan), 1.0)
