"""Sweeps over sampling settings: CFG weight, network evaluations per sampler, steering strength and schedule.

Each sweep returns JSON-ready rows (one per setting, with the same metrics as :func:`prior.evaluate.score_seeds`)
and has a plot. Settings chosen by a sweep must be chosen on a VALIDATION split, never on test:
:func:`steer_sweep` returns the best row by Recall@100 (ties: Recall@10) for exactly that use.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from prior.evaluate import (
    ADDITIVE,
    EvalData,
    SamplingChoice,
    additive_steer,
    affinity_reranker,
    diffusion_seeds,
    regression_seeds,
    retrieval_queries,
    score_seeds,
)
from prior.plots import pyplot, save

CFG_WEIGHTS = (-1.0, 0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
NFE_GRID = {"heun": (3, 7, 15, 31), "dpmpp_2m": (4, 8, 16, 32)}
# k grids per schedule: sigma2 multiplies k by sigma^2 and the steering gradient shrinks like sigma_data^2/sigma^2 at
# high noise, so its useful k is orders of magnitude larger than the constant schedule's.
STEER_GRID = {
    "constant": (0.01, 0.03, 0.1, 0.3),
    "sigma2": (0.1, 1.0, 10.0, 100.0),
    "snr": (0.03, 0.1, 0.3, 1.0),
    ADDITIVE: (0.25, 0.5, 1.0, 2.0, 4.0),  # post-hoc, costs no sampling: one unsteered draw serves every k
}
REGRESSION_STEER_KS = (0.25, 0.5, 1.0, 2.0, 4.0)


def _row(prior, data: EvalData, choice: SamplingChoice, batch: int, **label) -> dict:
    seeds, ms = diffusion_seeds(prior, data, choice, batch)
    queries, null_ms = retrieval_queries(prior, data, choice, seeds, batch)
    return {**label, **score_seeds(seeds, data, ms + null_ms, queries=queries,
                                   rerank=affinity_reranker(prior, data, choice))}


def cfg_sweep(prior, data: EvalData, base: SamplingChoice, weights=CFG_WEIGHTS, batch: int = 64) -> list[dict]:
    """Recall and MISCS against the CFG weight w (w = 0: the plain conditional prior)."""
    return [_row(prior, data, replace(base, guidance=float(w), steer_k=0.0), batch, guidance=float(w)) for w in weights]


def nfe_sweep(
    prior, data: EvalData, base: SamplingChoice, grid=None, reference: bool = True, batch: int = 64
) -> list[dict]:
    """Recall against ms/query for each fast sampler and NFE, and the 256-step reference SDE sampler."""
    rows = []
    for sampler, nfes in (grid or NFE_GRID).items():
        for nfe in nfes:
            rows.append(
                _row(
                    prior,
                    data,
                    replace(base, sampler=sampler, nfe=int(nfe), steer_k=0.0),
                    batch,
                    sampler=sampler,
                    nfe=int(nfe),
                )
            )
    if reference:
        steps = prior.defaults.reference_steps
        rows.append(
            _row(
                prior,
                data,
                replace(base, sampler="reference", nfe=None, steer_k=0.0),
                batch,
                sampler="reference",
                nfe=int(steps),
            )
        )
    return rows


def best_row(rows: list[dict]) -> dict:
    """Highest Recall@100, ties broken by Recall@10 then by the first row (deterministic)."""
    return max(rows, key=lambda r: (round(r["recall@100"], 9), round(r["recall@10"], 9)))


def steer_sweep(
    prior,
    baseline,
    data: EvalData,
    base: SamplingChoice,
    grid: dict | None = None,
    regression_ks=REGRESSION_STEER_KS,
    batch: int = 64,
) -> dict:
    """Diffusion+steer for every (schedule, k) of ``grid`` and regression+steer for every k; the best of each.

    Use it on a validation split: the "best" block is what an evaluation on test should then be run with.
    """
    if data.pairs.steer is None:
        raise ValueError("the pairs carry no 'steer' vectors")
    diffusion_rows = []
    for schedule, ks in (grid or STEER_GRID).items():
        if schedule == ADDITIVE:
            seeds, ms = diffusion_seeds(prior, data, replace(base, steer_k=0.0), batch)
            for k in ks:
                steered = additive_steer(seeds, data.pairs.steer, float(k))
                diffusion_rows.append({"schedule": schedule, "k": float(k), **score_seeds(steered, data, ms)})
            continue
        for k in ks:
            choice = replace(base, steer_k=float(k), steer_schedule=schedule)
            diffusion_rows.append(_row(prior, data, choice, batch, schedule=schedule, k=float(k)))
    regression_rows = []
    for k in regression_ks:
        seeds, ms = regression_seeds(baseline, data, steer_k=float(k))
        regression_rows.append({"k": float(k), **score_seeds(seeds, data, ms)})
    return {
        "diffusion+steer": diffusion_rows,
        "regression+steer": regression_rows,
        "best": {
            "diffusion+steer": {k: best_row(diffusion_rows)[k] for k in ("schedule", "k")},
            "regression+steer": {"k": best_row(regression_rows)["k"]},
        },
    }


def plot_cfg(rows: list[dict], path: str | Path, title: str = "CFG sweep") -> Path:
    """Left: Recall@10, Recall@100 and MISCS against w (the alignment/diversity trade-off). Right: FMD against w
    (how far the seeds' distribution is from the true music's), the paper's quality axis of the same trade-off."""
    plt = pyplot()
    w = [r["guidance"] for r in rows]
    fig, (ax, fmd_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for metric in ("recall@10", "recall@100"):
        ax.errorbar(w, [r[metric] for r in rows], yerr=[r[f"{metric}_se"] for r in rows], marker="o", label=metric)
    ax.set_xlabel("CFG weight w")
    ax.set_ylabel("recall")
    right = ax.twinx()
    right.plot(w, [r["miscs"] for r in rows], "k--s", label="MISCS")
    right.set_ylabel("MISCS (seed similarity)")
    lines = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    ax.legend(lines, labels, loc="lower right")
    fmd_ax.plot(w, [r["fmd"] for r in rows], "r-o")
    fmd_ax.set_xlabel("CFG weight w")
    fmd_ax.set_ylabel("FMD (seeds vs true music, lower is closer)")
    fig.suptitle(title)
    return save(fig, path)


def plot_nfe(rows: list[dict], path: str | Path, title: str = "NFE sweep") -> Path:
    """Recall@100 against ms/query (log x), one line per sampler, points labelled with their NFE."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for sampler in dict.fromkeys(r["sampler"] for r in rows):
        sub = [r for r in rows if r["sampler"] == sampler]
        x, y = [r["ms_per_query"] for r in sub], [r["recall@100"] for r in sub]
        ax.plot(x, y, marker="o", label=sampler)
        for r in sub:
            ax.annotate(
                str(r["nfe"]),
                (r["ms_per_query"], r["recall@100"]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.set_xscale("log")
    ax.set_xlabel("ms per query (16 seeds, CFG; batched, CPU)")
    ax.set_ylabel("Recall@100")
    ax.set_title(title)
    ax.legend()
    return save(fig, path)


def plot_steer(result: dict, path: str | Path, title: str = "steering sweep") -> Path:
    """Recall@100 and MISCS against k per schedule; regression+steer as a reference line."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    rows = result["diffusion+steer"]
    for schedule in dict.fromkeys(r["schedule"] for r in rows):
        sub = [r for r in rows if r["schedule"] == schedule]
        left.plot([r["k"] for r in sub], [r["recall@100"] for r in sub], marker="o", label=f"diffusion {schedule}")
        right.plot([r["k"] for r in sub], [r["miscs"] for r in sub], marker="o", label=schedule)
    best_reg = max(r["recall@100"] for r in result["regression+steer"])
    left.axhline(best_reg, color="k", linestyle="--", label="best regression+steer")
    for ax, name in ((left, "Recall@100"), (right, "MISCS")):
        ax.set_xscale("log")
        ax.set_xlabel("steering k")
        ax.set_ylabel(name)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return save(fig, path)


def summarise(rows: list[dict], keys=("recall@10", "recall@100", "miscs", "ms_per_query")) -> list[dict]:
    """Rows cut to the headline numbers (for printing)."""
    label_keys = [k for k in rows[0] if k in ("guidance", "sampler", "nfe", "schedule", "k")] if rows else []
    return [{**{k: r[k] for k in label_keys}, **{k: float(np.round(r[k], 4)) for k in keys}} for r in rows]
