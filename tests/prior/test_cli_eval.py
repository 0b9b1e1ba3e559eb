"""The data and evaluation CLI end to end on a tiny world (seconds): make data, train a few steps, evaluate."""

import json

import numpy as np
import pytest

from prior.__main__ import main
from prior.config import SamplingConfig

TINY_WORLD = ["--n-clusters", "4", "--catalog-size", "300", "--n-train", "300", "--n-val", "20", "--n-test", "24"]
TINY_NET = ["--width", "32", "--depth", "1", "--steps", "8", "--batch", "64", "--no-progress"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    assert main(["make-synthetic", "--out", str(root / "data"), *TINY_WORLD]) == 0
    pairs = str(root / "data" / "train.npz")
    assert main(["train", "--pairs", pairs, "--out", str(root / "prior"), *TINY_NET]) == 0
    assert main(["train-baseline", "--pairs", pairs, "--out", str(root / "reg"), *TINY_NET]) == 0
    return root


def _eval_args(root, **extra):
    args = [
        "evaluate",
        "--checkpoint",
        str(root / "prior"),
        "--baseline",
        str(root / "reg"),
        "--pairs",
        str(root / "data" / "test.npz"),
        "--catalog",
        str(root / "data" / "catalog.npz"),
        "--json",
        str(root / "out.json"),
        "--seeds",
        "4",
        "--nfe",
        "3",
        "--threads",
        "1",
    ]
    for key, value in extra.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def test_evaluate_end_to_end(tiny, capsys):
    args = _eval_args(tiny, oracle=tiny / "data" / "world.npz", plot=tiny / "out.png", steer=0.1)
    assert main(args) == 0
    result = json.loads((tiny / "out.json").read_text())
    for block in ("regression", "diffusion", "diffusion+steer", "regression+steer", "oracle"):
        assert {"recall@10", "recall@100", "triplet_acc", "miscs", "fmd", "ms_per_query"} <= set(result[block])
        assert result[block]["n"] == 24
    assert result["settings"]["sampler"] == SamplingConfig().sampler and result["settings"]["nfe"] == 3
    assert (tiny / "out.png").stat().st_size > 0
    assert "diffusion" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_sweep_cfg_and_nfe(tiny, capsys):
    common = [
        "--checkpoint",
        str(tiny / "prior"),
        "--pairs",
        str(tiny / "data" / "val.npz"),
        "--catalog",
        str(tiny / "data" / "catalog.npz"),
        "--seeds",
        "2",
        "--limit",
        "5",
        "--threads",
        "1",
    ]
    assert (
        main(
            [
                "sweep",
                "cfg",
                *common,
                "--json",
                str(tiny / "cfg.json"),
                "--plot",
                str(tiny / "cfg.png"),
                "--values",
                "0,2",
                "--nfe",
                "3",
            ]
        )
        == 0
    )
    assert [r["guidance"] for r in json.loads((tiny / "cfg.json").read_text())["rows"]] == [0.0, 2.0]
    assert main(["sweep", "nfe", *common, "--json", str(tiny / "nfe.json"), "--no-reference"]) == 0
    rows = json.loads((tiny / "nfe.json").read_text())["rows"]
    assert {r["sampler"] for r in rows} == {"heun", "dpmpp_2m"}
    assert main(["sweep", "steer", *common, "--json", str(tiny / "s.json")]) == 2  # needs --baseline
    assert "needs --baseline" in capsys.readouterr().err


def test_space_mismatch_is_refused(tiny, tmp_path, capsys):
    assert main(["make-synthetic", "--out", str(tmp_path / "other"), "--seed", "1", *TINY_WORLD]) == 0
    capsys.readouterr()
    args = _eval_args(tiny)
    args[args.index("--pairs") + 1] = str(tmp_path / "other" / "test.npz")
    args[args.index("--catalog") + 1] = str(tmp_path / "other" / "catalog.npz")
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "mismatch" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "change, message",
    [
        ({"pairs": "/nonexistent/test.npz"}, "no such file"),
        ({"checkpoint": "/nonexistent/ckpt"}, "no such checkpoint"),
        ({"seeds": 0}, "--seeds"),
    ],
)
def test_bad_input_one_line_exit_2(tiny, capsys, change, message):
    args = _eval_args(tiny)
    for key, value in change.items():
        args[args.index(f"--{key}") + 1] = str(value)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and len(err.splitlines()) == 1


def test_baseline_checkpoint_as_prior_is_refused(tiny, capsys):
    args = _eval_args(tiny)
    args[args.index("--checkpoint") + 1] = str(tiny / "reg")
    assert main(args) == 2
    assert "regression checkpoint" in capsys.readouterr().err


def test_make_synthetic_bad_sizes_and_missing_csv(tmp_path, capsys):
    assert main(["make-synthetic", "--out", str(tmp_path / "w"), "--catalog-size", "10"]) == 2
    assert main(["make-musiccaps", "--out", str(tmp_path / "m"), "--csv", str(tmp_path / "none.csv")]) == 2
    err = capsys.readouterr().err
    assert "must not exceed" in err and "no such file" in err
    assert not np.any([p.suffix == ".npz" for p in tmp_path.rglob("*")])


def test_sweep_steer_records_the_validation_choice_in_the_checkpoint(tiny, tmp_path, capsys):
    import shutil

    from prior.checkpoint import read_config

    ckpt = tmp_path / "prior"
    shutil.copytree(tiny / "prior", ckpt)
    common = ["--checkpoint", str(ckpt), "--baseline", str(tiny / "reg"), "--pairs", str(tiny / "data" / "val.npz"),
              "--catalog", str(tiny / "data" / "catalog.npz"), "--seeds", "2", "--limit", "5", "--nfe", "3",
              "--threads", "1", "--values", "0.5,2", "--condition-weight", "0.2", "--affinity-weight", "1.5"]
    assert main(["sweep", "steer", *common, "--json", str(tmp_path / "s.json"), "--record"]) == 0
    result = json.loads((tmp_path / "s.json").read_text())
    gradient = [r for r in result["diffusion+steer"] if r["schedule"] != "additive"]
    best = max(gradient, key=lambda r: (round(r["recall@100"], 9), round(r["recall@10"], 9)))
    steering = read_config(ckpt)["steering"]
    assert (steering["schedule"], steering["tag_k"], steering["condition_weight"]) == (best["schedule"], best["k"], 0.2)
    assert steering["affinity_weight"] == 1.5, "the re-ranking the sweep ran with is recorded with it"
    assert result["recorded"] == steering
    assert main(["sweep", "cfg", *common[:-8], "--json", str(tmp_path / "c.json"), "--record"]) == 2
    assert "--record goes with `sweep steer`" in capsys.readouterr().err
    assert main(["sweep", "steer", *common[:-2], "--affinity-weight", "-1", "--json", str(tmp_path / "x.json")]) == 2
    assert "--affinity-weight must be >= 0" in capsys.readouterr().err
