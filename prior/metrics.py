"""Quality metrics of a generative retriever (docs/prior-eval.md), pure numpy.

Every metric that averages over queries also returns its standard error, so differences can be judged
against noise (a difference counts at "more than two standard errors"). Shapes: ``seeds [Q, S, D]`` (a
deterministic model is ``S = 1``), ``music [Q, D]``; vectors are L2-normalised (inner product = cosine).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """A mean over queries with its standard error (``std / sqrt(n)``) and the number of queries ``n``."""

    mean: float
    se: float
    n: int

    def to_dict(self, name: str) -> dict:
        return {name: self.mean, f"{name}_se": self.se}


def estimate(values: np.ndarray) -> Estimate:
    values = np.asarray(values, dtype=np.float64).ravel()
    n = len(values)
    if n == 0:
        return Estimate(float("nan"), float("nan"), 0)
    se = float(values.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
    return Estimate(float(values.mean()), se, n)


def hits_at_k(merged: Sequence[Sequence[Hashable]], true_ids: Sequence[Hashable], k: int) -> np.ndarray:
    """Per query, 1.0 if its true id is among the first ``k`` of its merged list, else 0.0: ``[Q]``."""
    if len(merged) != len(true_ids):
        raise ValueError(f"{len(merged)} result lists for {len(true_ids)} queries")
    return np.array([true in list(ids)[:k] for ids, true in zip(merged, true_ids, strict=True)], dtype=np.float64)


def recall_at_k(merged: Sequence[Sequence[Hashable]], true_ids: Sequence[Hashable], k: int) -> Estimate:
    """Share of queries whose true id is among the first ``k`` of its merged list."""
    return estimate(hits_at_k(merged, true_ids, k))


def paired_difference(a: np.ndarray, b: np.ndarray) -> Estimate:
    """Mean of ``a - b`` over the same queries with its paired standard error (for "A beats B by > 2 SE")."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    return estimate(a - b)


def _as_seeds(seeds: np.ndarray) -> np.ndarray:
    seeds = np.asarray(seeds, dtype=np.float64)
    if seeds.ndim == 2:
        seeds = seeds[:, None, :]
    if seeds.ndim != 3:
        raise ValueError(f"seeds must be [Q, S, D] (or [Q, D]), got shape {seeds.shape}")
    return seeds


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def miscs_per_query(seeds: np.ndarray) -> np.ndarray:
    """Mean pairwise cosine similarity of each query's seeds (pairs i < j): ``[Q]``. 1.0 = collapsed.

    With one seed there are no pairs; the value is 1.0 by convention (a point mass is fully collapsed),
    which is what the paper reports for the deterministic baseline.
    """
    seeds = _unit(_as_seeds(seeds))
    s = seeds.shape[1]
    if s < 2:
        return np.ones(seeds.shape[0])
    gram = seeds @ seeds.transpose(0, 2, 1)
    off_diagonal_sum = gram.sum(axis=(1, 2)) - np.trace(gram, axis1=1, axis2=2)
    return off_diagonal_sum / (s * (s - 1))


def miscs(seeds: np.ndarray) -> Estimate:
    """MISCS: mean intra-sample cosine similarity, averaged over queries (lower = more diverse seeds)."""
    return estimate(miscs_per_query(seeds))


def frechet_distance(a: np.ndarray, b: np.ndarray, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussian fits of two point sets ``a [N, D]`` and ``b [M, D]``:
    ``|mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2))``.

    FMD = this with ``a`` = all generated seeds and ``b`` = the true music embeddings of the same queries.
    ``eps`` is added to the diagonals so the matrix square root stays real when a set has fewer points
    than dimensions (a collapsed sampler). The trace of the square root is computed from the eigenvalues
    of ``sqrt(C_a) C_b sqrt(C_a)`` (symmetric PSD, same spectrum as ``C_a C_b``), which is stable.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, np.shape(a)[-1])
    b = np.asarray(b, dtype=np.float64).reshape(-1, np.shape(b)[-1])
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"dimension mismatch: {a.shape[1]} vs {b.shape[1]}")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    eye = np.eye(a.shape[1]) * eps
    cov_a = (np.cov(a, rowvar=False) if len(a) > 1 else np.zeros((a.shape[1],) * 2)) + eye
    cov_b = (np.cov(b, rowvar=False) if len(b) > 1 else np.zeros((b.shape[1],) * 2)) + eye
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    middle = root_a @ cov_b @ root_a
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_root = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)
    return max(value, 0.0)


def fmd(seeds: np.ndarray, music: np.ndarray) -> float:
    """Fréchet Music Distance between all seeds (pooled over queries) and the queries' true music."""
    seeds = _as_seeds(seeds)
    return frechet_distance(seeds.reshape(-1, seeds.shape[-1]), np.asarray(music))


def seed_scores(seeds: np.ndarray, tracks: np.ndarray) -> np.ndarray:
    """Score of one track per query: the max over the query's seeds of the cosine to the track, ``[Q]``.

    Max (not mean) because a multimodal sampler should get credit for a track that ANY of its seeds
    points at; the mean would reward collapsing onto the centre of the modes.
    """
    seeds = _unit(_as_seeds(seeds))
    tracks = _unit(np.asarray(tracks, dtype=np.float64))
    return np.einsum("qsd,qd->qs", seeds, tracks).max(axis=1)


def triplet_accuracy(seeds: np.ndarray, true_music: np.ndarray, other_music: np.ndarray) -> Estimate:
    """Share of triplets (query, true track, other track) where the seeds score the true track higher.

    Score = :func:`seed_scores` (max cosine over seeds). A tie counts one half, so a constant scorer gets 0.5.
    """
    true_score = seed_scores(seeds, true_music)
    other_score = seed_scores(seeds, other_music)
    wins = (true_score > other_score).astype(np.float64) + 0.5 * (true_score == other_score)
    return estimate(wins)


def random_other_indices(true_indices: np.ndarray, n_items: int, seed: int = 0) -> np.ndarray:
    """For each query, a uniformly random catalog index different from its true track (seeded, reproducible)."""
    if n_items < 2:
        raise ValueError("need at least two catalog items for triplets")
    rng = np.random.default_rng(seed)
    true_indices = np.asarray(true_indices)
    other = rng.integers(0, n_items - 1, size=len(true_indices))
    return other + (other >= true_indices)  # skip the true index without rejection sampling
