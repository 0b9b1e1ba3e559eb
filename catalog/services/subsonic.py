"""Fill the catalog from a Subsonic-API music server (Navidrome, Gonic, Airsonic, Supysonic, ...).

The library is walked artists -> albums -> songs (:meth:`catalog.subsonic.SubsonicClient.walk_songs`, one request
per album) and streamed through the generic ingest service (:func:`catalog.services.ingest.ingest_records`), so a
Subsonic import gets what every import gets: one transaction, upserts keyed by (source, song id) that skip unchanged
rows (a re-run is 0 created, 0 updated), the index built after a first bulk load.

What is embedded, and how:
- ``audio``: each song's audio from the ``stream`` endpoint through the configured music encoder (``MUSIC_ENCODER``)
  — only when that encoder takes audio and has weights (CLAP with a local checkpoint);
- ``text``: otherwise, the song's metadata as one sentence ("rock music: Artist - Title, from Album (1999)") through
  the text encoder, in the text space the offline catalog uses (a TEXT PROXY, like every number of the demo).

Songs the server no longer lists are deleted from the catalog, but only after a complete walk: a server that goes
away mid-walk rolls the whole import back (nothing written, nothing deleted) with a one-line error.
"""

from __future__ import annotations

import tempfile
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection, transaction

from catalog.ingest.embed import embed_audio, embed_texts
from catalog.ingest.records import MAX_LENGTHS, MAX_TAG_LENGTH, RowError, TrackRecord
from catalog.services.ingest import IngestError, IngestReport, ingest_records
from catalog.subsonic import SubsonicAuthError, SubsonicClient, SubsonicError, SubsonicUnreachable

Item = TrackRecord | RowError
EMBED_MODES = ("auto", "audio", "text")


@dataclass
class SubsonicReport:
    """The ingest report plus what only a server walk knows: songs seen, tracks removed, how vectors were made."""

    report: IngestReport
    source: str
    songs: int
    removed: int
    embedding: str  # "audio through <encoder>" or "metadata text through <encoder>"

    def summary(self) -> str:
        return f"{self.report.summary()}, removed {self.removed} ({self.songs} songs on the server, {self.source})"


def default_source(url: str) -> str:
    """The catalog ``source`` of a server's songs, ``subsonic:<host[:port]>``: stable across runs, so re-runs upsert."""
    netloc = urllib.parse.urlsplit(url).netloc.rsplit("@", 1)[-1]
    return f"subsonic:{netloc}"[: MAX_LENGTHS["source"]]


def describe(song: dict[str, Any]) -> str:
    """The song's metadata as one sentence for the text encoder (genre first: it carries most of the sound)."""
    genre = str(song.get("genre") or "").strip()
    text = f"{genre} music: " if genre else "music: "
    text += " - ".join(part for part in (str(song.get("artist") or ""), str(song.get("title") or "")) if part)
    if song.get("album"):
        text += f", from {song['album']}"
    if song.get("year"):
        text += f" ({song['year']})"
    return text


def _clip(value: Any, field: str) -> str:
    return str(value or "").strip()[: MAX_LENGTHS[field]]


def song_record(song: dict[str, Any], row: int, source: str, server: str) -> TrackRecord:
    """One ``child`` entry of ``getAlbum`` as a catalog record (text set for the text encoder)."""
    genre = _clip(song.get("genre"), "genre")
    year = song.get("year")
    duration = song.get("duration")
    return TrackRecord(
        row=row,
        source=source,
        external_id=str(song["id"]),
        title=_clip(song.get("title"), "title"),
        artist=_clip(song.get("artist"), "artist"),
        album=_clip(song.get("album"), "album"),
        tags=[genre.casefold()[:MAX_TAG_LENGTH]] if genre else [],
        genre=genre,
        year=int(year) if isinstance(year, int) and 0 < year <= 9999 else None,
        duration_s=float(duration) if isinstance(duration, int | float) and duration >= 0 else None,
        metadata={"subsonic": {k: song[k] for k in ("albumId", "artistId", "track", "discNumber", "suffix",
                                                    "contentType") if k in song}, "server": server},
        text=describe(song),
    )


def _records(client: SubsonicClient, albums: list[dict], source: str, seen: set[str]) -> Iterator[TrackRecord]:
    for row, song in enumerate(client.walk_songs(albums), start=1):
        if song.get("isVideo") or song.get("id") is None:
            continue
        seen.add(str(song["id"]))
        yield song_record(song, row, source, client.url)


def _with_audio(records: Iterable[TrackRecord], client: SubsonicClient, folder: Path) -> Iterator[TrackRecord]:
    """Each record's audio from ``stream``, written to ``folder`` for :func:`embed_audio` (and deleted after)."""
    for record in records:
        suffix = str(record.metadata["subsonic"].get("suffix") or "audio").strip(".")[:10]
        record.audio = f"{record.row}.{suffix}"
        (folder / record.audio).write_bytes(client.stream(record.external_id))
        yield record


def _cleaned(items: Iterable[Item], folder: Path) -> Iterator[Item]:
    for item in items:
        if isinstance(item, TrackRecord) and item.audio:
            (folder / item.audio).unlink(missing_ok=True)
        yield item


def _remove_missing(source: str, seen: set[str]) -> int:
    """Delete the source's tracks whose song id the server no longer lists (with their vectors and playlist
    entries, as deleting a track in the admin does). The ids are found in one query, whatever the library size."""
    from catalog.models import Track

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM catalog_track WHERE source = %s AND NOT (external_id = ANY(%s::text[]))",
            [source, list(seen)],
        )
        gone = [row[0] for row in cursor.fetchall()]
    if gone:
        Track.objects.filter(pk__in=gone).delete()
    return len(gone)


def pick_encoder(mode: str = "auto") -> tuple[Any, bool, str]:
    """(encoder, embed audio?, why) for ``mode`` (one of :data:`EMBED_MODES`), from the configured encoders.

    ``auto`` embeds audio when ``MUSIC_ENCODER`` takes audio and its weights load, else metadata text with
    ``TEXT_ENCODER``; ``audio`` insists (an :class:`IngestError` says why it cannot); ``text`` never streams.
    """
    from django.conf import settings

    from prior.encoders import get_music_encoder, get_text_encoder
    from prior.encoders.base import EncoderError

    if mode not in EMBED_MODES:
        raise IngestError(f"unknown embedding mode {mode!r}; use one of {', '.join(EMBED_MODES)}", "invalid_mode")
    reason = "asked for text"
    if mode != "text":
        try:
            music = get_music_encoder(settings.MUSIC_ENCODER)
        except EncoderError as exc:
            if mode == "audio":
                raise IngestError(f"encoder: {exc}", "encoder_error") from None
            reason = f"MUSIC_ENCODER={settings.MUSIC_ENCODER} has no weights here ({str(exc).splitlines()[0]})"
        else:
            if int(getattr(music, "sample_rate", 0) or 0) > 0:
                return music, True, f"MUSIC_ENCODER={settings.MUSIC_ENCODER} takes audio"
            if mode == "audio":
                raise IngestError(f"MUSIC_ENCODER={settings.MUSIC_ENCODER} takes no audio (a text proxy); "
                                  "configure an audio encoder such as clap", "encoder_error")
            reason = f"MUSIC_ENCODER={settings.MUSIC_ENCODER} takes no audio (a text proxy)"
    try:
        return get_text_encoder(settings.TEXT_ENCODER), False, reason
    except EncoderError as exc:
        raise IngestError(f"encoder: {exc}", "encoder_error") from None


def ingest_subsonic(
    client: SubsonicClient,
    *,
    encoder,
    audio: bool = False,
    source: str | None = None,
    progress: Callable[[int], Any] | None = None,
    on_total: Callable[[int], Any] | None = None,
) -> SubsonicReport:
    """Walk the server's library into ``encoder.space`` (see module docstring); one-line :class:`IngestError`s.

    ``audio`` embeds the streamed audio with ``encoder`` (a music encoder with ``sample_rate``), else the metadata
    text (``encoder.encode_texts``). ``on_total`` gets the number of songs once the album list is known.
    """
    source = source or default_source(client.url)
    if audio and int(getattr(encoder, "sample_rate", 0) or 0) <= 0:
        raise IngestError(f"the {encoder.space.name} encoder takes no audio; embed metadata text instead",
                          "encoder_error")
    seen: set[str] = set()
    try:
        albums = client.albums()
        if on_total is not None:
            on_total(sum(int(a.get("songCount") or 0) for a in albums))
        with tempfile.TemporaryDirectory(prefix="subsonic-") as tmp, transaction.atomic():
            records: Iterable[Item] = _records(client, albums, source, seen)
            if audio:
                folder = Path(tmp)
                records = _cleaned(embed_audio(_with_audio(records, client, folder), encoder, folder), folder)
            else:
                records = embed_texts(records, encoder)
            report = ingest_records(records, space="", prior_space=encoder.space, skip_invalid=True,
                                    row_label="song", progress=progress)
            removed = _remove_missing(source, seen)
    except SubsonicAuthError as exc:
        raise IngestError(str(exc), "subsonic_auth") from None
    except SubsonicUnreachable as exc:
        raise IngestError(f"{exc}; nothing was imported", "subsonic_unreachable") from None
    except SubsonicError as exc:
        raise IngestError(f"{exc}; nothing was imported", "subsonic_error") from None
    how = "audio (stream) through" if audio else "metadata text through"
    return SubsonicReport(report=report, source=source, songs=len(seen), removed=removed,
                          embedding=f"{how} {encoder.space.encoder} ({encoder.space.name})")
