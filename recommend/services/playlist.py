"""Playlists from an image: encode, sample seeds, ANN per seed, merge, diversify, store (see docs/architecture.md).

:func:`compute_playlist` is the shared pipeline (also used by re-steering); :func:`playlist_from_image` starts a
session with it. All the slow work (encoding, sampling, ANN) happens before the write transaction, so a failure
stores nothing and the transaction itself is a handful of inserts.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.db import transaction
from PIL import Image

from catalog.selectors import get_space, tracks_by_id, tracks_matching
from core.errors import InvalidInput, TooLarge, UnsupportedMedia
from prior.config import config_to_dict
from prior.images import ImageInputError, load_image
from prior.steering import NULL_GUIDANCE, retrieval_vectors
from recommend import conf
from recommend.diversify import DiversifyParams
from recommend.explain import explain_playlist
from recommend.filters import PlaylistFilters, diversifier_groups, resolve
from recommend.models import Playlist, PlaylistItem, Session, SteeringEvent, hash_token, new_token
from recommend.ranking import MERGE_METHODS, RankedItem, playlist_pool, rank_playlist
from recommend.selectors import candidate_features, playlist_candidates
from recommend.services.steering_vectors import SteeringState, steering_plan
from recommend.tags import clean_tags
from serving import engine

log = logging.getLogger("recommend.playlists")

IMAGE_ERROR_KIND = {"unsupported_format": UnsupportedMedia, "too_many_pixels": TooLarge,
                    "truncated_image": InvalidInput, "invalid_image": InvalidInput}


@dataclass
class CreatedSession:
    """A new session, its raw token (shown once, never stored) and its first playlist."""

    session: Session
    token: str
    playlist: Playlist


@dataclass
class ComputedPlaylist:
    items: list[RankedItem]
    params: dict
    explain: dict = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)


def image_error(exc: ImageInputError) -> InvalidInput | TooLarge | UnsupportedMedia:
    """The prior's refusal of an image (it knows no application errors) as the error of its kind."""
    return IMAGE_ERROR_KIND.get(exc.code, InvalidInput)(exc.message, code=exc.code)


def query_vector(image: bytes | Image.Image | None, image_embedding: Sequence[float] | None) -> np.ndarray:
    """The unit condition vector of the query: the image through the image encoder, or a client's own embedding.

    A client embedding must be finite, non-zero and of the prior's condition dimension; it is L2-normalised here
    because encoders emit unit vectors and the prior was trained on them.
    """
    if (image is None) == (image_embedding is None):
        raise InvalidInput("Send exactly one of `image` or `image_embedding`.", code="missing_query")
    try:
        space = engine.cond_space()
        if image is not None:
            if not isinstance(image, Image.Image):
                image = load_image(bytes(image), max_pixels=conf.get("IMAGE_MAX_PIXELS"))
            return engine.encode_image(image)
    except ImageInputError as exc:
        raise image_error(exc) from None
    vector = np.asarray(image_embedding, dtype=np.float64)
    details = {"expected_dimension": space.dim, "space": space.name}
    if vector.ndim != 1 or vector.shape[0] != space.dim:
        raise InvalidInput(
            f"image_embedding must have {space.dim} numbers (space {space.name}), got {vector.shape[-1]}.",
            code="invalid_embedding",
            details=details,
        )
    norm = float(np.linalg.norm(vector)) if np.isfinite(vector).all() else math.nan
    if not np.isfinite(norm) or norm < 1e-12:
        raise InvalidInput("image_embedding must be finite and non-zero.", code="invalid_embedding", details=details)
    return (vector / norm).astype(np.float32)


def compute_playlist(
    cond: np.ndarray,
    state: SteeringState,
    *,
    size: int,
    n_seeds: int,
    guidance: float | None,
    merge: str | None = None,
    exclude: Sequence[int] = (),
    pinned: Sequence[int] = (),
    rng_seed: int | None = None,
    filters: PlaylistFilters | None = None,
) -> ComputedPlaylist:
    """Seeds (steered by ``state``) -> one-round-trip ANN -> merge -> diversify. Reads only; stores nothing.

    ``filters`` (:mod:`recommend.filters`) restrict the ANN and cap the diversifier; liked tracks that no longer
    pass them are not kept. Genres no track has are reported in ``params["notes"]``.
    """
    from django.conf import settings

    merge = merge or conf.get("RECOMMEND_MERGE")
    if merge not in MERGE_METHODS:
        raise InvalidInput(f"unknown merge method {merge!r}", code="invalid_merge", details={"choices": MERGE_METHODS})
    if rng_seed is None:
        fixed = conf.get("RECOMMEND_RNG_SEED")  # set for reproducible runs (tests, benchmarks); None: fresh seeds
        rng_seed = secrets.randbits(31) if fixed is None else int(fixed)
    rng_seed = int(rng_seed)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    space = get_space(settings.CATALOG_SPACE)  # resolved once: the selectors below then need no lookup of their own
    filters = filters or PlaylistFilters()
    resolved = resolve(filters)
    if pinned and not resolved.track.is_empty:
        passing = tracks_matching(pinned, resolved.track)
        pinned = [t for t in pinned if t in passing]
    try:
        plan = steering_plan(state, space)
        timings["encode_tags"] = (time.perf_counter() - t0) * 1000
        t1 = time.perf_counter()
        seeds = engine.sample_seeds(cond, n_seeds, guidance, plan.pairs, seed=rng_seed, steer_schedule=plan.schedule)
        if plan.adds_condition:  # the tag in the seeds, the picture's direction added back (prior.steering)
            null_seeds = engine.sample_seeds(cond, n_seeds, NULL_GUIDANCE, plan.pairs, seed=rng_seed,
                                             steer_schedule=plan.schedule)
            seeds = retrieval_vectors(plan, seeds, null_seeds)
    except ValueError as exc:  # the prior refused the input (validated above, so a model/session mismatch)
        raise InvalidInput(f"The prior refused the request: {exc}", code="sampling_rejected") from None
    timings["sample"] = (time.perf_counter() - t1) * 1000
    t2 = time.perf_counter()
    pool_factor = int(conf.get("RECOMMEND_POOL_FACTOR"))
    found, k = playlist_candidates(
        space, seeds, pool=max(pool_factor, 1) * size, size=size, exclude=set(exclude) | set(pinned),
        track_filter=None if resolved.track.is_empty else resolved.track,
    ) if not resolved.matches_nothing else (None, 0)
    per_seed = found.per_seed if found is not None else [[] for _ in range(len(seeds))]
    vectors, artists = (dict(found.vectors), dict(found.artists)) if found is not None else ({}, {})
    albums, titles = (dict(found.albums), dict(found.titles)) if found is not None else ({}, {})
    if pinned:  # liked tracks are kept, not searched for: their features need one more read
        pinned_vectors, pinned_artists = candidate_features(space, list(pinned))
        vectors.update(pinned_vectors)
        artists.update(pinned_artists)
        if filters.max_per_album is not None or filters.one_version_per_song:
            for track in tracks_by_id(pinned).values():
                albums[track.pk], titles[track.pk] = track.album, track.title
    timings["ann"] = (time.perf_counter() - t2) * 1000
    t3 = time.perf_counter()
    pool = playlist_pool(seeds, [[n.track_id for n in hits] for hits in per_seed],
                         [[n.score for n in hits] for hits in per_seed], vectors, size, merge=merge,
                         pool_factor=pool_factor, pinned=pinned)
    affinity = None
    if plan.reranks and pool.candidates:  # the picture's own judgement of the candidates the tag brought in
        t_aff = time.perf_counter()
        try:
            values = engine.condition_affinity(cond, np.stack([vectors[t] for t in pool.ids]), seed=rng_seed)
        except ValueError as exc:
            raise InvalidInput(f"The prior refused the request: {exc}", code="sampling_rejected") from None
        affinity = dict(zip(pool.ids, values.tolist(), strict=True))
        timings["affinity"] = (time.perf_counter() - t_aff) * 1000
    params = DiversifyParams(
        mmr_lambda=float(conf.get("RECOMMEND_MMR_LAMBDA")), max_per_artist=int(conf.get("RECOMMEND_MAX_PER_ARTIST"))
    )
    items = rank_playlist(
        seeds,
        pool,
        vectors,
        artists,
        size,
        params=params,
        groups_of=lambda ids: diversifier_groups(filters, ids, albums, titles, artists),
        affinity=affinity,
        affinity_weight=plan.affinity_weight,
    )
    explain = explain_playlist(seeds, [item.track_id for item in items], vectors, list(state.tags),
                               engine.encode_tags(list(state.tags)))  # tag vectors: cached by steering_pairs above
    timings["merge"] = (time.perf_counter() - t3) * 1000 - timings.get("affinity", 0.0)  # the merge and the ranking
    record = {
        "size": size,
        "seeds": n_seeds,
        "guidance": guidance,
        "merge": merge,
        "k_per_seed": k,
        "mmr_lambda": params.mmr_lambda,
        "max_per_artist": params.max_per_artist,
        "rng_seed": rng_seed,
        "tags": list(state.tags),
        "avoid": list(state.avoid),
        "steering": config_to_dict(plan.config),
        "space": space.name,
    }
    if not filters.is_empty:
        record["filters"] = filters.as_dict()
    if resolved.notes:
        record["notes"] = resolved.notes
    return ComputedPlaylist(items=items, params=record, explain=explain, timings_ms=timings)


def store_playlist(session: Session, version: int, computed: ComputedPlaylist) -> Playlist:
    """Insert the playlist and its items (call inside the caller's transaction); logged once it commits."""
    playlist = Playlist.objects.create(session=session, version=version, params=computed.params,
                                       explain=computed.explain)
    PlaylistItem.objects.bulk_create(
        [
            PlaylistItem(playlist=playlist, rank=rank, score=item.score, seed=item.seed, track_id=item.track_id)
            for rank, item in enumerate(computed.items, start=1)
        ]
    )
    transaction.on_commit(lambda: log_playlist(playlist, computed))
    return playlist


def log_playlist(playlist: Playlist, computed: ComputedPlaylist) -> None:
    """One INFO line per stored playlist version with where its time went, so production can be watched the way
    bench/api.py measures it (``LOG_LEVEL=WARNING`` silences it)."""
    if not log.isEnabledFor(logging.INFO):
        return
    stages = " ".join(f"{name}_ms={ms:.1f}" for name, ms in computed.timings_ms.items())
    params = computed.params
    log.info("playlist=%s session=%s version=%d tracks=%d seeds=%s k_per_seed=%s %s", playlist.pk,
             playlist.session_id, playlist.version, len(computed.items), params.get("seeds"),
             params.get("k_per_seed"), stages)


def playlist_from_image(
    *,
    image: bytes | Image.Image | None = None,
    image_embedding: Sequence[float] | None = None,
    tags: Sequence[str] = (),
    size: int = 20,
    seeds: int = 16,
    guidance: float | None = None,
    merge: str | None = None,
    rng_seed: int | None = None,
    filters: PlaylistFilters | None = None,
) -> CreatedSession:
    """Start a session from an image (or its embedding): version 1 of its playlist, steered by ``tags`` if given.

    ``filters`` apply to this playlist and are remembered for the session's next steers."""
    with engine.sampling_ahead():  # decoding comes first: concurrent requests then share a sampling pass
        tags = clean_tags(tags)
        cond = query_vector(image, image_embedding)
        state = SteeringState(tags=tuple(tags))
        computed = compute_playlist(cond, state, size=size, n_seeds=seeds, guidance=guidance, merge=merge,
                                    rng_seed=rng_seed, filters=filters)
    token = new_token()
    with transaction.atomic():
        session = Session.objects.create(
            token_hash=hash_token(token),
            cond_space=engine.cond_space().name,
            query_embedding=[float(x) for x in cond],
            tags=tags,
            params={"size": size, "seeds": seeds, "guidance": guidance, "merge": computed.params["merge"],
                    **({"filters": filters.as_dict()} if filters is not None and not filters.is_empty else {})},
        )
        playlist = store_playlist(session, 1, computed)
        SteeringEvent.objects.create(session=session, kind=SteeringEvent.Kind.CREATE, tags=tags, playlist_version=1)
    playlist.timings_ms = computed.timings_ms  # for logs and benchmarks; not stored
    return CreatedSession(session=session, token=token, playlist=playlist)
