"""Encoders by name, loaded once per process.

=========  =====================================================  ==================================
name       what                                                   kinds
=========  =====================================================  ==================================
minilm     all-MiniLM-L6-v2, bundled; the offline text proxy        text, music (on descriptions)
palette    weight-free colour/light/texture descriptor, offline   image
clip       CLIP via transformers (default openai/clip-vit-b-32)   image, text
clap       LAION-CLAP via transformers (laion/larger_clap_music)  text, music (audio)
=========  =====================================================  ==================================

``get_image_encoder("clip", model="/models/clip")`` etc. Options are passed to the encoder's constructor
(``model``: a directory or repository id, ``models_dir``, ``device``, ``batch_size``, ...). The same name and
options give the same object (``lru_cache``), so a web process loads a model once, and the text and music encoders
of one CLAP model share its weights.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from prior.device import pick_device
from prior.encoders.base import (
    Encoder,
    EncoderError,
    ImageEncoder,
    ModelNotAvailableError,
    MusicEncoder,
    TextEncoder,
)

FAMILIES: dict[str, str] = {
    "minilm": "prior.encoders.minilm:MiniLMEncoder",
    "palette": "prior.encoders.palette:PaletteImageEncoder",
    "clip": "prior.encoders.clip:ClipEncoder",
    "clap": "prior.encoders.clap:ClapEncoder",
}
IMAGE_ENCODERS = ("palette", "clip")
TEXT_ENCODERS = ("minilm", "clip", "clap")
MUSIC_ENCODERS = ("minilm", "clap")

__all__ = [
    "Encoder",
    "EncoderError",
    "ImageEncoder",
    "ModelNotAvailableError",
    "MusicEncoder",
    "TextEncoder",
    "get_encoder",
    "get_image_encoder",
    "get_music_encoder",
    "get_text_encoder",
    "pick_device",
    "clear_cache",
]


def _freeze(opts: dict[str, Any]) -> tuple:
    try:
        frozen = tuple(sorted(opts.items()))
        hash(frozen)
    except TypeError:
        raise EncoderError("encoder options must be hashable values (str, int, float, bool, None)") from None
    return frozen


@lru_cache(maxsize=16)
def _load(name: str, frozen_opts: tuple) -> Encoder:
    import importlib

    module_name, _, class_name = FAMILIES[name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    try:
        return cls(**dict(frozen_opts))
    except TypeError as exc:
        raise EncoderError(f"bad options for encoder {name!r}: {exc}") from None


def get_encoder(name: str, **opts: Any) -> Encoder:
    """The encoder family ``name`` with ``opts``, loaded on first use and then cached for the process."""
    if name not in FAMILIES:
        raise EncoderError(f"unknown encoder {name!r}; known: {', '.join(FAMILIES)}")
    return _load(name, _freeze(opts))


def _get(kind: str, names: tuple[str, ...], name: str, opts: dict[str, Any]) -> Any:
    if name in FAMILIES and name not in names:
        article = "an" if kind[0] in "aeiou" else "a"
        raise EncoderError(f"{name!r} is not {article} {kind} encoder; {kind} encoders: {', '.join(names)}")
    return get_encoder(name, **opts)


def get_image_encoder(name: str = "palette", **opts: Any) -> ImageEncoder:
    """Image -> condition space. ``palette`` (offline stand-in) or ``clip``."""
    return _get("image", IMAGE_ENCODERS, name, opts)


def get_text_encoder(name: str = "minilm", **opts: Any) -> TextEncoder:
    """Text -> a space (for steering use the text encoder of the music space). ``minilm``, ``clip`` or ``clap``."""
    return _get("text", TEXT_ENCODERS, name, opts)


def get_music_encoder(name: str = "minilm", **opts: Any) -> MusicEncoder:
    """Music -> music space; also embeds text into that space. ``minilm`` (descriptions only) or ``clap`` (audio)."""
    return _get("music", MUSIC_ENCODERS, name, opts)


def clear_cache() -> None:
    """Forget loaded encoders (tests; reloading after new weights were fetched)."""
    _load.cache_clear()
