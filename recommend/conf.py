"""The recommend app's settings: one default each, here and nowhere else, read at call time.

A name is looked up in Django's settings first (tests override it there), then in the environment variable of the
same name (parsed as the default's type), then falls back to :data:`DEFAULTS`. A serving process checks every
environment value when it starts (:func:`check_environment`, run by the app's ``ready``), so a typo fails the boot
with the variable's name rather than a request with a 500. See docs/api.md "Configuration".
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from config.env import env_value

DEFAULTS: dict[str, Any] = {
    # Uploads: bytes of the image file (413 above it) and decoded pixels (decompression-bomb guard).
    "IMAGE_MAX_BYTES": 8 * 1024 * 1024,
    "IMAGE_MAX_PIXELS": 40_000_000,
    # Merge of the per-seed lists: "round_robin" (default) or "rrf" (reciprocal-rank fusion).
    "RECOMMEND_MERGE": "round_robin",
    # MMR trade-off: 1 = relevance only, 0 = novelty only.
    "RECOMMEND_MMR_LAMBDA": 0.7,
    # At most this many tracks per artist in one playlist version.
    "RECOMMEND_MAX_PER_ARTIST": 2,
    # Candidate pool = POOL_FACTOR x size merged tracks, diversified down to size.
    "RECOMMEND_POOL_FACTOR": 3,
    # Nearest neighbours fetched per seed: first clamp(ceil(2 x pool / seeds), MIN, MAX), doubled (one more ANN
    # round trip each time, up to MAX) while the lists are too short or too alike to fill the pool.
    "RECOMMEND_K_PER_SEED_MIN": 10,
    "RECOMMEND_K_PER_SEED_MAX": 100,
    # HNSW candidate list (pgvector's hnsw.ef_search) of the playlist ANN, raised to k when k is larger; the
    # catalog-wide HNSW_EF_SEARCH (100) stays the default of every other search. 32 on the m = 8 graph
    # (catalog/vector_index.py) finds as many of the exact per-seed neighbours as 20 did on the m = 16 one, with
    # the same playlists (bench/playlist_quality.py), at ~40 % less Postgres CPU.
    "RECOMMEND_EF_SEARCH": 32,
    # Steering (prior.steering, one model for evaluation and serving). None = the served checkpoint's "steering"
    # block, which `python -m prior train` writes; a value here overrides it. Budgets k (Diff4Steer eq. 4) are
    # shared by all tags / avoided tags / liked / skipped tracks of a session; FADE: weight of each older entry
    # relative to the next newer; SCHEDULE: constant | sigma2 | snr; CONDITION_WEIGHT: with a wanted tag, each seed
    # retrieves by itself + this x the picture's direction (0: by the seeds alone).
    "RECOMMEND_STEER_TAG_K": None,
    "RECOMMEND_STEER_AVOID_K": None,
    "RECOMMEND_STEER_LIKED_K": None,
    "RECOMMEND_STEER_SKIPPED_K": None,
    "RECOMMEND_STEER_FADE": None,
    "RECOMMEND_STEER_SCHEDULE": None,
    "RECOMMEND_STEER_CONDITION_WEIGHT": None,
    "RECOMMEND_STEER_AFFINITY_WEIGHT": None,
    # Sampling seed of every playlist; None draws a fresh one per playlist (stored in its params either way).
    "RECOMMEND_RNG_SEED": None,
    # Playlist versions one session may have; a steer beyond it is a 409 `session_full` (start a new session). Each
    # steer excludes every track served before, so a longer session searches an ever larger exclusion list.
    "RECOMMEND_MAX_VERSIONS": 100,
    # `manage.py purge_sessions` deletes sessions idle (no steer or feedback) for longer than this many days.
    "RECOMMEND_SESSION_RETENTION_DAYS": 30,
}


# Settings whose default is None take a value of this type from the environment.
TYPES: dict[str, type] = {
    "RECOMMEND_RNG_SEED": int,
    "RECOMMEND_STEER_TAG_K": float,
    "RECOMMEND_STEER_AVOID_K": float,
    "RECOMMEND_STEER_LIKED_K": float,
    "RECOMMEND_STEER_SKIPPED_K": float,
    "RECOMMEND_STEER_FADE": float,
    "RECOMMEND_STEER_SCHEDULE": str,
    "RECOMMEND_STEER_CONDITION_WEIGHT": float,
    "RECOMMEND_STEER_AFFINITY_WEIGHT": float,
}

# The steering settings and the SteeringConfig field each overrides.
STEERING_SETTINGS: dict[str, str] = {
    "RECOMMEND_STEER_TAG_K": "tag_k",
    "RECOMMEND_STEER_AVOID_K": "avoid_k",
    "RECOMMEND_STEER_LIKED_K": "liked_k",
    "RECOMMEND_STEER_SKIPPED_K": "skipped_k",
    "RECOMMEND_STEER_FADE": "fade",
    "RECOMMEND_STEER_SCHEDULE": "schedule",
    "RECOMMEND_STEER_CONDITION_WEIGHT": "condition_weight",
    "RECOMMEND_STEER_AFFINITY_WEIGHT": "affinity_weight",
}


def get(name: str) -> Any:
    if hasattr(settings, name):
        return getattr(settings, name)
    return from_environment(name)


def from_environment(name: str) -> Any:
    """``name``'s environment value as its default's type; the default when unset or empty."""
    return env_value(name, DEFAULTS[name], TYPES.get(name))


def check_environment() -> None:
    """Parse every setting's environment value now: raises ImproperlyConfigured naming the first bad one.

    Steering values are also range-checked (a negative k, an unknown schedule), so a bad one stops the boot rather
    than turning every steer into an error."""
    from dataclasses import replace

    from django.core.exceptions import ImproperlyConfigured

    from prior.config import SteeringConfig

    for name in DEFAULTS:
        value = from_environment(name)
        field = STEERING_SETTINGS.get(name)
        if field is not None and value is not None:
            try:
                replace(SteeringConfig(), **{field: value}).check()
            except ValueError as exc:
                raise ImproperlyConfigured(f"{name}={value!r}: {exc}") from None
