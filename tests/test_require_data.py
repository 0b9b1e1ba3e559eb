"""require_data: a missing input under ../shared/data is a skip on a developer's machine, a failure in CI."""

from __future__ import annotations

import pytest

from tests.conftest import MUSICCAPS_CSV, require_data


def test_a_missing_input_fails_in_ci_and_skips_elsewhere(tmp_path, monkeypatch):
    missing = tmp_path / "musiccaps-public.csv"
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="not found"):
        require_data(missing)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="not found"):
        require_data(missing)


def test_a_present_input_is_returned(tmp_path, monkeypatch):
    present = tmp_path / "musiccaps-public.csv"
    present.write_text("ytid,caption\n")
    monkeypatch.setenv("CI", "true")
    assert require_data(present) == present


def test_the_shared_data_is_looked_for_beside_the_checkout():
    assert MUSICCAPS_CSV.parts[-4:] == ("shared", "data", "musiccaps", "musiccaps-public.csv")
