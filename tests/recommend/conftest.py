"""Fixtures for the playlist API: a real catalog slice and a tiny, really trained prior (no mocks).

- Catalog: the first rows of MusicCaps (../shared/data/musiccaps), each track's "music" vector the MiniLM embedding
  of its caption (the offline text-proxy space, docs/encoders.md), with artists assigned so ~8 tracks share an artist
  and the artist cap has work to do. Committed once for this package and deleted afterwards.
- Prior: trained for a few hundred steps on pairs (palette-space condition, MiniLM music vector), the condition a
  fixed random projection of the music vector, so the prior has something to learn. It is small and weak; the
  tests check the pipeline's contracts, not recommendation quality.
"""

from __future__ import annotations

import ast
import csv
from contextlib import contextmanager

import numpy as np
import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from tests.conftest import MUSICCAPS_CSV, require_data

N_TRACKS = 240
N_ARTISTS = 30
def musiccaps_rows(n: int) -> list[dict]:
    with require_data(MUSICCAPS_CSV).open(newline="", encoding="utf-8") as fh:
        rows = [row for row in csv.DictReader(fh) if row["caption"].strip()]
    return rows[:n]


@pytest.fixture(scope="session")
def minilm():
    from prior.encoders import get_text_encoder

    return get_text_encoder("minilm")


def description(row: dict) -> str:
    """The track's text proxy: its MusicCaps aspect list (short, so 240 rows embed in seconds on a busy CPU)."""
    return ", ".join(ast.literal_eval(row["aspect_list"])) or row["caption"]


@contextmanager
def torch_threads(n: int):
    """Few threads: on a small shared CPU, torch's default thread pool mostly contends with itself."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def catalog_rows(minilm):
    rows = musiccaps_rows(N_TRACKS)
    with torch_threads(1):
        vectors = minilm.encode_texts([description(row) for row in rows])
    return rows, vectors


@pytest.fixture(scope="session")
def tiny_prior(tmp_path_factory, catalog_rows):
    """A diffusion prior checkpoint (palette condition space -> MiniLM music space), trained in a few seconds."""
    from prior.config import NetworkConfig, TrainConfig
    from prior.data.npz import Pairs
    from prior.encoders.palette import PALETTE_SPACE
    from prior.spaces import MINILM
    from prior.train import train_prior

    _, music = catalog_rows
    rng = np.random.default_rng(0)
    projection = rng.standard_normal((music.shape[1], PALETTE_SPACE.dim)).astype(np.float32)
    cond = music @ projection + 0.1 * rng.standard_normal((len(music), PALETTE_SPACE.dim)).astype(np.float32)
    cond /= np.linalg.norm(cond, axis=1, keepdims=True)
    pairs = Pairs(cond=cond, music=music, steer=None, track_id=None, cond_space=PALETTE_SPACE, music_space=MINILM,
                  fingerprint="recommend-tests-v1")
    out = tmp_path_factory.mktemp("tiny-prior")
    with torch_threads(1):
        train_prior(
            pairs, out,
            NetworkConfig(cond_dim=PALETTE_SPACE.dim, music_dim=MINILM.dim, width=128, depth=2),
            TrainConfig(steps=200, batch=64, warmup=20, seed=0),
            progress=False, device="cpu",
        )
    return out


@pytest.fixture(scope="package")
def catalog(django_db_setup, django_db_blocker, catalog_rows, tiny_prior):
    """The MusicCaps slice in the real pgvector database, committed for the package; the prior pointed at it."""
    from catalog.models import EmbeddingSpace, Track, TrackEmbedding
    from catalog.services.spaces import space_from_prior
    from catalog.vector_index import drop_index
    from prior.spaces import MINILM
    from recommend import engine

    rows, vectors = catalog_rows
    with django_db_blocker.unblock():
        space = space_from_prior(MINILM)
        tracks = Track.objects.bulk_create(
            [
                Track(
                    source="musiccaps-test",
                    external_id=row["ytid"],
                    title=f"Clip {row['ytid']}",
                    artist=f"Artist {i % N_ARTISTS:02d}",
                    tags=[t[:100] for t in ast.literal_eval(row["aspect_list"])][:10],
                    url=f"https://www.youtube.com/watch?v={row['ytid']}&t={row['start_s']}",
                )
                for i, row in enumerate(rows)
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
