"""The one MusicCaps reader on small files written here: a row means the same to every caller, and a file it cannot
use is one line naming the file, the line and why (no real data needed)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from prior.data.musiccaps import COLUMNS, Clip, MusicCapsError, parse_row, read_clips, text_proxy_clips

GOOD = {"ytid": "abc", "start_s": "30", "end_s": "40", "aspect_list": "['Sad', ' piano ', 'sad', '']",
        "caption": "A sad piano.", "is_audioset_eval": "True", "audioset_positive_labels": "/m/1,/m/2",
        "author_id": "4", "is_balanced_subset": "False"}


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(GOOD))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_row_becomes_one_clip_with_its_aspects_as_written(tmp_path):
    [clip] = read_clips(write_csv(tmp_path / "m.csv", [GOOD]))
    assert clip == Clip(ytid="abc", caption="A sad piano.", aspects=("Sad", "piano", "sad"), is_eval=True,
                        start_s=30.0, end_s=40.0, audioset_labels=("/m/1", "/m/2"), author_id="4",
                        is_balanced=False, line=2)
    assert text_proxy_clips([clip])[0].aspects == ("sad", "piano", "sad")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"ytid": " "}, "missing ytid"),
        ({"caption": ""}, "empty caption: nothing to embed"),
        ({"aspect_list": "['a', "}, "aspect_list is not a Python list literal"),
        ({"aspect_list": "__import__('os')"}, "aspect_list is not a Python list literal"),
        ({"aspect_list": "{'a': 1}"}, "aspect_list is not a list"),
        ({"start_s": "soon"}, "start_s or end_s is not a number"),
    ],
)
def test_a_bad_row_is_one_line_with_its_line_number(tmp_path, change, why):
    path = write_csv(tmp_path / "m.csv", [GOOD, {**GOOD, "ytid": "def", **change}])
    assert parse_row({**GOOD, **change}, 7) == why
    with pytest.raises(MusicCapsError) as caught:
        read_clips(path)
    assert str(caught.value) == f"{path}:3: {why}"
    assert [c.ytid for c in read_clips(path, limit=1)] == ["abc"]  # rows after the limit are not read


def test_a_file_that_is_not_musiccaps_says_what_is_missing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("ytid,caption\nabc,a song\n")
    missing = ", ".join(sorted(set(COLUMNS) - {"ytid", "caption"}))
    with pytest.raises(MusicCapsError, match=f"not a MusicCaps CSV \\(missing columns: {missing}\\)"):
        read_clips(bad)
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_clips(tmp_path / "missing.csv")
