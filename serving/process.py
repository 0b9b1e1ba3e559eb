"""Set-up of one serving process before its first request: gunicorn's ``post_worker_init`` hook calls it for
each web worker, and :mod:`worker.celery` for each Celery process that runs sampling tasks.

Two things, both about the latency tail rather than the average:

- **Warm-up**: load the prior and the encoders now (what /readyz checks), so the first requests a new worker
  takes do not each wait seconds for the weights.
- **gc.freeze()**: everything imported and loaded by now (Django, DRF, torch, the models: ~250k objects) lives
  as long as the process. Python's collector still walks all of it in every full (oldest-generation) collection,
  which stops the whole process — every request in it — for the walk: 140–160 ms about every 200 requests of
  one process, measured in-process (docs/operations.md). Frozen objects are skipped; the full collections that
  remain only walk what requests created since.
"""

from __future__ import annotations

import gc
import logging

logger = logging.getLogger(__name__)


def prepare_serving_process(
    log: logging.Logger | None = None, *, encoders: bool = True, sampling_here: bool | None = None
) -> bool:
    """Warm the models, close the set-up's database connection, freeze the heap. True when the process is ready.

    A process that is not ready (no checkpoint yet, database down) still starts: /readyz reports why and the
    first request that needs the models retries the load. The freeze happens either way, also with the warm-up
    off (``PRIOR_WARM_UP=0``: quicker starts where no request is waiting, e.g. development). ``encoders`` and
    ``sampling_here`` are :func:`serving.runtime.readiness`'s: a Celery worker process warms the prior only, and
    does so although a broker is configured.
    """
    from django.conf import settings
    from django.db import connections

    from serving.runtime import readiness, uses_broker

    log = log or logger
    ready = False
    if sampling_here is None:
        sampling_here = not uses_broker()
    if not settings.PRIOR_WARM_UP:
        log.info("warm-up: off (PRIOR_WARM_UP=0): the first request that needs the models loads them")
    else:
        ready, detail = readiness(encoders, sampling_here=sampling_here)
        if ready:
            exercised = sampling_here and exercise(encoders, log)
            log.info("warm-up: %s%s", detail, "; one plain and one steered query run" if exercised else "")
        else:
            log.warning("warm-up: not ready yet (%s)", detail)
    connections.close_all()  # this thread serves no request; its connection would idle in Postgres
    gc.collect()
    gc.freeze()
    return ready


def log_batching(log: logging.Logger | None = None) -> None:
    """At a worker's exit: its sampling queries and the batched passes they took (how well batching worked)."""
    from serving.runtime import loaded_batcher

    batcher = loaded_batcher()
    if batcher is not None and batcher.runs:
        (log or logger).info("sampling: %d queries in %d passes (%.2f per pass)", batcher.queries, batcher.runs,
                             batcher.queries / batcher.runs)


def exercise(encoders: bool, log: logging.Logger) -> bool:
    """Run the loaded models once (:func:`serving.runtime.exercise_models`); never raises: a failure here is
    logged and left to the first request, which reports it properly."""
    from serving.runtime import exercise_models

    try:
        exercise_models(encoders)
    except Exception as exc:  # the models loaded; a request would hit the same error and answer it properly
        log.warning("warm-up: exercising the models failed (%s: %s)", type(exc).__name__, exc)
        return False
    return True
