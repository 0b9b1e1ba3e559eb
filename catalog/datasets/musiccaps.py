"""MusicCaps (Agostinelli et al., 2023; CC BY-SA 4.0, Google LLC) as catalog tracks.

A track is one ten-second clip. What the CSV knows and what we do with it:
- ``external_id`` = ``ytid`` (unique in the file; the same id the prior's MusicCaps NPZ files use);
- ``title``: the clip has none; we use the caption's first sentence, shortened — a description, not a title;
- ``artist``: unknown. We use ``"YouTube video <ytid>"``: honest (all we know is the video) and distinct per clip, so
  artist-separation rules neither merge unrelated clips under one fake artist nor invent an artist;
- ``tags`` = the aspect list (parsed with ``ast.literal_eval``, never ``eval``); ``duration_s`` = end - start;
- ``url`` = ``https://www.youtube.com/watch?v=<ytid>&t=<start_s>s``;
- ``metadata``: caption, start/end, AudioSet labels, caption author id, split (``is_audioset_eval`` True -> test),
  attribution, and ``artist_known: false``;
- ``text`` (what gets embedded) = the caption: the offline "music" vector is a TEXT PROXY, not audio.
"""

from __future__ import annotations

from collections.abc import Iterator

from catalog.datasets import data_file
from catalog.ingest.records import RowError, TrackRecord
from prior.data.musiccaps import ATTRIBUTION, Clip, parse_row, read_rows

SOURCE = "musiccaps"
TITLE_CHARS = 80


def csv_path():
    return data_file("musiccaps", "musiccaps-public.csv")


def short_title(caption: str, limit: int = TITLE_CHARS) -> str:
    """The caption's first sentence, cut at a word boundary with an ellipsis if it is long."""
    sentence = caption.strip().split(". ")[0].rstrip(".")
    if len(sentence) <= limit:
        return sentence
    return sentence[: limit - 1].rsplit(" ", 1)[0].rstrip(",;: ") + "…"


def read_musiccaps(limit: int | None = None, split: str | None = None) -> Iterator[TrackRecord | RowError]:
    """Stream clips (``split``: ``train``, ``test`` or None for all) as records, line numbers as row numbers; the
    rows are parsed by the one reader, :mod:`prior.data.musiccaps`."""
    count = 0
    for line, row in read_rows(csv_path()):
        if limit is not None and count >= limit:
            return
        item = _record(row, line)
        if split and isinstance(item, TrackRecord) and item.metadata["split"] != split:
            continue
        count += 1
        yield item


def _record(row: dict, line: int) -> TrackRecord | RowError:
    clip = parse_row(row, line)
    if not isinstance(clip, Clip):
        return RowError(line, clip, (row.get("ytid") or "").strip() or None)
    return TrackRecord(
        row=line,
        source=SOURCE,
        external_id=clip.ytid,
        title=short_title(clip.caption),
        artist=f"YouTube video {clip.ytid}",
        tags=list(dict.fromkeys(a[:100] for a in clip.aspects)),
        duration_s=max(clip.end_s - clip.start_s, 0.0),
        url=f"https://www.youtube.com/watch?v={clip.ytid}&t={int(clip.start_s)}s",
        metadata={
            "caption": clip.caption,
            "start_s": clip.start_s,
            "end_s": clip.end_s,
            "audioset_labels": list(clip.audioset_labels),
            "caption_author_id": clip.author_id,
            "is_balanced_subset": clip.is_balanced,
            "split": "test" if clip.is_eval else "train",
            "artist_known": False,
            "embedding_text": "caption",
            "attribution": ATTRIBUTION,
        },
        text=clip.caption,
    )
