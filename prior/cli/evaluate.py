"""``python -m prior evaluate`` and ``python -m prior sweep {cfg,nfe,steer}`` (docs/prior-eval.md).

    python -m prior evaluate --checkpoint DIR --baseline DIR --pairs test.npz --catalog catalog.npz --json OUT.json
        [--seeds 16 --nfe N --sampler NAME --guidance W --steer K --steer-schedule S --regression-steer K
         --oracle world.npz --merge round_robin|rrf --plot OUT.png --limit N]
    python -m prior sweep cfg   --checkpoint DIR --pairs val.npz --catalog catalog.npz --json OUT.json --plot OUT.png
    python -m prior sweep nfe   ... (recall vs ms/query per sampler, with the 256-step reference)
    python -m prior sweep steer --baseline DIR ... (schedule x k for diffusion+steer, k for regression+steer)

Without ``--sampler`` the checkpoint's default fast sampler is used; ``--sampler reference`` is the 256-step SDE.
Checkpoints whose condition/music spaces differ from the files' are refused (exit 2, one line).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from prior.cli import CliError

DEFAULT_REGRESSION_STEER_K = 1.0


def _common(parser: argparse.ArgumentParser, baseline_required: bool) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="diffusion prior checkpoint directory")
    parser.add_argument("--baseline", required=baseline_required, type=Path, help="regression checkpoint directory")
    parser.add_argument("--pairs", required=True, type=Path, help="test.npz / val.npz (cond, music, track_id)")
    parser.add_argument("--catalog", required=True, type=Path, help="catalog.npz (ids, music)")
    parser.add_argument("--json", required=True, type=Path, help="where to write the result JSON")
    parser.add_argument("--plot", type=Path, default=None, help="also write a PNG plot here")
    parser.add_argument("--seeds", type=int, default=16, help="seeds per query (default 16)")
    parser.add_argument("--sampler", default=None, help="reference | heun | dpmpp_2m (default: checkpoint's)")
    parser.add_argument("--nfe", type=int, default=None, help="network evaluations (default: checkpoint's)")
    parser.add_argument("--guidance", type=float, default=None, help="CFG weight w (default: checkpoint's)")
    parser.add_argument(
        "--steer-schedule",
        default=None,
        help="constant | sigma2 | snr (gradient steering), or additive (default: checkpoint's steering)",
    )
    parser.add_argument("--condition-weight", type=float, default=None,
                        help="steered retrieval by one query, tag + this x the condition's direction "
                             "(0: by every seed; default: checkpoint's steering)")
    parser.add_argument("--affinity-weight", type=float, default=None,
                        help="re-rank each steered list by the prior's affinity for the condition, this weight "
                             "(0: no re-ranking; default: checkpoint's steering)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N queries")
    parser.add_argument("--batch", type=int, default=64, help="queries per sampling batch")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (results are reproducible)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's, OMP_NUM_THREADS)"
    )
    parser.add_argument("--device", default=None)


def register(subparsers) -> None:
    ev = subparsers.add_parser(
        "evaluate", help="evaluate prior vs regression baseline", description=__doc__.split("\n")[0]
    )
    _common(ev, baseline_required=True)
    ev.add_argument("--steer", type=float, default=None,
                    help="tag budget k of diffusion+steer (default: the checkpoint's steering; 0: skip)")
    ev.add_argument(
        "--regression-steer",
        type=float,
        default=DEFAULT_REGRESSION_STEER_K,
        help="k in normalise(regression + k * steer)",
    )
    ev.add_argument("--oracle", type=Path, default=None, help="world.npz of a synthetic world: add the oracle block")
    ev.add_argument("--merge", choices=("round_robin", "rrf"), default="round_robin")
    ev.set_defaults(func=run_evaluate)

    sw = subparsers.add_parser("sweep", help="CFG / NFE / steering sweeps (JSON + PNG)")
    sw.add_argument("kind", choices=("cfg", "nfe", "steer"))
    _common(sw, baseline_required=False)
    sw.add_argument("--values", default=None, help="comma-separated CFG weights (cfg) or steering ks (steer)")
    sw.add_argument("--no-reference", action="store_true", help="nfe: skip the slow 256-step reference")
    sw.add_argument("--record", action="store_true",
                    help="steer: record the best diffusion steering (schedule, k) in the checkpoint's config.json, "
                         "so evaluate and the API use it (run it on a VALIDATION split)")
    sw.set_defaults(func=run_sweep)


def _load(args: argparse.Namespace, need_baseline: bool):
    import torch

    from prior.checkpoint import CheckpointError
    from prior.data.npz import DataError
    from prior.evaluate import load_eval_data
    from prior.service import PriorSampler, RegressionModel
    from prior.spaces import SpaceMismatchError

    if args.threads is not None:
        torch.set_num_threads(max(1, args.threads))
    if args.seeds < 1:
        raise CliError("--seeds must be >= 1")
    if args.limit is not None and args.limit < 1:
        raise CliError("--limit must be >= 1")
    try:
        data = load_eval_data(args.pairs, args.catalog).subset(args.limit)
        spaces = {"expect_cond_space": data.pairs.cond_space, "expect_music_space": data.pairs.music_space}
        prior = PriorSampler.load(args.checkpoint, device=args.device, **spaces)
        baseline = RegressionModel.load(args.baseline, device=args.device, **spaces) if need_baseline else None
    except (DataError, CheckpointError, SpaceMismatchError) as exc:
        raise CliError(str(exc)) from None
    return data, prior, baseline


def _choice(args: argparse.Namespace, steer_k: float = 0.0):
    from prior.evaluate import SamplingChoice

    for flag in ("condition_weight", "affinity_weight"):
        value = getattr(args, flag)
        if value is not None and not value >= 0:  # also refuses NaN
            raise CliError(f"--{flag.replace('_', '-')} must be >= 0")
    return SamplingChoice(
        n_seeds=args.seeds,
        sampler=args.sampler,
        nfe=args.nfe,
        guidance=args.guidance,
        steer_k=steer_k,
        steer_schedule=args.steer_schedule,
        condition_weight=args.condition_weight,
        affinity_weight=args.affinity_weight,
        seed=args.seed,
    )


def _write(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


def run_evaluate(args: argparse.Namespace) -> int:
    from prior.evaluate import evaluate_all, plot_methods

    data, prior, baseline = _load(args, need_baseline=True)
    world = None
    if args.oracle is not None:
        from prior.data.synthetic import World

        if not args.oracle.is_file():
            raise CliError(f"{args.oracle}: no such file")
        world = World.load(args.oracle)
        if world.config.music_dim != data.pairs.music.shape[1]:
            raise CliError(f"{args.oracle}: world music dim {world.config.music_dim} does not match the pairs")
    steer_k = args.steer if data.pairs.steer is not None else 0.0
    try:
        result = evaluate_all(
            prior,
            baseline,
            data,
            _choice(args, steer_k),
            regression_steer_k=args.regression_steer,
            world=world,
            merge=args.merge,
            batch=args.batch,
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    _write(args.json, result)
    if args.plot:
        plot_methods(result, args.plot)
    print(
        json.dumps(
            {
                k: {m: v[m] for m in ("recall@10", "recall@100", "miscs", "ms_per_query")}
                for k, v in result.items()
                if isinstance(v, dict) and "recall@10" in v
            }
        )
    )
    return 0


def _values(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise CliError(f"--values must be comma-separated numbers, got {text!r}") from None


def run_sweep(args: argparse.Namespace) -> int:
    from prior import sweeps

    need_baseline = args.kind == "steer"
    if need_baseline and args.baseline is None:
        raise CliError("sweep steer needs --baseline (regression+steer is swept beside diffusion+steer)")
    data, prior, baseline = _load(args, need_baseline=need_baseline)
    base = _choice(args)
    values = _values(args.values)
    title = f"{args.kind} sweep on {args.pairs.name}" + (" (TEXT PROXY)" if data.pairs.music_space.proxy else "")
    try:
        if args.kind == "cfg":
            rows = sweeps.cfg_sweep(prior, data, base, weights=values or sweeps.CFG_WEIGHTS, batch=args.batch)
            result: dict = {"rows": rows}
            plot = sweeps.plot_cfg
        elif args.kind == "nfe":
            rows = sweeps.nfe_sweep(prior, data, base, reference=not args.no_reference, batch=args.batch)
            result = {"rows": rows}
            plot = sweeps.plot_nfe
        else:
            grid = {s: values for s in sweeps.STEER_GRID} if values else None
            result = sweeps.steer_sweep(prior, baseline, data, base, grid=grid, batch=args.batch)
            plot = sweeps.plot_steer
    except ValueError as exc:
        raise CliError(str(exc)) from None
    result = {
        "kind": args.kind,
        "pairs": str(args.pairs),
        "queries": len(data.true_index),
        "settings": replace(base, steer_k=0.0).describe(prior),
        **result,
    }
    if data.pairs.music_space.proxy:
        result["note"] = "TEXT PROXY: the music space is text embeddings of track descriptions, not audio"
    if args.record:
        if args.kind != "steer":
            raise CliError("--record goes with `sweep steer` (it records the steering chosen on validation)")
        from prior.checkpoint import update_steering
        from prior.config import STEER_SCHEDULES

        # the best GRADIENT row: the additive form is a baseline the served steering model does not use
        best = sweeps.best_row([r for r in result["diffusion+steer"] if r["schedule"] in STEER_SCHEDULES])
        values = {"schedule": best["schedule"], "tag_k": best["k"]}
        for name in ("condition_weight", "affinity_weight"):
            if getattr(args, name) is not None:
                values[name] = getattr(args, name)
        result["recorded"] = update_steering(args.checkpoint, **values)
    _write(args.json, result)
    if args.plot:
        plot(result["rows"] if args.kind != "steer" else result, args.plot, title=title)
    if args.kind == "steer":
        print(json.dumps({**result["best"], **({"recorded": result["recorded"]} if args.record else {})}))
    else:
        print(json.dumps(sweeps.summarise(result["rows"])))
    return 0
