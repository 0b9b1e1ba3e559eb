"""Where the prior runs: :func:`sample_seeds` and :func:`condition_affinity`, the calls the web side makes, and
:func:`sample_local` / :func:`affinity_local`, what the Celery tasks run.

:func:`sample_seeds` (and :func:`condition_affinity` alike) decides where sampling runs:
- no broker configured (``CELERY_TASK_ALWAYS_EAGER``, the embedded default): in this process, by calling the
  prior directly: no JSON round trip for a call that takes milliseconds;
- a broker configured: as the task :data:`SAMPLE_SEEDS_TASK` (:func:`worker.tasks.sample_seeds_task`) on a Celery
  worker (GPU when it has one), waiting at most ``CELERY_TASK_TIME_LIMIT`` seconds.
The task is sent by its registered name through the Celery app that ``settings.SERVING_CELERY_APP`` names, so this
package never imports ``worker`` (which imports it to run the task): no import circle (docs/architecture.md).
Either way failures the caller cannot fix come back as a :class:`~serving.errors.SamplingUnavailable` (HTTP 503)
and bad input as ``ValueError`` (HTTP 400), never as a broker library's own exception.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext

import numpy as np
from celery import Celery
from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.conf import settings
from django.utils.module_loading import import_string
from kombu.exceptions import OperationalError

from serving import runtime
from serving.errors import BrokerUnavailable, WorkerTimeout
from serving.runtime import uses_broker

log = logging.getLogger(__name__)

Steer = Sequence[tuple[np.ndarray, float]]

# The sampling task's registered name: stable, since the broker's queues and CELERY_TASK_ROUTES (config/settings.py:
# the `prior` queue) and running workers know it by this name.
SAMPLE_SEEDS_TASK = "worker.sample_seeds"
AFFINITY_TASK = "worker.condition_affinity"  # the steering model's re-ranking (prior.affinity), same queue


def celery_app() -> Celery:
    """The project's Celery app (``settings.SERVING_CELERY_APP``, a dotted path): what :func:`sample_seeds` sends
    the task through. Named in the settings rather than imported, since the worker package imports this one."""
    return import_string(settings.SERVING_CELERY_APP)


def sample_local(
    cond: np.ndarray, n_seeds: int, guidance: float | None, steer: Steer, seed: int | None,
    steer_schedule: str | None = None,
) -> np.ndarray:
    """In this process, through its batcher: concurrent requests of a threaded server share network passes."""
    return runtime.get_batcher().sample(cond, n_seeds=n_seeds, guidance=guidance, steer=list(steer), seed=seed,
                                        steer_schedule=steer_schedule)


def sampling_ahead() -> AbstractContextManager:
    """Announce, for the ``with`` block, that this thread will call :func:`sample_seeds` soon.

    In-process sampling batches concurrent calls, and a batch about to start waits briefly for announced ones
    (:meth:`prior.batching.SampleBatcher.expecting`). With a broker, or before the prior is loaded, it does
    nothing; it never loads a model or raises.
    """
    batcher = None if uses_broker() else runtime.loaded_batcher()
    return nullcontext() if batcher is None else batcher.expecting()


def sample_seeds(
    cond: np.ndarray,
    n_seeds: int = 16,
    guidance: float | None = None,
    steer: Steer = (),
    seed: int | None = None,
    steer_schedule: str | None = None,
) -> np.ndarray:
    """``n_seeds`` seed embeddings ``[n_seeds, Dm]`` (float32, L2-normalised) for the query ``cond [Dc]``.

    Raises ``ValueError`` for bad input, :class:`~serving.errors.PriorNotReady` when the model is not set up,
    :class:`~serving.errors.BrokerUnavailable` when the broker is down and :class:`~serving.errors.WorkerTimeout`
    when no worker answers within ``CELERY_TASK_TIME_LIMIT`` seconds.
    """
    if not uses_broker():
        return sample_local(cond, n_seeds, guidance, steer, seed, steer_schedule)

    kwargs = {"cond": np.asarray(cond, dtype=np.float32).tolist(), "n_seeds": int(n_seeds), "guidance": guidance,
              "steer": [[np.asarray(vec, dtype=np.float32).tolist(), float(k)] for vec, k in steer], "seed": seed,
              "steer_schedule": steer_schedule}
    return np.asarray(_run_task(SAMPLE_SEEDS_TASK, kwargs, "seeds"), dtype=np.float32)


def affinity_local(cond: np.ndarray, tracks: np.ndarray, seed: int | None) -> np.ndarray:
    """In this process: the prior's affinity of ``tracks`` for ``cond`` (:meth:`PriorSampler.condition_affinity`).

    Not through the batcher: one call is a few forward passes over the candidates, too small to be worth waiting
    for others (torch runs the frozen network from several threads safely)."""
    return runtime.get_prior().condition_affinity(cond, tracks, seed=seed)


def condition_affinity(cond: np.ndarray, tracks: np.ndarray, seed: int | None = None) -> np.ndarray:
    """How well each of ``tracks [N, Dm]`` fits the query ``cond [Dc]`` by the prior's judgement -> ``[N]``
    (:mod:`prior.affinity`); where it runs and what it raises: as :func:`sample_seeds`."""
    if not uses_broker():
        return affinity_local(cond, tracks, seed)
    kwargs = {"cond": np.asarray(cond, dtype=np.float32).tolist(),
              "tracks": np.asarray(tracks, dtype=np.float32).tolist(), "seed": seed}
    return np.asarray(_run_task(AFFINITY_TASK, kwargs, "affinities"), dtype=np.float64)


def _run_task(name: str, kwargs: dict, what: str):
    """Send the task ``name`` to a worker and wait for its result; broker failures become 503 kinds."""
    timeout = float(settings.CELERY_TASK_TIME_LIMIT)
    try:
        # retry=False: a dead broker fails now instead of after kombu's publish retries; expires: a request
        # nobody picked up in time is dropped rather than computed for a client that has given up.
        result = celery_app().send_task(name, kwargs=kwargs, retry=False, expires=timeout)
    except Exception as exc:
        if not _is_connection_failure(exc):
            raise
        raise BrokerUnavailable(f"cannot queue the sampling task: broker unreachable ({_root(exc)})") from None
    try:
        return result.get(timeout=timeout, propagate=True, disable_sync_subtasks=False)
    except CeleryTimeoutError:
        _forget(result)
        raise WorkerTimeout(
            f"no Celery worker returned {what} within {timeout:g} s: is a worker running "
            "(`celery -A worker worker`) and is it keeping up?"
        ) from None
    except Exception as exc:
        if not _is_connection_failure(exc):
            raise  # the worker's own error (ValueError for bad input, PriorNotReady), re-raised as itself
        raise BrokerUnavailable(f"lost the result backend while waiting for {what} ({_root(exc)})") from None


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _is_connection_failure(exc: BaseException) -> bool:
    """True for broker/backend connection errors, also when Celery wraps them (e.g. in a RuntimeError)."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    kinds = (OperationalError, RedisConnectionError, RedisTimeoutError, ConnectionError)
    return any(isinstance(e, kinds) for e in _chain(exc))


def _root(exc: BaseException) -> str:
    last = list(_chain(exc))[-1]
    return f"{type(last).__name__}: {last}"


def _forget(result) -> None:
    """Best effort: revoke a task we stopped waiting for, so a worker that comes back does not compute it."""
    try:
        result.revoke()
    except Exception:  # the broker may be the reason we timed out
        log.debug("could not revoke %s", result.id, exc_info=True)
