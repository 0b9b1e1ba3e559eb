"""Rebuild every space's HNSW index over half-precision vectors (catalog/vector_index.py says why).

The query now orders by ``vector::halfvec(dim)``, which an index over ``vector::vector(dim)`` cannot serve: without
this rebuild every playlist search would scan its whole space. Each new index is built CONCURRENTLY beside the old
one and then takes its name, so the table is never locked and processes still running the previous code keep
their index until the swap (hence a non-atomic migration). Expect each space's build time (~20 s for 100k 384-d
tracks). The SQL is spelled out here, not imported, so the migration keeps doing what it did when the code moves
on. Reversing rebuilds the float32 indexes the same way.
"""

from django.db import migrations


def _rebuild(apps, schema_editor, half: bool) -> None:
    space_model = apps.get_model("catalog", "EmbeddingSpace")
    kind, opclass = ("halfvec", "halfvec_ip_ops") if half else ("vector", "vector_ip_ops")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for space in space_model.objects.all():
            name = f"catalog_embedding_hnsw_space_{int(space.pk)}"
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name])
            row = cursor.fetchone()
            if row is None or opclass in row[0]:  # no index (an ingest dropped it: its rebuild is new) / done
                continue
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}_next")  # a build an earlier run left invalid
            cursor.execute(
                f"CREATE INDEX CONCURRENTLY {name}_next ON catalog_trackembedding "
                f"USING hnsw ((vector::{kind}({int(space.dimension)})) {opclass}) "
                f"WITH (m = 16, ef_construction = 64) WHERE space_id = {int(space.pk)}"
            )
            cursor.execute(f"DROP INDEX CONCURRENTLY {name}")
            cursor.execute(f"ALTER INDEX {name}_next RENAME TO {name}")
        cursor.execute("RESET maintenance_work_mem")


def to_halfvec(apps, schema_editor) -> None:
    _rebuild(apps, schema_editor, half=True)


def to_vector(apps, schema_editor) -> None:
    _rebuild(apps, schema_editor, half=False)


class Migration(migrations.Migration):
    atomic = False  # CREATE / DROP INDEX CONCURRENTLY cannot run inside a transaction
    dependencies = [("catalog", "0002_initial")]
    operations = [migrations.RunPython(to_halfvec, to_vector)]
