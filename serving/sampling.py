"""Where sampling runs: :func:`sample_seeds`, the one call the web side makes, and :func:`sample_local`, what a
Celery task runs.

:func:`sample_seeds` decides where sampling runs:
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

    cond_list = np.asarray(cond, dtype=np.float32).tolist()
    steer_list = [[np.asarray(vec, dtype=np.float32).tolist(), float(k)] for vec, k in steer]
    timeout = float(settings.CELERY_TASK_TIME_LIMIT)
    kwargs = {"cond": cond_list, "n_seeds": int(n_seeds), "guidance": guidance, "steer": steer_list, "seed": seed,
              "steer_schedule": steer_schedule}
    try:
        # retry=False: a dead broker fails now instead of after kombu's publish retries; expires: a request
        # nobody picked up in time is dropped rather than computed for a client that has given up.
        result = celery_app().send_task(SAMPLE_SEEDS_TASK, kwargs=kwargs, retry=False, expires=timeout)
    except Exception as exc:
        if not _is_connection_failure(exc):
            raise
        raise BrokerUnavailable(f"cannot queue the sampling task: broker unreachable ({_root(exc)})") from None
    try:
        seeds = result.get(timeout=timeout, propagate=True, disable_sync_subtasks=False)
    except CeleryTimeoutError:
        _forget(result)
        raise WorkerTimeout(
            f"no Celery worker returned seeds within {timeout:g} s: is a worker running "
            "(`celery -A worker worker`) and is it keeping up?"
        ) from None
    except Exception as exc:
        if not _is_connection_failure(exc):
            raise  # the worker's own error (ValueError for bad input, PriorNotReady), re-raised as itself
        raise BrokerUnavailable(f"lost the result backend while waiting for seeds ({_root(exc)})") from None
    return np.asarray(seeds, dtype=np.float32)


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
