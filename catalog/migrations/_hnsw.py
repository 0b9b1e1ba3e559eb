"""The HNSW rebuild that catalog migrations share: build the new index beside the old one, then swap names.

The table is never locked, and processes still running the previous code keep their index until the swap (hence
non-atomic migrations). Spelled out here, not imported from :mod:`catalog.vector_index`, so each migration keeps
doing what it did when the app's code moves on. Django's migration loader skips modules whose name starts with
an underscore, so this is not a migration itself.
"""

from __future__ import annotations

from collections.abc import Callable


def rebuild_hnsw(apps, schema_editor, *, kind: str, opclass: str, m: int, stale: Callable[[str], bool]) -> None:
    """Rebuild every space's index whose definition (``pg_indexes.indexdef``) is ``stale``.

    ``kind`` is the indexed type (``vector`` / ``halfvec``), ``opclass`` its operator class, ``m`` the graph's
    degree. A space without an index is skipped: an ingest dropped it, and its rebuild uses the current code.
    """
    space_model = apps.get_model("catalog", "EmbeddingSpace")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for space in space_model.objects.all():
            name = f"catalog_embedding_hnsw_space_{int(space.pk)}"
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name])
            row = cursor.fetchone()
            if row is None or not stale(row[0]):
                continue
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}_next")  # a build an earlier run left invalid
            cursor.execute(
                f"CREATE INDEX CONCURRENTLY {name}_next ON catalog_trackembedding "
                f"USING hnsw ((vector::{kind}({int(space.dimension)})) {opclass}) "
                f"WITH (m = {int(m)}, ef_construction = 64) WHERE space_id = {int(space.pk)}"
            )
            cursor.execute(f"DROP INDEX CONCURRENTLY {name}")
            cursor.execute(f"ALTER INDEX {name}_next RENAME TO {name}")
        cursor.execute("RESET maintenance_work_mem")
