"""Model constraints: a track is unique by (source, external_id), an embedding by (track, space)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from catalog.models import EmbeddingSpace, Track, TrackEmbedding

pytestmark = pytest.mark.django_db


def test_track_identity_is_source_and_external_id():
    Track.objects.create(source="a", external_id="1")
    Track.objects.create(source="b", external_id="1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Track.objects.create(source="a", external_id="1")


def test_one_vector_per_track_and_space():
    space = EmbeddingSpace.objects.create(name="s3", dimension=3, encoder="x")
    other = EmbeddingSpace.objects.create(name="t3", dimension=3, encoder="y")
    track = Track.objects.create(source="a", external_id="1", tags=["x"])
    TrackEmbedding.objects.create(track=track, space=space, vector=[1, 0, 0])
    TrackEmbedding.objects.create(track=track, space=other, vector=[0, 1, 0])
    with pytest.raises(IntegrityError), transaction.atomic():
        TrackEmbedding.objects.create(track=track, space=space, vector=[0, 0, 1])
    assert track.embeddings.count() == 2


def test_space_name_is_unique_and_in_use_space_cannot_be_deleted():
    space = EmbeddingSpace.objects.create(name="s3", dimension=3, encoder="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        EmbeddingSpace.objects.create(name="s3", dimension=4, encoder="x")
    track = Track.objects.create(source="a", external_id="1")
    TrackEmbedding.objects.create(track=track, space=space, vector=[1, 0, 0])
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        space.delete()
    track.delete()
    assert not TrackEmbedding.objects.exists()
