import json
import os
import subprocess
import sys
from pathlib import Path

from prior.__main__ import main
from prior.checkpoint import load_checkpoint
from prior.service import PriorSampler, RegressionModel
from tests.prior.prior_toys import COND_DIM, MUSIC_DIM, toy_pairs_file

REPO = Path(__file__).resolve().parents[2]
TINY = ["--width", "16", "--depth", "1", "--batch", "16"]


def test_train_end_to_end_and_resume(tmp_path, capsys):
    pairs = toy_pairs_file(tmp_path)
    out = tmp_path / "prior"
    assert main(["train", "--pairs", str(pairs), "--out", str(out), "--steps", "5", "--no-progress", *TINY]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "diffusion" and report["metrics"]["steps"] == 5
    args = ["train", "--pairs", str(pairs), "--out", str(out), "--steps", "9", "--resume", "--no-progress", *TINY]
    assert main(args) == 0
    assert load_checkpoint(out).metrics["steps"] == 9
    seeds = PriorSampler.load(out, device="cpu").sample([1.0] + [0.0] * (COND_DIM - 1), n_seeds=3, seed=0)
    assert seeds.shape == (3, MUSIC_DIM)


def test_train_baseline_end_to_end(tmp_path, capsys):
    pairs = toy_pairs_file(tmp_path)
    args = ["train-baseline", "--pairs", str(pairs), "--out", str(tmp_path / "rg"), "--steps", "20",
            "--eval-every", "5", "--no-progress", *TINY]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "regression"
    assert RegressionModel.load(tmp_path / "rg").predict([[0.0] * COND_DIM]).shape == (1, MUSIC_DIM)


def test_user_errors_are_one_liners_with_status_2(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    cases = [
        ["train", "--pairs", str(tmp_path / "absent.npz"), "--out", str(tmp_path / "o")],
        ["train", "--pairs", str(bad), "--out", str(tmp_path / "o")],
        ["train", "--pairs", str(toy_pairs_file(tmp_path)), "--out", str(tmp_path / "o"), "--steps", "0"],
        ["train", "--pairs", str(toy_pairs_file(tmp_path)), "--out", str(tmp_path / "o"), "--resume"],
        ["train-baseline", "--pairs", str(bad), "--out", str(tmp_path / "o")],
    ]
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "\n" not in err and "Traceback" not in err


def test_module_entry_point_runs(tmp_path):
    pairs = toy_pairs_file(tmp_path)
    cmd = [sys.executable, "-m", "prior", "train", "--pairs", str(pairs), "--out", str(tmp_path / "ck"),
           "--steps", "3", *TINY]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ck" / "model.safetensors").is_file()
