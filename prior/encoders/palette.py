"""``palette``: the offline, weight-free image encoder of the demo. It is NOT CLIP and understands no content.

What it measures (48 numbers, then L2-normalised): the colour, light and texture of the picture —
hue histogram weighted by chroma (what colours, and how colourful), saturation and brightness histograms, a 3x3
brightness layout, and scalars for mean brightness, contrast, saturation, warmth (R−B), tint (G vs magenta),
colourfulness (Hasler–Süsstrunk), edge density, gradient strength, fine texture (Laplacian energy), dark and
bright shares, the chroma-weighted mean hue, and sky-vs-ground brightness.

Why it exists: no CLIP weights can be downloaded where this project is built, yet the demo must turn a photo into a
playlist whose mood visibly follows the photo. Mood is what colour and light can carry (a dark, cold, smooth photo vs
a bright, warm, busy one), so the demo prior is trained on synthetic pairs that tie these descriptors to MusicCaps
moods (:mod:`prior.data.demo_pairs`). A beach and a red sports car with the same palette look alike to it.

Each feature is centred on a rough "typical photo" value so that cosine similarity separates opposite looks
(a dark cold image and a bright warm one have negative cosine) instead of every pair scoring near 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from prior.encoders.base import ImageEncoder, l2_rows
from prior.images import to_rgb
from prior.spaces import EmbeddingSpace

SIDE = 64  # images are resized to SIDE x SIDE first: fixed cost and a fixed scale for the texture features
HUE_BINS, SAT_BINS, VAL_BINS, GRID = 12, 4, 8, 3
DIM = HUE_BINS + SAT_BINS + VAL_BINS + GRID * GRID + 15

PALETTE_SPACE = EmbeddingSpace(name="palette-v1", dim=DIM, encoder="prior.encoders.palette", version="1", proxy=True)
"""Proxy: a colour/light/texture descriptor standing in for the CLIP condition space."""

FEATURE_NAMES: tuple[str, ...] = (
    *(f"hue_{i * 360 // HUE_BINS:03d}" for i in range(HUE_BINS)),
    *(f"saturation_bin_{i}" for i in range(SAT_BINS)),
    *(f"brightness_bin_{i}" for i in range(VAL_BINS)),
    *(f"layout_{r}{c}" for r in range(GRID) for c in range(GRID)),
    "brightness",
    "contrast",
    "saturation",
    "warmth",
    "tint",
    "colourfulness",
    "edge_density",
    "gradient",
    "dark_share",
    "bright_share",
    "hue_cos",
    "hue_sin",
    "fine_texture",
    "sky_minus_ground",
    "dominant_hue_share",
)
assert len(FEATURE_NAMES) == DIM


class PaletteImageEncoder(ImageEncoder):
    family = "palette"

    def __init__(self, device: str | None = None, batch_size: int = 64) -> None:
        self.device = "cpu"  # numpy only; a GPU would not help 128x128 histograms
        self.batch_size = int(batch_size)
        self.space: EmbeddingSpace = PALETTE_SPACE

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if len(images) == 0:
            return self._empty()
        return l2_rows(np.stack([describe(image) for image in images]))

    def explain(self, image: Image.Image) -> dict[str, float]:
        """The raw (centred, un-normalised) features by name: for the docs, debugging and the demo UI."""
        return dict(zip(FEATURE_NAMES, describe(image).tolist(), strict=True))


def describe(image: Image.Image) -> np.ndarray:
    """The 48 centred features of one image (before L2 normalisation)."""
    rgb = np.asarray(to_rgb(image).resize((SIDE, SIDE), Image.BILINEAR, reducing_gap=2.0), dtype=np.float32) / 255.0
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    cmax, cmin = rgb.max(axis=-1), rgb.min(axis=-1)
    chroma = cmax - cmin
    value = cmax
    saturation = np.where(cmax > 1e-6, chroma / np.maximum(cmax, 1e-6), 0.0)
    hue = _hue(r, g, b, cmax, chroma)  # [0, 1)
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    n = float(luma.size)

    hue_idx = np.minimum((hue * HUE_BINS).astype(int), HUE_BINS - 1)
    hue_hist = np.bincount(hue_idx.ravel(), weights=chroma.ravel(), minlength=HUE_BINS) / n
    sat_hist = _histogram(saturation, SAT_BINS) / n - 1.0 / SAT_BINS
    val_hist = _histogram(value, VAL_BINS) / n - 1.0 / VAL_BINS
    layout = _grid_means(luma) - 0.5

    gy, gx = np.gradient(luma)
    gradient = np.hypot(gx, gy)
    laplacian = np.abs(4 * luma[1:-1, 1:-1] - luma[:-2, 1:-1] - luma[2:, 1:-1] - luma[1:-1, :-2] - luma[1:-1, 2:])
    rg, yb = r - g, 0.5 * (r + g) - b
    colourfulness = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    angle = hue * 2 * np.pi
    chroma_sum = max(float(chroma.sum()), 1e-6)
    half = SIDE // 2

    scalars = np.array(
        [
            luma.mean() - 0.5,
            2.0 * luma.std() - 0.4,
            saturation.mean() - 0.35,
            2.0 * (r - b).mean(),
            2.0 * (g - 0.5 * (r + b)).mean(),
            2.0 * colourfulness - 0.5,
            4.0 * ((gradient > 0.08).mean() - 0.15),
            20.0 * gradient.mean() - 0.5,
            2.0 * (luma < 0.2).mean() - 0.3,
            2.0 * (luma > 0.8).mean() - 0.3,
            2.0 * float((chroma * np.cos(angle)).sum()) / n,
            2.0 * float((chroma * np.sin(angle)).sum()) / n,
            10.0 * laplacian.mean() - 0.5,
            2.0 * (luma[:half].mean() - luma[half:].mean()),
            hue_hist.max() * n / chroma_sum - 1.0 / HUE_BINS if chroma.sum() > 1e-3 else 0.0,
        ],
        dtype=np.float64,
    )
    features = np.concatenate([3.0 * hue_hist, sat_hist, 1.5 * val_hist, layout.ravel(), scalars])
    return features.astype(np.float32)


def _hue(r: np.ndarray, g: np.ndarray, b: np.ndarray, cmax: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    safe = np.maximum(chroma, 1e-6)
    hue = np.where(cmax == r, ((g - b) / safe) % 6.0, np.where(cmax == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0))
    return np.where(chroma > 1e-6, hue / 6.0, 0.0) % 1.0


def _histogram(x: np.ndarray, bins: int) -> np.ndarray:
    """Counts of values in [0, 1] over ``bins`` equal bins (np.histogram is several times slower here)."""
    return np.bincount(np.minimum((x * bins).astype(np.intp), bins - 1).ravel(), minlength=bins).astype(np.float64)


def _grid_means(luma: np.ndarray) -> np.ndarray:
    rows = np.array_split(np.arange(luma.shape[0]), GRID)
    cols = np.array_split(np.arange(luma.shape[1]), GRID)
    return np.array([[luma[np.ix_(rr, cc)].mean() for cc in cols] for rr in rows])
