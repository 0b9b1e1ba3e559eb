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

SOURCE = "jamendo"
SPLITS = ("train", "validation", "test")
ATTRIBUTION = "MTG-Jamendo (Bogdanov et al., 2019), metadata CC BY-NC-SA 4.0, Music Technology Group, UPF"
READABLE = {
    "easylistening": "easy listening", "hiphop": "hip hop", "instrumentalpop": "instrumental pop",
    "newage": "new age", "popfolk": "pop folk", "poprock": "pop rock", "triphop": "trip hop",
    "acousticguitar": "acoustic guitar", "drummachine": "drum machine", "electricguitar": "electric guitar",
    "electricpiano": "electric piano",
}


def tsv_path(split: str):
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    return data_file("mtg-jamendo", f"autotagging_top50tags-{split}.tsv")


def readable(tag: str) -> tuple[str, str]:
    """``genre---poprock`` -> (``genre``, ``pop rock``)."""
    category, _, name = tag.partition("---")
    return (category, READABLE.get(name, name)) if name else ("", READABLE.get(category, category))


def describe(categories: dict[str, list[str]]) -> str:
    """The tags as one sentence for the text encoder."""
    genres, instruments = categories.get("genre", []), categories.get("instrument", [])
    moods = categories.get("mood/theme", [])
    text = f"{', '.join(genres)} music" if genres else "music"
    if instruments:
        text += f" with {', '.join(instruments)}"
    if moods:
        text += f"; mood: {', '.join(moods)}"
    return text


def read_jamendo(split: str = "train", limit: int | None = None) -> Iterator[TrackRecord | RowError]:
    """Stream one split's tracks as records (line numbers as row numbers)."""
    with open(tsv_path(split), encoding="utf-8") as fh:
        count = 0
        for line_no, line in enumerate(fh, start=1):
            if line_no == 1 or not line.strip():
                continue  # header
            if limit is not None and count >= limit:
                return
            count += 1
            yield _record(line.rstrip("\n").split("\t"), line_no, split)


def _record(fields: list[str], line: int, split: str) -> TrackRecord | RowError:
    if len(fields) < 6:
        return RowError(line, f"{len(fields)} fields, expected at least 6")
    track_id, artist_id, album_id, path, duration = (f.strip() for f in fields[:5])
    number = track_id.removeprefix("track_").lstrip("0")
    if not track_id.startswith("track_") or not number.isdigit():
        return RowError(line, f"TRACK_ID {track_id!r} is not track_<number>", track_id or None)
    try:
        duration_s = float(duration)
    except ValueError:
        return RowError(line, f"DURATION {duration!r} is not a number", track_id)
    raw_tags = [t.strip() for t in fields[5:] if t.strip()]
    categories: dict[str, list[str]] = {}
    for tag in raw_tags:
        category, name = readable(tag)
        categories.setdefault(category, []).append(name)
    tags = list(dict.fromkeys(name for names in categories.values() for name in names))
    return TrackRecord(
        row=line,
        source=SOURCE,
        external_id=track_id,
        title=f"Jamendo track {number}",
        artist=artist_id,
        album=album_id,
        tags=tags,
        duration_s=duration_s,
        url=f"https://www.jamendo.com/track/{number}",
        metadata={
            "path": path, "split": split, "raw_tags": raw_tags, "tag_categories": categories,
            "embedding_text": "tags", "attribution": ATTRIBUTION,
        },
        text=describe(categories),
    )
