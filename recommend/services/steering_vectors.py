"""A session's steering state -> the steering plan of the prior's steering model (:mod:`prior.steering`).

The session stores what the user said as text and track ids (tags and avoided tags in the order given, liked and
skipped tracks in the order rated); here they become vectors in the music space (tags through the text encoder,
tracks from the catalog) and go through :func:`prior.steering.steering_plan`, the same function the evaluation
uses. Its settings are the served checkpoint's "steering" block, each overridable by a ``RECOMMEND_STEER_*``
setting (recommend/conf.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from catalog.models import EmbeddingSpace
from catalog.selectors import vectors_for
from prior import steering
from prior.config import SteeringConfig
from recommend import conf
from serving import engine


@dataclass(frozen=True)
class SteeringState:
    """What a session has said, oldest first: tags, avoided tags, liked and skipped track ids."""

    tags: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    liked: tuple[int, ...] = ()
    skipped: tuple[int, ...] = ()


def steering_config() -> SteeringConfig:
    """The served checkpoint's steering defaults with every ``RECOMMEND_STEER_*`` setting that is set applied.

    A value out of range (a negative k, an unknown schedule) raises ``ValueError`` naming it.
    """
    overrides = {}
    for name, field_name in conf.STEERING_SETTINGS.items():
        value = conf.get(name)
        if value is not None:
            overrides[field_name] = value
    config = replace(engine.steering_defaults(), **overrides)
    config.check()
    return config


def vector_state(state: SteeringState, space: EmbeddingSpace | str) -> steering.SteeringState:
    """The session's state as music-space vectors, each list in the session's order (oldest first)."""

    def tracks(ids: tuple[int, ...]) -> np.ndarray:
        return vectors_for(space, list(ids))

    return steering.SteeringState(
        tags=engine.encode_tags(list(state.tags)), avoid=engine.encode_tags(list(state.avoid)),
        liked=tracks(state.liked), skipped=tracks(state.skipped),
    )


def steering_plan(state: SteeringState, space: EmbeddingSpace | str) -> steering.SteeringPlan:
    """What the sampler and the retrieval do for this session (:func:`prior.steering.steering_plan`)."""
    return steering.steering_plan(vector_state(state, space), steering_config())
