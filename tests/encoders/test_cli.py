"""``python -m prior fetch-models`` fails cleanly offline; ``make-demo-pairs`` writes loadable files."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from prior.__main__ import main
from prior.data.npz import load_pairs
from tests.conftest import MUSICCAPS_CSV, require_data

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "prior", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_fetch_models_offline_is_one_clear_line(tmp_path):
    result = run_cli("fetch-models", "clip", "--dir", str(tmp_path), HF_HUB_OFFLINE="1")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: could not download openai/clip-vit-base-patch32")
    assert "internet" in lines[0] and "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())


def test_fetch_models_unknown_name_and_minilm(capsys):
    assert main(["fetch-models", "minilm"]) == 0
    assert "nothing to fetch" in capsys.readouterr().out
    assert main(["fetch-models", "nonsense"]) == 2
    assert "unknown model 'nonsense'" in capsys.readouterr().err


def test_make_demo_pairs_cli(tmp_path, capsys, minilm):
    with open(require_data(MUSICCAPS_CSV), newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    picked = [r for r in rows if r["is_audioset_eval"] == "False"][:6] + [
        r for r in rows if r["is_audioset_eval"] == "True"
    ][:4]
    csv_path = tmp_path / "rows.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(picked)
    out = tmp_path / "pairs"
    assert main(["make-demo-pairs", "--out", str(out), "--csv", str(csv_path), "--images-per-clip", "2"]) == 0
    printed = capsys.readouterr().out
    assert "SYNTHETIC" in printed and "12 train, 4 test, 10 catalog" in printed
    assert len(load_pairs(out / "train.npz")) == 12
    assert main(["make-demo-pairs", "--out", str(out), "--csv", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
