"""worker.celery: every Celery process that runs sampling tasks loads the prior before its first task.

Real workers on a real broker (valkey-server): the threads and solo pools in this process, and a prefork
worker started from the command line, as production starts it.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from serving import runtime
from serving.sampling import sample_seeds
from tests.worker.conftest import COND_SPACE, celery_broker

ROOT = Path(__file__).resolve().parents[2]
COND = np.linspace(-1.0, 1.0, COND_SPACE.dim, dtype=np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("pool", ["threads", "solo"])
def test_in_process_pools_load_the_prior_before_any_task(pool, transactional_db, served_prior, settings, broker_url):
    from celery.contrib.testing.worker import start_worker

    assert runtime._cache.get("prior") is None
    with celery_broker(settings, broker_url) as app:
        with start_worker(app, pool=pool, perform_ping_check=False, shutdown_timeout=30):
            assert runtime._cache.get("prior") is not None  # loaded while the worker started: no task was sent
            assert gc.get_freeze_count() > 10_000
            seeds = sample_seeds(COND, n_seeds=4, seed=3)
    assert seeds.shape == (4, runtime.get_prior().music_space.dim)


def _database_url(settings_dict: dict) -> str:
    from urllib.parse import quote

    host = quote(settings_dict["HOST"] or "localhost", safe="")
    password = f":{quote(settings_dict['PASSWORD'], safe='')}" if settings_dict["PASSWORD"] else ""
    port = f":{settings_dict['PORT']}" if settings_dict["PORT"] else ""
    return f"postgres://{settings_dict['USER']}{password}@{host}{port}/{settings_dict['NAME']}"


def _read_until(process: subprocess.Popen, marker: str, lines: list[str], timeout: float) -> None:
    """Collect the worker's output lines until ``marker`` shows (or fail with what it said)."""
    done = threading.Event()

    def pump() -> None:
        for line in process.stdout:
            lines.append(line)
            if marker in line:
                done.set()
        done.set()

    threading.Thread(target=pump, daemon=True).start()
    assert done.wait(timeout) and any(marker in line for line in lines), "".join(lines[-40:])


@pytest.mark.slow
def test_a_prefork_child_loads_the_prior_before_its_first_task(transactional_db, served_prior, settings, broker_url):
    """``celery -A worker worker --pool prefork``: the child process warms up (Django's fixup first drops the
    database connection it inherited), reports for duty, and serves the same seeds as this process."""
    from django.db import connection

    local = sample_seeds(COND, n_seeds=5, guidance=1.5, seed=9)
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connection.settings_dict),  # this test database, not an embedded one
        "SECRET_KEY": "test-only",
        "CELERY_BROKER_URL": broker_url,
        "PRIOR_CHECKPOINT": str(served_prior),
        "CATALOG_SPACE": settings.CATALOG_SPACE,
        "PRIOR_DEVICE": "cpu",
    }
    command = [sys.executable, "-m", "celery", "-A", "worker", "worker", "--pool", "prefork", "--concurrency", "1",
               "--loglevel", "info", "--without-mingle", "--without-gossip", "--without-heartbeat"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    lines: list[str] = []
    try:
        _read_until(process, " ready.", lines, timeout=120)
        with celery_broker(settings, broker_url):
            remote = sample_seeds(COND, n_seeds=5, guidance=1.5, seed=9)
        time.sleep(0.5)  # let the task's log lines arrive
    finally:
        process.terminate()
        process.wait(30)
    output = "".join(lines)
    warm = next((i for i, line in enumerate(lines) if "warm-up: prior" in line), None)
    # The parent may fetch the task while the child warms up ("received"); it runs once the child is up.
    ran = next((i for i, line in enumerate(lines) if "worker.sample_seeds" in line and "succeeded" in line), None)
    assert warm is not None and "ForkPoolWorker" in lines[warm], output
    assert ran is not None and warm < ran, output
    assert sum("loaded prior" in line for line in lines) == 1, output  # the task found it loaded
    assert "Timed out waiting for UP message" not in output
    assert app_proc_alive_timeout() >= 60  # a slow load (weights onto a GPU) is not taken for a dead child
    np.testing.assert_allclose(remote, local, atol=1e-6)


def app_proc_alive_timeout() -> float:
    from worker.celery import app

    return float(app.conf.worker_proc_alive_timeout)
