"""Fixtures for the playlist API: a real catalog slice and a tiny, really trained prior (no mocks).

- Catalog: the first rows of MusicCaps (../shared/data/musiccaps), each track's "music" vector the MiniLM embedding
  of its caption (the offline text-proxy space, docs/encoders.md), with artists assigned so ~8 tracks share an artist
  and the artist cap has work to do. Committed once for this package and deleted afterwards.
- Prior: the session's ``tiny_prior`` (tests/conftest.py; palette-space condition -> MiniLM music vector), served
  over this catalog.
"""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from prior.data.musiccaps import Clip, read_clips
from tests.conftest import MUSICCAPS_CSV, require_data, torch_threads

N_TRACKS = 240
N_ARTISTS = 30


def musiccaps_rows(n: int) -> list[Clip]:
    return read_clips(require_data(MUSICCAPS_CSV), limit=n)


@pytest.fixture(scope="session")
def minilm():
    from prior.encoders import get_text_encoder

    return get_text_encoder("minilm")


def description(clip: Clip) -> str:
    """The track's text proxy: its MusicCaps aspect list (short, so 240 rows embed in seconds on a busy CPU)."""
    return ", ".join(clip.aspects) or clip.caption


@pytest.fixture(scope="session")
def catalog_rows(minilm):
    rows = musiccaps_rows(N_TRACKS)
    with torch_threads(1):
        vectors = minilm.encode_texts([description(row) for row in rows])
    return rows, vectors


@pytest.fixture(scope="package")
def catalog(django_db_setup, django_db_blocker, catalog_rows, tiny_prior):
    """The MusicCaps slice in the real pgvector database, committed for the package; the prior pointed at it."""
    from catalog.models import EmbeddingSpace, Track, TrackEmbedding
    from catalog.services.spaces import space_from_prior
    from catalog.vector_index import drop_index
    from prior.spaces import MINILM
    from serving import engine

    rows, vectors = catalog_rows
    with django_db_blocker.unblock():
        space = space_from_prior(MINILM)
        tracks = Track.objects.bulk_create(
            [
                Track(
                    source="musiccaps-test",
                    external_id=clip.ytid,
                    title=f"Clip {clip.ytid}",
                    artist=f"Artist {i % N_ARTISTS:02d}",
                    tags=[t[:100] for t in clip.aspects][:10],
                    url=f"https://www.youtube.com/watch?v={clip.ytid}&t={int(clip.start_s)}",
                )
                for i, clip in enumerate(rows)
            ]
        )
        TrackEmbedding.objects.bulk_create(
            [TrackEmbedding(track=t, space=space, vector=v) for t, v in zip(tracks, vectors, strict=True)]
        )
    overrides = override_settings(PRIOR_CHECKPOINT=str(tiny_prior), IMAGE_ENCODER="palette", TEXT_ENCODER="minilm",
                                  CATALOG_SPACE=MINILM.name, RECOMMEND_RNG_SEED=1234)
    overrides.enable()
    engine.reset()
    vectors_by_id = {t.pk: v for t, v in zip(tracks, vectors, strict=True)}
    yield {"space": space, "tracks": tracks, "vectors": vectors_by_id}
    overrides.disable()
    engine.reset()
    with django_db_blocker.unblock():
        from recommend.models import Session

        Session.objects.all().delete()
        Track.objects.filter(source="musiccaps-test").delete()
        drop_index(space)
        EmbeddingSpace.objects.filter(pk=space.pk).delete()


@pytest.fixture
def api(catalog, db) -> APIClient:
    return APIClient()
