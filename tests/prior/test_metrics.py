"""Metrics on cases small enough to check by hand."""

import numpy as np
import pytest
from scipy import linalg

from prior.metrics import (
    estimate,
    fmd,
    frechet_distance,
    miscs,
    miscs_per_query,
    random_other_indices,
    recall_at_k,
    seed_scores,
    triplet_accuracy,
)


def test_recall_at_k_by_hand():
    merged = [["a", "b", "c"], ["d", "e", "f"], ["g"]]
    assert recall_at_k(merged, ["b", "f", "x"], 2).mean == pytest.approx(1 / 3)
    r = recall_at_k(merged, ["b", "f", "x"], 3)
    assert r.mean == pytest.approx(2 / 3) and r.n == 3
    assert r.se == pytest.approx(np.std([1, 1, 0], ddof=1) / np.sqrt(3))


def test_miscs_by_hand():
    e = np.eye(3)
    assert miscs_per_query(e[None]) == pytest.approx([0.0])  # orthogonal seeds
    same = np.repeat(e[:1], 4, axis=0)[None]
    assert miscs(same).mean == pytest.approx(1.0)  # collapsed
    two = np.array([[[1, 0], [np.sqrt(0.5), np.sqrt(0.5)]]])
    assert miscs(two).mean == pytest.approx(np.sqrt(0.5))
    assert miscs(np.ones((5, 3))).mean == 1.0  # one seed per query: a point mass


def test_frechet_distance_gaussian_cases():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # shifted by (2, 0, 0): mean term 4, covariances equal
    assert frechet_distance(a, a + [2, 0, 0]) == pytest.approx(4.0, abs=1e-6)
    # scaled: tr(C + 4C - 2*2C) = tr(C) ~ 3
    expected_scaled = np.trace(np.cov(a, rowvar=False)) + (a.mean(0) ** 2).sum()
    assert frechet_distance(a, 2 * a, eps=0) == pytest.approx(expected_scaled, rel=1e-6)
    b = rng.normal(size=(3000, 3)) @ np.diag([1.0, 2.0, 0.5])
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca + cb - 2 * np.real(linalg.sqrtm(ca @ cb)))
    assert frechet_distance(a, b, eps=0) == pytest.approx(expected, rel=1e-6)


def test_fmd_pools_seeds_and_survives_collapse():
    rng = np.random.default_rng(1)
    music = rng.normal(size=(50, 8))
    collapsed = np.repeat(music.mean(0, keepdims=True)[None], 50, axis=0)  # [50, 1, 8], fewer points than dims
    assert np.isfinite(fmd(collapsed, music)) and fmd(collapsed, music) > 0


def test_triplet_accuracy_max_over_seeds():
    true = np.array([[1.0, 0.0], [0.0, 1.0]])
    other = np.array([[0.0, 1.0], [0.0, 1.0]])
    seeds = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]])
    # query 0: seeds cover both -> tie (1 vs 1) -> 0.5; query 1: true == other -> tie -> 0.5
    assert triplet_accuracy(seeds, true, other).mean == pytest.approx(0.5)
    assert seed_scores(seeds[:1], np.array([[0.6, 0.8]])) == pytest.approx([0.8])
    seeds2 = np.array([[[0.9, 0.1]], [[0.1, 0.9]]])
    other2 = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert triplet_accuracy(seeds2, true, other2).mean == 1.0


def test_random_other_indices_never_the_true_one():
    true = np.array([0, 5, 9, 9, 3] * 200)
    other = random_other_indices(true, 10, seed=3)
    assert (other != true).all() and other.min() >= 0 and other.max() <= 9
    assert (random_other_indices(true, 10, seed=3) == other).all()


def test_estimate_empty_and_single():
    assert estimate(np.array([])).n == 0
    assert estimate(np.array([1.0])).se == 0.0
