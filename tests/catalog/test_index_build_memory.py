"""A space's HNSW index is built with HNSW_MAINTENANCE_WORK_MEM: a catalog whose graph outgrows the default (512MB
holds ~450k tracks) is given more, or pgvector finishes the build on disk, far slower."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.services.spaces import ensure_space
from catalog.vector_index import build_index, drop_index, has_index


@pytest.mark.django_db
@pytest.mark.parametrize("memory", ["64MB", "1GB"])
def test_the_build_uses_the_configured_memory(settings, memory):
    settings.HNSW_MAINTENANCE_WORK_MEM = memory
    space = ensure_space("build-memory", 8, "test", with_index=False)
    with CaptureQueriesContext(connection) as queries:
        build_index(space)
    statements = [q["sql"] for q in queries.captured_queries]
    assert f"SET maintenance_work_mem = '{memory}'" in statements
    assert has_index(space)
    drop_index(space)


@pytest.mark.django_db
def test_an_explicit_value_wins(settings):
    settings.HNSW_MAINTENANCE_WORK_MEM = "64MB"
    space = ensure_space("build-memory-explicit", 8, "test", with_index=False)
    with CaptureQueriesContext(connection) as queries:
        build_index(space, maintenance_work_mem="128MB")
    assert "SET maintenance_work_mem = '128MB'" in [q["sql"] for q in queries.captured_queries]
    drop_index(space)
