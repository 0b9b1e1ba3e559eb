"""MTG-Jamendo (Bogdanov et al., 2019; metadata CC BY-NC-SA 4.0, MTG-UPF) as catalog tracks.

Files ``mtg-jamendo/autotagging_top50tags-{train,validation,test}.tsv``: a header, then one track a line with 6 or
more tab-separated fields (TRACK_ID, ARTIST_ID, ALBUM_ID, PATH, DURATION, then one tag per field such as
``genre---rock``). What we keep:
- ``external_id`` = ``TRACK_ID``; ``artist``/``album`` = the artist and album ids (names are not in the metadata);
- ``title``: none in the metadata, so ``"Jamendo track <number>"``;
- ``tags``: readable tag names (``genre---poprock`` -> ``pop rock``); the raw tags and their categories go to metadata;
- ``url`` = ``https://www.jamendo.com/track/<number>``; ``duration_s`` = DURATION;
- ``text`` (what gets embedded): the tags rendered as a sentence, e.g. "rock, pop rock music with electric guitar;
  mood: energetic" — the offline vector is a TEXT PROXY of the tags, not of the audio.
"""

from __future__ import annotations

from collections.abc import Iterator

from catalog.datasets import data_file
from catalog.ingest.records import RowError, TrackRecord
from prior.data.jamendo import READABLE, SPLITS, JamendoTrack, describe, parse_fields, read_rows, readable, tsv_name

__all__ = ["ATTRIBUTION", "READABLE", "SOURCE", "SPLITS", "describe", "read_jamendo", "readable", "tsv_path"]

SOURCE = "jamendo"
ATTRIBUTION = "MTG-Jamendo (Bogdanov et al., 2019), metadata CC BY-NC-SA 4.0, Music Technology Group, UPF"


def tsv_path(split: str):
    return data_file("mtg-jamendo", tsv_name(split))


def read_jamendo(split: str = "train", limit: int | None = None) -> Iterator[TrackRecord | RowError]:
    """Stream one split's tracks as records (line numbers as row numbers); the rows are parsed by the one reader,
    :mod:`prior.data.jamendo`."""
    for line_no, fields in read_rows(tsv_path(split), limit):
        yield _record(fields, line_no, split)


def _record(fields: list[str], line: int, split: str) -> TrackRecord | RowError:
    track = parse_fields(fields)
    if not isinstance(track, JamendoTrack):
        track_id = fields[0].strip() if fields and track.startswith(("TRACK_ID", "DURATION")) else None
        return RowError(line, track, track_id or None)
    return TrackRecord(
        row=line,
        source=SOURCE,
        external_id=track.track_id,
        title=f"Jamendo track {track.number}",
        artist=track.artist_id,
        album=track.album_id,
        tags=track.tags,
        duration_s=track.duration_s,
        url=f"https://www.jamendo.com/track/{track.number}",
        metadata={
            "path": track.path, "split": split, "raw_tags": list(track.raw_tags),
            "tag_categories": track.categories, "embedding_text": "tags", "attribution": ATTRIBUTION,
        },
        text=describe(track.categories),
    )
