"""The steering model: ONE pure function from what a session has said to what the sampler and retrieval do.

A session's steering state is its wanted tags, avoided tags, liked and skipped tracks, each as vectors in the music
space and each list oldest first. :func:`steering_plan` turns it into a :class:`SteeringPlan`:

- ``pairs``: Diff4Steer's ``(z_n, k_n)`` gradient-steering pairs for the sampler (:mod:`prior.guidance`), with the
  noise-level ``schedule`` they are applied with;
- ``toward`` / ``away``: the unit directions the retrieval step combines with the seeds (:func:`rank_pool`).

Why one function: the evaluation (``python -m prior evaluate``), the CLI and the API (recommend/services/steering.py)
must steer the same way, or the number measured is not the product served. Its defaults are a
:class:`~prior.config.SteeringConfig`, written into a checkpoint's ``config.json`` by ``python -m prior train``;
the web app's settings can override them.

The budget does not grow with the number of tags: the wanted tags share ``tag_k`` (weights normalised to sum 1),
and so do the avoided ones (``avoid_k``), the liked tracks (``liked_k``) and the skipped ones (``skipped_k``).
Older entries fade: each one weighs ``fade`` times the next newer one before normalising (``fade = 1``: all equal),
so a second steer takes over from the first without cancelling it.

How the tag and the picture both stay in force (``pool > 0``, the retrieval side): gradient steering alone moves
every seed towards the tag, and a k large enough to get the tag into most of the playlist also erases what the
condition chose (in the demo: the picture's mood). :func:`rank_pool` instead keeps the tag as a *constraint* and the
seeds as the *ranking*: the candidates are the ``pool`` catalog tracks nearest to the wanted direction (minus
``avoid_weight`` x similarity to the avoided one), and each seed orders those candidates by its own similarity.
The tag decides which tracks may appear; the condition decides which of them do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from prior.config import SteeringConfig

__all__ = ["SteeringConfig", "SteeringPlan", "SteeringState", "age_weights", "rank_pool", "steering_plan",
           "pool_scores"]


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
    pool: int = 0  # > 0: candidates are the pool tracks nearest the wanted direction (rank_pool)
    avoid_weight: float = 0.0
    config: SteeringConfig = field(default_factory=SteeringConfig)

    @property
    def steered(self) -> bool:
        return bool(self.pairs) or self.toward is not None or self.away is not None

    @property
    def pooled(self) -> bool:
        """Whether retrieval ranks a tag pool (rank_pool) rather than the whole catalog."""
        return self.pool > 0 and self.toward is not None


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
        pool=config.pool, avoid_weight=config.avoid_weight, config=config,
    )


def pool_scores(vectors: np.ndarray, plan: SteeringPlan) -> np.ndarray:
    """How well each candidate ``[N, D]`` fits the steering text: cos to ``toward`` - avoid_weight x cos to ``away``.

    The pool is the ``plan.pool`` candidates with the highest score (the service asks the ANN index for the tracks
    nearest to the same combination, :func:`pool_query`).
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    score = vectors @ plan.toward if plan.toward is not None else np.zeros(len(vectors), np.float32)
    if plan.away is not None and plan.avoid_weight:
        score = score - plan.avoid_weight * (vectors @ plan.away)
    return score


def pool_query(plan: SteeringPlan) -> np.ndarray:
    """The unit vector whose nearest neighbours are the best :func:`pool_scores`: toward - avoid_weight x away.

    For unit track vectors cos(t, a - w b) is proportional to cos(t, a) - w cos(t, b), so one ANN query by this
    vector fetches the pool.
    """
    if plan.toward is None:
        raise ValueError("no wanted tag: nothing to pool by")
    query = plan.toward.astype(np.float64)
    if plan.away is not None and plan.avoid_weight:
        query = query - plan.avoid_weight * plan.away
    return (query / max(np.linalg.norm(query), 1e-12)).astype(np.float32)


def rank_pool(seeds: np.ndarray, pool_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each seed's top ``k`` pool candidates by cosine: ``seeds [S, D]`` x ``pool [P, D]`` -> (indices, scores) [S, k].

    Exact (the pool is a few hundred tracks): the seeds carry what the condition chose, the pool what the tags
    allow. Indices are positions in ``pool_vectors``; ties keep the pool's order.
    """
    seeds = np.asarray(seeds, dtype=np.float32)
    pool_vectors = np.asarray(pool_vectors, dtype=np.float32)
    k = min(int(k), len(pool_vectors))
    sims = seeds @ pool_vectors.T
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(sims, order, axis=1)
