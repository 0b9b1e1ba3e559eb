"""The steering model: ONE pure function from what a session has said to what the sampler and retrieval do.

A session's steering state is its wanted tags, avoided tags, liked and skipped tracks, each as vectors in the music
space and each list oldest first. :func:`steering_plan` turns it into a :class:`SteeringPlan`:

- ``pairs``: Diff4Steer's ``(z_n, k_n)`` gradient-steering pairs for the sampler (:mod:`prior.guidance`), with the
  noise-level ``schedule`` they are applied with;
- ``toward`` / ``away``: the unit directions of the wanted and the avoided tags;
- ``condition_weight``: when > 0 and a tag is wanted, each seed retrieves by itself plus that much of the
  condition's direction (:func:`retrieval_vectors`);
- ``affinity_weight``: when > 0 and a tag is wanted, the retrieved candidates are re-ranked by the prior's affinity
  of each track for the condition (:func:`affinity_relevance`, :mod:`prior.affinity`).

Why one function: the evaluation (``python -m prior evaluate``), the CLI and the API
(recommend/services/steering_vectors.py) must steer the same way, or the number measured is not the product
served. Its defaults are a :class:`~prior.config.SteeringConfig`, written into a checkpoint's ``config.json`` by
``python -m prior train``; the web app's settings can override them.

The budget does not grow with the number of tags: the wanted tags share ``tag_k`` (weights normalised to sum 1),
and so do the avoided ones (``avoid_k``), the liked tracks (``liked_k``) and the skipped ones (``skipped_k``).
Older entries fade: each one weighs ``fade`` times the next newer one before normalising (``fade = 1``: all equal),
so a second steer takes over from the first without cancelling it.

How the tag and the condition both stay in force (``condition_weight`` > 0): gradient steering moves every seed
towards the tag, and a k large enough to get the tag into most of the playlist also erases what the condition chose
(in the demo: the picture's mood), because each seed is pulled onto the tag's own point. So after sampling, each
seed retrieves by ``seed + condition_weight x c``, where c is the *condition direction*: the mean of the seeds minus
the mean of the same draw without the condition (same initial noise, same steering, CFG weight
:data:`NULL_GUIDANCE`) — what the condition adds over no condition, the quantity classifier-free guidance
amplifies (:func:`condition_direction`). The tag stays in the seeds; the condition is put back into every query;
pairing the two draws cancels the seeds' own noise, so c carries the condition and little else.

Both are linear scores, cos(t, seed) + w cos(t, c), and every such mix of tag and condition lies on one trade-off
curve: a direction c carries the condition only roughly (in the demo it tells a happy track from a sad one of the
same genre about as well as a coin weighted 70/30). ``affinity_weight`` adds what a direction cannot: the prior's
own likelihood of each candidate under the condition (:mod:`prior.affinity`), so that among the tracks the tag
brought in, those the condition would have drawn rank first (:func:`affinity_relevance`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from prior.config import SteeringConfig

__all__ = ["SteeringConfig", "SteeringPlan", "SteeringState", "NULL_GUIDANCE", "affinity_relevance", "age_weights",
           "condition_direction", "retrieval_vectors", "steering_plan"]

# The CFG weight that samples the prior WITHOUT its condition: (1 + w) D(x, q) - w D(x, null) = D(x, null) at w = -1.
# Drawn from the same sampling seed (the same initial noise) and steering as the query's own seeds, such "null
# seeds" differ from them only by what the condition does (see condition_direction).
NULL_GUIDANCE = -1.0


@dataclass(frozen=True)
class SteeringState:
    """What a session has said, as vectors in the music space (rows of ``[n, Dm]`` arrays), oldest first."""

    tags: np.ndarray | Sequence[np.ndarray] = ()
    avoid: np.ndarray | Sequence[np.ndarray] = ()
    liked: np.ndarray | Sequence[np.ndarray] = ()
    skipped: np.ndarray | Sequence[np.ndarray] = ()


@dataclass(frozen=True)
class SteeringPlan:
    """What the sampler and the retrieval step do for one steering state (see the module docstring)."""

    pairs: tuple[tuple[np.ndarray, float], ...] = ()
    schedule: str = "constant"
    toward: np.ndarray | None = None  # unit [Dm]: the age-weighted mean of the wanted tags
    away: np.ndarray | None = None  # unit [Dm]: the age-weighted mean of the avoided tags
    condition_weight: float = 0.0
    affinity_weight: float = 0.0
    config: SteeringConfig = field(default_factory=SteeringConfig)

    @property
    def steered(self) -> bool:
        return bool(self.pairs) or self.toward is not None or self.away is not None

    @property
    def adds_condition(self) -> bool:
        """Whether the seeds retrieve with the condition direction added (:func:`retrieval_vectors`), which needs
        the null draw; only when a tag is wanted (otherwise nothing pulls the seeds off the condition)."""
        return self.condition_weight > 0 and self.toward is not None

    @property
    def reranks(self) -> bool:
        """Whether the candidates are re-ranked by the condition's affinity (:func:`affinity_relevance`); only when a
        tag is wanted, for the same reason as :attr:`adds_condition`."""
        return self.affinity_weight > 0 and self.toward is not None


def age_weights(n: int, fade: float) -> np.ndarray:
    """Weights of ``n`` entries, oldest first, summing to 1: each weighs ``fade`` times the next newer one."""
    if n == 0:
        return np.zeros(0)
    if not 0 < fade <= 1:
        raise ValueError(f"fade must be in (0, 1], got {fade}")
    raw = fade ** np.arange(n - 1, -1, -1, dtype=np.float64)
    return raw / raw.sum()


def _rows(vectors: np.ndarray | Sequence[np.ndarray], what: str) -> np.ndarray:
    """Unit rows ``[n, D]`` (n may be 0); zero or non-finite vectors are refused with what they were."""
    arr = np.asarray([np.asarray(v, dtype=np.float64).reshape(-1) for v in vectors]) if len(vectors) else None
    if arr is None:
        return np.zeros((0, 0))
    if not np.isfinite(arr).all():
        raise ValueError(f"a {what} vector contains NaN or inf")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    if norms.min() < 1e-12:
        raise ValueError(f"a {what} vector is zero")
    return arr / norms


def _mean_direction(rows: np.ndarray, weights: np.ndarray) -> np.ndarray | None:
    if len(rows) == 0:
        return None
    mean = weights @ rows
    norm = float(np.linalg.norm(mean))
    return None if norm < 1e-8 else (mean / norm).astype(np.float32)


def steering_plan(state: SteeringState, config: SteeringConfig | None = None) -> SteeringPlan:
    """The sampler's steering pairs and the retrieval's directions for ``state`` under ``config``.

    Per group (tags, avoid, liked, skipped) the pairs' k sum to the group's budget (``tag_k``, ``-avoid_k``,
    ``liked_k``, ``-skipped_k``) whatever the number of entries; newer entries weigh more (``fade``).
    """
    config = config or SteeringConfig()
    config.check()
    pairs: list[tuple[np.ndarray, float]] = []
    directions = {}
    for name, vectors, budget in (("tag", state.tags, config.tag_k), ("avoid", state.avoid, -config.avoid_k),
                                  ("liked", state.liked, config.liked_k),
                                  ("skipped", state.skipped, -config.skipped_k)):
        rows = _rows(vectors, name)
        weights = age_weights(len(rows), config.fade)
        directions[name] = _mean_direction(rows, weights)
        if budget:
            pairs += [(row.astype(np.float32), float(budget * w)) for row, w in zip(rows, weights, strict=True)]
    return SteeringPlan(
        pairs=tuple(pairs), schedule=config.schedule, toward=directions["tag"], away=directions["avoid"],
        condition_weight=config.condition_weight, affinity_weight=config.affinity_weight, config=config,
    )


def condition_direction(seeds: np.ndarray, null_seeds: np.ndarray) -> np.ndarray:
    """Unit vector of mean(seeds) - mean(null_seeds): where the condition moves the music.

    ``seeds`` ``[S, D]`` of one query and ``null_seeds`` the same draw with CFG weight :data:`NULL_GUIDANCE` (same
    sampling seed, same steering). Zero (no direction) when the two coincide.
    """
    diff = np.asarray(seeds, np.float64).mean(axis=0) - np.asarray(null_seeds, np.float64).mean(axis=0)
    norm = float(np.linalg.norm(diff))
    return (diff / norm if norm > 1e-12 else np.zeros_like(diff)).astype(np.float32)


def retrieval_vectors(plan: SteeringPlan, seeds: np.ndarray, null_seeds: np.ndarray) -> np.ndarray:
    """What each seed retrieves by under an ``adds_condition`` plan: unit(seed + condition_weight x c), ``[S, D]``.

    ``seeds`` ``[S, D]`` of one query, ``null_seeds`` its null draw; c = :func:`condition_direction`. Cosine to the
    sum is proportional to cos(t, seed) + condition_weight cos(t, c) for unit tracks t: a track ranks high when it
    is near the (tag-steered) seed AND where the condition points.
    """
    seeds = np.asarray(seeds, dtype=np.float64)
    out = seeds + plan.condition_weight * condition_direction(seeds, null_seeds)
    return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def affinity_relevance(relevance: np.ndarray, affinity: np.ndarray, weight: float) -> np.ndarray:
    """The re-ranking score of a candidate pool: relevance + weight x std(relevance) x z(affinity), ``[N]``.

    ``relevance`` ``[N]``: each candidate's cosine to its seed (what the ranking uses unsteered); ``affinity``
    ``[N]``: :meth:`prior.service.PriorSampler.condition_affinity` of the same tracks, whose scale means nothing,
    hence its z-score over the pool. Scaled by the relevance's own spread, ``weight`` = 1 makes one standard
    deviation of affinity worth one of similarity, whatever the space; and the result stays on the cosine scale
    that the diversifier (MMR) weighs against track-to-track similarity. A pool of one, or with no spread in
    either score, is returned unchanged.
    """
    relevance = np.asarray(relevance, dtype=np.float64)
    affinity = np.asarray(affinity, dtype=np.float64)
    if relevance.shape != affinity.shape or relevance.ndim != 1:
        raise ValueError(f"relevance and affinity must be [N] alike, got {relevance.shape} and {affinity.shape}")
    if not np.isfinite(affinity).all():
        raise ValueError("affinity contains NaN or inf")
    spread, affinity_spread = float(relevance.std()), float(affinity.std())
    if weight == 0 or len(relevance) < 2 or spread < 1e-12 or affinity_spread < 1e-12:
        return relevance
    return relevance + weight * spread * (affinity - affinity.mean()) / affinity_spread
