"""Playlist quality against the serving settings: what the playlist ANN's ``ef_search``, the HNSW graph's
degree ``m`` and the seed count buy.

    python bench/playlist_quality.py [--tracks 100000] [--queries 200] [--seeds 16,8] [--ef-search 10,20,40]
                                     [--hnsw-m 8] [--no-compare-dtypes]

Needs the demo artefacts (``make demo`` once), like bench/api.py, and builds the same catalog in its own
throwaway embedded Postgres (MusicCaps caption vectors plus synthetic neighbours up to ``--tracks``).

Queries are held-out demo pairs (``var/demo-pairs/test.npz``): a mood image's palette vector and the MiniLM
caption vector of the clip it was drawn for, which stands in for "the music this image should get". For each
query the real pipeline (:func:`recommend.services.playlist.compute_playlist`: sample, one-round-trip ANN, merge,
diversify) runs once per setting with the SAME sampling seed, so two settings with the same seed count differ
only in the ANN. The reference of each seed count is ``ef_search`` 1000 (pgvector's maximum; recall ~1).
Each ``--hnsw-m`` value rebuilds the space's index with that ``m`` and runs every setting on it (keys
``m{m}_seeds{S}_ef{ef}``); the index the serving code builds is ``catalog.vector_index.HNSW_M``.

Per setting (mean over queries; ``d_*`` = paired difference to the reference, with its standard error):
- ``relevance``: mean cosine of the playlist's tracks to the held-out clip's vector;
- ``best``: the highest such cosine in the playlist;
- ``ils``: intra-list similarity, mean pairwise cosine of the playlist's tracks (lower = more diverse);
- ``overlap``: share of the reference playlist's tracks also in this one;
- ``ann_ms`` (wall) and ``postgres_cpu_ms`` (the postmaster tree, /proc) per playlist ANN.

``float32_vs_bfloat16`` (``--no-compare-dtypes`` skips it): the same metrics for the prior's per-seed MLP in
bfloat16 against float32 as the reference, plain and steered by a tag, at the serving ``ef_search``
(``PRIOR_DTYPE``, docs/prior-model.md). The table above runs with ``PRIOR_DTYPE`` as configured (``prior_dtype``).

Prints ONE JSON object on stdout (progress on stderr). Music vectors are a TEXT PROXY (docs/encoders.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import stack  # noqa: E402 - the same throwaway database, catalog and CPU accounting as bench/api.py

REFERENCE_EF = 1000


def log(message: str) -> None:
    print(f"[bench/playlist_quality] {message}", file=sys.stderr, flush=True)


def playlist_metrics(vectors: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Relevance to the held-out clip and diversity of one playlist (rows of ``vectors`` are unit tracks)."""
    sims = vectors @ truth
    gram = vectors @ vectors.T
    n = len(vectors)
    ils = float((gram.sum() - np.trace(gram)) / (n * (n - 1))) if n > 1 else 1.0
    return {"relevance": float(sims.mean()), "best": float(sims.max()), "ils": ils}


def paired(values: list[float], reference: list[float]) -> dict[str, float]:
    diff = np.asarray(values) - np.asarray(reference)
    return {"mean": round(float(diff.mean()), 4), "se": round(float(diff.std(ddof=1) / np.sqrt(len(diff))), 4)}


def run_setting(conds: np.ndarray, truths: np.ndarray, n_seeds: int, ef_search: int, size: int,
                postmaster: int, dtype: str | None = None, steered: bool = False) -> dict:
    """Playlists of every query at one setting: their track ids and per-query metrics, and the ANN's cost.

    ``dtype``: the prior's ``PRIOR_DTYPE`` for this setting (None: as configured); ``steered``: each query is
    steered by one tag of bench/api.py's list, the same tag for the same query in every setting.
    """
    from django.conf import settings
    from django.test.utils import override_settings

    from catalog.selectors import get_space, vectors_for
    from recommend.services.playlist import compute_playlist
    from recommend.services.steering_vectors import SteeringState
    from serving import engine

    space = get_space(settings.CATALOG_SPACE)
    ids, rows, ann_ms = [], [], []
    cpu = 0.0
    overrides = {"RECOMMEND_EF_SEARCH": ef_search} | ({"PRIOR_DTYPE": dtype} if dtype else {})
    engine.reset()  # the prior is loaded again under this setting's PRIOR_DTYPE
    for i, (cond, truth) in enumerate(zip(conds, truths, strict=True)):
        state = SteeringState(tags=(stack.TAGS[i % len(stack.TAGS)],) if steered else ())
        before = stack.cpu_seconds({"postgres": postmaster})["postgres"]
        with override_settings(**overrides):
            computed = compute_playlist(cond, state, size=size, n_seeds=n_seeds, guidance=None,
                                        rng_seed=10_000 + i)
        cpu += stack.cpu_seconds({"postgres": postmaster})["postgres"] - before
        ann_ms.append(computed.timings_ms["ann"])
        track_ids = [item.track_id for item in computed.items]
        ids.append(track_ids)
        rows.append(playlist_metrics(vectors_for(space, track_ids), truth))
    return {"ids": ids, "rows": rows, "ann_ms": float(np.median(ann_ms)),
            "postgres_cpu_ms": 1000 * cpu / len(conds)}


def summarise(result: dict, reference: dict) -> dict:
    out: dict = {}
    for name in ("relevance", "best", "ils"):
        values = [r[name] for r in result["rows"]]
        out[name] = round(float(np.mean(values)), 4)
        out[f"d_{name}"] = paired(values, [r[name] for r in reference["rows"]])
    overlap = [len(set(a) & set(b)) / max(len(b), 1) for a, b in zip(result["ids"], reference["ids"], strict=True)]
    out["overlap"] = round(float(np.mean(overlap)), 3)
    out["ann_ms"] = round(result["ann_ms"], 1)
    out["postgres_cpu_ms"] = round(result["postgres_cpu_ms"], 1)
    return out


def rebuild_index(m: int) -> None:
    """Give the serving space a fresh HNSW index with ``m`` neighbours per layer."""
    import time

    from django.conf import settings

    from catalog.selectors import get_space
    from catalog.vector_index import build_index, drop_index

    space = get_space(settings.CATALOG_SPACE)
    start = time.monotonic()
    drop_index(space)
    build_index(space, m=m)
    log(f"index rebuilt with m = {m} in {time.monotonic() - start:.0f} s")


def prior_dtype() -> str:
    from serving import runtime

    return str(runtime.get_prior().dtype).removeprefix("torch.")


def compare_dtypes(conds: np.ndarray, truths: np.ndarray, n_seeds: int, size: int, postmaster: int) -> dict:
    """Playlists with the prior's trunk in bfloat16 against float32 (the reference), same queries and sampling
    seeds, at the serving ``ef_search``: plain and steered by a tag."""
    from recommend import conf

    ef = int(conf.get("RECOMMEND_EF_SEARCH"))
    out: dict = {"seeds": n_seeds, "ef_search": ef}
    for label, steered in (("plain", False), ("steered", True)):
        reference = run_setting(conds, truths, n_seeds, ef, size, postmaster, dtype="float32", steered=steered)
        result = run_setting(conds, truths, n_seeds, ef, size, postmaster, dtype="bfloat16", steered=steered)
        out[label] = {"float32": summarise(reference, reference), "bfloat16": summarise(result, reference)}
        log(f"{label}, bfloat16 vs float32: {json.dumps(out[label]['bfloat16'])}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100_000, help="catalog size (default 100000)")
    parser.add_argument("--queries", type=int, default=200, help="held-out queries (default 200)")
    parser.add_argument("--seeds", default="16,8", help="comma-separated seed counts (default 16,8)")
    parser.add_argument("--ef-search", default="10,20,40", help="comma-separated ef_search values (default 10,20,40)")
    parser.add_argument("--hnsw-m", default=None,
                        help="comma-separated HNSW m values, one index build each (default: the serving HNSW_M)")
    parser.add_argument("--size", type=int, default=20, help="playlist size (default 20)")
    parser.add_argument("--compare-dtypes", action=argparse.BooleanOptionalAction, default=True,
                        help="also compare playlists with the prior in bfloat16 vs float32 (default on)")
    parser.add_argument("--checkpoint", type=Path, default=Path(os.environ.get(
        "PRIOR_CHECKPOINT", ROOT / "var" / "models" / "demo-prior")), help="the prior (default: the demo prior)")
    parser.add_argument("--pairs", type=Path, default=ROOT / "var" / "demo-pairs",
                        help="the demo pairs folder (catalog.npz and test.npz, written by make demo)")
    args = parser.parse_args(argv)
    try:
        seed_counts = [int(s) for s in args.seeds.split(",") if s.strip()]
        efs = [int(e) for e in args.ef_search.split(",") if e.strip()]
        ms = [int(m) for m in (args.hnsw_m or "").split(",") if m.strip()]  # none given: the serving HNSW_M
    except ValueError:
        parser.error("--seeds, --ef-search and --hnsw-m must be integers separated by commas, e.g. 16,8")
    if not seed_counts or not efs or min(seed_counts + efs) < 1 or max(efs) > REFERENCE_EF or args.queries < 2:
        parser.error("--seeds and --ef-search need positive values (ef_search <= 1000) and --queries at least 2")
    if not all(2 <= m <= 100 for m in ms):
        parser.error("--hnsw-m values must be between 2 and 100 (pgvector's range)")
    checkpoint, pairs = args.checkpoint.resolve(), args.pairs.resolve()
    missing = stack.missing_demo_input(checkpoint, pairs / "catalog.npz",
                                       (pairs / "test.npz", "the held-out demo pairs"))
    if missing:
        print(missing, file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="bench-playlist-quality-"))
    pgdata = work / "pgdata"
    try:
        stack.setup_env(pgdata, checkpoint)
        stack.start_database(pgdata, "1GB")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        catalog = stack.load_catalog(args.tracks, pairs / "catalog.npz", work)
        test = np.load(pairs / "test.npz")
        pick = np.random.default_rng(0).choice(len(test["cond"]), min(args.queries, len(test["cond"])), replace=False)
        conds, truths = test["cond"][pick], test["music"][pick]
        postmaster = stack.postmaster_pid(pgdata)
        from catalog.vector_index import HNSW_M

        settings_out: dict = {}
        built = HNSW_M  # what load_catalog built
        ms = ms or [HNSW_M]
        for m in ms:
            if m != built:
                rebuild_index(m)
                built = m
            run_setting(conds[:5], truths[:5], seed_counts[0], efs[0], args.size, postmaster)  # warm caches
            for n_seeds in seed_counts:
                reference = run_setting(conds, truths, n_seeds, REFERENCE_EF, args.size, postmaster)
                settings_out[f"m{m}_seeds{n_seeds}_ef{REFERENCE_EF}"] = summarise(reference, reference)
                for ef in efs:
                    result = run_setting(conds, truths, n_seeds, ef, args.size, postmaster)
                    settings_out[f"m{m}_seeds{n_seeds}_ef{ef}"] = row = summarise(result, reference)
                    log(f"m {m} seeds {n_seeds} ef_search {ef}: {json.dumps(row)}")
        dtypes_out = None
        if args.compare_dtypes:
            dtypes_out = compare_dtypes(conds, truths, seed_counts[0], args.size, postmaster)
        print(json.dumps({
            "bench": "playlist_quality", "catalog": catalog, "prior": stack.prior_info(checkpoint),
            "queries": len(conds), "size": args.size, "reference_ef_search": REFERENCE_EF,
            "settings": settings_out, "prior_dtype": prior_dtype(), "float32_vs_bfloat16": dtypes_out,
            "machine": {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)},
            "note": "music vectors are MiniLM caption embeddings (text proxy); queries are held-out demo pairs",
        }))
        return 0
    finally:
        stack.stop_database(pgdata)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
