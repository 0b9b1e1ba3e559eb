"""Rebuild every space's HNSW index with m = 8 neighbours per layer instead of 16 (catalog/vector_index.py says why).

The old indexes keep working (same expression), but the playlist search's ``ef_search`` is now chosen for the
sparser graph: on an m = 16 graph it would cost more than before. Built CONCURRENTLY beside the old index, then
swapped (``_hnsw.rebuild_hnsw``); ~15 s per 100k 384-d tracks. Reversing rebuilds m = 16 indexes the same way.
"""

from django.db import migrations

from catalog.migrations._hnsw import rebuild_hnsw


def to_m8(apps, schema_editor) -> None:
    rebuild_hnsw(apps, schema_editor, kind="halfvec", opclass="halfvec_ip_ops", m=8,
                 stale=lambda indexdef: "m='8'" not in indexdef)


def to_m16(apps, schema_editor) -> None:
    rebuild_hnsw(apps, schema_editor, kind="halfvec", opclass="halfvec_ip_ops", m=16,
                 stale=lambda indexdef: "m='16'" not in indexdef)


class Migration(migrations.Migration):
    atomic = False  # CREATE / DROP INDEX CONCURRENTLY cannot run inside a transaction
    dependencies = [("catalog", "0003_hnsw_halfvec")]
    operations = [migrations.RunPython(to_m8, to_m16)]
