"""Real-data readers on the first rows of the real files: MusicCaps and MTG-Jamendo into the text-proxy space."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.management import call_command

from catalog.datasets.jamendo import describe, read_jamendo, readable
from catalog.datasets.musiccaps import read_musiccaps, short_title
from catalog.ingest.records import TrackRecord
from catalog.models import EmbeddingSpace, Track
from catalog.selectors import nearest_tracks, vectors_for
from catalog.services.datasets import ingest_jamendo, ingest_musiccaps
from prior.spaces import MINILM

pytestmark = pytest.mark.django_db


def test_musiccaps_slice(minilm):
    report = ingest_musiccaps(limit=20, encoder=minilm)
    assert (report.created, report.rejected) == (20, 0)
    space = EmbeddingSpace.objects.get(name=MINILM.name)
    assert (space.dimension, space.is_proxy, space.encoder) == (384, True, MINILM.encoder)
    clip = Track.objects.get(source="musiccaps", external_id="-0Gj8-vB1q4")
    assert clip.url == "https://www.youtube.com/watch?v=-0Gj8-vB1q4&t=30s"
    assert clip.duration_s == 10.0
    assert "sad" in clip.tags and "ballad" in clip.tags
    assert clip.artist == "YouTube video -0Gj8-vB1q4"
    assert clip.metadata["caption"].startswith("The low quality recording features a ballad")
    assert clip.metadata["split"] == "test"
    vector = vectors_for(MINILM.name, [clip.pk])[0]
    np.testing.assert_allclose(vector, minilm.encode_texts([clip.metadata["caption"]])[0], atol=1e-5)
    query = minilm.encode_texts(["sad soulful ballad with piano and strings"])
    top = [n.track_id for n in nearest_tracks(MINILM.name, query, 5, exact=True)[0]]
    assert clip.pk in top


def test_musiccaps_split_and_titles():
    items = list(read_musiccaps(limit=20, split="train"))
    assert len(items) == 20
    assert all(isinstance(i, TrackRecord) and i.metadata["split"] == "train" for i in items)
    assert all(len(i.title) <= 80 for i in items)
    assert short_title("A " + "very " * 40 + "long caption. Second.").endswith("…")


def test_jamendo_slice(minilm):
    report = ingest_jamendo(split="validation", limit=50, encoder=minilm)
    assert (report.created, report.rejected) == (50, 0)
    assert ingest_jamendo(split="validation", limit=50, encoder=minilm).unchanged == 50  # idempotent
    tracks = Track.objects.filter(source="jamendo")
    assert tracks.count() == 50
    first = next(read_jamendo("validation", limit=1))
    track = tracks.get(external_id=first.external_id)
    number = first.external_id.removeprefix("track_").lstrip("0")
    assert track.url == f"https://www.jamendo.com/track/{number}"
    assert track.artist.startswith("artist_") and track.album.startswith("album_")
    assert track.duration_s > 0 and track.tags
    assert track.metadata["split"] == "validation" and track.metadata["raw_tags"]
    vector = vectors_for(MINILM.name, [track.pk])[0]
    np.testing.assert_allclose(vector, minilm.encode_texts([first.text])[0], atol=1e-5)


def test_jamendo_tag_text():
    assert readable("genre---poprock") == ("genre", "pop rock")
    text = describe({"genre": ["rock"], "instrument": ["electric guitar"], "mood/theme": ["energetic"]})
    assert text == "rock music with electric guitar; mood: energetic"


def test_commands_use_the_same_service(minilm, monkeypatch, capsys):
    import prior.encoders

    monkeypatch.setattr(prior.encoders, "get_text_encoder", lambda name="minilm", **_: minilm)
    call_command("ingest_jamendo", split="test", limit=5, no_progress=True)
    call_command("ingest_musiccaps", limit=5, no_progress=True)
    out = capsys.readouterr().out
    assert "minilm-l6-v2: created 5, updated 0, unchanged 0, rejected 0" in out
    assert "text proxy" in out
    assert Track.objects.count() == 10


def test_missing_data_dir_is_a_one_line_error(monkeypatch, tmp_path, minilm):
    from django.core.management.base import CommandError

    monkeypatch.setenv("SHARED_DATA_DIR", str(tmp_path))
    import prior.encoders

    monkeypatch.setattr(prior.encoders, "get_text_encoder", lambda name="minilm", **_: minilm)
    with pytest.raises(CommandError, match="no such file"):
        call_command("ingest_musiccaps", limit=5, no_progress=True)


def test_malformed_musiccaps_rows_are_reported_by_line_and_nothing_half_written(monkeypatch, tmp_path, minilm):
    """The catalog reads MusicCaps through the one reader: a bad row is reported with its line and the reader's
    reason, and stops the import (or is skipped with --skip-invalid); a file without its columns is one line."""
    from django.core.management.base import CommandError

    from tests.data_files import MUSICCAPS_ROW, write_musiccaps_csv

    folder = tmp_path / "musiccaps"
    bad = {**MUSICCAPS_ROW, "ytid": "def", "aspect_list": "['a', "}
    write_musiccaps_csv(folder / "musiccaps-public.csv", [MUSICCAPS_ROW, bad])
    monkeypatch.setenv("SHARED_DATA_DIR", str(tmp_path))
    import prior.encoders

    monkeypatch.setattr(prior.encoders, "get_text_encoder", lambda name="minilm", **_: minilm)
    before = Track.objects.count()
    with pytest.raises(CommandError):
        call_command("ingest_musiccaps", no_progress=True)
    assert Track.objects.count() == before
    items = list(read_musiccaps())
    assert isinstance(items[0], TrackRecord) and items[0].tags == ["Sad", "piano", "sad"]
    assert (items[1].row, items[1].reason, items[1].external_id) == (3, "aspect_list is not a Python list literal",
                                                                     "def")
    call_command("ingest_musiccaps", no_progress=True, skip_invalid=True)
    assert Track.objects.filter(source="musiccaps", external_id="abc").exists()

    (folder / "musiccaps-public.csv").write_text("ytid,caption\nabc,a song\n")
    with pytest.raises(CommandError, match="not a MusicCaps CSV"):
        call_command("ingest_musiccaps", no_progress=True)
