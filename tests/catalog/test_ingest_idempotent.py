"""Upsert by (source, external_id): the same file twice changes nothing; a changed row is counted as updated."""

from __future__ import annotations

import pytest

from catalog.models import Track, TrackEmbedding
from catalog.services.ingest import ingest_file
from tests.catalog.conftest import track_rows, write_csv, write_parquet

pytestmark = pytest.mark.django_db
DIM = 8


@pytest.mark.parametrize("writer", [write_csv, write_parquet])
def test_second_run_changes_nothing(writer, tmp_path):
    rows, vectors = track_rows(30, DIM)
    path = writer(tmp_path / ("t.csv" if writer is write_csv else "t.parquet"), rows, vectors)
    first = ingest_file(path, space="s8", dimension=DIM)
    stamps = dict(Track.objects.values_list("external_id", "updated_at"))
    second = ingest_file(path, space="s8")
    assert (first.created, first.updated, first.unchanged) == (30, 0, 0)
    assert (second.created, second.updated, second.unchanged, second.rejected) == (0, 0, 30, 0)
    assert dict(Track.objects.values_list("external_id", "updated_at")) == stamps
    assert Track.objects.count() == 30 and TrackEmbedding.objects.count() == 30


def test_changed_fields_and_vectors_count_as_updated(tmp_path):
    rows, vectors = track_rows(10, DIM)
    ingest_file(write_csv(tmp_path / "a.csv", rows, vectors), space="s8", dimension=DIM)
    rows[2]["title"] = "Renamed"
    vectors[5] = -vectors[5]
    rows.append({**rows[0], "external_id": "new"})
    more = vectors.tolist() + [vectors[0].tolist()]
    import numpy as np

    report = ingest_file(write_csv(tmp_path / "b.csv", rows, np.array(more)), space="s8")
    assert (report.created, report.updated, report.unchanged) == (1, 2, 8)
    assert Track.objects.get(external_id="t2").title == "Renamed"


def test_same_external_id_in_two_sources_are_two_tracks(tmp_path):
    rows, vectors = track_rows(3, DIM)
    path = write_csv(tmp_path / "a.csv", rows, vectors)
    ingest_file(path, space="s8", dimension=DIM, source="one")
    report = ingest_file(path, space="s8", source="two")
    assert report.created == 3
    assert Track.objects.filter(external_id="t0").count() == 2


def test_columns_absent_from_the_input_keep_their_values(tmp_path):
    """Re-embedding into a new space from a file of ids and vectors must not wipe titles, tags or metadata."""
    rows, vectors = track_rows(4, DIM)
    ingest_file(write_csv(tmp_path / "full.csv", rows, vectors), space="s8", dimension=DIM)
    vectors_only = tmp_path / "vectors.jsonl"
    vectors_only.write_text("".join(f'{{"external_id": "t{i}", "embedding": [1, {i}, 0, 0]}}\n' for i in range(4)))
    report = ingest_file(vectors_only, space="new-4", dimension=4)
    assert (report.created, report.updated, report.unchanged) == (0, 4, 0)
    track = Track.objects.get(external_id="t2")
    assert (track.title, track.tags, track.metadata) == ("Track 2", ["rock", "tag0"], {"n": 2})
    retitle = tmp_path / "retitle.jsonl"
    retitle.write_text('{"external_id": "t2", "title": "", "embedding": [1, 2, 0, 0]}\n')
    assert ingest_file(retitle, space="new-4").updated == 1
    track.refresh_from_db()
    assert (track.title, track.artist) == ("", "Artist 2")  # a blank value that IS given does overwrite
