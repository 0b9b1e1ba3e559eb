"""Ingest the real data sets into the offline text-proxy space (``minilm-l6-v2``, :data:`prior.spaces.MINILM`).

The readers give each track a description (MusicCaps caption, Jamendo tags as a sentence); the text encoder embeds
them in batches; the generic ingest service stores them (upsert, all-or-nothing, index after a first bulk load).
Numbers computed from this space are text-proxy numbers (docs/encoders.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from catalog.datasets import DatasetMissing
from catalog.datasets.jamendo import SPLITS, read_jamendo
from catalog.datasets.musiccaps import read_musiccaps
from catalog.ingest.embed import embed_texts
from catalog.services.ingest import IngestError, IngestReport, ingest_records
from prior.data.musiccaps import MusicCapsError
from prior.spaces import MINILM


def _text_encoder(encoder):
    if encoder is not None:
        return encoder
    from prior.encoders import get_text_encoder

    return get_text_encoder("minilm")


def _ingest(items, encoder, skip_invalid: bool, progress) -> IngestReport:
    encoder = _text_encoder(encoder)
    if encoder.space.name != MINILM.name:
        raise IngestError(f"the offline catalog space is {MINILM.name}; got an encoder for {encoder.space.name}")
    return ingest_records(
        embed_texts(items, encoder), space=MINILM.name, prior_space=encoder.space,
        skip_invalid=skip_invalid, row_label="line", progress=progress,
    )


def ingest_musiccaps(
    *, limit: int | None = None, split: str | None = None, encoder=None, skip_invalid: bool = False,
    progress: Callable[[int], Any] | None = None,
) -> IngestReport:
    """MusicCaps clips (all, or the ``train``/``test`` split) with MiniLM(caption) vectors."""
    try:
        return _ingest(read_musiccaps(limit=limit, split=split), encoder, skip_invalid, progress)
    except (DatasetMissing, MusicCapsError) as exc:  # no file, or a file without MusicCaps' columns
        raise IngestError(str(exc)) from None


def ingest_jamendo(
    *, split: str = "train", limit: int | None = None, encoder=None, skip_invalid: bool = False,
    progress: Callable[[int], Any] | None = None,
) -> IngestReport:
    """One MTG-Jamendo split with MiniLM(tags as text) vectors."""
    if split not in SPLITS:
        raise IngestError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    try:
        return _ingest(read_jamendo(split=split, limit=limit), encoder, skip_invalid, progress)
    except DatasetMissing as exc:
        raise IngestError(str(exc)) from None
