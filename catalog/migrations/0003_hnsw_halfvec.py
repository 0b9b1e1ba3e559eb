"""Rebuild every space's HNSW index over half-precision vectors (catalog/vector_index.py says why).

The query now orders by ``vector::halfvec(dim)``, which an index over ``vector::vector(dim)`` cannot serve: without
this rebuild every playlist search would scan its whole space. Each new index is built CONCURRENTLY beside the old
one and then takes its name (``_hnsw.rebuild_hnsw``). Expect each space's build time (~20 s for 100k 384-d
tracks). Reversing rebuilds the float32 indexes the same way.
"""

from django.db import migrations

from catalog.migrations._hnsw import rebuild_hnsw


def to_halfvec(apps, schema_editor) -> None:
    rebuild_hnsw(apps, schema_editor, kind="halfvec", opclass="halfvec_ip_ops", m=16,
                 stale=lambda indexdef: "halfvec_ip_ops" not in indexdef)


def to_vector(apps, schema_editor) -> None:
    rebuild_hnsw(apps, schema_editor, kind="vector", opclass="vector_ip_ops", m=16,
                 stale=lambda indexdef: "halfvec_ip_ops" in indexdef)


class Migration(migrations.Migration):
    atomic = False  # CREATE / DROP INDEX CONCURRENTLY cannot run inside a transaction
    dependencies = [("catalog", "0002_initial")]
    operations = [migrations.RunPython(to_halfvec, to_vector)]
