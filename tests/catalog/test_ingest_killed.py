"""``manage.py ingest_tracks`` SIGKILLed half-way (while it streams rows into Postgres) leaves the catalog exactly
as it was: the whole file is one transaction, so not one row of it is visible, none of the rows it was updating
changed, and the space keeps its index. Running the same command again then loads the file completely, without
duplicates.

With ``--defer-index`` the index is dropped before the load (that drop commits at once, so that searches go on
while the rows load) and rebuilt after it: a run killed in between leaves the tracks as they were but the space
without its index (searches still answer, exactly, by scanning); the next run into that space rebuilds it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from catalog.models import EmbeddingSpace, Track, TrackEmbedding
from catalog.services.ingest import ingest_file
from catalog.vector_index import has_index
from tests.catalog.conftest import track_rows, write_parquet
from tests.conftest import database_url, forget_catalog_statistics
from tests.helpers.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
DIM = 16
BEFORE = 50  # tracks already in the space
ROWS = 15_000  # the file: the BEFORE tracks renamed, and new ones (about a second of streaming)


def _copy_backend() -> int | None:
    """The Postgres backend streaming the file into the staging table, once it has started."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' "
                       "AND query LIKE 'COPY%%' AND pid <> pg_backend_pid()")
        row = cursor.fetchone()
    return row[0] if row else None


def _backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


@pytest.fixture
def statistics_reset(django_db_blocker):
    """After the test's tables are emptied (listed before ``transactional_db``, so torn down after its flush):
    forget the planner statistics of this test's 15,000 tracks, which later tests would plan their queries on."""
    yield
    with django_db_blocker.unblock():
        forget_catalog_statistics()


@pytest.mark.slow
@pytest.mark.parametrize("defer_index", [False, True], ids=["one-transaction", "defer-index"])
def test_a_killed_ingest_leaves_the_catalog_as_before_and_a_rerun_completes_it(defer_index, statistics_reset,
                                                                              transactional_db, tmp_path):
    rows, vectors = track_rows(ROWS, DIM)
    write_parquet(tmp_path / "before.parquet", rows[:BEFORE], vectors[:BEFORE])
    ingest_file(tmp_path / "before.parquet", space="killed", dimension=DIM)
    space = EmbeddingSpace.objects.get(name="killed")
    assert has_index(space)
    for row in rows[:BEFORE]:
        row["title"] += " (renamed)"
    path = write_parquet(tmp_path / "all.parquet", rows, vectors)

    command = [sys.executable, "manage.py", "ingest_tracks", str(path), "--space", "killed", "--no-progress"]
    if defer_index:
        command.append("--defer-index")
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict), "SECRET_KEY": "test-only"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        backend = None
        while backend is None and process.poll() is None and time.monotonic() < deadline:
            backend = _copy_backend()
            time.sleep(0.02)
        assert backend is not None, f"the load ended before it could be killed: {process.communicate()[0]!r}"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    # Postgres ends the orphaned backend (rolling back) as it reads the EOF
    assert wait_until(lambda: not _backend_alive(backend), 30, 0.1)

    # As before: the same tracks, titles and vectors; nothing from the file.
    assert Track.objects.count() == BEFORE == TrackEmbedding.objects.filter(space=space).count()
    assert not Track.objects.filter(title__endswith="(renamed)").exists()
    assert has_index(space) is not defer_index  # --defer-index: dropped, back at the next run

    rerun = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert Track.objects.count() == ROWS == TrackEmbedding.objects.filter(space=space).count()
    assert Track.objects.values("source", "external_id").distinct().count() == ROWS  # no duplicates
    assert Track.objects.filter(title__endswith="(renamed)").count() == BEFORE
    assert has_index(space)
