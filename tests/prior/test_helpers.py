"""The helpers every layer shares: the device rule and the progress bar."""

import io

import torch

from prior import progress as progress_module
from prior.device import pick_device
from prior.progress import progress_bar, show_progress


def test_one_device_rule():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(torch.device("cpu")) == torch.device("cpu")
    assert pick_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert pick_device("") == pick_device(None)


def test_the_bar_counts_on_stderr_and_shows_only_when_asked_or_on_a_terminal(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(progress_module.sys, "stderr", err)
    with progress_bar(10, "rows", True, desc="ingest") as progress:
        progress(4)
        progress()
        progress.note(loss="0.5")
        assert progress.bar.n == 5
    assert "ingest" in err.getvalue() and "5/10" in err.getvalue()
    assert show_progress(None) is False  # a StringIO is not a terminal: no bars in logs, CI or tests
    quiet = io.StringIO()
    monkeypatch.setattr(progress_module.sys, "stderr", quiet)
    with progress_bar(10, "rows") as progress:
        progress(3)
    assert quiet.getvalue() == ""
