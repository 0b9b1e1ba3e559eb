"""Sustained load: 16 clients for 5 minutes mixing ``from-image``, ``steer`` and ``feedback`` against gunicorn, with
the server's memory and Postgres's connection count watched from start to end.

    python bench/load.py [--duration 300] [--clients 16] [--tracks 100000] [--out docs/results/bench/load.json]

Needs the demo artefacts (``make demo`` once), like bench/api.py, and builds the same throwaway stack
(bench/stack.py: its own embedded Postgres, the MusicCaps catalog padded with synthetic tracks, gunicorn with the
demo prior on CPU, tasks in-process, throttles lifted). The clients are locust users (``locust`` as a library, in a
child process so that gevent's monkey-patching stays out of this one): each opens a session with an image, then
steers it (weight 3) and sends feedback on its tracks (weight 2), and opens a fresh session (weight 1, and after 20
versions, well under the 100-version cap). Every 15 s this process records the resident memory of gunicorn's
processes (master and workers) and the connections Postgres holds for the app's database.

Prints ONE JSON object (and writes it to ``--out``): per endpoint the requests, p50 / p95 / max latency and the
status codes; the 5xx count; the memory and connection timeline; the machine's load average (it is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from stack import (
    ROOT,
    TAGS,
    Server,
    free_port,
    missing_demo_input,
    prior_info,
    sample_pngs,
    start_stack,
    stop_database,
)

MAX_VERSIONS_PER_SESSION = 20


def log(message: str) -> None:
    print(f"[bench/load] {message}", file=sys.stderr, flush=True)


# -- the clients (child process: locust and gevent) ---------------------------------------------------------------


def run_clients(base: str, clients: int, duration: float, pngs_dir: Path, out: Path) -> None:
    """Run ``clients`` locust users against ``base`` for ``duration`` seconds; write their statistics to ``out``."""
    import gevent
    from locust import HttpUser, between, task
    from locust.env import Environment

    pngs = [p.read_bytes() for p in sorted(pngs_dir.glob("*.png"))]
    statuses: dict[str, dict[str, int]] = {}

    def count(name: str, status: int) -> None:
        per = statuses.setdefault(name, {})
        per[str(status)] = per.get(str(status), 0) + 1

    class Client(HttpUser):
        host = base
        wait_time = between(0.0, 0.2)

        def on_start(self) -> None:
            self.session = None
            self.new_session()

        def call(self, name: str, path: str, **kwargs):
            with self.client.post(path, name=name, catch_response=True, timeout=60, **kwargs) as response:
                count(name, response.status_code)
                if response.status_code >= 500:
                    response.failure(f"{response.status_code}: {response.text[:200]}")
                elif response.status_code >= 400:  # a client error is the benchmark's bug, not the server's
                    response.failure(f"{response.status_code}: {response.text[:200]}")
                else:
                    response.success()
                return response

        @task(1)
        def new_session(self) -> None:
            png = random.choice(pngs)
            response = self.call("from-image", "/api/playlists/from-image",
                                 files={"image": ("photo.png", png, "image/png")}, data={"size": "20"})
            if response.status_code == 201:
                body = response.json()
                self.session = {"id": body["session"]["id"], "token": body["session"]["token"], "versions": 1,
                                "tracks": [item["track"]["id"] for item in body["playlist"]["items"]]}

        @task(3)
        def steer(self) -> None:
            if self.session is None or self.session["versions"] >= MAX_VERSIONS_PER_SESSION:
                return self.new_session()
            tag = random.choice(TAGS)
            body = {"tags": [tag]}
            if random.random() < 0.3:
                body["avoid"] = [random.choice([t for t in TAGS if t != tag])]
            response = self.call("steer", f"/api/sessions/{self.session['id']}/steer", json=body,
                                 headers={"X-Session-Token": self.session["token"]})
            if response.status_code == 201:
                self.session["versions"] += 1
                self.session["tracks"] = [item["track"]["id"] for item in response.json()["playlist"]["items"]]

        @task(2)
        def feedback(self) -> None:
            if self.session is None:
                return self.new_session()
            liked, skipped = random.sample(self.session["tracks"], 2)
            self.call("feedback", f"/api/sessions/{self.session['id']}/feedback",
                      json={"liked": [liked], "skipped": [skipped]},
                      headers={"X-Session-Token": self.session["token"]})

    env = Environment(user_classes=[Client])
    runner = env.create_local_runner()
    runner.start(clients, spawn_rate=clients)
    gevent.spawn_later(duration, runner.quit)
    runner.greenlet.join()

    endpoints = {}
    for (name, _method), entry in env.stats.entries.items():
        endpoints[name] = {
            "requests": entry.num_requests, "failures": entry.num_failures,
            "rps": round(entry.num_requests / duration, 2),
            "p50_ms": entry.get_response_time_percentile(0.50), "p95_ms": entry.get_response_time_percentile(0.95),
            "p99_ms": entry.get_response_time_percentile(0.99), "max_ms": round(entry.max_response_time, 1),
            "statuses": statuses.get(name, {}),
        }
    errors = [{"endpoint": e.name, "error": str(e.error), "occurrences": e.occurrences}
              for e in list(env.stats.errors.values())[:10]]
    out.write_text(json.dumps({"endpoints": endpoints, "error_samples": errors}))


# -- the stack and the watcher (this process) ---------------------------------------------------------------------


def server_rss_mb(pid: int) -> float:
    """Resident memory of gunicorn's master and workers (MB)."""
    import psutil

    root = psutil.Process(pid)
    return round(sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20, 1)


def pg_connections() -> int:
    """Connections Postgres holds for the app's database, this process's own excluded."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
        return int(cursor.fetchone()[0])


def connection_of_this_thread_closed() -> None:
    from django.db import connection

    connection.close()


def watch(server_pid: int, every: float, stop: threading.Event, timeline: list[dict], started: float) -> None:
    from django.db import connections

    try:
        while not stop.wait(every):
            timeline.append({"t_s": round(time.monotonic() - started), "server_rss_mb": server_rss_mb(server_pid),
                             "pg_connections": pg_connections(), "load_avg_1m": round(os.getloadavg()[0], 2)})
    finally:
        connections.close_all()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load (default 300)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent locust users (default 16)")
    parser.add_argument("--tracks", type=int, default=100_000, help="catalog size (default 100000)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker process")
    parser.add_argument("--checkpoint", type=Path, default=Path(os.environ.get(
        "PRIOR_CHECKPOINT", ROOT / "var" / "models" / "demo-prior")), help="the prior (default: the demo prior)")
    parser.add_argument("--musiccaps", type=Path, default=ROOT / "var" / "demo-pairs" / "catalog.npz",
                        help="MusicCaps caption vectors (catalog.npz written by make demo)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--clients-only", nargs=2, metavar=("BASE", "WORKDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.clients_only:  # the child process
        work = Path(args.clients_only[1])
        run_clients(args.clients_only[0], args.clients, args.duration, work / "pngs", work / "clients.json")
        return 0
    if args.duration <= 0 or args.clients < 1 or args.tracks < 1:
        parser.error("--duration, --clients and --tracks must be positive")
    checkpoint, musiccaps = args.checkpoint.resolve(), args.musiccaps.resolve()
    missing = missing_demo_input(checkpoint, musiccaps)
    if missing:
        print(missing, file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    pgdata = work / "pgdata"
    server = None
    try:
        env, catalog = start_stack(pgdata, checkpoint, "1GB", args.tracks, musiccaps, work)
        (work / "pngs").mkdir()
        for i, png in enumerate(sample_pngs()):
            (work / "pngs" / f"{i}.png").write_bytes(png)

        server = Server(free_port(), env, work / "server.log", "gunicorn", args.workers, args.threads)
        log(f"gunicorn on {server.base} ({args.workers} x {args.threads}); waiting for /readyz (loads the models)")
        server.wait_ready()
        started = time.monotonic()
        start = {"server_rss_mb": server_rss_mb(server.proc.pid), "pg_connections": pg_connections(),
                 "load_avg_1m": round(os.getloadavg()[0], 2)}
        timeline: list[dict] = [{"t_s": 0, **start}]
        connection_of_this_thread_closed()  # from here on only the watcher's own connection is open (not counted)
        stop = threading.Event()
        watcher = threading.Thread(target=watch, args=(server.proc.pid, 15.0, stop, timeline, started))
        watcher.start()
        log(f"{args.clients} clients for {args.duration:.0f} s")
        try:
            subprocess.run([sys.executable, str(Path(__file__).resolve()), "--clients-only", server.base, str(work),
                            "--clients", str(args.clients), "--duration", str(args.duration)],
                           check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT / "bench")})
        finally:
            stop.set()
            watcher.join(30)
        connection_of_this_thread_closed()
        end = {"server_rss_mb": server_rss_mb(server.proc.pid), "pg_connections": pg_connections(),
               "load_avg_1m": round(os.getloadavg()[0], 2)}
        clients = json.loads((work / "clients.json").read_text())
        server.stop()
        server = None
        endpoints = clients["endpoints"]
        server_errors = sum(n for e in endpoints.values() for s, n in e["statuses"].items() if s.startswith("5"))
        result = {
            "bench": "load", "duration_s": args.duration, "clients": args.clients, "catalog": catalog,
            "prior": prior_info(checkpoint),
            "server": {"kind": "gunicorn", "workers": args.workers, "threads": args.threads},
            "mix": {"from-image": 1, "steer": 3, "feedback": 2, "max_versions_per_session": MAX_VERSIONS_PER_SESSION},
            "endpoints": endpoints, "server_errors_5xx": server_errors, "error_samples": clients["error_samples"],
            "start": start, "end": end, "timeline": timeline,
            "machine": {"cpus": os.cpu_count(), "load_avg_1m_start": start["load_avg_1m"],
                        "load_avg_1m_end": end["load_avg_1m"],
                        "note": "shared build machine: other engineers' test suites ran meanwhile"},
            "note": "music vectors are MiniLM caption embeddings (text proxy); synthetic tracks beyond MusicCaps",
        }
        text = json.dumps(result)
        print(text)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=1) + "\n")
        return 0 if server_errors == 0 else 1
    finally:
        if server is not None:
            server.stop()
        stop_database(pgdata)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
