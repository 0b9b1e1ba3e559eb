"""The one place the web side (the recommend app, its commands) reaches the models: encoders and the prior,
through :mod:`serving.runtime` and :mod:`serving.sampling`.

Why one module: the web side must not care whether the models live in this process or on a Celery GPU worker
(:func:`serving.sampling.sample_seeds` decides), and services and tests then patch or reset a single seam.
Errors: :class:`serving.errors.SamplingUnavailable` (model missing, broker down, worker timeout) is an application
error of the kind ``Unavailable``: it propagates through the services untouched and the exception handler answers 503.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager

import numpy as np

from prior.config import SteeringConfig
from prior.encoders.cache import CachingTextEncoder
from prior.spaces import EmbeddingSpace
from serving import runtime, sampling

Steer = Sequence[tuple[np.ndarray, float]]


def _spaces() -> tuple[EmbeddingSpace, EmbeddingSpace]:
    """``(cond, music)`` of the served prior. Where sampling runs on Celery workers (a broker configured) this
    process never needs the weights, so it reads the spaces from the checkpoint's config alone; where it samples
    itself it loads the prior now, as the sampling would a moment later."""
    if runtime.uses_broker():
        return runtime.prior_spaces()
    prior = runtime.get_prior()
    return prior.cond_space, prior.music_space


def cond_space() -> EmbeddingSpace:
    """The prior's condition space: what an image (or a client's ``image_embedding``) must be embedded in."""
    return _spaces()[0]


def music_space() -> EmbeddingSpace:
    """The prior's music space, which the runtime has checked to be the catalog's space."""
    return _spaces()[1]


def encode_image(image) -> np.ndarray:
    """An RGB ``PIL.Image`` -> its condition vector ``[Dc]`` (float32, unit length)."""
    return np.asarray(runtime.get_image_encoder().encode_images([image])[0], dtype=np.float32)


_tags: CachingTextEncoder | None = None  # the text encoder with its tag cache (users repeat the same few tags)


def encode_tags(tags: Sequence[str]) -> np.ndarray:
    """Tags -> ``[n, Dm]`` text embeddings in the music space; each distinct tag embedded once per process."""
    global _tags
    if not tags:
        return np.zeros((0, music_space().dim), dtype=np.float32)
    encoder = runtime.get_text_encoder()
    if _tags is None or _tags.base is not encoder:
        # chunk=1: a tag's vector never depends on which tags shared its batch (padding), so a seed replays
        _tags = CachingTextEncoder(encoder, max_texts=4096, chunk=1)
    return _tags.encode_texts(list(tags))


def sample_seeds(
    cond: np.ndarray, n_seeds: int, guidance: float | None, steer: Steer = (), seed: int | None = None,
    steer_schedule: str | None = None,
) -> np.ndarray:
    """``n_seeds`` seed embeddings ``[S, Dm]`` for ``cond``, steered by ``(vector, k)`` pairs; reproducible by seed.

    ``steer_schedule``: how k scales with the noise level (the steering plan's, :mod:`prior.steering`)."""
    return sampling.sample_seeds(cond, n_seeds=n_seeds, guidance=guidance, steer=list(steer), seed=seed,
                                 steer_schedule=steer_schedule)


def condition_affinity(cond: np.ndarray, tracks: np.ndarray, seed: int | None = None) -> np.ndarray:
    """The prior's affinity of each of ``tracks [N, Dm]`` for ``cond`` -> ``[N]`` (:mod:`prior.affinity`): what the
    steering model re-ranks a steered playlist's candidates by; reproducible by seed."""
    return sampling.condition_affinity(cond, tracks, seed=seed)


def steering_defaults() -> SteeringConfig:
    """The served prior's steering defaults (its checkpoint's "steering" block), read without loading weights."""
    return runtime.steering_defaults()


def sampling_ahead() -> AbstractContextManager:
    """``with engine.sampling_ahead():`` around a request's work up to :func:`sample_seeds`, so that concurrent
    requests of this process share one batched pass of the prior (:func:`serving.sampling.sampling_ahead`)."""
    return sampling.sampling_ahead()


def reset() -> None:
    """Forget loaded models and cached tag vectors (after a settings change in tests, or a new checkpoint)."""
    global _tags
    runtime.reset()
    _tags = None
