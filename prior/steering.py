"""The steering model: ONE pure function from what a session has said to what the sampler and retrieval do.

A session's steering state is its wanted tags, avoided tags, liked and skipped tracks, each as vectors in the music
space and each list oldest first. :func:`steering_plan` turns it into a :class:`SteeringPlan`:

- ``pairs``: Diff4Steer's ``(z_n, k_n)`` gradient-steering pairs for the sampler (:mod:`prior.guidance`), with the
  noise-level ``schedule`` they are applied with;
- ``toward`` / ``away``: the unit directions of the wanted and the avoided tags, which retrieval combines with what
  the condition chose when ``condition_weight`` > 0 (:func:`retrieval_query`).

Why one function: the evaluation (``python -m prior evaluate``), the CLI and the API (recommend/services/steering.py)
must steer the same way, or the number measured is not the product served. Its defaults are a
:class:`~prior.config.SteeringConfig`, written into a checkpoint's ``config.json`` by ``python -m prior train``;
the web app's settings can override them.

The budget does not grow with the number of tags: the wanted tags share ``tag_k`` (weights normalised to sum 1),
and so do the avoided ones (``avoid_k``), the liked tracks (``liked_k``) and the skipped ones (``skipped_k``).
Older entries fade: each one weighs ``fade`` times the next newer one before normalising (``fade = 1``: all equal),
so a second steer takes over from the first without cancelling it.

How the tag and the condition both stay in force (``condition_weight`` > 0): gradient steering moves every seed
towards the tag, and a k large enough to get the tag into most of the playlist also erases what the condition chose
(in the demo: the picture's mood), because each seed is pulled onto the tag's own point. Retrieval instead asks for
the tracks nearest ONE query that adds the two: the tag direction, plus ``condition_weight`` times the *condition
direction* — the mean of the seeds minus the mean of the same draw without the condition (same initial noise,
same steering, CFG weight :data:`NULL_GUIDANCE`): what the condition adds over no condition, the quantity
classifier-free guidance amplifies (:func:`condition_direction`) — minus ``avoid_weight`` times the avoided tags.
For unit track vectors the cosine to that sum is the sum of the cosines, so a track ranks high when it carries the
tag AND lies where the condition pushes; pairing the two draws cancels the seeds' own noise, the mood is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from prior.config import SteeringConfig

__all__ = ["SteeringConfig", "SteeringPlan", "SteeringState", "NULL_GUIDANCE", "age_weights",
           "condition_direction", "retrieval_query", "steering_plan"]

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
    avoid_weight: float = 0.0
    config: SteeringConfig = field(default_factory=SteeringConfig)

    @property
    def steered(self) -> bool:
        return bool(self.pairs) or self.toward is not None or self.away is not None

    @property
    def by_query(self) -> bool:
        """Whether retrieval is ONE query by :func:`retrieval_query` rather than each seed's own neighbours."""
        return self.condition_weight > 0 and self.toward is not None


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
        condition_weight=config.condition_weight, avoid_weight=config.avoid_weight, config=config,
    )


def condition_direction(seeds: np.ndarray, null_seeds: np.ndarray) -> np.ndarray:
    """Unit vector of mean(seeds) - mean(null_seeds): where the condition moves the music.

    ``seeds`` ``[S, D]`` of one query and ``null_seeds`` the same draw with CFG weight :data:`NULL_GUIDANCE` (same
    sampling seed, same steering). Zero (no direction) when the two coincide.
    """
    diff = np.asarray(seeds, np.float64).mean(axis=0) - np.asarray(null_seeds, np.float64).mean(axis=0)
    norm = float(np.linalg.norm(diff))
    return (diff / norm if norm > 1e-12 else np.zeros_like(diff)).astype(np.float32)


def retrieval_query(plan: SteeringPlan, seeds: np.ndarray, null_seeds: np.ndarray) -> np.ndarray:
    """The one retrieval vector of a ``by_query`` plan: toward + condition_weight x condition - avoid_weight x away.

    Unit length. Nearest neighbours of it maximise cos(t, toward) + condition_weight cos(t, condition direction)
    - avoid_weight cos(t, away) over unit tracks t (the cosine to a sum is proportional to the sum of cosines).
    """
    if plan.toward is None:
        raise ValueError("no wanted tag: retrieval is by the seeds")
    query = plan.toward.astype(np.float64) + plan.condition_weight * condition_direction(seeds, null_seeds)
    if plan.away is not None and plan.avoid_weight:
        query = query - plan.avoid_weight * plan.away
    return (query / max(np.linalg.norm(query), 1e-12)).astype(np.float32)
