"""``clap``: the production text <-> music space (LAION-CLAP via transformers ``ClapModel``), the public stand-in
for the paper's MuLan. One object is both the text encoder (steering tags) and the music encoder (catalog audio).

Audio handling, and why:
- every waveform is mono-mixed and resampled to the feature extractor's rate (48 kHz for the LAION checkpoints);
- CLAP sees a fixed span (``max_length_s``, 10 s). A track is cut into up to ``max_windows`` evenly spaced windows
  of that span (:func:`prior.encoders.audio.windows`), each is embedded and the mean is re-normalised. The feature
  extractor's own handling of long input picks *random* crops, so the same file would get a different vector on
  each ingest; windows keep it deterministic;
- the extractor also marks one random clip of a batch as "longer" when none is (a training-time trick for the
  fusion model); we pass the true flag (no window is longer than the span), so a clip's vector does not depend on
  which batch it happened to be in.

MuQ-MuLan (``OpenMuQ/MuQ-MuLan-large``) is not offered: the ``muq`` package needs torchaudio (whose newest wheel is
built for an older torch than the one pinned here), nnAudio, x_clip and librosa, so it does not install beside
this torch without pulling another one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from prior.device import pick_device
from prior.encoders.audio import AudioInputError, prepare, windows
from prior.encoders.base import EncoderError, MusicEncoder, batches, l2_rows
from prior.encoders.clip import _pooled
from prior.encoders.hub import resolve_model_dir, unloadable, weights_fingerprint
from prior.spaces import EmbeddingSpace


class ClapEncoder(MusicEncoder):
    family = "clap"

    def __init__(
        self,
        model: str | None = None,
        models_dir: str | None = None,
        device: str | None = None,
        batch_size: int = 16,
        max_windows: int = 3,
        local_files_only: bool = True,
    ) -> None:
        import torch
        from transformers import AutoTokenizer, ClapFeatureExtractor, ClapModel

        directory, source = resolve_model_dir("clap", model, models_dir, local_files_only)
        self.device = str(pick_device(device))
        self.batch_size = int(batch_size)
        self.max_windows = int(max_windows)
        try:
            self.model = ClapModel.from_pretrained(directory, dtype=torch.float32).to(self.device).eval()
            self.tokenizer = AutoTokenizer.from_pretrained(directory)
            self.feature_extractor = ClapFeatureExtractor.from_pretrained(directory)
        except Exception as exc:  # corrupt or foreign files: one clear line, whatever the library raised
            raise unloadable(directory, "CLAP", exc) from None
        self.sample_rate = int(self.feature_extractor.sampling_rate)
        self.window_samples = int(self.feature_extractor.nb_max_samples)
        positions = int(self.model.config.text_config.max_position_embeddings)
        self.max_text_tokens = min(int(self.tokenizer.model_max_length), positions - 2)  # RoBERTa offsets by 2
        self.space: EmbeddingSpace = EmbeddingSpace(
            name="clap",
            dim=int(self.model.config.projection_dim),
            encoder=source,
            version=weights_fingerprint(directory),
        )

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

    def encode_audio(self, waveforms: Sequence[np.ndarray], sample_rate: int) -> np.ndarray:
        if len(waveforms) == 0:
            return self._empty()
        clips: list[np.ndarray] = []
        owner: list[int] = []
        for index, waveform in enumerate(waveforms):
            try:
                signal = prepare(waveform, sample_rate, self.sample_rate)
            except AudioInputError as exc:
                raise EncoderError(f"waveform {index}: {exc}") from None
            for clip in windows(signal, self.window_samples, self.max_windows):
                clips.append(clip)
                owner.append(index)
        window_vectors = self._embed_clips(clips)
        owner_arr = np.asarray(owner)
        summed = np.zeros((len(waveforms), self.space.dim), dtype=np.float64)
        np.add.at(summed, owner_arr, window_vectors)
        return l2_rows(summed)

    def _embed_clips(self, clips: list[np.ndarray]) -> np.ndarray:
        """Each clip is at most one window long, so it is padded (never cropped) by the feature extractor."""
        import torch

        out = []
        with torch.inference_mode():
            for chunk in batches(clips, self.batch_size):
                features = self.feature_extractor(
                    [c.astype(np.float64) for c in chunk], sampling_rate=self.sample_rate, return_tensors="pt"
                )
                is_longer = torch.zeros((len(chunk), 1), dtype=torch.bool)
                feats = _pooled(
                    self.model.get_audio_features(
                        input_features=features["input_features"].to(self.device, torch.float32),
                        is_longer=is_longer.to(self.device),
                    )
                )
                out.append(l2_rows(feats.float().cpu().numpy()))
        return np.concatenate(out)
