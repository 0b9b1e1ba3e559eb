"""The one text-vector cache (prior/encoders/cache.py): each distinct text embedded once, in memory or on disk,
bounded for serving, the same vectors as the encoder it wraps."""

from __future__ import annotations

import numpy as np

from prior.encoders.base import TextEncoder
from prior.encoders.cache import CachingTextEncoder
from prior.spaces import EmbeddingSpace

SPACE = EmbeddingSpace(name="counting", dim=4, encoder="length")


class Counting(TextEncoder):
    """A text's vector is its length in every component; every call is recorded."""

    space = SPACE

    def __init__(self):
        self.calls: list[list[str]] = []

    def encode_texts(self, texts):
        self.calls.append(list(texts))
        return np.stack([np.full(SPACE.dim, len(t), np.float32) for t in texts])


def test_each_text_is_embedded_once_in_chunks():
    base = Counting()
    encoder = CachingTextEncoder(base, chunk=2)
    first = encoder.encode_texts(["a", "bb", "a", "ccc"])
    second = encoder.encode_texts(["bb", "dddd"])
    assert base.calls == [["a", "bb"], ["ccc"], ["dddd"]]
    assert first[:, 0].tolist() == [1, 2, 1, 3] and second[:, 0].tolist() == [2, 4]
    assert encoder.space == SPACE and encoder.encode_texts([]).shape == (0, SPACE.dim)


def test_remembered_vectors_are_used_and_a_file_makes_the_next_run_warm(tmp_path):
    base = Counting()
    encoder = CachingTextEncoder(base, path=tmp_path / "cache.npz")
    encoder.remember(["known"], np.full((1, SPACE.dim), 9, np.float32))
    assert encoder.encode_texts(["known", "new"])[:, 0].tolist() == [9, 3]
    assert base.calls == [["new"]]
    again = Counting()
    warm = CachingTextEncoder(again, path=tmp_path / "cache.npz")
    assert warm.encode_texts(["new", "known"])[:, 0].tolist() == [3, 9] and again.calls == []


def test_a_bounded_cache_forgets_the_least_recently_used_text():
    base = Counting()
    encoder = CachingTextEncoder(base, max_texts=2)
    encoder.encode_texts(["a", "bb"])
    encoder.encode_texts(["a"])  # "a" is now the most recent
    encoder.encode_texts(["ccc"])  # "bb" goes
    assert len(encoder) == 2
    encoder.encode_texts(["a", "bb"])
    assert base.calls == [["a", "bb"], ["ccc"], ["bb"]]
    many = encoder.encode_texts(["w", "xx", "yyy"])  # more distinct texts than the bound, in one call
    assert many[:, 0].tolist() == [1, 2, 3]
