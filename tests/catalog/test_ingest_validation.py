"""Bad rows: the file is rejected with every bad row reported and nothing written; --skip-invalid imports the rest."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError

from catalog.models import EmbeddingSpace, Track, TrackEmbedding
from catalog.services.ingest import IngestError, IngestRejected, ingest_file
from catalog.services.spaces import ensure_space
from tests.catalog.conftest import track_rows, write_parquet

pytestmark = pytest.mark.django_db
DIM = 4
GOOD = [1.0, 2.0, 3.0, 4.0]

BAD_JSONL_LINES = [
    (json.dumps({"external_id": "ok1", "embedding": GOOD}), None),
    (json.dumps({"title": "no id", "embedding": GOOD}), "missing external_id"),
    (json.dumps({"external_id": "short", "embedding": [1.0, 2.0]}), "embedding has 2 dimensions, the space expects 4"),
    ('{"external_id": "nan", "embedding": [NaN, 1, 2, 3]}', "embedding contains NaN or inf"),
    ('{"external_id": "inf", "embedding": [Infinity, 1, 2, 3]}', "embedding contains NaN or inf"),
    (json.dumps({"external_id": "zero", "embedding": [0, 0, 0, 0]}), "embedding is a zero vector"),
    (json.dumps({"external_id": "ok1", "embedding": GOOD}), "duplicate external_id 'ok1' (first at line 1)"),
    ('{"external_id": "broken", "embedding": [1, 2', "unparsable line: not valid JSON"),
    (json.dumps({"external_id": "noemb"}), "missing embedding, and no title, artist, tags, description or text"),
    (json.dumps({"external_id": "words", "embedding": ["a", "b", "c", "d"]}), "embedding must be a list of numbers"),
    (json.dumps({"external_id": "badurl", "url": "not a url", "embedding": GOOD}), "url is not a valid http(s) URL"),
    (json.dumps({"external_id": "ok2", "embedding": [4, 3, 2, 1]}), None),
]


@pytest.fixture
def bad_file(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(line for line, _ in BAD_JSONL_LINES) + "\n")
    return path


def expected_errors() -> list[tuple[int, str]]:
    return [(n, reason) for n, (_, reason) in enumerate(BAD_JSONL_LINES, start=1) if reason]


def test_every_bad_row_is_reported_and_nothing_is_written(bad_file):
    ensure_space("v4", DIM)
    with pytest.raises(IngestRejected) as caught:
        ingest_file(bad_file, space="v4")
    report = caught.value.report
    got = [(e.row, e.reason) for e in report.errors]
    assert len(got) == len(expected_errors())
    for (row, reason), (want_row, want_reason) in zip(got, expected_errors(), strict=True):
        assert row == want_row and reason.startswith(want_reason), (row, reason)
    assert not report.written
    assert Track.objects.count() == 0 and TrackEmbedding.objects.count() == 0


def test_command_exits_non_zero_with_one_line_errors(bad_file, capsys, monkeypatch):
    from django.db import connections

    monkeypatch.setattr(connections, "close_all", lambda: None)  # run_from_argv closes them: keep the test's one
    ensure_space("v4", DIM)
    with pytest.raises(SystemExit) as exit_info:
        execute_from_command_line(["manage.py", "ingest_tracks", str(bad_file), "--space", "v4", "--no-progress"])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "line 2: missing external_id" in err
    assert "line 8: unparsable line" in err
    assert err.strip().splitlines()[-1].startswith("CommandError: v4: 10 invalid row(s): nothing was imported")
    assert Track.objects.count() == 0


def test_skip_invalid_imports_the_good_rows(bad_file, capsys):
    ensure_space("v4", DIM)
    call_command("ingest_tracks", str(bad_file), space="v4", skip_invalid=True, no_progress=True)
    captured = capsys.readouterr()
    assert "created 2, updated 0, unchanged 0, rejected 10" in captured.out
    assert "line 7: duplicate external_id 'ok1' (first at line 1)" in captured.err
    assert sorted(Track.objects.values_list("external_id", flat=True)) == ["ok1", "ok2"]
    stored = TrackEmbedding.objects.get(track__external_id="ok1").vector
    np.testing.assert_allclose(stored, np.array(GOOD) / np.linalg.norm(GOOD), atol=1e-6)


def test_unknown_space_is_rejected_before_reading(bad_file):
    with pytest.raises(CommandError, match=r"unknown embedding space 'nope' \(known: none\); give its dimension"):
        call_command("ingest_tracks", str(bad_file), space="nope", no_progress=True)
    assert not EmbeddingSpace.objects.exists()


def test_rejected_file_does_not_create_its_space(bad_file):
    with pytest.raises(IngestRejected):
        ingest_file(bad_file, space="fresh", dimension=DIM)
    assert not EmbeddingSpace.objects.filter(name="fresh").exists()


def test_dimension_conflict_with_an_existing_space(bad_file):
    ensure_space("v4", DIM)
    with pytest.raises(IngestError, match="holds 4-d vectors, not 8-d"):
        ingest_file(bad_file, space="v4", dimension=8)


def test_csv_field_count_and_encoding_errors(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b'external_id,embedding\na,"[1,2,3,4]"\nb,"[1,2,3,4]",extra\nc\xff,"[1,2,3,4]"\n')
    ensure_space("v4", DIM)
    with pytest.raises(IngestRejected) as caught:
        ingest_file(path, space="v4")
    assert [(e.row, e.reason) for e in caught.value.report.errors] == [
        (3, "unparsable line: 3 fields, the header has 2"),
        (4, "unparsable line: not valid UTF-8"),
    ]


def test_parquet_rows_are_numbered(tmp_path):
    rows, vectors = track_rows(10, DIM)
    vectors[3] = np.nan
    vectors[8] = 0.0
    path = write_parquet(tmp_path / "bad.parquet", rows, vectors)
    ensure_space("v4", DIM)
    with pytest.raises(IngestRejected) as caught:
        ingest_file(path, space="v4")
    report = caught.value.report
    assert report.error_lines() == ["row 4: embedding contains NaN or inf", "row 9: embedding is a zero vector"]
    assert Track.objects.count() == 0


def test_sidecar_length_must_match(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"external_id": "a"}\n{"external_id": "b"}\n')
    np.save(tmp_path / "v.npy", np.ones((3, DIM), np.float32))
    ensure_space("v4", DIM)
    with pytest.raises(IngestRejected) as caught:
        ingest_file(path, space="v4", sidecar=tmp_path / "v.npy")
    assert caught.value.report.error_lines() == ["file: the sidecar has 3 rows but the file has 2 records"]


def test_unreadable_files_are_one_line_errors(tmp_path):
    ensure_space("v4", DIM)
    (tmp_path / "x.txt").write_text("hello")
    (tmp_path / "x.parquet").write_text("not parquet")
    (tmp_path / "noid.csv").write_text("title,embedding\n")
    for name, message in [("missing.csv", "no such file"), ("x.txt", "cannot tell the format"),
                          ("x.parquet", "not a readable Parquet file"), ("noid.csv", "no external_id")]:
        with pytest.raises(CommandError, match=message):
            call_command("ingest_tracks", str(tmp_path / name), space="v4", no_progress=True)


def test_new_space_name_and_dimension_are_checked(bad_file):
    with pytest.raises(IngestError, match="invalid space name 'My Space'"):
        ingest_file(bad_file, space="My Space", dimension=DIM)
    with pytest.raises(IngestError, match="dimension must be between 1 and 2000"):
        ingest_file(bad_file, space="huge", dimension=5000)
    assert not EmbeddingSpace.objects.exists()
