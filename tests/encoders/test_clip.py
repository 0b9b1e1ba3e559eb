"""The production CLIP encoder through its real loading path, on a tiny random CLIPModel saved to disk."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from prior.encoders import EncoderError, ModelNotAvailableError, get_image_encoder, get_text_encoder
from prior.encoders.clip import ClipEncoder


def pictures() -> list[Image.Image]:
    rng = np.random.default_rng(1)
    return [
        Image.new("RGB", (64, 48), (200, 40, 20)),
        Image.new("RGB", (30, 90), (10, 20, 120)),
        Image.fromarray(rng.integers(0, 255, (50, 50, 3), dtype=np.uint8)),
        Image.new("RGBA", (40, 40), (0, 255, 0, 128)),  # any mode is accepted (converted to RGB)
    ]


def test_images_load_by_path_and_embed(tiny_clip_dir):
    encoder = get_image_encoder("clip", model=str(tiny_clip_dir), device="cpu", batch_size=3)
    assert isinstance(encoder, ClipEncoder)
    vectors = encoder.encode_images(pictures())
    assert vectors.shape == (4, 16) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.space.name == "clip" and encoder.space.dim == 16 and not encoder.space.proxy
    assert encoder.space.version.startswith("sha256:")
    assert encoder.encode_images([]).shape == (0, 16)


def test_images_deterministic_and_batch_independent(tiny_clip_dir):
    encoder = ClipEncoder(model=str(tiny_clip_dir), device="cpu", batch_size=2)
    images = pictures()
    batched = encoder.encode_images(images)
    again = encoder.encode_images(images)
    singles = np.concatenate([encoder.encode_images([im]) for im in images])
    np.testing.assert_array_equal(batched, again)
    np.testing.assert_allclose(batched, singles, atol=1e-5)
    assert batched[0] @ batched[1] < 0.9999  # different pictures, different vectors


def test_text_tower_same_space(tiny_clip_dir):
    encoder = get_text_encoder("clip", model=str(tiny_clip_dir), device="cpu")
    assert encoder is get_image_encoder("clip", model=str(tiny_clip_dir), device="cpu")  # cached, one model
    texts = ["a sad piano ballad", "heavy metal", "x " * 200]  # the last one is truncated, not an error
    vectors = encoder.encode_texts(texts)
    assert vectors.shape == (3, 16)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    singles = np.concatenate([encoder.encode_texts([t]) for t in texts])
    np.testing.assert_allclose(vectors, singles, atol=1e-5)


def test_same_weights_same_space_wherever_loaded(tiny_clip_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_clip_dir, copy)
    a = ClipEncoder(model=str(tiny_clip_dir), device="cpu").space
    b = ClipEncoder(model=str(copy), device="cpu").space
    a.check_matches(b)
    assert a.encoder != b.encoder  # the source is recorded, but does not decide the match


def test_missing_directory_and_uncached_repo_fail_clearly(tmp_path, monkeypatch):
    with pytest.raises(ModelNotAvailableError, match="does not exist"):
        ClipEncoder(model=str(tmp_path / "nope"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("PRIOR_MODELS_DIR", raising=False)
    with pytest.raises(ModelNotAvailableError, match="fetch-models clip"):
        ClipEncoder()


def test_models_dir_is_searched(tiny_clip_dir, tmp_path, monkeypatch):
    import shutil

    shutil.copytree(tiny_clip_dir, tmp_path / "clip")
    monkeypatch.setenv("PRIOR_MODELS_DIR", str(tmp_path))
    assert ClipEncoder(device="cpu").space.dim == 16


def test_not_a_model_directory(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(EncoderError):
        ClipEncoder(model=str(tmp_path))


def test_wrong_kind_and_unknown_names():
    with pytest.raises(EncoderError, match="not an image encoder"):
        get_image_encoder("minilm")
    with pytest.raises(EncoderError, match="unknown encoder"):
        get_image_encoder("dalle")


def test_found_by_repository_id_in_the_hf_cache(tiny_clip_dir, tmp_path):
    """The production default path: a repository id resolved from the Hugging Face cache, offline."""
    import shutil
    import subprocess
    import sys

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf" / "hub" / "models--tiny-owner--tiny-clip"
    shutil.copytree(tiny_clip_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    script = (
        "from prior.encoders import get_image_encoder; from PIL import Image; "
        "e = get_image_encoder('clip', model='tiny-owner/tiny-clip', device='cpu'); "
        "print(e.space.encoder, e.encode_images([Image.new('RGB', (9, 9))]).shape)"
    )
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("tiny-owner/tiny-clip (1, 16)")
