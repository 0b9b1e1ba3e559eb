"""The MusicCaps text-proxy reader on a slice of the real CSV (a fake encoder keeps it fast)."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from prior.data.musiccaps import (
    DEFAULT_CSV,
    build_vocabulary,
    is_genre_or_mood,
    multi_hot,
    read_clips,
    steer_text,
    write_musiccaps,
)
from prior.data.npz import load_catalog, load_pairs
from prior.encoders.base import TextEncoder
from prior.spaces import EmbeddingSpace
from tests.conftest import require_data

CSV = Path(__file__).resolve().parents[2] / DEFAULT_CSV


@pytest.fixture(autouse=True)
def _musiccaps_present():
    require_data(CSV)


FAKE_SPACE = EmbeddingSpace(name="fake-text", dim=16, encoder="hash")


class FakeText(TextEncoder):
    """Deterministic stand-in for MiniLM: a vector seeded by the text's hash."""

    space = FAKE_SPACE

    def encode_texts(self, texts):
        return fake_encode(texts)


def fake_encode(texts):
    out = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        out.append(np.random.default_rng(seed).normal(size=16))
    out = np.array(out, dtype=np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_read_clips_parses_aspects_literally():
    clips = read_clips(CSV, limit=60)
    assert len(clips) == 60
    first = clips[0]
    assert first.ytid == "-0Gj8-vB1q4" and first.is_eval
    assert first.aspects[:2] == ("low quality", "sustained strings melody")
    assert {c.is_eval for c in clips} == {True, False}


def test_genre_mood_selection_and_steer_text():
    assert is_genre_or_mood("sad") and is_genre_or_mood("country feel") and is_genre_or_mood("r&b")
    assert not is_genre_or_mood("bass guitar") and not is_genre_or_mood("low quality")
    clip = read_clips(CSV, limit=1)[0]
    text, found = steer_text(clip)
    assert found and text == "mellow piano melody, sad, soulful, ballad"


def test_multi_hot_is_binary_and_uses_train_vocabulary():
    clips = read_clips(CSV, limit=60)
    vocab = build_vocabulary(clips, min_count=2)
    assert vocab == sorted(vocab) and "aspect:low quality" in vocab
    x = multi_hot(clips, vocab)
    assert x.shape == (60, len(vocab))
    assert set(np.unique(x)) <= {0.0, 1.0} and (x.sum(axis=1) >= 1).all()


def test_write_musiccaps_slice(tmp_path):
    paths = write_musiccaps(tmp_path, CSV, limit=60, val_fraction=0.2, text_encoder=FakeText())
    train, val, test = (load_pairs(paths[n], require_track_id=True) for n in ("train", "val", "test"))
    catalog = load_catalog(paths["catalog"])
    assert len(catalog) == 60 and len(train) + len(val) + len(test) == 60
    assert not set(train.track_id) & set(val.track_id)
    assert set(test.track_id) | set(train.track_id) | set(val.track_id) == set(catalog.ids)
    assert train.cond_space == test.cond_space and train.cond_space.name == "musiccaps-aspects"
    assert train.steer.shape == train.music.shape
    position = {t: i for i, t in enumerate(catalog.ids)}
    np.testing.assert_allclose(test.music, catalog.music[[position[t] for t in test.track_id]], atol=1e-6)
    assert "TEXT PROXY" in paths["meta"].read_text()
    with np.load(tmp_path / "text_cache.npz") as cache:  # a rebuild embeds nothing again
        assert len(cache["texts"]) == len(set(cache["texts"].tolist())) >= 60


def test_bad_csv_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a MusicCaps CSV"):
        read_clips(bad)
    with pytest.raises(FileNotFoundError):
        read_clips(tmp_path / "missing.csv")
