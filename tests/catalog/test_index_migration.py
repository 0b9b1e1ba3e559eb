"""catalog migration 0003: a catalog indexed before it (float32 HNSW) is served by the half-precision index after."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from django.apps import apps
from django.db import connection

from catalog.selectors import nearest_sql, nearest_tracks
from catalog.services.spaces import ensure_space
from catalog.vector_index import index_name
from tests.catalog.test_ann import exact_top, make_catalog
from tests.conftest import unit_vectors

pytestmark = pytest.mark.django_db(transaction=True)  # the migration builds indexes CONCURRENTLY

migration = importlib.import_module("catalog.migrations.0003_hnsw_halfvec")


def index_definition(space) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [index_name(space)])
        row = cursor.fetchone()
    return row[0] if row else None


def plan(space, seeds) -> str:
    from catalog.vector_index import register_vector_type

    register_vector_type()
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # 300 rows would otherwise be read whole: can the index serve?
        cursor.execute("SET enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + nearest_sql(space), [seeds, [], 5])
        rows = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET enable_bitmapscan")
    return rows


def test_rebuilds_a_float32_index_as_halfvec_and_back(rng):
    space = ensure_space("test-16-old", 16, "random", with_index=False)
    unindexed = ensure_space("test-8-unindexed", 8, "random", with_index=False)
    vectors = unit_vectors(rng, 300, 16)
    ids = make_catalog(space, vectors)
    with connection.cursor() as cursor:  # what 0002-era code built
        cursor.execute(
            f"CREATE INDEX {index_name(space)} ON catalog_trackembedding USING hnsw ((vector::vector(16)) "
            f"vector_ip_ops) WITH (m = 16, ef_construction = 64) WHERE space_id = {space.pk}"
        )
    seeds = list(unit_vectors(rng, 2, 16))
    assert index_name(space) not in plan(space, seeds)  # the new query cannot use the old index

    with connection.schema_editor(atomic=False) as editor:
        migration.to_halfvec(apps, editor)
        migration.to_halfvec(apps, editor)  # a second run (a retried deploy) finds nothing to do
    assert "halfvec_ip_ops" in index_definition(space) and "halfvec(16)" in index_definition(space)
    assert index_definition(unindexed) is None  # a space without an index is left for its next build
    assert index_name(space) in plan(space, seeds)
    hits = nearest_tracks(space, seeds[0], 5)[0]
    assert len({n.track_id for n in hits} & set(exact_top(vectors, np.array(ids), seeds[0], 5))) >= 4

    with connection.schema_editor(atomic=False) as editor:
        migration.to_vector(apps, editor)
    assert "vector_ip_ops" in index_definition(space) and "halfvec" not in index_definition(space)
    with connection.cursor() as cursor:  # nothing left behind: no *_next index, no invalid one
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'catalog_embedding_hnsw_space_%%'")
        assert cursor.fetchone()[0] == 1
