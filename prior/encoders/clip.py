"""``clip``: the production image encoder (the prior's condition space), with its text tower, via transformers.

Why transformers' ``CLIPModel`` and not ``open_clip``: open_clip imports torchvision, and the torchvision wheels on
PyPI are built against the CUDA torch wheels of the same version; beside the CPU torch this project pins, importing
torchvision fails (``operator torchvision::nms does not exist``), so open_clip cannot load at all. transformers
loads the same OpenAI CLIP weights (``openai/clip-vit-base-patch32``) without it.

Preprocessing uses ``CLIPImageProcessorPil`` (PIL/numpy): the torchvision-based "fast" processor is unavailable
here, and pinning one implementation keeps embeddings identical between machines with and without torchvision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from prior.device import pick_device
from prior.encoders.base import ImageEncoder, TextEncoder, batches, l2_rows
from prior.encoders.hub import resolve_model_dir, unloadable, weights_fingerprint
from prior.images import to_rgb
from prior.spaces import EmbeddingSpace

if TYPE_CHECKING:
    import torch


def _pooled(output: Any) -> torch.Tensor:
    """transformers 5 returns a model output whose ``pooler_output`` holds the projected features; 4.x a tensor."""
    return output if hasattr(output, "dim") else output.pooler_output


class ClipEncoder(ImageEncoder, TextEncoder):
    family = "clip"

    def __init__(
        self,
        model: str | None = None,
        models_dir: str | None = None,
        device: str | None = None,
        batch_size: int = 32,
        local_files_only: bool = True,
    ) -> None:
        import torch
        from transformers import AutoTokenizer, CLIPModel
        from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

        directory, source = resolve_model_dir("clip", model, models_dir, local_files_only)
        self.device = str(pick_device(device))
        self.batch_size = int(batch_size)
        try:
            self.model = CLIPModel.from_pretrained(directory, dtype=torch.float32).to(self.device).eval()
            self.tokenizer = AutoTokenizer.from_pretrained(directory)
            self.image_processor = CLIPImageProcessorPil.from_pretrained(directory)
        except Exception as exc:  # corrupt or foreign files: one clear line, whatever the library raised
            raise unloadable(directory, "CLIP", exc) from None
        self.max_text_tokens = int(self.model.config.text_config.max_position_embeddings)
        self.space: EmbeddingSpace = EmbeddingSpace(
            name="clip",
            dim=int(self.model.config.projection_dim),
            encoder=source,
            version=weights_fingerprint(directory),
        )

    def encode_images(self, images: Sequence) -> np.ndarray:
        if len(images) == 0:
            return self._empty()
        import torch

        out = []
        with torch.inference_mode():
            for chunk in batches(list(images), self.batch_size):
                pixels = self.image_processor(images=[to_rgb(im) for im in chunk], return_tensors="pt")["pixel_values"]
                feats = _pooled(self.model.get_image_features(pixel_values=pixels.to(self.device)))
                out.append(feats.float().cpu().numpy())
        return l2_rows(np.concatenate(out))

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        texts = [str(t) for t in texts]
        if not texts:
            return self._empty()
        import torch

        out = []
        with torch.inference_mode():
            for chunk in batches(texts, self.batch_size):
                tokens = self.tokenizer(
                    list(chunk), padding=True, truncation=True, max_length=self.max_text_tokens, return_tensors="pt"
                )
                feats = _pooled(
                    self.model.get_text_features(
                        input_ids=tokens["input_ids"].to(self.device),
                        attention_mask=tokens["attention_mask"].to(self.device),
                    )
                )
                out.append(feats.float().cpu().numpy())
        return l2_rows(np.concatenate(out))
