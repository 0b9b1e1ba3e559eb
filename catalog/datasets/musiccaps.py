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

import ast
import csv
from collections.abc import Iterator

from catalog.datasets import data_file
from catalog.ingest.records import RowError, TrackRecord

SOURCE = "musiccaps"
ATTRIBUTION = "MusicCaps (Agostinelli et al., 2023), CC BY-SA 4.0, Google LLC"
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
    """Stream clips (``split``: ``train``, ``test`` or None for all) as records, line numbers as row numbers."""
    path = csv_path()
    count = 0
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        start = reader.line_num + 2
        for row in reader:
            line, start = start, reader.line_num + 1
            if limit is not None and count >= limit:
                return
            item = _record(row, line)
            if split and isinstance(item, TrackRecord) and item.metadata["split"] != split:
                continue
            count += 1
            yield item


def _record(row: dict, line: int) -> TrackRecord | RowError:
    ytid = (row.get("ytid") or "").strip()
    caption = (row.get("caption") or "").strip()
    if not ytid:
        return RowError(line, "missing ytid")
    if not caption:
        return RowError(line, "empty caption: nothing to embed", ytid)
    try:
        aspects = ast.literal_eval(row.get("aspect_list") or "[]")
        start_s, end_s = float(row["start_s"]), float(row["end_s"])
    except (ValueError, SyntaxError, KeyError):
        return RowError(line, "aspect_list, start_s or end_s is malformed", ytid)
    if not isinstance(aspects, list):
        return RowError(line, "aspect_list is not a list", ytid)
    tags = list(dict.fromkeys(str(a).strip()[:100] for a in aspects if str(a).strip()))
    is_eval = (row.get("is_audioset_eval") or "").strip().lower() == "true"
    return TrackRecord(
        row=line,
        source=SOURCE,
        external_id=ytid,
        title=short_title(caption),
        artist=f"YouTube video {ytid}",
        tags=tags,
        duration_s=max(end_s - start_s, 0.0),
        url=f"https://www.youtube.com/watch?v={ytid}&t={int(start_s)}s",
        metadata={
            "caption": caption,
            "start_s": start_s,
            "end_s": end_s,
            "audioset_labels": [x for x in (row.get("audioset_positive_labels") or "").split(",") if x],
            "caption_author_id": (row.get("author_id") or "").strip(),
            "is_balanced_subset": (row.get("is_balanced_subset") or "").strip().lower() == "true",
            "split": "test" if is_eval else "train",
            "artist_known": False,
            "embedding_text": "caption",
            "attribution": ATTRIBUTION,
        },
        text=caption,
    )
