"""MTG-Jamendo's top-50-tags metadata (Bogdanov et al., 2019; CC BY-NC-SA 4.0, MTG-UPF), read without Django.

The one reader of the TSV rows: the catalog's importer (catalog/datasets/jamendo.py) builds its records from it,
and the steering benchmark (bench/steering.py) builds its tag world from it. A file has a header, then one track a
line with 6 or more tab-separated fields (TRACK_ID, ARTIST_ID, ALBUM_ID, PATH, DURATION, then one tag per field such
as ``genre---rock``). Tags are made readable (``genre---poprock`` -> ``pop rock``) and grouped by category
(``genre``, ``instrument``, ``mood/theme``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SPLITS = ("train", "validation", "test")
READABLE = {
    "easylistening": "easy listening", "hiphop": "hip hop", "instrumentalpop": "instrumental pop",
    "newage": "new age", "popfolk": "pop folk", "poprock": "pop rock", "triphop": "trip hop",
    "acousticguitar": "acoustic guitar", "drummachine": "drum machine", "electricguitar": "electric guitar",
    "electricpiano": "electric piano",
}


@dataclass(frozen=True)
class JamendoTrack:
    """One TSV row: ids, duration, the raw tags and the readable tag names by category."""

    track_id: str
    number: str
    artist_id: str
    album_id: str
    path: str
    duration_s: float
    raw_tags: tuple[str, ...]
    categories: dict[str, list[str]]

    @property
    def tags(self) -> list[str]:
        """Readable tag names, each once, in file order."""
        return list(dict.fromkeys(name for names in self.categories.values() for name in names))


def tsv_name(split: str) -> str:
    """The file name of one official split-0 file (``autotagging_top50tags-<split>.tsv``)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    return f"autotagging_top50tags-{split}.tsv"


def readable(tag: str) -> tuple[str, str]:
    """``genre---poprock`` -> (``genre``, ``pop rock``)."""
    category, _, name = tag.partition("---")
    return (category, READABLE.get(name, name)) if name else ("", READABLE.get(category, category))


def describe(categories: dict[str, list[str]]) -> str:
    """The tags as one sentence for the text encoder, e.g. "rock, pop rock music with electric guitar; mood:
    energetic" (what the offline text proxy embeds for a track)."""
    genres, instruments = categories.get("genre", []), categories.get("instrument", [])
    moods = categories.get("mood/theme", [])
    text = f"{', '.join(genres)} music" if genres else "music"
    if instruments:
        text += f" with {', '.join(instruments)}"
    if moods:
        text += f"; mood: {', '.join(moods)}"
    return text


def parse_fields(fields: list[str]) -> JamendoTrack | str:
    """One row's fields -> the track, or why the row cannot be used (a one-line message)."""
    if len(fields) < 6:
        return f"{len(fields)} fields, expected at least 6"
    track_id, artist_id, album_id, path, duration = (f.strip() for f in fields[:5])
    number = track_id.removeprefix("track_").lstrip("0")
    if not track_id.startswith("track_") or not number.isdigit():
        return f"TRACK_ID {track_id!r} is not track_<number>"
    try:
        duration_s = float(duration)
    except ValueError:
        return f"DURATION {duration!r} is not a number"
    raw_tags = tuple(t.strip() for t in fields[5:] if t.strip())
    categories: dict[str, list[str]] = {}
    for tag in raw_tags:
        category, name = readable(tag)
        categories.setdefault(category, []).append(name)
    return JamendoTrack(track_id, number, artist_id, album_id, path, duration_s, raw_tags, categories)


def read_rows(path: str | Path, limit: int | None = None) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each data line of a TSV file (header and blank lines skipped)."""
    with open(path, encoding="utf-8") as fh:
        count = 0
        for line_no, line in enumerate(fh, start=1):
            if line_no == 1 or not line.strip():
                continue
            if limit is not None and count >= limit:
                return
            count += 1
            yield line_no, line.rstrip("\n").split("\t")


class JamendoError(ValueError):
    """A row :func:`read_tracks` cannot use: ``path:line: why``, one line."""


def read_tracks(path: str | Path) -> list[JamendoTrack]:
    """Every track of one TSV file; a row that cannot be used stops with ``path:line: why`` (the catalog's importer
    reports every bad row instead, as all its ingest formats do)."""
    tracks = []
    for line_no, fields in read_rows(path):
        track = parse_fields(fields)
        if isinstance(track, str):
            raise JamendoError(f"{path}:{line_no}: {track}")
        tracks.append(track)
    return tracks
