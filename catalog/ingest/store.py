"""The SQL side of ingest: a temporary staging table filled with binary COPY, then two set-based upserts.

Why a staging table: every row lands in it first (fast binary COPY, no per-row round trip), duplicates inside the
input are found there with one ``GROUP BY``, and only when the whole input is known to be good do the upserts touch
the real tables — inside the caller's transaction, so a rejected input leaves nothing behind. The upserts skip rows
whose values did not change (``IS DISTINCT FROM``), which is what makes a re-ingest a no-op (0 created, 0 updated).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.db import connection

from catalog.ingest.records import TRACK_FIELDS, TrackRecord
from catalog.models import EmbeddingSpace
from catalog.vector_index import register_vector_type

STAGE = "catalog_ingest_stage"
_COLUMNS = ("row_no, source, external_id, title, artist, album, tags, genre, year, duration_s, url, metadata, present, "
            "vector")
_TYPES = ["int4", "text", "text", "text", "text", "text", "text[]", "text", "int2", "float8", "text", "jsonb", "int4",
          "vector"]
_TRACK_FIELDS = list(TRACK_FIELDS)
_BITS = {name: 1 << i for i, name in enumerate(_TRACK_FIELDS)}  # which fields a row carried


@dataclass(frozen=True)
class UpsertCounts:
    created: int
    updated: int
    unchanged: int


def create_stage() -> None:
    """A fresh staging table for this transaction (dropped at commit or rollback)."""
    register_vector_type()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cursor.execute(
            f"CREATE TEMP TABLE {STAGE} (row_no int, source text, external_id text, title text, artist text, "
            "album text, tags text[], genre text, year int2, duration_s float8, url text, metadata jsonb, present int, "
            "vector vector) "
            "ON COMMIT DROP"
        )


def copy_rows(records: Iterable[tuple[TrackRecord, np.ndarray]]) -> int:
    """Binary COPY of validated records (with their normalised vectors) into the staging table."""
    from psycopg.types.json import Jsonb

    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper: same connection, same transaction
        with raw.copy(f"COPY {STAGE} ({_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_TYPES)
            for record, vector in records:
                copy.write_row((
                    record.row, record.source, record.external_id, record.title, record.artist, record.album,
                    record.tags, record.genre, record.year, record.duration_s, record.url, Jsonb(record.metadata),
                    sum(_BITS[f] for f in record.fields), vector,
                ))
                count += 1
    return count


def duplicate_rows() -> list[tuple[int, str, int]]:
    """(row, external_id, first row) for every repeat of a (source, external_id) already seen earlier in the input."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT row_no, external_id, first_row FROM ("
            f" SELECT row_no, external_id, min(row_no) OVER (PARTITION BY source, external_id) AS first_row"
            f" FROM {STAGE}) d WHERE row_no <> first_row ORDER BY row_no"
        )
        return [(int(r), str(e), int(f)) for r, e, f in cursor.fetchall()]


def drop_staged(rows: list[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {STAGE} WHERE row_no = ANY(%s::int[])", [rows])


def upsert(space: EmbeddingSpace) -> UpsertCounts:
    """Staged rows -> tracks (by source + external_id) and their vectors in ``space``; unchanged rows untouched.

    New tracks are inserted; existing ones get the fields their row carried (``present`` bits), and are only
    rewritten when a value differs.
    """
    merged = [f"CASE WHEN s.present & {_BITS[f]} <> 0 THEN s.{f} ELSE t.{f} END" for f in _TRACK_FIELDS]
    assignments = ", ".join(f"{f} = {value}" for f, value in zip(_TRACK_FIELDS, merged, strict=True))
    current = ", ".join(f"t.{f}" for f in _TRACK_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {STAGE}")
        total = int(cursor.fetchone()[0])
        cursor.execute(
            f"INSERT INTO catalog_track (source, external_id, {', '.join(_TRACK_FIELDS)}, created_at, updated_at)"
            f" SELECT source, external_id, {', '.join(_TRACK_FIELDS)}, now(), now() FROM {STAGE} ORDER BY row_no"
            " ON CONFLICT ON CONSTRAINT track_source_external_id_unique DO NOTHING RETURNING id"
        )
        created = {int(track_id) for (track_id,) in cursor.fetchall()}
        cursor.execute(
            f"UPDATE catalog_track t SET {assignments}, updated_at = now() FROM {STAGE} s"
            " WHERE t.source = s.source AND t.external_id = s.external_id"
            f" AND ({current}) IS DISTINCT FROM ({', '.join(merged)}) RETURNING t.id"
        )
        changed = {int(track_id) for (track_id,) in cursor.fetchall()}
        cursor.execute(
            "INSERT INTO catalog_trackembedding AS e (track_id, space_id, vector, updated_at)"
            f" SELECT t.id, %s, s.vector, now() FROM {STAGE} s"
            " JOIN catalog_track t ON t.source = s.source AND t.external_id = s.external_id"
            " ON CONFLICT ON CONSTRAINT embedding_track_space_unique DO UPDATE"
            " SET vector = EXCLUDED.vector, updated_at = EXCLUDED.updated_at"
            " WHERE e.vector IS DISTINCT FROM EXCLUDED.vector"
            " RETURNING e.track_id",
            [int(space.pk)],
        )
        changed.update(int(track_id) for (track_id,) in cursor.fetchall())
    updated = len(changed - created)
    return UpsertCounts(created=len(created), updated=updated, unchanged=total - len(created) - updated)
