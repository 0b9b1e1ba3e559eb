"""Ingest tracks and their vectors into an embedding space: all-or-nothing, streaming, idempotent.

One service behind every way in (``manage.py ingest_tracks``/``ingest_musiccaps``/``ingest_jamendo``, the admin
import page, ``POST /api/tracks/``):

1. resolve the space (an unknown space is an error unless a dimension is given to create it);
2. stream the input once: each row is parsed and its vector checked and L2-normalised; good rows go to a temporary
   staging table by binary COPY, bad rows to the report — memory stays bounded whatever the file size;
3. find duplicate ids inside the input in the staging table;
4. if any row was bad and ``skip_invalid`` is off, roll back: nothing is written, and the report lists every bad row;
5. otherwise upsert tracks by (source, external_id) and their vectors, skipping unchanged rows, so ingesting the
   same input twice gives 0 created, 0 updated the second time.

Everything from step 2 runs in ONE transaction. Indexing: a new space gets its HNSW index after the bulk load (much
faster than inserting into a live graph); ``defer_index`` does the same for an existing space (drop, load, rebuild;
ANN queries on that space fall back to exact scans meanwhile).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction

from catalog.ingest import store
from catalog.ingest.embed import embed_audio, embed_metadata
from catalog.ingest.files import FileInvalid, TrackFile
from catalog.ingest.records import RowError, RowInvalid, TrackRecord, check_vector, parse_record
from catalog.models import EmbeddingSpace
from catalog.services.spaces import SpaceConflictError, ensure_space
from catalog.vector_index import build_index, drop_index, has_index, refresh_statistics
from core.errors import InvalidInput
from prior.encoders.base import EncoderError

Item = TrackRecord | RowError


class IngestError(InvalidInput):
    """The input cannot be ingested at all (unknown space, unreadable file, encoder problem): one-line message.

    ``code`` is a stable name for API clients (``unknown_space``, ``space_conflict``, ``invalid_file``, ...).
    """

    def __init__(self, message: str, code: str = "ingest_failed"):
        super().__init__(message, code=code)


class IngestRejected(IngestError):
    """Some rows are invalid and ``skip_invalid`` is off: nothing was written; ``report`` lists every bad row
    (also in ``details``, as the API shows them)."""

    def __init__(self, report: IngestReport):
        self.report = report
        message = f"{report.rejected} invalid row(s): nothing was imported (skip-invalid imports the rest)"
        InvalidInput.__init__(self, message, code="invalid_rows", details={
            "space": report.space, "rejected": report.rejected, "rows": [e.as_dict() for e in report.errors]})


@dataclass
class IngestReport:
    space: str
    row_label: str = "line"
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    written: bool = False

    @property
    def rejected(self) -> int:
        return len(self.errors)

    def summary(self) -> str:
        return (f"{self.space}: created {self.created}, updated {self.updated}, unchanged {self.unchanged}, "
                f"rejected {self.rejected}")

    def error_lines(self) -> list[str]:
        return [(f"{self.row_label} {e.row}: " if e.row is not None else "file: ") + e.reason for e in self.errors]

    def as_dict(self) -> dict[str, Any]:
        return {
            "space": self.space, "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
            "rejected": self.rejected, "written": self.written, "row_label": self.row_label,
            "rows": [e.as_dict() for e in self.errors],
        }


def _resolve_space(name: str, dimension: int | None, encoder: str, prior_space) -> tuple[EmbeddingSpace | None, bool]:
    """(existing space or None, whether it must be created); refuse an unknown space we cannot create."""
    if prior_space is not None:
        name = name or prior_space.name
        dimension = prior_space.dim
    existing = EmbeddingSpace.objects.filter(name=name).first()
    if existing is None:
        if dimension is None:
            known = ", ".join(EmbeddingSpace.objects.values_list("name", flat=True)) or "none"
            raise IngestError(
                f"unknown embedding space {name!r} (known: {known}); give its dimension to create it", "unknown_space"
            )
        try:
            EmbeddingSpace._meta.get_field("name").run_validators(name)
        except ValidationError as exc:
            raise IngestError(f"invalid space name {name!r}: {' '.join(exc.messages)}", "invalid_space") from None
        return None, True
    if dimension is not None and existing.dimension != int(dimension):
        raise IngestError(f"space {name!r} holds {existing.dimension}-d vectors, not {dimension}-d; "
                          "ingest into a new space name to re-embed the catalog", "space_conflict")
    if prior_space is not None and existing.version != prior_space.version:
        raise IngestError(f"space {name!r} was made by {existing.encoder} version {existing.version}; the encoder "
                          f"now gives version {prior_space.version}: use a new space name", "space_conflict")
    return existing, False


def ingest_records(
    items: Iterable[Item],
    *,
    space: str,
    dimension: int | None = None,
    encoder: str = "unknown",
    prior_space=None,
    skip_invalid: bool = False,
    defer_index: bool = False,
    row_label: str = "line",
    progress: Callable[[int], Any] | None = None,
) -> IngestReport:
    """Ingest parsed rows (see module docstring); raise :class:`IngestRejected` or :class:`IngestError` on bad input.

    ``prior_space`` (a :class:`prior.spaces.EmbeddingSpace`) names the space an encoder produced: the space is
    created from it if missing, and an existing one must have the same dimension and version.
    """
    existing, create = _resolve_space(space, dimension, encoder, prior_space)
    name = space or prior_space.name
    report = IngestReport(space=name, row_label=row_label)
    dropped = bool(defer_index and existing is not None and has_index(existing))
    if dropped:
        drop_index(existing)
    try:
        with transaction.atomic():
            target = existing or _create_space(name, dimension, encoder, prior_space)
            store.create_stage()
            store.copy_rows(_checked(items, target.dimension, report.errors, progress))
            duplicates = store.duplicate_rows()
            for row, external_id, first in duplicates:
                reason = f"duplicate external_id {external_id!r} (first at {row_label} {first})"
                report.errors.append(RowError(row, reason, external_id))
            report.errors.sort(key=lambda e: (e.row is not None, e.row or 0))
            if report.errors and not skip_invalid:
                raise IngestRejected(report)
            if duplicates:
                store.drop_staged([row for row, _, _ in duplicates])
            counts = store.upsert(target)
            # Also when an earlier --defer-index run was killed between dropping the index and rebuilding it
            # (the drop commits at once, so that reads go on during the load): this run puts it back.
            if create or dropped or not has_index(target):
                build_index(target)
    finally:
        if dropped and not has_index(existing):
            build_index(existing)  # a rejected load must not leave the space without its index
    report.created, report.updated, report.unchanged = counts.created, counts.updated, counts.unchanged
    if counts.created or counts.updated:
        refresh_statistics()
    report.written = True
    return report


def _create_space(name: str, dimension: int | None, encoder: str, prior_space) -> EmbeddingSpace:
    try:
        if prior_space is not None:
            return ensure_space(name, prior_space.dim, prior_space.encoder, prior_space.version,
                                is_proxy=prior_space.proxy, with_index=False)
        return ensure_space(name, int(dimension), encoder, with_index=False)
    except SpaceConflictError as exc:
        raise IngestError(str(exc), "space_conflict") from None
    except ValueError as exc:  # e.g. a dimension the index cannot hold
        raise IngestError(str(exc), "invalid_space") from None


def _checked(items: Iterable[Item], dimension: int, errors: list[RowError],
             progress: Callable[[int], Any] | None) -> Iterator[tuple[TrackRecord, np.ndarray]]:
    """Good records with their normalised vector; bad ones go to ``errors``."""
    for item in items:
        if progress is not None:
            progress(1)
        if isinstance(item, RowError):
            errors.append(item)
            continue
        try:
            yield item, check_vector(item.embedding, dimension)
        except RowInvalid as exc:
            errors.append(RowError(item.row, str(exc), item.external_id))


def _text_encoder_for(space: str, encoder=None) -> tuple[object | None, str]:
    """(the text encoder that embeds into ``space``, "") — by default settings.TEXT_ENCODER — or (None, why not)."""
    if encoder is None:
        from django.conf import settings

        from prior.encoders import get_text_encoder

        encoder = get_text_encoder(settings.TEXT_ENCODER)  # an EncoderError is a file-level error (ingest_file)
    if encoder.space.name != space:
        return None, f"the text encoder embeds into {encoder.space.name!r}, not {space!r}"
    return encoder, ""


def ingest_file(
    path: str | Path,
    *,
    space: str = "",
    fmt: str | None = None,
    source: str = "file",
    sidecar: str | Path | None = None,
    dimension: int | None = None,
    encoder: str = "unknown",
    skip_invalid: bool = False,
    defer_index: bool = False,
    audio_dir: str | Path | None = None,
    music_encoder=None,
    text_encoder=None,
    progress: Callable[[int], Any] | None = None,
) -> IngestReport:
    """Ingest a CSV/JSONL/Parquet file; with ``audio_dir``, vectors come from ``music_encoder`` on each row's audio.

    Without ``audio_dir``, a row that carries no vector is embedded from its text (``text``, else description, tags,
    title, artist) by ``text_encoder``, by default the configured ``TEXT_ENCODER`` (loaded only if a row needs it),
    which must embed into the target space: metadata-only catalogs import like any other.
    """
    try:
        track_file = TrackFile.open(path, fmt=fmt, default_source=source, sidecar=sidecar)
        items: Iterable[Item] = track_file
        prior_space = None
        if audio_dir is not None:
            if music_encoder is None:
                raise IngestError("audio ingest needs a music encoder")
            if int(getattr(music_encoder, "sample_rate", 0) or 0) <= 0:
                raise IngestError(
                    f"encoder: the {music_encoder.space.name} music encoder takes no audio (a text proxy); "
                    "use an audio encoder such as clap (MUSIC_ENCODER / --music-encoder)", "encoder_error"
                )
            if not Path(audio_dir).is_dir():
                raise IngestError(f"{audio_dir}: not a directory")
            prior_space = music_encoder.space
            items = embed_audio(items, music_encoder, audio_dir)
        else:
            items = embed_metadata(items, lambda: _text_encoder_for(space, text_encoder))
        return ingest_records(
            items, space=space, dimension=dimension, encoder=encoder, prior_space=prior_space,
            skip_invalid=skip_invalid, defer_index=defer_index, row_label=track_file.row_label, progress=progress,
        )
    except FileInvalid as exc:
        raise IngestError(str(exc), "invalid_file") from None
    except EncoderError as exc:
        raise IngestError(f"encoder: {exc}", "encoder_error") from None


def ingest_payload(space: str, tracks: list[dict[str, Any]], *, source: str = "api") -> IngestReport:
    """A REST batch: ``tracks[i]`` is reported as row ``i``; the whole batch is rejected if any row is bad."""
    def items() -> Iterator[Item]:
        for index, raw in enumerate(tracks):
            try:
                yield parse_record(raw, index, default_source=source)
            except RowInvalid as exc:
                external_id = raw.get("external_id") if isinstance(raw, dict) else None
                yield RowError(index, str(exc), str(external_id) if external_id else None)

    return ingest_records(items(), space=space, row_label="index")

