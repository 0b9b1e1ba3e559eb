"""Thin Celery tasks: each runs one call of the serving layer in a worker process.

Where sampling runs, and how the web side sends :func:`sample_seeds_task` (and :func:`condition_affinity_task`)
and waits for it, is :mod:`serving.sampling`'s; it sends each task by its registered name
(:data:`serving.sampling.SAMPLE_SEEDS_TASK`, :data:`serving.sampling.AFFINITY_TASK`).
"""

from __future__ import annotations

import numpy as np

from serving.sampling import AFFINITY_TASK, SAMPLE_SEEDS_TASK, affinity_local, sample_local
from worker.celery import app


@app.task(name=SAMPLE_SEEDS_TASK, ignore_result=False)
def sample_seeds_task(
    cond: list[float],
    n_seeds: int = 16,
    guidance: float | None = None,
    steer: list[list] | None = None,
    seed: int | None = None,
    steer_schedule: str | None = None,
) -> list[list[float]]:
    """Seeds for one query as JSON-safe lists: ``[n_seeds][Dm]`` floats, L2-normalised.

    ``steer`` is ``[[vector, k], ...]`` (JSON has no tuples). Bad input raises ``ValueError`` with the prior's
    message, which Celery carries back to the caller.

    Idempotent, so a redelivery is safe (the app acknowledges late and requeues a task whose worker died,
    config/settings.py): it writes nothing, and the web side passes the seed, so a second run returns the same
    seeds under the same task id; the web side stores the playlist once, after the result arrives.
    """
    pairs = []
    for i, item in enumerate(steer or []):
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise ValueError(f"steer[{i}] must be a [vector, k] pair")
        pairs.append((np.asarray(item[0], dtype=np.float32), float(item[1])))
    seeds = sample_local(np.asarray(cond, dtype=np.float32), int(n_seeds), guidance, pairs, seed, steer_schedule)
    return seeds.tolist()


@app.task(name=AFFINITY_TASK, ignore_result=False)
def condition_affinity_task(cond: list[float], tracks: list[list[float]], seed: int | None = None) -> list[float]:
    """The prior's affinity of each track for the query (:mod:`prior.affinity`) as a JSON-safe list ``[N]``.

    Bad input raises ``ValueError`` with the prior's message. Idempotent like :func:`sample_seeds_task`: it writes
    nothing, and the seed fixes its noise draws.
    """
    values = affinity_local(np.asarray(cond, dtype=np.float32), np.asarray(tracks, dtype=np.float32), seed)
    return [float(v) for v in values]
