"""Two embedding spaces side by side: the same tracks carry one vector per space, each searchable on its own."""

from __future__ import annotations

import numpy as np
import pytest

from catalog.models import EmbeddingSpace, Track, TrackEmbedding
from catalog.selectors import nearest_tracks, vectors_for
from catalog.services.ingest import ingest_file
from catalog.vector_index import has_index
from tests.catalog.conftest import track_rows, write_jsonl

pytestmark = pytest.mark.django_db


def test_two_spaces_share_tracks(tmp_path):
    rows, small = track_rows(12, 4, seed=1)
    _, large = track_rows(12, 32, seed=2)
    ingest_file(write_jsonl(tmp_path / "small.jsonl", rows, small), space="old-4", dimension=4, encoder="old")
    report = ingest_file(write_jsonl(tmp_path / "large.jsonl", rows, large), space="new-32", dimension=32)
    assert (report.created, report.updated, report.unchanged) == (0, 12, 0)  # new vectors for known tracks
    assert Track.objects.count() == 12
    assert TrackEmbedding.objects.count() == 24
    for name in ("old-4", "new-32"):
        assert has_index(EmbeddingSpace.objects.get(name=name))
    track = Track.objects.get(external_id="t7")
    assert vectors_for("old-4", [track.pk]).shape == (1, 4)
    assert vectors_for("new-32", [track.pk]).shape == (1, 32)
    assert nearest_tracks("old-4", small[7], 1, exact=True)[0][0].track_id == track.pk
    assert nearest_tracks("new-32", large[7] / np.linalg.norm(large[7]), 1)[0][0].track_id == track.pk
