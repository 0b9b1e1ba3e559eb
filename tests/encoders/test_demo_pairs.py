"""Synthetic image–music pairs for the demo prior: moods from real MusicCaps aspects, pictures that follow them."""

from __future__ import annotations

import csv
import json
import zlib

import numpy as np
import pytest

from prior.data.demo_pairs import Mood, build_demo_pairs, mood_from_aspects, render_mood_image
from prior.data.npz import load_catalog, load_pairs
from prior.encoders.base import TextEncoder
from prior.encoders.palette import PALETTE_SPACE, PaletteImageEncoder
from prior.spaces import MINILM, EmbeddingSpace
from tests.conftest import MUSICCAPS_CSV, require_data


class HashText(TextEncoder):
    """A cheap deterministic stand-in text encoder, where a test is about the pictures, not the captions."""

    space = EmbeddingSpace(name="hash-text", dim=8, encoder="tests")

    def encode_texts(self, texts):
        rows = [np.random.default_rng(zlib.crc32(t.encode())).standard_normal(8) for t in texts]
        return (np.stack(rows) / np.linalg.norm(np.stack(rows), axis=1, keepdims=True)).astype(np.float32)


def test_mood_from_aspects():
    sad = mood_from_aspects(["low quality", "sad", "soulful", "ballad", "slow tempo"])
    happy = mood_from_aspects(["happy", "upbeat", "energetic", "fast tempo"])
    assert sad.valence < -0.5 and sad.energy < -0.3 and sad.label() == "sad/calm"
    assert happy.valence > 0.5 and happy.energy > 0.5 and happy.label() == "happy/energetic"
    assert mood_from_aspects(["acoustic guitar", "male voice"]) == Mood(0.0, 0.0)
    assert mood_from_aspects(["happy mood"]).valence > 0.5  # phrases inside an aspect count
    assert mood_from_aspects(["piano"], caption="A sad, slow song.").valence == pytest.approx(-0.5)  # half weight
    assert mood_from_aspects(["heavy metal"]).energy == 1.0  # the longer phrase wins over "metal"/"heavy"


def test_pictures_follow_the_mood():
    encoder = PaletteImageEncoder()
    rng = np.random.default_rng(0)
    sad_calm = [render_mood_image(Mood(-0.9, -0.7), rng) for _ in range(12)]
    happy_energetic = [render_mood_image(Mood(0.9, 0.8), rng) for _ in range(12)]
    explain = lambda images, key: np.mean([encoder.explain(im)[key] for im in images])  # noqa: E731
    assert explain(sad_calm, "brightness") < explain(happy_energetic, "brightness") - 0.3
    assert explain(sad_calm, "warmth") < explain(happy_energetic, "warmth")
    assert explain(sad_calm, "edge_density") < explain(happy_energetic, "edge_density")
    a, b = encoder.encode_images(sad_calm), encoder.encode_images(happy_energetic)
    assert (a @ a.T).mean() > 0.5 and (b @ b.T).mean() > 0.5 and (a @ b.T).mean() < 0.1
    # randomness: no two pictures of one mood are the same
    assert len({im.tobytes() for im in sad_calm}) == len(sad_calm)


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    """Real MusicCaps rows: 'sad' and 'happy' clips from both sides of the official split."""
    with open(require_data(MUSICCAPS_CSV), newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    picked = []
    for word in ("sad", "happy"):
        for split in ("True", "False"):
            match = [r for r in rows if r["is_audioset_eval"] == split and f"'{word}'" in r["aspect_list"]]
            picked += match[:8]
    path = tmp_path_factory.mktemp("musiccaps") / "small.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(picked)
    return path, picked


def test_build_writes_the_npz_contract(small_csv, tmp_path, minilm):
    path, rows = small_csv
    summary = build_demo_pairs(path, tmp_path, images_per_clip=3, seed=7, text_encoder=minilm)
    train, test = load_pairs(summary.train), load_pairs(summary.test, require_track_id=True)
    catalog = load_catalog(summary.catalog)
    n_train_clips = sum(r["is_audioset_eval"] == "False" for r in rows)
    assert len(train) == 3 * n_train_clips and len(test) == len(rows) - n_train_clips
    assert train.cond_space == PALETTE_SPACE and train.music_space == MINILM and test.cond_space == PALETTE_SPACE
    assert catalog.music_space == MINILM and len(catalog) == len(rows)
    assert set(test.track_id) <= set(catalog.ids)
    assert train.steer is not None and train.steer.shape == train.music.shape
    # test music vectors are exactly the catalog vectors of their tracks
    index = {tid: i for i, tid in enumerate(catalog.ids)}
    np.testing.assert_allclose(test.music, catalog.music[[index[t] for t in test.track_id]], atol=1e-6)
    manifest = json.loads(summary.manifest.read_text())
    assert manifest["synthetic"] is True and "CC BY-SA 4.0" in manifest["attribution"]
    # deterministic for a seed
    again = build_demo_pairs(path, tmp_path / "again", images_per_clip=3, seed=7, text_encoder=HashText())
    np.testing.assert_array_equal(load_pairs(again.train).cond, train.cond)


def test_sad_clips_pictures_differ_from_happy_ones(small_csv, tmp_path):
    path, rows = small_csv
    summary = build_demo_pairs(path, tmp_path, images_per_clip=2, seed=0, text_encoder=HashText())
    test = load_pairs(summary.test, require_track_id=True)
    sad_ids = {r["ytid"] for r in rows if "'sad'" in r["aspect_list"] and "'happy'" not in r["aspect_list"]}
    happy_ids = {r["ytid"] for r in rows if "'happy'" in r["aspect_list"] and "'sad'" not in r["aspect_list"]}
    sad = test.cond[[t in sad_ids for t in test.track_id]]
    happy = test.cond[[t in happy_ids for t in test.track_id]]
    assert len(sad) >= 4 and len(happy) >= 4
    centre_sad, centre_happy = sad.mean(axis=0), happy.mean(axis=0)
    # nearest-centroid: each picture is nearer its own mood's centre
    own = np.concatenate([sad @ centre_sad > sad @ centre_happy, happy @ centre_happy > happy @ centre_sad])
    assert own.mean() >= 0.8
    brightness = PaletteImageEncoder().space.dim - 15  # index of the "brightness" feature
    assert sad[:, brightness].mean() < happy[:, brightness].mean()
