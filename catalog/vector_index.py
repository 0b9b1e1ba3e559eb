"""Per-space HNSW indexes over the shared ``vector`` column, and the connection set-up they need.

Each embedding space gets a partial index ``USING hnsw ((vector::halfvec(dim)) halfvec_ip_ops) WHERE space_id = id``:
the graph holds the vectors in half precision. Why: for 100k 384-d tracks the (m = 16) index was 123 MB instead of
215 MB (what has to stay in ``shared_buffers`` for fast searches; bench/catalog.py), and a 16-seed playlist search
cost Postgres ~13 % less CPU with the same playlists (bench/playlist_quality.py; docs/performance.md). Only
the graph walk is approximate: scores, the ranking after it and the exact search use the float32 vectors.

The graph has m = 8 neighbours per layer (pgvector's default is 16). Why: a search's cost is loading the elements
it visits (memory latency: the index does not fit the CPU caches), and a sparser graph visits fewer per step. On
the MusicCaps caption vectors the playlist's 16 per-seed top-10 searches find as many exact neighbours (recall 0.88)
at ``ef_search`` 32 with m = 8 as at 20 with m = 16, for ~26 % less Postgres CPU per playlist (bench/
playlist_quality.py --hnsw-m 16,8); the index is smaller (107 vs 123 MB) and builds faster. The price is on
high-dimensional synthetic clusters: ``bench/catalog.py``'s top-50 recall at ``ef_search`` 100 falls from 0.996 to
0.96 (target 0.95); deep searches that need more raise ``ef_search``.

Queries must use the same expression and predicate (with the space id as a literal) for Postgres to pick it;
:func:`index_expr` is the one place that spells it. Bulk loads go faster with the index dropped and rebuilt
afterwards (:func:`drop_index` / :func:`build_index`).
"""

from __future__ import annotations

from django.db import connection

from catalog.models import EmbeddingSpace

HNSW_M = 8
HNSW_EF_CONSTRUCTION = 64


def index_name(space: EmbeddingSpace) -> str:
    return f"catalog_embedding_hnsw_space_{int(space.pk)}"


def vector_expr(space: EmbeddingSpace, column: str = "vector") -> str:
    """The column at full precision: the untyped ``vector`` cast to the space's dimension."""
    return f"({column}::vector({int(space.dimension)}))"


def index_expr(space: EmbeddingSpace, column: str = "vector") -> str:
    """The indexed expression: the column in half precision, at the space's dimension."""
    return f"({column}::halfvec({int(space.dimension)}))"


def build_index(space: EmbeddingSpace, *, m: int = HNSW_M, maintenance_work_mem: str | None = None) -> None:
    """Create the space's HNSW index if it does not exist (idempotent); ``m`` other than HNSW_M is for benches.

    ``maintenance_work_mem`` defaults to ``settings.HNSW_MAINTENANCE_WORK_MEM``: the graph must fit in it, or the
    build spills to disk (a 1M-track space took 19 minutes of ingest at 512MB, docs/scaling.md).
    """
    from django.conf import settings

    maintenance_work_mem = maintenance_work_mem or settings.HNSW_MAINTENANCE_WORK_MEM
    with connection.cursor() as cursor:
        if connection.in_atomic_block:  # deferred FK checks would block CREATE INDEX inside a transaction
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"SET maintenance_work_mem = '{maintenance_work_mem}'")
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {index_name(space)} ON catalog_trackembedding "
            f"USING hnsw ({index_expr(space)} halfvec_ip_ops) "
            f"WITH (m = {int(m)}, ef_construction = {HNSW_EF_CONSTRUCTION}) "
            f"WHERE space_id = {int(space.pk)}"
        )
        cursor.execute("RESET maintenance_work_mem")


def drop_index(space: EmbeddingSpace) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {index_name(space)}")


def has_index(space: EmbeddingSpace) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [index_name(space)])
        return cursor.fetchone() is not None


def refresh_statistics() -> None:
    """ANALYZE the catalog tables after a bulk write.

    Without fresh statistics the planner believes a just-loaded space holds a handful of rows and sorts them
    all instead of using the HNSW index: a 5k-track catalog measured 100 ms per 16-seed query instead of 25 ms.
    """
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_track, catalog_trackembedding")


def register_vector_type(alias: str = "default") -> None:
    """Let psycopg send and receive ``vector`` as numpy arrays on Django's connection ``alias`` (idempotent)."""
    from django.db import connections
    from pgvector.psycopg import register_vector

    conn = connections[alias]
    conn.ensure_connection()
    raw = conn.connection
    if getattr(raw, "_diff4steer_vector_registered", False):
        return
    with conn.wrap_database_errors:  # it queries the type's oid: a lost server is Django's OperationalError
        register_vector(raw)
    raw._diff4steer_vector_registered = True
