"""Reads from the catalog: nearest tracks for a batch of seeds, vectors and tracks by id.

:func:`nearest_tracks` answers S seeds in ONE SQL round trip: the seeds travel as one ``vector[]`` parameter,
``unnest ... WITH ORDINALITY`` numbers them, and a ``LATERAL`` top-k subquery per seed uses the space's HNSW
index (pgvector's iterative scan keeps k rows coming when exclusions filter some out). ``exact=True`` orders
by an expression the index cannot serve, so Postgres scans every vector: the ground truth for recall.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from django.db import connections

from catalog.models import EmbeddingSpace, Track, TrackEmbedding
from catalog.vector_index import index_expr, register_vector_type, vector_expr
from config.db_router import serving_read_alias


class UnknownSpaceError(LookupError):
    """No embedding space by that name: ingest vectors into it first (``manage.py ingest_tracks --space``)."""


@dataclass(frozen=True)
class Neighbor:
    track_id: int
    score: float  # inner product = cosine similarity for unit vectors


def get_space(space: EmbeddingSpace | str) -> EmbeddingSpace:
    if isinstance(space, EmbeddingSpace):
        return space
    try:
        return EmbeddingSpace.objects.get(name=space)
    except EmbeddingSpace.DoesNotExist:
        known = ", ".join(EmbeddingSpace.objects.values_list("name", flat=True)) or "none"
        raise UnknownSpaceError(f"unknown embedding space {space!r} (known: {known})") from None


def _check_seeds(space: EmbeddingSpace, seeds: np.ndarray) -> np.ndarray:
    seeds = np.asarray(seeds, dtype=np.float32)
    if seeds.ndim == 1:
        seeds = seeds[None, :]
    if seeds.ndim != 2 or seeds.shape[1] != space.dimension:
        raise ValueError(f"seeds must have shape [S, {space.dimension}] for space {space.name}, got {seeds.shape}")
    if not np.isfinite(seeds).all():
        raise ValueError("seeds contain NaN or inf")
    return seeds


def nearest_sql(
    space: EmbeddingSpace, *, exact: bool = False, with_features: bool = False, binary_seeds: bool = False
) -> str:
    """The one-round-trip query; parameters: seeds (vector[]), excluded track ids (bigint[]), k.

    ``with_features`` also returns each hit's vector and artist (joined after the per-seed LIMIT, so the
    index scan is unchanged), which saves the ranking step a second query. ``binary_seeds`` sends the seeds
    in binary (psycopg's ``%b``; text formatting of 16 x 384 floats costs milliseconds of Python).
    """
    dim = int(space.dimension)
    distance = f"{vector_expr(space, 'e.vector')} <#> s.seed"  # negative inner product (float32): smaller is nearer
    # The index walks its half-precision graph; the exact search orders by the float32 distance, which no index
    # serves ("+ 0" keeps the planner from trying), so Postgres scans every vector.
    order = f"({distance}) + 0" if exact else f"{index_expr(space, 'e.vector')} <#> (s.seed::halfvec({dim}))"
    features = (", n.vector, t.artist", ", e.vector", " JOIN catalog_track t ON t.id = n.track_id")
    select, inner, join = features if with_features else ("", "", "")
    return (
        f"SELECT s.ord - 1 AS seed, n.track_id, n.score{select} FROM "
        f"unnest({'%b' if binary_seeds else '%s'}::vector({dim})[]) WITH ORDINALITY AS s(seed, ord) "
        "CROSS JOIN LATERAL ("
        f" SELECT e.track_id, -({distance}) AS score{inner} FROM catalog_trackembedding e"
        f" WHERE e.space_id = {int(space.pk)} AND NOT (e.track_id = ANY(%s::bigint[]))"
        f" ORDER BY {order} LIMIT %s"
        f") n{join} ORDER BY s.ord, n.score DESC"
    )


@dataclass(frozen=True)
class Candidates:
    """Per-seed neighbours plus what ranking needs of each distinct hit: its vector and artist."""

    per_seed: list[list[Neighbor]]
    vectors: dict[int, np.ndarray]
    artists: dict[int, str]


def _fetch_binary(sql: str, params: list, ef_search: int) -> list[tuple]:
    """Run ``sql`` with binary results (vectors arrive as float32 buffers, not text to parse).

    Django's cursors bind parameters client-side, which rules out binary results, so this uses a plain
    psycopg cursor on Django's connection and logs the query the way Django's debug cursor does, so query
    counting (``CaptureQueriesContext``, the debug toolbar) still sees it. ``ef_search`` (the HNSW candidate
    list) is set in the same network round trip (psycopg pipeline mode) on every call, so no setting leaks
    from one caller to the next on a pooled connection.
    """
    import time

    import psycopg

    alias = serving_read_alias()  # a read replica when there are any (config/db_router.py)
    connection = connections[alias]
    register_vector_type(alias)
    start = time.monotonic()
    # Django's error wrapper, as its own cursors have: a lost server is django.db.OperationalError (a 503, not a
    # 500: config/errors.py), and the connection is marked broken so the next request opens a fresh one.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        with connection.connection.pipeline():
            cursor.execute("SELECT set_config('hnsw.ef_search', %s, false)", [str(int(ef_search))])
            cursor.execute(sql, params, binary=True)
        rows = cursor.fetchall()
    if connection.queries_logged:
        connection.queries_log.append(
            {"sql": f"SET hnsw.ef_search = {int(ef_search)}; {sql}", "time": f"{time.monotonic() - start:.3f}"}
        )
    return rows


def resolve_ef_search(k: int, ef_search: int | None = None) -> int:
    """The HNSW candidate list for a top-``k`` search: ``ef_search`` (default ``settings.HNSW_EF_SEARCH``), >= k.

    pgvector returns at most ``ef_search`` rows per scan before its iterative scan has to extend the search, so
    a list shorter than k costs recall and time; a longer one costs time roughly in proportion.
    """
    from django.conf import settings

    ef = int(ef_search if ef_search is not None else settings.HNSW_EF_SEARCH)
    if not 1 <= ef <= 1000:
        raise ValueError(f"ef_search must be between 1 and 1000 (pgvector's range), got {ef}")
    return max(ef, int(k))


def _nearest_rows(space, seeds, k, exclude, exact, with_features, ef_search) -> tuple[EmbeddingSpace, int, list]:
    space = get_space(space)
    seeds = _check_seeds(space, seeds)
    if k < 1:
        raise ValueError("k must be at least 1")
    params = [list(seeds), sorted({int(t) for t in exclude}), int(k)]
    sql = nearest_sql(space, exact=exact, with_features=with_features, binary_seeds=True)
    return space, len(seeds), _fetch_binary(sql, params, resolve_ef_search(k, ef_search))


def nearest_tracks(
    space: EmbeddingSpace | str,
    seeds: np.ndarray,
    k: int,
    *,
    exclude: Iterable[int] = (),
    exact: bool = False,
    ef_search: int | None = None,
) -> list[list[Neighbor]]:
    """Top-``k`` tracks of each seed (best first), skipping ``exclude``; one list per seed.

    ``ef_search`` trades recall for time (see :func:`resolve_ef_search`); ``exact`` ignores it.
    """
    _, n_seeds, rows = _nearest_rows(space, seeds, k, exclude, exact, False, ef_search)
    results: list[list[Neighbor]] = [[] for _ in range(n_seeds)]
    for seed, track_id, score in rows:
        results[seed].append(Neighbor(int(track_id), float(score)))
    return results


def nearest_candidates(
    space: EmbeddingSpace | str,
    seeds: np.ndarray,
    k: int,
    *,
    exclude: Iterable[int] = (),
    exact: bool = False,
    ef_search: int | None = None,
) -> Candidates:
    """:func:`nearest_tracks` plus each distinct hit's vector and artist, still in one round trip."""
    _, n_seeds, rows = _nearest_rows(space, seeds, k, exclude, exact, True, ef_search)
    per_seed: list[list[Neighbor]] = [[] for _ in range(n_seeds)]
    vectors: dict[int, np.ndarray] = {}
    artists: dict[int, str] = {}
    for seed, track_id, score, vector, artist in rows:
        track_id = int(track_id)
        per_seed[seed].append(Neighbor(track_id, float(score)))
        if track_id not in vectors:
            vectors[track_id] = np.asarray(vector.to_numpy() if hasattr(vector, "to_numpy") else vector, np.float32)
            artists[track_id] = artist
    return Candidates(per_seed=per_seed, vectors=vectors, artists=artists)


def vectors_for(space: EmbeddingSpace | str, track_ids: Sequence[int]) -> np.ndarray:
    """The tracks' vectors in ``space``, in the order given (float32 [n, dim]); missing ids raise KeyError."""
    space = get_space(space)
    alias = serving_read_alias()
    register_vector_type(alias)
    rows = dict(
        TrackEmbedding.objects.using(alias).filter(space=space, track_id__in=list(track_ids))
        .values_list("track_id", "vector")
    )
    missing = [t for t in track_ids if t not in rows]
    if missing:
        raise KeyError(f"tracks without a vector in {space.name}: {missing[:10]}")
    if not track_ids:
        return np.zeros((0, space.dimension), dtype=np.float32)
    return np.stack([np.asarray(rows[t], dtype=np.float32) for t in track_ids])


def tracks_in_space(space: EmbeddingSpace | str, track_ids: Iterable[int]) -> set[int]:
    """Which of ``track_ids`` still have a vector in ``space`` (tracks may be deleted or not yet re-embedded)."""
    ids = list(track_ids)
    if not ids:
        return set()
    rows = TrackEmbedding.objects.filter(space=get_space(space), track_id__in=ids)
    return set(rows.values_list("track_id", flat=True))


def tracks_by_id(track_ids: Iterable[int]) -> dict[int, Track]:
    return Track.objects.in_bulk(list(track_ids))


def space_size(space: EmbeddingSpace | str) -> int:
    return TrackEmbedding.objects.filter(space=get_space(space)).count()


def track_list(
    *,
    search: str = "",
    artist: str = "",
    tag: str = "",
    source: str = "",
    space: str = "",
):
    """Tracks for the catalog listing (API and admin), newest id last, each with the names of its spaces.

    ``search`` matches title, artist or external id (case-insensitive substring); ``artist`` is an exact,
    case-insensitive match; ``tag`` must be one of the track's tags; ``space`` keeps tracks with a vector there.
    """
    from django.contrib.postgres.aggregates import ArrayAgg
    from django.db.models import Exists, OuterRef, Q

    tracks = Track.objects.all()
    if search:
        tracks = tracks.filter(
            Q(title__icontains=search) | Q(artist__icontains=search) | Q(external_id__icontains=search)
        )
    if artist:
        tracks = tracks.filter(artist__iexact=artist)
    if tag:
        tracks = tracks.filter(tags__contains=[tag])
    if source:
        tracks = tracks.filter(source=source)
    if space:
        tracks = tracks.filter(
            Exists(TrackEmbedding.objects.filter(track=OuterRef("pk"), space__name=space))
        )
    return tracks.annotate(
        space_names=ArrayAgg("embeddings__space__name", distinct=True, default=[], order_by="embeddings__space__name")
    ).order_by("id")
