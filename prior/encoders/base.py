"""The three encoder interfaces the rest of the system codes against.

- :class:`ImageEncoder`: PIL images -> the condition space of the prior (CLIP in production).
- :class:`TextEncoder`: strings -> a space (steering tags, track descriptions).
- :class:`MusicEncoder`: audio waveforms -> the music space; it is also a :class:`TextEncoder` of the *same* space,
  because text steering (docs/steering.md) needs text and music vectors that can be compared.

Every output is a float32 ``[n, dim]`` numpy array with L2-normalised rows, and every encoder carries the
:class:`~prior.spaces.EmbeddingSpace` its vectors live in, so checkpoints and catalogs can refuse vectors from
another model. Encoders batch internally (callers pass whole lists), run under ``torch.inference_mode`` and pick
CUDA when present (:func:`prior.device.pick_device`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import TypeVar

import numpy as np

from prior.spaces import EmbeddingSpace

T = TypeVar("T")


class EncoderError(RuntimeError):
    """An encoder cannot do what was asked (unknown name, input it does not take); the message says what to do."""


class ModelNotAvailableError(EncoderError):
    """Weights are not on this machine; the message names the command that fetches them."""


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items (bounded memory whatever the caller passes)."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def l2_rows(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows scaled to unit length, float32 (cosine similarity becomes a dot product)."""
    x = np.asarray(x, dtype=np.float32)
    return (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)).astype(np.float32, copy=False)


class Encoder(ABC):
    """Common part: the space, the device and the batch size."""

    #: registry name of the family ("minilm", "palette", "clip", "clap")
    family: str = ""
    space: EmbeddingSpace
    device: str = "cpu"
    batch_size: int = 32

    @property
    def dim(self) -> int:
        return self.space.dim

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.space.dim), dtype=np.float32)

    def __repr__(self) -> str:
        proxy = ", proxy" if self.space.proxy else ""
        return f"<{type(self).__name__} {self.space.name} dim={self.space.dim} on {self.device}{proxy}>"


class ImageEncoder(Encoder):
    @abstractmethod
    def encode_images(self, images: Sequence) -> np.ndarray:
        """RGB ``PIL.Image`` list (uploads: :func:`prior.images.load_image`) -> float32 ``[n, dim]``, unit rows."""


class TextEncoder(Encoder):
    @abstractmethod
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Strings -> float32 ``[n, dim]``, unit rows."""


class MusicEncoder(TextEncoder):
    #: the rate the model expects; :meth:`encode_audio` resamples anything else to it
    sample_rate: int = 48_000
    #: False for text-proxy music encoders (``minilm``): audio ingest should refuse them up front
    accepts_audio: bool = True

    @abstractmethod
    def encode_audio(self, waveforms: Sequence[np.ndarray], sample_rate: int) -> np.ndarray:
        """Mono or ``[samples, channels]`` waveforms at ``sample_rate`` Hz -> float32 ``[n, dim]``, unit rows."""
