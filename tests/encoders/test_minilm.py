"""The offline text-proxy encoder: normalised, deterministic, and its similarities make sense on real MusicCaps rows."""

from __future__ import annotations

import numpy as np
import pytest

from prior.data.musiccaps import read_clips
from prior.encoders import EncoderError, get_music_encoder
from prior.spaces import MINILM
from tests.conftest import MUSICCAPS_CSV, require_data


@pytest.fixture(scope="module")
def clips():
    return read_clips(require_data(MUSICCAPS_CSV))


def with_aspect(clips, test) -> list:
    return [c for c in clips if test({a.lower() for a in c.aspects})]


def test_shape_space_normalised_deterministic(minilm):
    texts = ["sad piano ballad", "energetic techno", "", "x " * 300]  # empty and over-long texts are fine
    vectors = minilm.encode_texts(texts)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vectors, minilm.encode_texts(texts))
    singles = np.concatenate([minilm.encode_texts([t]) for t in texts])
    np.testing.assert_allclose(vectors, singles, atol=1e-5)
    assert minilm.space == MINILM and minilm.space.proxy
    assert minilm.encode_texts([]).shape == (0, 384)


def test_music_encoder_is_the_same_model_and_refuses_audio(minilm):
    music = get_music_encoder("minilm")
    assert music is minilm  # text and "music" sides share one model and one space
    assert music.accepts_audio is False
    with pytest.raises(EncoderError, match="text proxy"):
        music.encode_audio([np.zeros(100, np.float32)], 16_000)


def test_sad_piano_ballad_is_nearer_sad_ballads_than_heavy_metal(minilm, clips):
    sad = with_aspect(clips, lambda a: "sad" in a and any("ballad" in x or "piano" in x for x in a))
    metal = with_aspect(clips, lambda a: "heavy metal" in a or "metal" in a)[:30]
    assert len(sad) >= 10 and len(metal) >= 10, "expected real rows of both kinds in MusicCaps"
    query = minilm.encode_texts(["sad piano ballad"])[0]
    sad_sim = minilm.encode_texts([c.caption for c in sad]) @ query
    metal_sim = minilm.encode_texts([c.caption for c in metal]) @ query
    assert sad_sim.mean() > metal_sim.mean() + 0.1
    # as retrieval: the 10 captions nearest the query, among sad ballads and metal songs, are all sad ballads
    ranked = np.argsort(-np.concatenate([sad_sim, metal_sim]))[:10]
    assert (ranked < len(sad)).all()


def test_mood_and_genre_queries_find_their_rows(minilm, clips):
    calm = with_aspect(clips, lambda a: "calming" in a or "relaxing" in a or "meditative" in a)[:20]
    party = with_aspect(clips, lambda a: "edm" in a or "techno" in a or "club music" in a)[:20]
    captions = minilm.encode_texts([c.caption for c in calm + party])
    queries = minilm.encode_texts(["calm relaxing meditation music", "energetic electronic dance music for a club"])
    scores = captions @ queries.T  # [clips, 2]
    calm_hits = (scores[: len(calm), 0] > scores[: len(calm), 1]).mean()
    party_hits = (scores[len(calm) :, 1] > scores[len(calm) :, 0]).mean()
    assert calm_hits > 0.8 and party_hits > 0.8
