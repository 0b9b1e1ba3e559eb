"""Honest evaluation of the prior against the deterministic baseline (docs/prior-eval.md).

One protocol for every method, so numbers are comparable:

1. a method turns each test query into seeds ``[Q, S, Dm]`` (the regression baseline: ``S = 1``);
2. every seed retrieves its exact top-100 catalog tracks by cosine (:mod:`prior.retrieval`);
3. the per-seed lists are merged (round-robin by default) into one top-100 list per query;
4. metrics (:mod:`prior.metrics`): Recall@10/100 on the merged list, triplet accuracy against one seeded random
   other catalog track per query, MISCS of the seeds, FMD of the seeds against the queries' true music.

``ms_per_query`` is the wall time of producing the seeds (not retrieval), for queries processed in batches of
``batch`` queries, divided by the number of queries: a throughput figure on this machine, not a p50 latency.

Methods: ``regression``; ``regression+steer`` = normalise(prediction + k * steer) (the steering text added to
the point estimate); ``diffusion``; ``diffusion+steer``: the pair's steering text as the one wanted tag of the
steering model the API uses (:func:`prior.steering.steering_plan` with the checkpoint's steering defaults:
gradient steering with its schedule, and when its ``condition_weight`` > 0 retrieval by each
tag-steered seed plus the condition's direction), or, with the
pseudo-schedule ``additive``, the baseline's own form applied to every seed: normalise(seed + k * steer);
``oracle`` (exact posterior samples, synthetic world only).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from prior.config import SteeringConfig, config_to_dict
from prior.data.npz import Catalog, DataError, Pairs, l2_normalise, load_catalog, load_pairs
from prior.metrics import estimate, fmd, hits_at_k, miscs, paired_difference, random_other_indices, triplet_accuracy
from prior.plots import pyplot, save
from prior.retrieval import per_seed_top_k, reciprocal_rank_fusion, round_robin_merge
from prior.steering import (
    NULL_GUIDANCE,
    SteeringPlan,
    SteeringState,
    affinity_relevance,
    retrieval_vectors,
    steering_plan,
)

RETRIEVE_K = 100
ADDITIVE = "additive"  # pseudo steering schedule: post-hoc normalise(seed + k * steer) instead of the gradient
MERGES = {"round_robin": round_robin_merge, "rrf": reciprocal_rank_fusion}


@dataclass(frozen=True)
class EvalData:
    """Test pairs, the catalog, and for each query the catalog index of its true track and of a random other."""

    pairs: Pairs
    catalog: Catalog
    true_index: np.ndarray
    other_index: np.ndarray

    def subset(self, n: int | None) -> EvalData:
        """The first ``n`` queries (all when None): sweeps use a fixed prefix so methods see the same queries."""
        if n is None or n >= len(self.true_index):
            return self
        p = self.pairs
        pairs = Pairs(
            cond=p.cond[:n],
            music=p.music[:n],
            steer=None if p.steer is None else p.steer[:n],
            track_id=p.track_id[:n],
            cond_space=p.cond_space,
            music_space=p.music_space,
            fingerprint=p.fingerprint,
        )
        return EvalData(pairs, self.catalog, self.true_index[:n], self.other_index[:n])


def load_eval_data(pairs_path: str | Path, catalog_path: str | Path, triplet_seed: int = 0) -> EvalData:
    """Read test pairs and catalog; refuse mismatched music spaces or track ids missing from the catalog."""
    pairs = load_pairs(pairs_path, require_track_id=True)
    catalog = load_catalog(catalog_path)
    pairs.music_space.check_matches(catalog.music_space, what=f"music space of {catalog_path} vs {pairs_path}")
    position = {track: i for i, track in enumerate(catalog.ids)}
    missing = [t for t in pairs.track_id if t not in position]
    if missing:
        raise DataError(f"{pairs_path}: {len(missing)} track_id(s) not in {catalog_path}, e.g. {missing[0]!r}")
    true_index = np.array([position[t] for t in pairs.track_id], dtype=np.int64)
    other_index = random_other_indices(true_index, len(catalog), seed=triplet_seed)
    return EvalData(pairs, catalog, true_index, other_index)


def merged_lists(seeds: np.ndarray, catalog_music: np.ndarray, merge: str = "round_robin") -> list[list[int]]:
    """Per-seed exact top-100 then merge: ``seeds [Q, S, D]`` -> one list of catalog indices per query."""
    idx, _ = per_seed_top_k(seeds, catalog_music, RETRIEVE_K)
    merge_fn = MERGES[merge]
    return [merge_fn(per_seed, RETRIEVE_K) for per_seed in idx]


def score_seeds(
    seeds: np.ndarray, data: EvalData, ms_per_query: float, merge: str = "round_robin", keep_hits: bool = False,
    queries: np.ndarray | None = None, rerank: Callable[[list[list[int]], np.ndarray], list[list[int]]] | None = None,
) -> dict:
    """All metrics of one method's seeds ``[Q, S, D]`` (or ``[Q, D]``) on ``data``, as a flat JSON-ready dict.

    ``queries`` ``[Q, S, D]``: retrieve by these (the steering model's retrieval vectors,
    :func:`retrieval_queries`) instead of by the seeds; MISCS and FMD stay the seeds'. ``rerank``: reorders each
    query's merged list (given the lists and the retrieval vectors; :func:`affinity_reranker`)."""
    seeds = np.asarray(seeds, dtype=np.float32)
    if seeds.ndim == 2:
        seeds = seeds[:, None, :]
    retrieve_by = seeds if queries is None else np.asarray(queries, dtype=np.float32)
    merged = merged_lists(retrieve_by, data.catalog.music, merge)
    if rerank is not None:
        merged = rerank(merged, retrieve_by)
    true = data.true_index.tolist()
    out: dict = {"n": len(true), "seeds": int(seeds.shape[1])}
    for k in (10, 100):
        hits = hits_at_k(merged, true, k)
        out.update(estimate(hits).to_dict(f"recall@{k}"))
    out.update(
        triplet_accuracy(seeds, data.catalog.music[data.true_index], data.catalog.music[data.other_index]).to_dict(
            "triplet_acc"
        )
    )
    out.update(miscs(seeds).to_dict("miscs"))
    out["fmd"] = fmd(seeds, data.pairs.music)
    out["ms_per_query"] = float(ms_per_query)
    if keep_hits:
        out["_hits@100"] = hits
    return out


def timed_batches(produce: Callable[[slice], np.ndarray], n: int, batch: int) -> tuple[np.ndarray, float]:
    """Run ``produce`` on consecutive slices of ``n`` queries; returns the stacked output and ms per query."""
    parts, elapsed = [], 0.0
    for start in range(0, n, batch):
        t0 = time.perf_counter()
        parts.append(produce(slice(start, min(n, start + batch))))
        elapsed += time.perf_counter() - t0
    return np.concatenate(parts, axis=0), 1000.0 * elapsed / max(n, 1)


def regression_seeds(model, data: EvalData, steer_k: float = 0.0, batch: int = 256) -> tuple[np.ndarray, float]:
    """The baseline's point estimate per query ``[Q, 1, D]``; with ``steer_k``, normalise(pred + k * steer)."""
    cond, steer = data.pairs.cond, data.pairs.steer

    def produce(rows: slice) -> np.ndarray:
        pred = model.predict(cond[rows])
        if steer_k:
            pred = l2_normalise(pred + steer_k * steer[rows])
        return pred[:, None, :]

    return timed_batches(produce, len(cond), batch)


@dataclass(frozen=True)
class SamplingChoice:
    """How the diffusion prior is sampled and steered for an evaluation (None = the checkpoint's default).

    Steering goes through :func:`prior.steering.steering_plan`, the function the API calls, with the checkpoint's
    :class:`~prior.config.SteeringConfig` (``prior.steering``); ``steer_k`` (the tag budget; 0: unsteered),
    ``steer_schedule``, ``condition_weight`` and ``affinity_weight`` override its fields. The pseudo-schedule
    ``additive`` is the baseline form normalise(seed + k * steer) instead, for comparison.
    """

    n_seeds: int = 16
    sampler: str | None = None
    nfe: int | None = None
    guidance: float | None = None
    steer_k: float | None = 0.0
    steer_schedule: str | None = None
    condition_weight: float | None = None
    affinity_weight: float | None = None
    seed: int = 0

    @property
    def steered(self) -> bool:
        return self.steer_k is None or self.steer_k != 0

    def steering(self, prior) -> SteeringConfig:
        """The steering model's settings for this run: the checkpoint's, with this choice's overrides."""
        config = getattr(prior, "steering", None) or SteeringConfig()
        overrides: dict = {}
        if self.steer_k is not None:
            overrides["tag_k"] = float(self.steer_k)
        if self.steer_schedule is not None and self.steer_schedule != ADDITIVE:
            overrides["schedule"] = self.steer_schedule
        if self.condition_weight is not None:
            overrides["condition_weight"] = float(self.condition_weight)
        if self.affinity_weight is not None:
            overrides["affinity_weight"] = float(self.affinity_weight)
        return replace(config, **overrides)

    def describe(self, prior) -> dict:
        d = prior.defaults
        steering = self.steering(prior)
        return {
            "sampler": self.sampler or d.sampler,
            "nfe": self.nfe
            if self.nfe is not None
            else (None if (self.sampler or d.sampler) == "reference" else d.nfe),
            "guidance": d.guidance if self.guidance is None else self.guidance,
            "steer_k": steering.tag_k if self.steered else 0.0,
            "steer_schedule": ADDITIVE if self.steer_schedule == ADDITIVE else steering.schedule,
            "steering": config_to_dict(steering),
        }


def query_plans(data: EvalData, rows: slice, config: SteeringConfig) -> list[SteeringPlan]:
    """The steering model's plan for each query of ``rows``: its steering text as the one wanted tag."""
    return [steering_plan(SteeringState(tags=data.pairs.steer[i : i + 1]), config)
            for i in range(rows.start, rows.stop)]


def stacked_pairs(plans: list[SteeringPlan]) -> list[tuple[np.ndarray, float]]:
    """The plans' sampler pairs as batch pairs ``([B, Dm], k)``: every plan must have the same ks in order."""
    ks = [tuple(k for _, k in p.pairs) for p in plans]
    if any(k != ks[0] for k in ks):
        raise ValueError("queries of one batch must steer with the same number of entries")
    return [(np.stack([p.pairs[j][0] for p in plans]), k) for j, k in enumerate(ks[0])]


def diffusion_seeds(prior, data: EvalData, choice: SamplingChoice, batch: int = 64) -> tuple[np.ndarray, float]:
    """Seeds from a :class:`prior.service.PriorSampler` for every query, ``[Q, S, D]``, and ms per query."""
    cond, steer = data.pairs.cond, data.pairs.steer
    if choice.steered and steer is None:
        raise DataError("steering asked for, but the pairs carry no 'steer' vectors")
    config = choice.steering(prior)
    if choice.steer_schedule == ADDITIVE:
        seeds, ms = diffusion_seeds(prior, data, replace(choice, steer_k=0.0, steer_schedule=None), batch)
        return additive_steer(seeds, steer, config.tag_k), ms

    def produce(rows: slice) -> np.ndarray:
        pairs = stacked_pairs(query_plans(data, rows, config)) if choice.steered else []
        return prior.sample(
            cond[rows],
            n_seeds=choice.n_seeds,
            guidance=choice.guidance,
            steer=pairs,
            sampler=choice.sampler,
            nfe=choice.nfe,
            seed=choice.seed + rows.start,
            steer_schedule=config.schedule,
        )

    return timed_batches(produce, len(cond), batch)


def retrieval_queries(prior, data: EvalData, choice: SamplingChoice, seeds: np.ndarray,
                      batch: int = 64) -> tuple[np.ndarray | None, float]:
    """Each query's retrieval vectors ``[Q, S, D]`` (:func:`prior.steering.retrieval_vectors`) when this choice's
    steering adds the condition direction (``condition_weight`` > 0), else None: the seeds; and the ms per query that
    drawing the null seeds took (same sampling seeds and steering, CFG weight
    :data:`prior.steering.NULL_GUIDANCE`, as the service draws them)."""
    if not choice.steered or choice.steer_schedule == ADDITIVE:
        return None, 0.0
    config = choice.steering(prior)
    if not config.condition_weight:
        return None, 0.0
    plans = query_plans(data, slice(0, len(data.true_index)), config)
    null_seeds, ms = diffusion_seeds(prior, data, replace(choice, guidance=NULL_GUIDANCE), batch)
    return np.stack([retrieval_vectors(plan, s, n) for plan, s, n in zip(plans, seeds, null_seeds, strict=True)]), ms


def affinity_reranker(prior, data: EvalData, choice: SamplingChoice):
    """The steering model's re-ranking as the service does it, when this choice's steering asks for it (else None):
    each query's merged list reordered by :func:`prior.steering.affinity_relevance` of the tracks' relevance (cosine
    to their nearest retrieval vector) and the prior's affinity of the tracks for the query's condition."""
    if not choice.steered or choice.steer_schedule == ADDITIVE:
        return None
    weight = choice.steering(prior).affinity_weight
    if not weight:
        return None

    def rerank(merged: list[list[int]], retrieve_by: np.ndarray) -> list[list[int]]:
        out = []
        for q, ids in enumerate(merged):
            tracks = data.catalog.music[ids]
            relevance = (tracks @ retrieve_by[q].T).max(axis=1)
            affinity = prior.condition_affinity(data.pairs.cond[q], tracks, seed=choice.seed + q)
            order = np.argsort(-affinity_relevance(relevance, affinity, weight), kind="stable")
            out.append([ids[i] for i in order])
        return out

    return rerank


def additive_steer(seeds: np.ndarray, steer: np.ndarray | None, k: float) -> np.ndarray:
    """normalise(seed + k * steer) for every seed ``[Q, S, D]`` (the regression+steer form, per seed)."""
    if not k:
        return seeds
    return l2_normalise(seeds + k * np.asarray(steer, np.float32)[:, None, :])


def oracle_seeds(world, data: EvalData, n_seeds: int = 16, seed: int = 0) -> tuple[np.ndarray, float]:
    """Exact posterior samples of the synthetic world (the ceiling any prior can reach)."""
    rng = np.random.default_rng(seed)
    return timed_batches(
        lambda rows: world.oracle_sample(data.pairs.cond[rows], n_seeds, rng), len(data.true_index), 256
    )


def evaluate_all(
    prior,
    baseline,
    data: EvalData,
    choice: SamplingChoice,
    *,
    regression_steer_k: float = 1.0,
    world=None,
    merge: str = "round_robin",
    batch: int = 64,
) -> dict:
    """The evaluation JSON: one block per method (see module docstring), plus the settings used."""
    result: dict = {
        "settings": {
            **choice.describe(prior),
            "n_seeds": choice.n_seeds,
            "merge": merge,
            "retrieve_k": RETRIEVE_K,
            "regression_steer_k": regression_steer_k,
            "queries": len(data.true_index),
            "catalog": len(data.catalog),
            "music_space": data.pairs.music_space.to_dict(),
        },
    }
    if data.pairs.music_space.proxy:
        result["note"] = "TEXT PROXY: the music space is text embeddings of track descriptions, not audio"
    hits: dict[str, np.ndarray] = {}

    def record(method: str, seeds: np.ndarray, ms: float, queries: np.ndarray | None = None, rerank=None) -> None:
        result[method] = score_seeds(seeds, data, ms, merge, keep_hits=True, queries=queries, rerank=rerank)
        hits[method] = result[method].pop("_hits@100")

    record("regression", *regression_seeds(baseline, data))
    unsteered = replace(choice, steer_k=0.0)
    seeds, ms = diffusion_seeds(prior, data, unsteered, batch)
    record("diffusion", seeds, ms)
    other_merge = "rrf" if merge == "round_robin" else "round_robin"
    result[f"diffusion/{other_merge}"] = score_seeds(seeds, data, ms, other_merge)  # same seeds, other merge
    if data.pairs.steer is not None:
        record("regression+steer", *regression_seeds(baseline, data, steer_k=regression_steer_k))
        if choice.steered:
            seeds, ms = diffusion_seeds(prior, data, choice, batch)
            queries, null_ms = retrieval_queries(prior, data, choice, seeds, batch)
            record("diffusion+steer", seeds, ms + null_ms, queries, affinity_reranker(prior, data, choice))
    if world is not None:
        record("oracle", *oracle_seeds(world, data, choice.n_seeds, choice.seed))
    result["comparisons"] = compare(hits)
    return result


def compare(hits: dict[str, np.ndarray]) -> dict:
    """Paired Recall@100 differences (mean, SE, and how many SEs) for the comparisons docs/prior-eval.md reports."""
    out = {}
    for a, b in (("diffusion", "regression"), ("diffusion+steer", "regression+steer"), ("diffusion", "oracle")):
        if a in hits and b in hits:
            diff = paired_difference(hits[a], hits[b])
            z = diff.mean / diff.se if diff.se > 0 else float("inf") * np.sign(diff.mean)
            out[f"{a} - {b}"] = {"recall@100_diff": diff.mean, "se": diff.se, "z": float(z)}
    return out


def plot_methods(result: dict, path: str | Path) -> Path:
    """Bar chart of Recall@10, Recall@100 and MISCS per method (with ±1 SE whiskers)."""
    plt = pyplot()
    methods = [m for m in ("regression", "regression+steer", "diffusion", "diffusion+steer", "oracle") if m in result]
    metrics = ("recall@10", "recall@100", "miscs")
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(metrics)
    for j, metric in enumerate(metrics):
        values = [result[m][metric] for m in methods]
        errors = [result[m].get(f"{metric}_se", 0.0) for m in methods]
        ax.bar(np.arange(len(methods)) + j * width, values, width, yerr=errors, label=metric, capsize=3)
    ax.set_xticks(np.arange(len(methods)) + width, methods)
    ax.set_ylim(0, 1.05)
    title = "prior evaluation" + (" (TEXT PROXY)" if "note" in result else "")
    ax.set_title(title)
    ax.legend()
    return save(fig, path)
