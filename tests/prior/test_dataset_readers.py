"""The one MusicCaps reader and the one MTG-Jamendo reader on small files written here: a row means the same to
every caller, and a file they cannot use is one line naming the file, the line and why (no real data needed)."""

from __future__ import annotations

import pytest

from prior.data.musiccaps import COLUMNS, Clip, MusicCapsError, parse_row, read_clips, text_proxy_clips
from tests.data_files import MUSICCAPS_ROW, write_musiccaps_csv


def test_a_row_becomes_one_clip_with_its_aspects_as_written(tmp_path):
    [clip] = read_clips(write_musiccaps_csv(tmp_path / "m.csv", [MUSICCAPS_ROW]))
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
    path = write_musiccaps_csv(tmp_path / "m.csv", [MUSICCAPS_ROW, {**MUSICCAPS_ROW, "ytid": "def", **change}])
    assert parse_row({**MUSICCAPS_ROW, **change}, 7) == why
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


def test_the_jamendo_reader_has_the_same_policy(tmp_path):
    from prior.data.jamendo import JamendoError, read_tracks

    path = tmp_path / "autotagging_top50tags-train.tsv"
    path.write_text("TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS\n"
                    "track_0000214\tartist_1\talbum_1\t14/214.mp3\t124.6\tgenre---poprock\tmood/theme---calm\n"
                    "track_0000215\tartist_1\talbum_1\t15/215.mp3\tlong\tgenre---rock\n")
    with pytest.raises(JamendoError) as caught:
        read_tracks(path)
    assert str(caught.value) == f"{path}:3: DURATION 'long' is not a number"
    path.write_text("\n".join(path.read_text().splitlines()[:2]) + "\n")
    [track] = read_tracks(path)
    assert (track.number, track.duration_s, track.tags) == ("214", 124.6, ["pop rock", "calm"])
