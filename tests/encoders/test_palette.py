"""The offline palette image encoder: honest colour/light/texture features that behave visibly."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from prior.encoders import EncoderError, get_image_encoder
from prior.encoders.palette import DIM, FEATURE_NAMES, PaletteImageEncoder


def photo(sky, ground, rng, stripes: int = 0, noise: float = 4.0) -> Image.Image:
    """A crude 'landscape': sky colour above, ground below, optional stripes (texture) and grain."""
    image = Image.new("RGB", (160, 120), sky)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 70, 160, 120), fill=ground)
    for i in range(stripes):
        draw.line((i * 9, 0, i * 9 + 40, 120), fill=(255 - sky[0], 255 - sky[1], 255 - sky[2]), width=2)
    pixels = np.asarray(image, np.float32) + rng.normal(0, noise, (120, 160, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def test_shape_normalised_deterministic():
    encoder = get_image_encoder("palette")
    assert isinstance(encoder, PaletteImageEncoder) and encoder.space.dim == DIM == len(FEATURE_NAMES)
    assert 32 <= DIM <= 64 and encoder.space.proxy
    rng = np.random.default_rng(0)
    images = [photo((20, 30, 70), (10, 10, 30), rng), Image.new("L", (10, 10), 128), Image.new("RGBA", (7, 300))]
    vectors = encoder.encode_images(images)
    assert vectors.shape == (3, DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vectors, encoder.encode_images(images))
    np.testing.assert_allclose(vectors[:1], encoder.encode_images(images[:1]), atol=1e-6)
    assert encoder.encode_images([]).shape == (0, DIM)


def test_dark_cold_and_bright_warm_are_clearly_different():
    encoder = PaletteImageEncoder()
    rng = np.random.default_rng(1)
    dark_cold = [photo((15, 25, 60), (5, 10, 25), rng) for _ in range(3)]  # night, deep blue
    bright_warm = [photo((255, 200, 120), (230, 140, 40), rng) for _ in range(3)]  # sunset, orange
    d, b = encoder.encode_images(dark_cold), encoder.encode_images(bright_warm)
    assert (d @ d.T).min() > 0.9 and (b @ b.T).min() > 0.9  # same look, same descriptor
    assert (d @ b.T).max() < 0.2  # opposite looks: far apart
    dark, bright = encoder.explain(dark_cold[0]), encoder.explain(bright_warm[0])
    assert dark["brightness"] < -0.25 < 0.15 < bright["brightness"]
    assert dark["warmth"] < 0 < bright["warmth"]
    assert dark["dark_share"] > bright["dark_share"]


def test_texture_is_measured():
    encoder = PaletteImageEncoder()
    rng = np.random.default_rng(2)
    smooth = encoder.explain(photo((90, 120, 90), (60, 90, 60), rng, stripes=0, noise=1))
    busy = encoder.explain(photo((90, 120, 90), (60, 90, 60), rng, stripes=18, noise=25))
    assert busy["edge_density"] > smooth["edge_density"] + 0.2
    assert busy["fine_texture"] > smooth["fine_texture"]


def test_grey_has_no_hue_and_greys_differ_by_brightness_only():
    encoder = PaletteImageEncoder()
    grey = encoder.explain(Image.new("RGB", (50, 50), (128, 128, 128)))
    assert all(abs(grey[f"hue_{i * 30:03d}"]) < 1e-6 for i in range(12))
    assert abs(grey["warmth"]) < 1e-6 and abs(grey["saturation"] + 0.35) < 1e-6


def test_registry_option_errors():
    with pytest.raises(EncoderError, match="bad options"):
        get_image_encoder("palette", colour_space="lab")
    with pytest.raises(EncoderError, match="hashable"):
        get_image_encoder("palette", device=["cpu"])
    assert get_image_encoder("palette") is get_image_encoder("palette")
