"""A catalog of given vectors in the real database, and the exact nearest neighbours an ANN search should find."""

from __future__ import annotations

import numpy as np


def make_catalog(space, vectors: np.ndarray, source: str = "test") -> list[int]:
    """One track per vector in ``space`` (an EmbeddingSpace row), artists cycling over 7: the tracks' ids."""
    from catalog.models import Track, TrackEmbedding

    tracks = Track.objects.bulk_create(
        [Track(source=source, external_id=f"t{i}", title=f"Track {i}", artist=f"a{i % 7}") for i in range(len(vectors))]
    )
    TrackEmbedding.objects.bulk_create(
        [TrackEmbedding(track=t, space=space, vector=v) for t, v in zip(tracks, vectors, strict=True)]
    )
    return [t.pk for t in tracks]


def exact_top(vectors: np.ndarray, ids: np.ndarray, seed: np.ndarray, k: int) -> list[int]:
    """The ``k`` ids whose vectors have the largest inner product with ``seed`` (ties: first listed first)."""
    return list(ids[np.argsort(-(vectors @ seed), kind="stable")[:k]])
