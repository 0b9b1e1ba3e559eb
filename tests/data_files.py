"""Small data-set files written by the tests themselves (no ../shared/data needed): a MusicCaps CSV in the real
file's columns, for the reader and the callers that read through it (the catalog's importer, the demo)."""

from __future__ import annotations

import csv
from pathlib import Path

MUSICCAPS_ROW = {"ytid": "abc", "start_s": "30", "end_s": "40", "aspect_list": "['Sad', ' piano ', 'sad', '']",
                 "caption": "A sad piano.", "is_audioset_eval": "True", "audioset_positive_labels": "/m/1,/m/2",
                 "author_id": "4", "is_balanced_subset": "False"}


def write_musiccaps_csv(path: Path, rows: list[dict]) -> Path:
    """``rows`` (each a :data:`MUSICCAPS_ROW` with changes) as a MusicCaps CSV at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(MUSICCAPS_ROW))
        writer.writeheader()
        writer.writerows(rows)
    return path
