"""Tiny randomly-initialised CLIP and CLAP models of the real classes, saved like a downloaded checkpoint.

No weights can be downloaded here, so the production loading path (directory -> from_pretrained -> processor ->
features) is tested on models that are the same classes with a few thousand parameters. Their tokenizers are
byte-level BPEs with no merges (one token per byte), written offline.
"""

from __future__ import annotations

import numpy as np
import pytest


def byte_chars() -> list[str]:
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return list(bytes_to_unicode().values())


# The text tower both tiny models share: a 2-layer, 32-wide transformer (random weights; shapes, not quality).
TINY_TEXT = dict(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37, max_position_embeddings=64
)


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory):
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor, CLIPTokenizer
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    torch.manual_seed(0)
    chars = byte_chars()
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    vocab.update({c: i + 2 for i, c in enumerate(chars)})
    vocab.update({c + "</w>": i + 2 + len(chars) for i, c in enumerate(chars)})
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=64)
    config = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), **TINY_TEXT, bos_token_id=0, eos_token_id=1, pad_token_id=1),
        vision_config=dict(
            image_size=32,
            patch_size=8,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=37,
        ),
        projection_dim=16,
    )
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    path = tmp_path_factory.mktemp("tiny-clip")
    CLIPModel(config).save_pretrained(path)
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    image_processor.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_clap_dir(tmp_path_factory):
    import torch
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor, RobertaTokenizer

    torch.manual_seed(0)
    chars = byte_chars()
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    vocab.update({c: i + 4 for i, c in enumerate(chars)})
    vocab["<mask>"] = len(vocab)
    tokenizer = RobertaTokenizer(vocab=vocab, merges=[], model_max_length=62)
    config = ClapConfig(
        text_config=dict(
            vocab_size=len(vocab), **TINY_TEXT, pad_token_id=1, bos_token_id=0, eos_token_id=2, projection_dim=16
        ),
        audio_config=dict(
            spec_size=64,
            num_mel_bins=16,
            window_size=4,
            patch_size=2,
            patch_stride=2,
            hidden_size=32,
            patch_embeds_hidden_size=16,
            depths=[1, 1],
            num_attention_heads=[2, 2],
            num_hidden_layers=2,
            intermediate_size=37,
            enable_fusion=True,  # as laion/larger_clap_music
            projection_dim=16,
        ),
        projection_dim=16,
    )
    # 48 kHz like the real checkpoints; 2 s windows so a window is 201 frames (the tiny model takes <= 256)
    extractor = ClapFeatureExtractor(
        feature_size=16, sampling_rate=48_000, hop_length=480, max_length_s=2, truncation="fusion"
    )
    path = tmp_path_factory.mktemp("tiny-clap")
    ClapModel(config).save_pretrained(path)
    ClapProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(path)
    extractor.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def minilm():
    """One MiniLM for the whole session (it takes seconds to load), through the registry like the app."""
    from prior.encoders import get_text_encoder

    return get_text_encoder("minilm")


def sine(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
