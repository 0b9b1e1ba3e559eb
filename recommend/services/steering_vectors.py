"""A session's steering state as Diff4Steer steering pairs ``(vector in the music space, k)``.

- each tag pulls the seeds towards its text embedding (``+RECOMMEND_STEER_TAG_K``);
- each avoided tag pushes them away (``-RECOMMEND_STEER_AVOID_K``: "less vocals");
- liked tracks pull towards the centroid of their music vectors, skipped ones push away from theirs.

Centroids rather than one pair per track: ten likes should not steer ten times harder than one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from catalog.models import EmbeddingSpace
from catalog.selectors import vectors_for
from recommend import conf, engine


@dataclass(frozen=True)
class SteeringState:
    tags: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    liked: tuple[int, ...] = ()
    skipped: tuple[int, ...] = ()


def _centroid(vectors: np.ndarray) -> np.ndarray | None:
    if len(vectors) == 0:
        return None
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return None if norm < 1e-8 else (mean / norm).astype(np.float32)


def steering_pairs(state: SteeringState, space: EmbeddingSpace | str) -> list[tuple[np.ndarray, float]]:
    """The ``steer`` argument of the prior's sampler for this state (empty list: no steering)."""
    pairs: list[tuple[np.ndarray, float]] = []
    tag_k, avoid_k = float(conf.get("RECOMMEND_STEER_TAG_K")), float(conf.get("RECOMMEND_STEER_AVOID_K"))
    pairs += [(vec, tag_k) for vec in engine.encode_tags(list(state.tags))]
    pairs += [(vec, -avoid_k) for vec in engine.encode_tags(list(state.avoid))]
    liked_k, skipped_k = float(conf.get("RECOMMEND_STEER_LIKED_K")), float(conf.get("RECOMMEND_STEER_SKIPPED_K"))
    for ids, k in ((state.liked, liked_k), (state.skipped, -skipped_k)):
        centroid = _centroid(vectors_for(space, list(ids))) if ids else None
        if centroid is not None and k:
            pairs.append((centroid, float(k)))
    return pairs
