"""A playlist version in the formats music players and servers read: JSPF, XSPF and M3U8.

- XSPF (https://xspf.org/spec): the XML playlist standard, version 1; validated in the tests against
  ``tests/recommend/schemas/xspf-1.xsd``;
- JSPF: XSPF's JSON form, as ListenBrainz imports and exports it (``{"playlist": {..., "track": [...]}}``);
- M3U8: extended M3U in UTF-8, one ``#EXTINF:seconds,Artist - Title`` line before each track's link.

Each track's link is the catalog's ``url`` (for MusicCaps, the YouTube clip at its start time). Pure functions of
a playlist and its items (already loaded by the caller); nothing is read or written here.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from recommend.models import Playlist

XSPF_NS = "http://xspf.org/ns/0/"
CREATOR = "Diff4Steer"


@dataclass(frozen=True)
class ExportFormat:
    name: str
    media_type: str
    extension: str


FORMATS = {
    "jspf": ExportFormat("jspf", "application/jspf+json", "jspf"),
    "xspf": ExportFormat("xspf", "application/xspf+xml", "xspf"),
    "m3u8": ExportFormat("m3u8", "audio/x-mpegurl", "m3u8"),
}


@dataclass(frozen=True)
class ExportTrack:
    title: str
    artist: str
    album: str
    url: str
    duration_ms: int | None
    tags: list[str]


def _tracks(playlist: Playlist) -> list[ExportTrack]:
    tracks = []
    for item in playlist.items.all():
        track = item.track
        duration = track.duration_s
        tracks.append(ExportTrack(
            title=track.title or track.external_id,
            artist=track.artist,
            album=track.album,
            url=track.url,
            duration_ms=int(round(duration * 1000)) if duration is not None and math.isfinite(duration) else None,
            tags=list(track.tags),
        ))
    return tracks


def playlist_title(playlist: Playlist) -> str:
    tags = ", ".join(playlist.params.get("tags") or [])
    return f"Diff4Steer playlist, version {playlist.version}" + (f" ({tags})" if tags else "")


def filename(playlist: Playlist, fmt: ExportFormat) -> str:
    return f"diff4steer-playlist-{playlist.pk}-v{playlist.version}.{fmt.extension}"


def to_jspf(playlist: Playlist) -> str:
    tracks = []
    for number, t in enumerate(_tracks(playlist), start=1):
        entry: dict = {"title": t.title, "trackNum": number}
        if t.artist:
            entry["creator"] = t.artist
        if t.album:
            entry["album"] = t.album
        if t.url:
            entry["location"] = [t.url]
            entry["identifier"] = [t.url]
        if t.duration_ms is not None:
            entry["duration"] = t.duration_ms
        if t.tags:
            entry["annotation"] = ", ".join(t.tags)
        tracks.append(entry)
    body = {"playlist": {"title": playlist_title(playlist), "creator": CREATOR,
                         "date": playlist.created_at.isoformat(), "track": tracks}}
    return json.dumps(body, ensure_ascii=False, indent=2) + "\n"


def to_xspf(playlist: Playlist) -> str:
    ET.register_namespace("", XSPF_NS)

    def child(parent: ET.Element, tag: str, text: str) -> None:
        ET.SubElement(parent, f"{{{XSPF_NS}}}{tag}").text = text

    root = ET.Element(f"{{{XSPF_NS}}}playlist", {"version": "1"})
    child(root, "title", playlist_title(playlist))
    child(root, "creator", CREATOR)
    child(root, "date", playlist.created_at.isoformat())
    track_list = ET.SubElement(root, f"{{{XSPF_NS}}}trackList")
    for number, t in enumerate(_tracks(playlist), start=1):  # children in the order the spec lists them
        track = ET.SubElement(track_list, f"{{{XSPF_NS}}}track")
        if t.url:
            child(track, "location", t.url)
            child(track, "identifier", t.url)
        child(track, "title", t.title)
        if t.artist:
            child(track, "creator", t.artist)
        if t.tags:
            child(track, "annotation", ", ".join(t.tags))
        if t.album:
            child(track, "album", t.album)
        child(track, "trackNum", str(number))
        if t.duration_ms is not None:
            child(track, "duration", str(t.duration_ms))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def to_m3u8(playlist: Playlist) -> str:
    """Tracks without a link have nothing a player could open: they are left out."""
    lines = ["#EXTM3U", f"#PLAYLIST:{_one_line(playlist_title(playlist))}"]
    for t in _tracks(playlist):
        if not t.url:
            continue
        seconds = -1 if t.duration_ms is None else int(round(t.duration_ms / 1000))
        name = f"{t.artist} - {t.title}" if t.artist else t.title
        lines += [f"#EXTINF:{seconds},{_one_line(name)}", t.url]
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


RENDER = {"jspf": to_jspf, "xspf": to_xspf, "m3u8": to_m3u8}


def export_playlist(playlist: Playlist, fmt: str) -> tuple[str, ExportFormat]:
    """The playlist as text in ``fmt`` (one of :data:`FORMATS`) and that format's media type and extension."""
    return RENDER[fmt](playlist), FORMATS[fmt]
