"""``make-synthetic`` and ``make-musiccaps``: write paired data in the NPZ contract (:mod:`prior.data.npz`)."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

from prior.cli import CliError

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def register(subparsers: argparse._SubParsersAction) -> None:
    from prior.data.synthetic import WorldConfig

    syn = subparsers.add_parser(
        "make-synthetic",
        help="write a synthetic multimodal world with a known posterior",
        description="Write train/val/test/catalog.npz and world.npz (for the oracle) of a synthetic world "
        "whose p(music | cond) is multimodal and known (see prior.data.synthetic).",
    )
    syn.add_argument("--out", required=True, help="output directory")
    defaults = WorldConfig()
    for f in fields(WorldConfig):
        syn.add_argument(f"--{f.name.replace('_', '-')}", type=type(getattr(defaults, f.name)), default=None)
    syn.set_defaults(func=make_synthetic)

    mc = subparsers.add_parser(
        "make-musiccaps",
        help="write the MusicCaps text proxy (music = MiniLM(caption))",
        description="Write the MusicCaps TEXT PROXY: cond = aspect multi-hot, music = MiniLM(caption), "
        "steer = MiniLM(genre/mood aspects); train/val from is_audioset_eval False, test from True.",
    )
    mc.add_argument("--out", required=True, help="output directory")
    mc.add_argument("--csv", default=None, help="MusicCaps CSV (default ../shared/data/musiccaps/musiccaps-public.csv)")
    mc.add_argument("--val-fraction", type=float, default=0.15, help="share of train held out for tuning")
    mc.add_argument("--min-count", type=int, default=2, help="min training clips for an aspect/word to enter the vocab")
    mc.add_argument("--seed", type=int, default=0)
    mc.add_argument("--augment", type=int, default=1, help="also write train_aug.npz with N copies (aspect dropout)")
    mc.add_argument("--aspect-keep", type=float, default=0.7, help="keep probability of an aspect in augmented copies")
    mc.add_argument("--limit", type=int, default=None, help="read only the first N rows (tests)")
    mc.set_defaults(func=make_musiccaps)


def make_synthetic(args: argparse.Namespace) -> int:
    from prior.data.synthetic import WorldConfig, write_world

    overrides = {f.name: getattr(args, f.name) for f in fields(WorldConfig) if getattr(args, f.name) is not None}
    try:
        config = WorldConfig(**overrides)
        paths = write_world(args.out, config)
    except (ValueError, OSError) as exc:
        raise CliError(str(exc)) from None
    print(json.dumps({k: str(v) for k, v in paths.items()}))
    return 0


def make_musiccaps(args: argparse.Namespace) -> int:
    from prior.data.musiccaps import DEFAULT_CSV, write_musiccaps

    csv_path = Path(args.csv) if args.csv else (PROJECT_ROOT / DEFAULT_CSV)
    if not csv_path.is_file():
        raise CliError(f"{csv_path}: no such file (pass --csv PATH to the MusicCaps CSV)")
    if args.augment < 1 or not 0 < args.aspect_keep <= 1:
        raise CliError("--augment must be >= 1 and --aspect-keep in (0, 1]")
    if not 0 <= args.val_fraction < 1:
        raise CliError("--val-fraction must be in [0, 1)")
    try:
        paths = write_musiccaps(
            args.out,
            csv_path,
            val_fraction=args.val_fraction,
            seed=args.seed,
            min_count=args.min_count,
            limit=args.limit,
            augment=args.augment,
            aspect_keep=args.aspect_keep,
            progress=None,
        )
    except (ValueError, OSError) as exc:
        raise CliError(str(exc)) from None
    print(json.dumps({k: str(v) for k, v in paths.items()}))
    return 0
