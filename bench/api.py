"""API benchmark: ``from-image`` and ``steer`` latency over HTTP against a live server, and where the time goes.

    python bench/api.py [--tracks 100000] [--duration 60] [--clients 1,8]

Needs the demo artefacts (``make demo`` once): the default prior (``PRIOR_CHECKPOINT``, default
``var/models/demo-prior``) and the MusicCaps caption vectors in ``var/demo-pairs/catalog.npz``.

What it does, all in its OWN throwaway embedded Postgres (a temporary data directory, deleted at exit):
1. catalog: the MusicCaps slice (5,521 real clips, MiniLM caption vectors: a text proxy, docs/encoders.md) plus
   synthetic tracks up to ``--tracks`` (each a MusicCaps vector plus Gaussian noise, renormalised, so they live
   in the same region of the space as the real ones; 10 tracks per synthetic artist), bulk-loaded through the
   real ingest path, then the HNSW index is built;
2. a live server on 127.0.0.1 in a subprocess: gunicorn (gthread, ``--workers`` processes x ``--threads``, as in
   production) or ``--server runserver`` (the demo's one-process threaded server), with the default prior on CPU
   and tasks in-process (no broker), ``from-image`` throttling lifted;
3. for each client count: ``from-image`` (multipart PNG upload, size 20, 16 seeds) and then ``steer`` (one tag,
   sometimes an avoid tag, on sessions of at most 5 versions) for ``--duration`` seconds each, every client a
   bounded request loop that stops at the deadline; with the CPU time the server processes, Postgres and the
   client threads each spent per request meanwhile (/proc; in the steer phase a from-image call opens each
   session for five steers, and counts as a request too);
4. the breakdown: the same services called in-process (server stopped), using their timing hooks
   (``encode_tags``, ``sample``, ``ann``, ``affinity`` for a steer that re-ranks, ``merge``) plus the image
   encoder timed directly; ``store`` is the rest;
5. ``batching``: the sampling queries the gunicorn workers served and the batched passes they took (the whole
   run, warm-up included; each worker logs them at exit), so ``per_pass`` says how well concurrent requests
   shared the prior's passes (``PRIOR_BATCH_WAIT_MS``, the layout).

Prints ONE JSON object on stdout (progress goes to stderr). The server is always stopped, whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
from stack import (
    ROOT,
    TAGS,
    Server,
    cpu_seconds,
    free_port,
    missing_demo_input,
    postmaster_pid,
    prior_info,
    sample_pngs,
    start_stack,
    stop_database,
)


def log(message: str) -> None:
    print(f"[bench/api] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


# -- the clients -------------------------------------------------------------------------------------------------


def multipart(png: bytes, fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="q.png"\r\n'
                 "Content-Type: image/png\r\n\r\n".encode() + png + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def call(url: str, body: bytes, content_type: str, headers: dict | None = None) -> tuple[int, dict | str, float]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": content_type, **(headers or {})})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except OSError as exc:
        return 0, f"{type(exc).__name__}: {exc}", (time.perf_counter() - start) * 1000
    elapsed = (time.perf_counter() - start) * 1000
    try:
        return status, json.loads(raw), elapsed
    except ValueError:
        return status, raw[:200].decode(errors="replace"), elapsed


def client_loop(kind: str, base: str, pngs: list[bytes], deadline: float, index: int, out: dict) -> None:
    """One client: requests back to back until ``deadline``; latencies of the measured kind only."""
    rng = np.random.default_rng(1000 + index)
    latencies, errors = out["latencies"], out["errors"]
    session, steers = None, 0
    while time.monotonic() < deadline:
        if kind == "from-image" or session is None or steers >= 5:
            body, ctype = multipart(pngs[int(rng.integers(len(pngs)))], {"size": "20", "seeds": "16"})
            status, data, ms = call(base + "/api/playlists/from-image", body, ctype)
            if status != 201:
                errors.append(f"from-image {status}: {str(data)[:200]}")
                session = None
                continue
            if kind == "from-image":
                latencies.append(ms)
                continue
            out["session_starts"] += 1
            session, steers = data["session"], 0
        payload = {"tags": [TAGS[int(rng.integers(len(TAGS)))]]}
        if rng.uniform() < 0.3:
            payload["avoid"] = [TAGS[int(rng.integers(len(TAGS)))]]
            if payload["avoid"] == payload["tags"]:
                del payload["avoid"]
        status, data, ms = call(f"{base}/api/sessions/{session['id']}/steer", json.dumps(payload).encode(),
                                "application/json", {"X-Session-Token": session["token"]})
        steers += 1
        if status == 201:
            latencies.append(ms)
        else:
            errors.append(f"steer {status}: {str(data)[:200]}")


def run_phase(kind: str, base: str, pngs: list[bytes], clients: int, duration: float,
              processes: dict[str, int] | None = None) -> dict:
    """``clients`` client threads for ``duration`` s; latency percentiles and, given the server's and Postgres'
    root pids, the CPU each side spent per request (see :func:`cpu_seconds`)."""
    outs = [{"latencies": [], "errors": [], "session_starts": 0} for _ in range(clients)]
    cpu_before = cpu_seconds(processes) if processes else None
    deadline = time.monotonic() + duration
    threads = [threading.Thread(target=client_loop, args=(kind, base, pngs, deadline, i, outs[i]), daemon=True)
               for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 120)  # a request in flight at the deadline may finish; none can outlive its timeout
    wall = time.monotonic() - started
    latencies = [x for o in outs for x in o["latencies"]]
    errors = [e for o in outs for e in o["errors"]]
    result = {"requests": len(latencies), "errors": len(errors), "p50_ms": percentile(latencies, 50),
              "p95_ms": percentile(latencies, 95), "max_ms": percentile(latencies, 100),
              "rps": round(len(latencies) / wall, 2)}
    if cpu_before is not None:
        spent = {name: seconds - cpu_before[name] for name, seconds in cpu_seconds(processes).items()}
        served = len(latencies) + sum(o["session_starts"] for o in outs)
        result["cpu_ms_per_request"] = {name: round(1000 * s / max(served, 1), 1) for name, s in spent.items()}
        result["cpu_busy"] = round(sum(spent.values()) / wall / (os.cpu_count() or 1), 2)
    if errors:
        result["first_errors"] = sorted(set(errors))[:3]
    log(f"{kind} x{clients}: {json.dumps(result)}")
    return result


def batching_from_log(path: Path) -> dict:
    """Sampling queries and batched passes of the whole server run (warm-up included), from what each gunicorn
    worker logs at exit (serving/process.py: log_batching)."""
    queries = passes = 0
    for match in re.finditer(r"sampling: (\d+) queries in (\d+) passes", path.read_text(errors="replace")):
        queries, passes = queries + int(match[1]), passes + int(match[2])
    return {"queries": queries, "passes": passes, "per_pass": round(queries / passes, 2) if passes else None}


# -- where the time goes ---------------------------------------------------------------------------------------


def recall(approx: list, exact: list) -> float:
    """Share of each seed's exact top-len(approx list) that the approximate search found, averaged over seeds."""
    pairs = zip(approx, exact, strict=True)
    shares = [len({n.track_id for n in a} & {n.track_id for n in e[: len(a)]}) / len(a) for a, e in pairs if a]
    return float(np.mean(shares)) if shares else 1.0


def breakdown(pngs: list[bytes], n: int, postmaster: int) -> dict:
    """Median ms per stage of ``from-image`` and ``steer``, from the services' timing hooks, in this process.

    Recall is a mean (over requests) of the per-seed share of the exact top-k that the serving ANN returned.
    ``postgres_cpu_ms``: the CPU Postgres spent on one whole request and on its playlist ANN alone (this
    process is its only client here), which says how much of the database's work the ANN is.
    """
    from django.conf import settings

    from prior.images import load_image
    from recommend.services.playlist import playlist_from_image
    from recommend.services.steering import steer_session
    from serving import engine

    stages: dict[str, dict[str, list[float]]] = {"from_image": {}, "steer": {}, "ann_parts": {}, "postgres_cpu_ms": {}}

    def add(kind: str, name: str, ms: float) -> None:
        stages[kind].setdefault(name, []).append(ms)

    def pg_ms() -> float:
        return cpu_seconds({"postgres": postmaster})["postgres"] * 1000

    rng = np.random.default_rng(5)
    playlist_from_image(image=pngs[0], size=20, seeds=16)  # warm-up
    for i in range(n):
        png = pngs[i % len(pngs)]
        t0 = time.perf_counter()
        engine.encode_image(load_image(png))
        encode = (time.perf_counter() - t0) * 1000
        t1, pg0 = time.perf_counter(), pg_ms()
        created = playlist_from_image(image=png, size=20, seeds=16)
        total = (time.perf_counter() - t1) * 1000
        add("postgres_cpu_ms", "from_image", pg_ms() - pg0)
        timings = created.playlist.timings_ms
        add("from_image", "decode_encode_image", encode)
        for name, ms in timings.items():
            add("from_image", name, ms)
        add("from_image", "store_and_rest", total - encode - sum(timings.values()))
        add("from_image", "total", total)

        t2, pg0 = time.perf_counter(), pg_ms()
        playlist = steer_session(created.session, tags=[TAGS[int(rng.integers(len(TAGS)))]])
        total = (time.perf_counter() - t2) * 1000
        add("postgres_cpu_ms", "steer", pg_ms() - pg0)
        for name, ms in playlist.timings_ms.items():
            add("steer", name, ms)
        add("steer", "store_and_rest", total - sum(playlist.timings_ms.values()))
        add("steer", "total", total)
    # What "ann" is made of: the serving ANN (small k at RECOMMEND_EF_SEARCH, deeper only if the pool is short),
    # beside the old fixed recipe (k = 40 per seed at the catalog-wide ef_search), on the same seeds.
    from catalog.selectors import get_space, nearest_candidates, nearest_tracks
    from recommend import conf
    from recommend.selectors import playlist_candidates
    from serving import runtime

    prior = runtime.get_prior()
    space = get_space(settings.CATALOG_SPACE)
    cond = engine.encode_image(load_image(pngs[0]))
    for i in range(n):
        seeds = prior.sample(cond, 16, seed=i)
        t0, pg0 = time.perf_counter(), pg_ms()
        found, k = playlist_candidates(space, seeds, pool=60, size=20, exclude=set())
        t1 = time.perf_counter()
        add("postgres_cpu_ms", "serving_ann", pg_ms() - pg0)
        nearest_candidates(space, seeds, 40, ef_search=settings.HNSW_EF_SEARCH)
        t2 = time.perf_counter()
        add("ann_parts", "serving_ms", (t1 - t0) * 1000)
        add("ann_parts", "serving_k_per_seed", float(k))
        add("ann_parts", "serving_recall_vs_exact", recall(found.per_seed, nearest_tracks(space, seeds, k, exact=True)))
        add("ann_parts", "k40_ef100_ms", (t2 - t1) * 1000)
    stages["ann_parts"]["serving_ef_search"] = [float(conf.get("RECOMMEND_EF_SEARCH"))]
    return {kind: {name: summarise(kind, name, v) for name, v in values.items()} for kind, values in stages.items()}


def summarise(kind: str, name: str, values: list[float]) -> float:
    """Medians of times; means of recall and of Postgres CPU (/proc counts 10-ms ticks: only a mean resolves it)."""
    if "recall" in name:
        return round(float(np.mean(values)), 3)
    return round(float(np.mean(values) if kind == "postgres_cpu_ms" else np.median(values)), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100_000, help="catalog size (default 100000)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per endpoint and client count")
    parser.add_argument("--clients", default="1,8", help="comma-separated concurrent client counts (default 1,8)")
    parser.add_argument("--breakdown", type=int, default=30, help="in-process requests timed per stage (0 = skip)")
    parser.add_argument("--checkpoint", type=Path, default=Path(os.environ.get(
        "PRIOR_CHECKPOINT", ROOT / "var" / "models" / "demo-prior")), help="the prior (default: the demo prior)")
    parser.add_argument("--musiccaps", type=Path, default=ROOT / "var" / "demo-pairs" / "catalog.npz",
                        help="MusicCaps caption vectors (catalog.npz written by make demo)")
    parser.add_argument("--shared-buffers", default="1GB", help="Postgres shared_buffers ('' = its default)")
    parser.add_argument("--server", choices=["gunicorn", "runserver"], default="gunicorn",
                        help="gunicorn (production: processes x threads) or runserver (the demo's threaded server)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker process")
    args = parser.parse_args(argv)
    try:
        client_counts = [int(c) for c in args.clients.split(",") if c.strip()]
    except ValueError:
        parser.error("--clients must be integers separated by commas, e.g. 1,8")
    if args.tracks < 1 or args.duration <= 0 or not client_counts or min(client_counts) < 1:
        parser.error("--tracks, --duration and every --clients value must be positive")
    checkpoint, musiccaps = args.checkpoint.resolve(), args.musiccaps.resolve()
    missing = missing_demo_input(checkpoint, musiccaps)
    if missing:
        print(missing, file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    pgdata = work / "pgdata"
    server = None
    try:
        env, catalog = start_stack(pgdata, checkpoint, args.shared_buffers, args.tracks, musiccaps, work)
        pngs = sample_pngs()

        server = Server(free_port(), env, work / "server.log", args.server, args.workers, args.threads)
        log(f"{args.server} on {server.base}; waiting for /readyz (loads the models)")
        server.wait_ready()
        for kind in ("from-image", "steer"):  # warm-up, not reported: every worker process loads its models
            run_phase(kind, server.base, pngs, max(client_counts), min(10.0, args.duration))
        processes = {"server": server.proc.pid, "postgres": postmaster_pid(pgdata)}
        results: dict = {"from_image": {}, "steer": {}}
        for clients in client_counts:
            for kind in ("from-image", "steer"):
                results[kind.replace("-", "_")][str(clients)] = run_phase(kind, server.base, pngs, clients,
                                                                          args.duration, processes)
        server.stop()
        server = None
        batching = batching_from_log(work / "server.log")
        stages = breakdown(pngs, args.breakdown, postmaster_pid(pgdata)) if args.breakdown else {}
        top = str(max(client_counts))
        worst = max(per[top]["p95_ms"] or 0 for per in results.values())
        errors = sum(r["errors"] for per in results.values() for r in per.values())
        print(json.dumps({
            "bench": "api", "catalog": catalog, "prior": prior_info(checkpoint), "duration_s": args.duration,
            "server": {"kind": args.server, "workers": args.workers if args.server == "gunicorn" else 1,
                       "threads": args.threads if args.server == "gunicorn" else None},
            **results, "batching": batching, "breakdown_ms": stages,
            "target": {"p95_ms_at_max_clients": 300, "clients": max(client_counts), "worst_p95_ms": worst,
                       "errors": errors, "met": worst <= 300 and errors == 0},
            "machine": {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)},
            "note": "music vectors are MiniLM caption embeddings (text proxy); synthetic tracks beyond MusicCaps",
        }))
        return 0
    finally:
        if server is not None:
            server.stop()
        stop_database(pgdata)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
