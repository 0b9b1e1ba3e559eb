"""Reads from the catalog: nearest tracks for a batch of seeds, vectors and tracks by id.

:func:`nearest_tracks` answers S seeds in ONE SQL round trip: the seeds travel as one ``vector[]`` parameter,
``unnest ... WITH ORDINALITY`` numbers them, and a ``LATERAL`` top-k subquery per seed uses the space's HNSW
index (pgvector's iterative scan keeps k rows coming when exclusions filter some out). ``exact=True`` orders
by an expression the index cannot serve, so Postgres scans every vector: the ground truth for recall.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.db import connections

from catalog.filters import TrackFilter
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
    space: EmbeddingSpace, *, exact: bool = False, with_features: bool = False, binary_seeds: bool = False,
    where: str = "",
) -> str:
    """The one-round-trip query; parameters: seeds (vector[]), excluded track ids (bigint[]), ``where``'s, k.

    (A filter matching few tracks is answered by :func:`filtered_exact_sql` instead, see :data:`FILTER_EXACT_MAX`.)

    ``with_features`` also returns each hit's vector, artist, album and title (joined after the per-seed LIMIT, so
    the index scan is unchanged), which saves the ranking step a second query. ``binary_seeds`` sends the seeds
    in binary (psycopg's ``%b``; text formatting of 16 x 384 floats costs milliseconds of Python). ``where``
    (``AND ...`` on the track table as ``ft``, see :meth:`catalog.filters.TrackFilter.where_sql`) filters inside
    each seed's index scan, which pgvector's iterative scan keeps going until k tracks pass.
    """
    dim = int(space.dimension)
    distance = f"{vector_expr(space, 'e.vector')} <#> s.seed"  # negative inner product (float32): smaller is nearer
    # The index walks its half-precision graph; the exact search orders by the float32 distance, which no index
    # serves ("+ 0" keeps the planner from trying), so Postgres scans every vector.
    order = f"({distance}) + 0" if exact else f"{index_expr(space, 'e.vector')} <#> (s.seed::halfvec({dim}))"
    features = (", n.vector, t.artist, t.album, t.title", ", e.vector", " JOIN catalog_track t ON t.id = n.track_id")
    select, inner, join = features if with_features else ("", "", "")
    filter_join = " JOIN catalog_track ft ON ft.id = e.track_id" if where else ""
    return (
        f"SELECT s.ord - 1 AS seed, n.track_id, n.score{select} FROM "
        f"unnest({'%b' if binary_seeds else '%s'}::vector({dim})[]) WITH ORDINALITY AS s(seed, ord) "
        "CROSS JOIN LATERAL ("
        f" SELECT e.track_id, -({distance}) AS score{inner} FROM catalog_trackembedding e{filter_join}"
        f" WHERE e.space_id = {int(space.pk)} AND NOT (e.track_id = ANY(%s::bigint[])){where}"
        f" ORDER BY {order} LIMIT %s"
        f") n{join} ORDER BY s.ord, n.score DESC"
    )


# A filter that Postgres estimates to match at most this many tracks of a space is answered exactly from the matching
# tracks (read once per query, ranked for every seed); a wider one by the HNSW index with pgvector's iterative scan.
# Why (bench/catalog.py, docs/performance.md "Filtered ANN"): with a filter keeping 5 % of 100,000 tracks, the
# iterative scan must visit ~20 candidates for each one that passes: 402 ms p50 for 16 seeds x top-50 at recall 0.65
# on the m = 8 half-precision graph, against 146 ms at recall 1.0 for the exact pass over the 5,500 matching tracks
# (~3 us per seed and track, so ~10,000 tracks is where the index's cost catches up).
FILTER_EXACT_MAX = 10_000


def filtered_exact_sql(space: EmbeddingSpace, where: str, *, with_features: bool = False,
                       binary_seeds: bool = False) -> str:
    """Exact top-k per seed among the tracks passing ``where``: they are read ONCE (a materialised CTE), then every
    seed ranks them. Parameters: excluded track ids, ``where``'s, seeds, k."""
    dim = int(space.dimension)
    features = (", n.vector, t.artist, t.album, t.title", ", m.v AS vector",
                " JOIN catalog_track t ON t.id = n.track_id")
    select, inner, join = features if with_features else ("", "", "")
    return (
        f"WITH m AS MATERIALIZED (SELECT e.track_id, {vector_expr(space, 'e.vector')} AS v"
        " FROM catalog_trackembedding e JOIN catalog_track ft ON ft.id = e.track_id"
        f" WHERE e.space_id = {int(space.pk)} AND NOT (e.track_id = ANY(%s::bigint[])){where}) "
        f"SELECT s.ord - 1 AS seed, n.track_id, n.score{select} FROM "
        f"unnest({'%b' if binary_seeds else '%s'}::vector({dim})[]) WITH ORDINALITY AS s(seed, ord) "
        f"CROSS JOIN LATERAL (SELECT m.track_id, -(m.v <#> s.seed) AS score{inner} FROM m"
        f" ORDER BY m.v <#> s.seed LIMIT %s) n{join} ORDER BY s.ord, n.score DESC"
    )


def estimated_matching(space: EmbeddingSpace, track_filter: TrackFilter) -> int:
    """Postgres' estimate of how many tracks with a vector in ``space`` pass ``track_filter`` (planning only: about a
    millisecond, where counting them would read them all)."""
    import json

    where, params = track_filter.where_sql("ft")
    with connections[serving_read_alias()].cursor() as cursor:
        cursor.execute(
            "EXPLAIN (FORMAT JSON) SELECT 1 FROM catalog_trackembedding e JOIN catalog_track ft ON ft.id = e.track_id"
            f" WHERE e.space_id = %s{where}",
            [int(space.pk), *params],
        )
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


@dataclass(frozen=True)
class Candidates:
    """Per-seed neighbours plus what ranking needs of each distinct hit: its vector, artist, album and title."""

    per_seed: list[list[Neighbor]]
    vectors: dict[int, np.ndarray]
    artists: dict[int, str]
    albums: dict[int, str] = field(default_factory=dict)
    titles: dict[int, str] = field(default_factory=dict)


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


def _nearest_rows(
    space, seeds, k, exclude, exact, with_features, ef_search, track_filter: TrackFilter | None = None
) -> tuple[EmbeddingSpace, int, list]:
    space = get_space(space)
    seeds = _check_seeds(space, seeds)
    if k < 1:
        raise ValueError("k must be at least 1")
    where, where_params = track_filter.where_sql("ft") if track_filter is not None else ("", [])
    excluded = sorted({int(t) for t in exclude})
    if where and (exact or estimated_matching(space, track_filter) <= FILTER_EXACT_MAX):
        params = [excluded, *where_params, list(seeds), int(k)]
        sql = filtered_exact_sql(space, where, with_features=with_features, binary_seeds=True)
        return space, len(seeds), _fetch_binary(sql, params, resolve_ef_search(k, ef_search))
    params = [list(seeds), excluded, *where_params, int(k)]
    sql = nearest_sql(space, exact=exact, with_features=with_features, binary_seeds=True, where=where)
    return space, len(seeds), _fetch_binary(sql, params, resolve_ef_search(k, ef_search))


def nearest_tracks(
    space: EmbeddingSpace | str,
    seeds: np.ndarray,
    k: int,
    *,
    exclude: Iterable[int] = (),
    exact: bool = False,
    ef_search: int | None = None,
    track_filter: TrackFilter | None = None,
) -> list[list[Neighbor]]:
    """Top-``k`` tracks of each seed (best first), skipping ``exclude`` and tracks ``track_filter`` rejects.

    ``ef_search`` trades recall for time (see :func:`resolve_ef_search`); ``exact`` ignores it.
    """
    _, n_seeds, rows = _nearest_rows(space, seeds, k, exclude, exact, False, ef_search, track_filter)
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
    track_filter: TrackFilter | None = None,
) -> Candidates:
    """:func:`nearest_tracks` plus each distinct hit's vector, artist, album and title, still in one round trip."""
    _, n_seeds, rows = _nearest_rows(space, seeds, k, exclude, exact, True, ef_search, track_filter)
    per_seed: list[list[Neighbor]] = [[] for _ in range(n_seeds)]
    found = Candidates(per_seed=per_seed, vectors={}, artists={})
    for seed, track_id, score, vector, artist, album, title in rows:
        track_id = int(track_id)
        per_seed[seed].append(Neighbor(track_id, float(score)))
        if track_id not in found.vectors:
            found.vectors[track_id] = np.asarray(vector.to_numpy() if hasattr(vector, "to_numpy") else vector,
                                                 np.float32)
            found.artists[track_id] = artist
            found.albums[track_id] = album
            found.titles[track_id] = title
    return found


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


def tracks_matching(track_ids: Iterable[int], track_filter: TrackFilter) -> set[int]:
    """Which of ``track_ids`` pass ``track_filter`` (liked tracks kept across a re-steer must pass it too)."""
    ids = sorted({int(t) for t in track_ids})
    if not ids or track_filter.is_empty:
        return set(ids)
    where, params = track_filter.where_sql("ft")
    with connections[serving_read_alias()].cursor() as cursor:
        cursor.execute(f"SELECT ft.id FROM catalog_track ft WHERE ft.id = ANY(%s::bigint[]){where}", [ids, *params])
        return {int(row[0]) for row in cursor.fetchall()}


def known_genres(genres: Iterable[str]) -> set[str]:
    """Which of the (normalised) ``genres`` some track has, as its genre or one of its tags: one query."""
    values = sorted(set(genres))
    if not values:
        return set()
    with connections[serving_read_alias()].cursor() as cursor:
        cursor.execute(
            "SELECT g FROM unnest(%s::text[]) AS g"
            " WHERE EXISTS (SELECT 1 FROM catalog_track t WHERE lower(t.genre) = g)"
            " OR EXISTS (SELECT 1 FROM catalog_track t WHERE t.tags @> ARRAY[g]::varchar(100)[])",
            [values],
        )
        return {row[0] for row in cursor.fetchall()}


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
