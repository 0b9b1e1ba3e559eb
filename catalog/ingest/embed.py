"""Pipeline stages that give records without an embedding one, from their text or their audio, in batches.

Both stages keep the stream's order and bound its memory: they hold back at most ``batch_size`` records waiting for
the encoder (plus the rows between them), encode them in one call, and pass everything on. A record whose audio
cannot be read becomes a :class:`RowError`, like any other bad row. Encoders come from :mod:`prior.encoders`
(loaded by the caller, so tests can share one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from catalog.ingest.records import RowError, TrackRecord

Item = TrackRecord | RowError
TEXT_CACHE_SIZE = 50_000  # Jamendo tag texts repeat a lot: embed each distinct text once


def _batched(
    items: Iterable[Item], wants: Callable[[TrackRecord], bool], batch_size: int,
    work: Callable[[list[TrackRecord]], dict[int, str]],
) -> Iterator[Item]:
    """Hold items until ``batch_size`` records want work; ``work`` fills them and returns {id(record): error}."""
    held: list[Item] = []
    pending: list[TrackRecord] = []

    def flush() -> Iterator[Item]:
        failed = work(pending) if pending else {}
        for item in held:
            if isinstance(item, TrackRecord) and id(item) in failed:
                yield RowError(item.row, failed[id(item)], item.external_id)
            else:
                yield item
        held.clear()
        pending.clear()

    for item in items:
        held.append(item)
        if isinstance(item, TrackRecord) and item.embedding is None and wants(item):
            pending.append(item)
            if len(pending) >= batch_size:
                yield from flush()
        elif not pending:
            yield from flush()
    yield from flush()


def embed_texts(items: Iterable[Item], encoder, batch_size: int = 256) -> Iterator[Item]:
    """Records with ``text`` and no embedding get ``encoder.encode_texts(text)``; identical texts are encoded once."""
    cache: dict[str, np.ndarray] = {}

    def work(records: list[TrackRecord]) -> dict[int, str]:
        todo = list(dict.fromkeys(r.text for r in records if r.text not in cache))
        if todo:
            if len(cache) + len(todo) > TEXT_CACHE_SIZE:
                cache.clear()
            cache.update(zip(todo, encoder.encode_texts(todo), strict=True))
        for record in records:
            record.embedding = cache[record.text]
        return {}

    return _batched(items, lambda r: bool(r.text), batch_size, work)


def metadata_text(record: TrackRecord) -> str:
    """The text a record without a vector is embedded from: its ``text`` column, else its description, tags,
    title and artist in one line ("calm piano ballad. piano, calm. Night Song by Ann Lee")."""
    if record.text:
        return record.text
    description = record.metadata.get("description")
    parts = [description.strip() if isinstance(description, str) else "", ", ".join(record.tags)]
    if record.title or record.artist:
        parts.append(" by ".join(p for p in (record.title, record.artist) if p))
    return ". ".join(p for p in parts if p)


def embed_metadata(items: Iterable[Item], encoder_for: Callable[[], tuple[object | None, str]],
                   batch_size: int = 256) -> Iterator[Item]:
    """Records without a vector get the text encoder's vector of :func:`metadata_text`.

    ``encoder_for()`` is called at the first record that needs it (a file whose rows all carry vectors never loads
    a model) and gives the encoder, or None and the reason it cannot embed into the target space; then, like a
    record with nothing to embed, each such record becomes a :class:`RowError` in the usual report.
    """
    resolved: list[tuple[object | None, str]] = []

    def encoder() -> tuple[object | None, str]:
        if not resolved:
            resolved.append(encoder_for())
        return resolved[0]

    def described(stream: Iterable[Item]) -> Iterator[Item]:
        for item in stream:
            if isinstance(item, TrackRecord) and item.embedding is None:
                item.text = metadata_text(item)
                if not item.text:
                    item = RowError(item.row, "missing embedding, and no title, artist, tags, description or text "
                                              "to embed", item.external_id)
                elif encoder()[0] is None:
                    item = RowError(item.row, f"missing embedding ({encoder()[1]})", item.external_id)
            yield item

    class Deferred:  # embed_texts calls it only once some record waits for a vector
        def encode_texts(self, texts: list[str]) -> np.ndarray:
            return encoder()[0].encode_texts(texts)

    return embed_texts(described(items), Deferred(), batch_size)


def audio_path(record: TrackRecord, audio_dir: Path) -> Path:
    """The record's audio file: its ``audio`` column, else ``<external_id>.wav``; never outside ``audio_dir``."""
    name = record.audio or f"{record.external_id}.wav"
    root = audio_dir.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"audio path {name!r} points outside the audio directory")
    return path


def embed_audio(items: Iterable[Item], encoder, audio_dir: str | Path, batch_size: int = 8) -> Iterator[Item]:
    """Records without an embedding get ``encoder.encode_audio`` of their audio file, resampled to its rate."""
    from prior.encoders.audio import AudioInputError, load_audio, resample

    root = Path(audio_dir)

    def work(records: list[TrackRecord]) -> dict[int, str]:
        failed: dict[int, str] = {}
        ready: list[tuple[TrackRecord, np.ndarray]] = []
        for record in records:
            try:
                path = audio_path(record, root)
                if not path.is_file():
                    raise AudioInputError(f"audio file {path.name} not found in {root}")
                waveform, rate = load_audio(path)
                ready.append((record, resample(waveform, rate, encoder.sample_rate)))
            except (AudioInputError, ValueError) as exc:
                failed[id(record)] = str(exc)
        if ready:
            vectors = encoder.encode_audio([w for _, w in ready], encoder.sample_rate)
            for (record, _), vector in zip(ready, vectors, strict=True):
                record.embedding = vector
        return failed

    return _batched(items, lambda r: True, batch_size, work)
