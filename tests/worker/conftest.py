"""Fixtures for the worker: the session's tiny prior (tests/conftest.py) served under settings, a clean model
cache per test, a real broker."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from prior.encoders.palette import PALETTE_SPACE
from prior.spaces import MINILM
from tests.conftest import running_valkey

# The tiny prior's spaces: the offline defaults' (palette image descriptor -> MiniLM), so the real encoders fit it.
COND_SPACE, MUSIC_SPACE = PALETTE_SPACE, MINILM


@pytest.fixture(autouse=True)
def fresh_runtime():
    """Each test loads models under its own settings; nothing leaks through the per-process cache, and a
    serving process's warm-up (which freezes the heap) does not leave the rest of the run frozen."""
    import gc

    import torch

    from serving import runtime

    threads = torch.get_num_threads()  # loading a prior on CPU sets one thread per process; later tests want theirs
    runtime.reset()
    gc.unfreeze()
    yield
    gc.unfreeze()
    runtime.reset()
    torch.set_num_threads(threads)


@pytest.fixture
def served_prior(tiny_prior, settings, db):
    """Settings pointing at the tiny prior, with the catalog space it was trained for (CPU, in-process tasks)."""
    from catalog.services.spaces import space_from_prior

    settings.PRIOR_CHECKPOINT = str(tiny_prior)
    settings.CATALOG_SPACE = MUSIC_SPACE.name
    settings.PRIOR_DEVICE = "cpu"
    space_from_prior(MUSIC_SPACE, with_index=False)
    return tiny_prior


def _reset_connections(app) -> None:
    """Drop the app's cached broker pools and result backend so a changed URL takes effect."""
    app._pool = None  # kombu keeps one pool per URL itself; the app only caches which one it uses
    app.amqp._producer_pool = None
    app._backend_cache = None  # the result backend: cached on the app, or per thread when not thread-safe
    app._local.__dict__.pop("backend", None)


@contextmanager
def celery_broker(settings, url: str, time_limit: int = 30):
    """Point the settings and the Celery app at ``url`` (tasks go through the broker), then restore both."""
    from worker.celery import app

    keys = ("broker_url", "result_backend", "task_always_eager")
    saved = {k: app.conf[k] for k in keys}
    settings.CELERY_BROKER_URL = url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_TASK_TIME_LIMIT = time_limit
    app.conf.update(broker_url=url, result_backend=url, task_always_eager=False)
    _reset_connections(app)
    try:
        yield app
    finally:
        app.conf.update(saved)
        _reset_connections(app)


@pytest.fixture(scope="module")
def broker_url():
    """A real Redis-protocol broker on a loopback port, stopped at the end of the module."""
    with running_valkey() as port:
        yield f"redis://127.0.0.1:{port}/0"
