"""``python -m prior train`` and ``python -m prior train-baseline``: fit a model on ``train.npz`` into ``--out DIR``.

    python -m prior train          --pairs train.npz --out DIR [--width --depth --steps --batch --lr --seed --resume]
    python -m prior train-baseline --pairs train.npz --out DIR [--width --depth --steps --batch --lr --seed]

Unset flags take the defaults of :class:`prior.config.NetworkConfig` / :class:`prior.config.TrainConfig`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields, replace
from pathlib import Path

from prior.cli import CliError
from prior.config import NetworkConfig, TrainConfig
from prior.data.npz import DataError, load_pairs

NETWORK_FLAGS = {"width": int, "depth": int, "dropout": float, "mlp_ratio": float, "sigma_data": float}
TRAIN_FLAGS = {
    "steps": int, "batch": int, "lr": float, "weight_decay": float, "warmup": int, "ema": float, "clip": float,
    "cond_dropout": float, "P_mean": float, "P_std": float, "seed": int,
    "val_fraction": float, "patience": int, "eval_every": int,
}
BASELINE_ONLY = {"val_fraction", "patience", "eval_every"}
PRIOR_ONLY = {"ema", "cond_dropout", "P_mean", "P_std", "sigma_data"}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _default(cls, name: str) -> str:
    value = {f.name: f.default for f in fields(cls)}[name]
    return "1/sqrt(music dim)" if value is None else str(value)


def _add_common(parser: argparse.ArgumentParser, skip: set[str]) -> None:
    parser.add_argument("--pairs", required=True, type=Path, help="train.npz (NPZ contract: cond, music)")
    parser.add_argument("--out", required=True, type=Path, help="checkpoint directory to write")
    group = parser.add_argument_group("network (default: prior.config.NetworkConfig)")
    for name, kind in NETWORK_FLAGS.items():
        if name not in skip:
            group.add_argument(_flag(name), dest=name, type=kind, default=None, metavar=kind.__name__.upper(),
                               help=f"default {_default(NetworkConfig, name)}")
    group = parser.add_argument_group("training (default: prior.config.TrainConfig)")
    for name, kind in TRAIN_FLAGS.items():
        if name not in skip:
            group.add_argument(_flag(name), dest=name, type=kind, default=None, metavar=kind.__name__.upper(),
                               help=f"default {_default(TrainConfig, name)}")
    parser.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch CPU threads (default: torch's; 1 is often faster for small models when busy)")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true", default=None, help="force a progress bar")
    progress.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def register(subparsers) -> None:
    prior = subparsers.add_parser("train", help="train the diffusion prior", description=__doc__.splitlines()[0])
    _add_common(prior, skip=BASELINE_ONLY)
    prior.add_argument("--resume", action="store_true", help="continue from DIR/training_state.pt")
    prior.add_argument("--save-every", type=int, default=500, metavar="N", help="write a resumable state every N steps")
    prior.set_defaults(func=run_train)

    base = subparsers.add_parser("train-baseline", help="train the deterministic regression baseline")
    _add_common(base, skip=PRIOR_ONLY)
    base.set_defaults(func=run_train_baseline)


def _configs(args: argparse.Namespace, cond_dim: int, music_dim: int) -> tuple[NetworkConfig, TrainConfig]:
    net_values = {n: getattr(args, n) for n in NETWORK_FLAGS if getattr(args, n, None) is not None}
    train_values = {n: getattr(args, n) for n in TRAIN_FLAGS if getattr(args, n, None) is not None}
    network = replace(NetworkConfig(cond_dim=cond_dim, music_dim=music_dim), **net_values)
    train = replace(TrainConfig(), **train_values)
    for name in ("width", "depth", "steps", "batch"):
        value = getattr(network if name in ("width", "depth") else train, name)
        if value < 1:
            raise CliError(f"{_flag(name)} must be >= 1, got {value}")
    if not 0 <= network.dropout < 1:
        raise CliError("--dropout must be in [0, 1)")
    if train.lr <= 0:
        raise CliError(f"--lr must be > 0, got {train.lr}")
    if not 0 <= train.cond_dropout < 1:
        raise CliError("--cond-dropout must be in [0, 1)")
    if network.sigma_data is not None and network.sigma_data <= 0:
        raise CliError("--sigma-data must be > 0")
    return network, train


def _load(args: argparse.Namespace):
    if args.threads is not None:
        if args.threads < 1:
            raise CliError("--threads must be >= 1")
        import torch

        torch.set_num_threads(args.threads)
    try:
        pairs = load_pairs(args.pairs)
    except DataError as exc:
        raise CliError(str(exc)) from None
    if args.out.exists() and not args.out.is_dir():
        raise CliError(f"{args.out}: exists and is not a directory")
    return pairs


def _report(kind: str, out: Path, metrics: dict) -> None:
    print(json.dumps({"checkpoint": str(out), "kind": kind, "metrics": metrics}))


def run_train(args: argparse.Namespace) -> int:
    from prior.train import TrainingError, train_prior  # torch import only when the command runs

    pairs = _load(args)
    network, train = _configs(args, pairs.cond.shape[1], pairs.music.shape[1])
    try:
        metrics = train_prior(pairs, args.out, network, train, resume=args.resume, progress=args.progress,
                              device=args.device, save_every=max(0, args.save_every))
    except TrainingError as exc:
        raise CliError(str(exc)) from None
    _report("diffusion", args.out, metrics)
    return 0


def run_train_baseline(args: argparse.Namespace) -> int:
    from prior.baseline import train_regression
    from prior.train import TrainingError

    pairs = _load(args)
    network, train = _configs(args, pairs.cond.shape[1], pairs.music.shape[1])
    try:
        metrics = train_regression(pairs, args.out, network, train, progress=args.progress, device=args.device)
    except TrainingError as exc:
        raise CliError(str(exc)) from None
    _report("regression", args.out, metrics)
    return 0

