"""catalog migrations 0003 (half-precision HNSW) and 0004 (m = 8): a catalog indexed before each is served after it."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from django.apps import apps
from django.db import connection

from catalog.selectors import nearest_sql, nearest_tracks
from catalog.services.spaces import ensure_space
from catalog.vector_index import HNSW_M, build_index, index_name
from tests.conftest import forget_catalog_statistics, unit_vectors
from tests.helpers.ann import exact_top, make_catalog

pytestmark = pytest.mark.django_db(transaction=True)  # the migration builds indexes CONCURRENTLY

halfvec_migration = importlib.import_module("catalog.migrations.0003_hnsw_halfvec")
m8_migration = importlib.import_module("catalog.migrations.0004_hnsw_m8")


def index_definition(space) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [index_name(space)])
        row = cursor.fetchone()
    return row[0] if row else None


def plan(space, seeds) -> str:
    from catalog.vector_index import register_vector_type

    register_vector_type()
    # Plan on the default estimates, not on statistics an earlier test (or autovacuum) gathered on other spaces'
    # vectors: with those the planner prefers the space_id b-tree and a sort for these few rows.
    forget_catalog_statistics()
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # 300 rows would otherwise be read whole: can the index serve?
        cursor.execute("SET enable_bitmapscan = off")
        # ... nor sorted after a btree lookup of the space, which fresh statistics on 300 rows make the cheaper plan
        cursor.execute("SET enable_sort = off")
        cursor.execute("SET enable_incremental_sort = off")
        cursor.execute("EXPLAIN " + nearest_sql(space), [seeds, [], 5])
        rows = "\n".join(row[0] for row in cursor.fetchall())
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort", "enable_incremental_sort"):
            cursor.execute(f"RESET {setting}")
    return rows


def indexed_catalog(rng, name: str, expression: str, opclass: str, m: int):
    """A 300-track space with the index that earlier code built, and a space whose index an ingest dropped."""
    space = ensure_space(name, 16, "random", with_index=False)
    unindexed = ensure_space(f"{name}-unindexed", 8, "random", with_index=False)
    vectors = unit_vectors(rng, 300, 16)
    ids = make_catalog(space, vectors)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX {index_name(space)} ON catalog_trackembedding USING hnsw (({expression}) {opclass}) "
            f"WITH (m = {m}, ef_construction = 64) WHERE space_id = {space.pk}"
        )
        # Fresh statistics, as every ingest leaves them (the plan check must not depend on whether an autovacuum
        # happened to analyze the table during earlier tests).
        cursor.execute("ANALYZE catalog_trackembedding")
    return space, unindexed, vectors, ids


def migrate(step, times: int = 1) -> None:
    for _ in range(times):  # a second run (a retried deploy) must find nothing to do
        with connection.schema_editor(atomic=False) as editor:
            step(apps, editor)


def assert_served(space, vectors, ids, seeds) -> None:
    assert index_name(space) in plan(space, seeds)
    hits = nearest_tracks(space, seeds[0], 5)[0]
    assert len({n.track_id for n in hits} & set(exact_top(vectors, np.array(ids), seeds[0], 5))) >= 4


def assert_one_index(space) -> None:
    with connection.cursor() as cursor:  # nothing left behind: no *_next index, no invalid one
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE indexname LIKE %s", [f"{index_name(space)}%"])
        assert cursor.fetchone()[0] == 1


def test_rebuilds_a_float32_index_as_halfvec_and_back(rng):
    space, unindexed, vectors, ids = indexed_catalog(rng, "test-16-old", "vector::vector(16)", "vector_ip_ops", 16)
    seeds = list(unit_vectors(rng, 2, 16))
    assert index_name(space) not in plan(space, seeds)  # the new query cannot use the old index

    migrate(halfvec_migration.to_halfvec, times=2)
    assert "halfvec_ip_ops" in index_definition(space) and "halfvec(16)" in index_definition(space)
    assert index_definition(unindexed) is None  # a space without an index is left for its next build
    assert_served(space, vectors, ids, seeds)

    migrate(halfvec_migration.to_vector)
    assert "vector_ip_ops" in index_definition(space) and "halfvec" not in index_definition(space)
    assert_one_index(space)


def test_rebuilds_an_m16_index_with_m8_and_back(rng):
    space, unindexed, vectors, ids = indexed_catalog(rng, "test-16-m16", "vector::halfvec(16)", "halfvec_ip_ops", 16)
    seeds = list(unit_vectors(rng, 2, 16))

    migrate(m8_migration.to_m8, times=2)
    assert "m='8'" in index_definition(space) and "halfvec_ip_ops" in index_definition(space)
    assert index_definition(unindexed) is None
    assert_served(space, vectors, ids, seeds)

    migrate(m8_migration.to_m16)
    assert "m='16'" in index_definition(space) and "halfvec_ip_ops" in index_definition(space)
    assert_served(space, vectors, ids, seeds)
    assert_one_index(space)


def test_an_index_built_by_the_current_code_needs_no_rebuild(rng):
    space = ensure_space("test-16-new", 16, "random", with_index=False)
    make_catalog(space, unit_vectors(rng, 50, 16))
    build_index(space)
    with connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_class WHERE relname = %s", [index_name(space)])
        before = cursor.fetchone()[0]
        migrate(halfvec_migration.to_halfvec)
        migrate(m8_migration.to_m8)
        cursor.execute("SELECT oid FROM pg_class WHERE relname = %s", [index_name(space)])
        assert cursor.fetchone()[0] == before  # the same index, not a rebuilt one
    assert f"m='{HNSW_M}'" in index_definition(space)
