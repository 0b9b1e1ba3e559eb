"""Every file format (CSV, JSONL, Parquet, sidecar .npy) imports the same tracks with normalised vectors."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.management import call_command

from catalog.models import Track, TrackEmbedding
from catalog.selectors import nearest_tracks, vectors_for
from catalog.vector_index import has_index
from tests.catalog.conftest import track_rows, write_csv, write_jsonl, write_parquet

pytestmark = pytest.mark.django_db
DIM = 16
WRITERS = {"csv": write_csv, "jsonl": write_jsonl, "parquet": write_parquet}


def check_catalog(vectors: np.ndarray, n: int) -> None:
    assert Track.objects.count() == n
    track = Track.objects.get(source="file", external_id="t4")
    assert (track.title, track.artist, track.album) == ("Track 4", "Artist 1", "Album")
    assert track.tags == ["rock", "tag0"]
    assert track.duration_s == 184.0
    assert track.url == "https://example.com/t/4"
    assert track.metadata == {"n": 4}
    stored = vectors_for("fmt", [track.pk])[0]
    expected = vectors[4] / np.linalg.norm(vectors[4])
    np.testing.assert_allclose(stored, expected, atol=1e-6)
    assert np.linalg.norm(stored) == pytest.approx(1.0, abs=1e-6)
    assert nearest_tracks("fmt", expected, 1, exact=True)[0][0].track_id == track.pk


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_inline_embeddings(fmt, tmp_path, capsys):
    rows, vectors = track_rows(20, DIM)
    path = WRITERS[fmt](tmp_path / f"tracks.{fmt}", rows, vectors)
    call_command("ingest_tracks", str(path), space="fmt", dimension=DIM, no_progress=True)
    assert "created 20, updated 0, unchanged 0, rejected 0" in capsys.readouterr().out
    check_catalog(vectors, 20)
    assert TrackEmbedding.objects.filter(space__name="fmt").count() == 20


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_sidecar_npy(fmt, tmp_path, capsys):
    rows, vectors = track_rows(20, DIM, seed=1)
    path = WRITERS[fmt](tmp_path / f"tracks.{fmt}", rows, None)
    np.save(tmp_path / "vectors.npy", vectors.astype(np.float32))
    call_command("ingest_tracks", str(path), space="fmt", dimension=DIM, embeddings=str(tmp_path / "vectors.npy"),
                 no_progress=True)
    assert "created 20" in capsys.readouterr().out
    check_catalog(vectors, 20)


def test_new_space_gets_its_index_after_the_load(tmp_path):
    rows, vectors = track_rows(5, DIM)
    call_command("ingest_tracks", str(write_jsonl(tmp_path / "t.jsonl", rows, vectors)), space="fmt",
                 dimension=DIM, encoder="test-enc", source="mine", no_progress=True)
    from catalog.models import EmbeddingSpace

    space = EmbeddingSpace.objects.get(name="fmt")
    assert (space.dimension, space.encoder) == (DIM, "test-enc")
    assert has_index(space)
    assert set(Track.objects.values_list("source", flat=True)) == {"mine"}


def test_defer_index_rebuilds_it(tmp_path):
    rows, vectors = track_rows(6, DIM)
    call_command("ingest_tracks", str(write_csv(tmp_path / "a.csv", rows[:3], vectors[:3])), space="fmt",
                 dimension=DIM, no_progress=True)
    call_command("ingest_tracks", str(write_csv(tmp_path / "b.csv", rows[3:], vectors[3:])), space="fmt",
                 defer_index=True, no_progress=True)
    from catalog.models import EmbeddingSpace

    assert has_index(EmbeddingSpace.objects.get(name="fmt"))
    assert Track.objects.count() == 6


def test_extra_columns_go_to_metadata_and_pipe_tags(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text('external_id,tags,mood,embedding\nx1,a|b| c ,calm,"[1, 0, 0]"\n')
    call_command("ingest_tracks", str(path), space="tiny", dimension=3, no_progress=True)
    track = Track.objects.get()
    assert track.tags == ["a", "b", "c"]
    assert track.metadata == {"mood": "calm"}


def test_defer_index_is_rebuilt_when_the_load_is_rejected(tmp_path):
    from catalog.models import EmbeddingSpace
    from catalog.services.ingest import IngestRejected, ingest_file

    rows, vectors = track_rows(4, DIM)
    ingest_file(write_csv(tmp_path / "a.csv", rows[:2], vectors[:2]), space="fmt", dimension=DIM)
    vectors[3] = 0.0
    with pytest.raises(IngestRejected):
        ingest_file(write_csv(tmp_path / "b.csv", rows, vectors), space="fmt", defer_index=True)
    assert has_index(EmbeddingSpace.objects.get(name="fmt"))
    assert Track.objects.count() == 2
