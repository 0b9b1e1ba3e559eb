"""worker.celery: every Celery process that runs sampling tasks loads the prior before its first task.

Real workers on a real broker (valkey-server): the threads and solo pools in this process, and a prefork
worker started from the command line, as production starts it.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

from serving import runtime
from serving.sampling import sample_seeds
from tests.conftest import celery_worker_command, start_watched_process, worker_env
from tests.helpers.waiting import wait_until
from tests.worker.conftest import COND_SPACE, celery_broker

COND = np.linspace(-1.0, 1.0, COND_SPACE.dim, dtype=np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("pool", ["threads", "solo"])
def test_in_process_pools_load_the_prior_before_any_task(pool, transactional_db, served_prior, settings, broker_url):
    from celery.contrib.testing.worker import start_worker

    assert runtime.loaded_prior() is None
    with celery_broker(settings, broker_url) as app:
        with start_worker(app, pool=pool, perform_ping_check=False, shutdown_timeout=30):
            assert runtime.loaded_prior() is not None  # loaded while the worker started: no task was sent
            assert gc.get_freeze_count() > 10_000
            seeds = sample_seeds(COND, n_seeds=4, seed=3)
    assert seeds.shape == (4, runtime.get_prior().music_space.dim)


@pytest.mark.slow
def test_a_prefork_child_loads_the_prior_before_its_first_task(transactional_db, served_prior, settings, broker_url):
    """``celery -A worker worker --pool prefork``: the child process warms up (Django's fixup first drops the
    database connection it inherited), reports for duty, and serves the same seeds as this process."""
    local = sample_seeds(COND, n_seeds=5, guidance=1.5, seed=9)
    command = celery_worker_command("--pool", "prefork", "--concurrency", "1")
    process, lines, ready = start_watched_process(command, worker_env(broker_url),
                                                  lambda lines: " ready." in lines[-1])
    try:
        assert ready.wait(120), "".join(lines[-40:])
        with celery_broker(settings, broker_url):
            remote = sample_seeds(COND, n_seeds=5, guidance=1.5, seed=9)
        # the result came back; the worker's log line saying so follows
        assert wait_until(lambda: any(succeeded(line) for line in lines)), "".join(lines[-40:])
    finally:
        process.terminate()
        process.wait(30)
    output = "".join(lines)
    warm = next((i for i, line in enumerate(lines) if "warm-up: prior" in line), None)
    # The parent may fetch the task while the child warms up ("received"); it runs once the child is up.
    ran = next((i for i, line in enumerate(lines) if succeeded(line)), None)
    assert warm is not None and "ForkPoolWorker" in lines[warm], output
    assert ran is not None and warm < ran, output
    assert sum("loaded prior" in line for line in lines) == 1, output  # the task found it loaded
    assert "Timed out waiting for UP message" not in output
    assert app_proc_alive_timeout() >= 60  # a slow load (weights onto a GPU) is not taken for a dead child
    np.testing.assert_allclose(remote, local, atol=1e-6)


def succeeded(line: str) -> bool:
    return "worker.sample_seeds" in line and "succeeded" in line


def app_proc_alive_timeout() -> float:
    from worker.celery import app

    return float(app.conf.worker_proc_alive_timeout)
