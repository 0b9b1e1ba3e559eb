"""Postgres stopped and started under a running load: gunicorn (as production runs it) on a dedicated embedded
Postgres of its own (the session's test database is never stopped), clients creating sessions, steering them,
reading them and ingesting track batches all the while.

During the outage every request answers at once with a 503 ``database_unavailable`` and a Retry-After; none hangs;
once Postgres is back the same server processes serve again (no restart); and nothing half-made is left: every
session has its first version and its events, every version all its items, every ingest batch all or none of
its tracks (asserted on the rows).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import psycopg
import pytest
from django.db import connection

from tests.conftest import database_url
from tests.helpers.servers import DedicatedPostgres, free_port, http_request, wait_until_ready
from tests.helpers.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 4
BATCH = 5  # tracks per ingest request
TIMEOUT_S = 20  # a client gives up on a request after this long: a hang fails the test
DOWN_S = 4.0  # how long Postgres stays down
ROUNDS = 2  # client rounds per client (on average) before the outage, and again after it


@pytest.fixture
def dedicated(catalog, db):
    # Not under pytest's tmp_path: the server runs as another system user, who cannot enter root's 0700 folders.
    pgdata = Path(tempfile.mkdtemp(prefix="diff4steer-restart-")) / "pg"
    postgres = DedicatedPostgres(pgdata)
    try:
        yield postgres, postgres.copy_of(connection.settings_dict, "restart_test")
    finally:
        try:
            postgres.stop()
        except Exception:  # already stopped by a failed test
            pass
        shutil.rmtree(pgdata.parent, ignore_errors=True)


@pytest.mark.slow
def test_a_restarted_database_gives_503s_then_recovers_with_nothing_half_made(dedicated, tmp_path):
    from django.conf import settings

    postgres, db = dedicated
    staff_token = secrets.token_hex(20)
    with psycopg.connect(database_url(db), autocommit=True) as conn:
        user_id = conn.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, "
            "is_active, date_joined) VALUES ('!', false, 'ops', '', '', '', true, true, now()) RETURNING id"
        ).fetchone()[0]
        conn.execute("INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, now(), %s)",
                     (staff_token, user_id))
        dim = conn.execute("SELECT dimension FROM catalog_embeddingspace WHERE name = %s",
                           (settings.CATALOG_SPACE,)).fetchone()[0]

    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(db), "SECRET_KEY": "test-only",
           "DJANGO_SETTINGS_MODULE": "config.settings", "PRIOR_CHECKPOINT": settings.PRIOR_CHECKPOINT,
           "CATALOG_SPACE": settings.CATALOG_SPACE, "IMAGE_ENCODER": "palette", "TEXT_ENCODER": "minilm",
           "PRIOR_DEVICE": "cpu", "LOG_LEVEL": "WARNING", "THROTTLE_FROM_IMAGE": "100000/minute",
           "THROTTLE_STEER": "100000/minute", "THROTTLE_FEEDBACK": "100000/minute"}
    env.pop("CELERY_BROKER_URL", None)
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi:application",
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4", "--timeout", "60"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, server, tmp_path / "gunicorn.log")
        workers_before = {p.pid for p in psutil.Process(server.pid).children()}

        results: list[dict] = []
        errors: list[BaseException] = []
        stop = threading.Event()

        def client(index: int) -> None:
            rng = np.random.default_rng(index)
            batch = 0
            session = token = None
            try:
                while not stop.is_set():
                    embedding = rng.standard_normal(48).tolist()
                    out = http_request(base, "POST", "/api/playlists/from-image", {"image_embedding": embedding,
                                                                                "size": 10})
                    results.append(out)
                    if out["status"] == 201:
                        session, token = out["body"]["session"]["id"], out["body"]["session"]["token"]
                    if session:
                        headers = {"X-Session-Token": token}
                        results.append(http_request(base, "POST", f"/api/sessions/{session}/steer",
                                                {"tags": ["calm piano"]}, headers))
                        results.append(http_request(base, "GET", f"/api/sessions/{session}", None, headers))
                    tracks = [{"source": "restart-test", "external_id": f"c{index}-b{batch}-t{i}",
                               "title": "t", "artist": f"a{i}", "embedding": rng.standard_normal(dim).tolist()}
                              for i in range(BATCH)]
                    results.append(http_request(base, "POST", "/api/tracks/", {"space": settings.CATALOG_SPACE,
                                                                           "tracks": tracks},
                                            {"Authorization": f"Token {staff_token}"}))
                    batch += 1
            except BaseException as exc:  # a hang (socket timeout) or a dropped connection fails the test
                errors.append(exc)

        def rounds_since(moment: float) -> int:
            """Client rounds (create or steer, read, ingest) whose last request started after ``moment``."""
            return sum(r["path"] == "/api/tracks/" and r["at"] > moment for r in list(results))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        assert wait_until(lambda: errors or rounds_since(0) >= ROUNDS * CLIENTS, 120, 0.1), "no load before the outage"
        down_at = time.monotonic()
        postgres.stop()
        time.sleep(DOWN_S)  # the outage itself: requests keep arriving during it
        postgres.start()
        up_at = time.monotonic()
        recovered = wait_until(lambda: errors or rounds_since(up_at + 2.0) >= ROUNDS * CLIENTS, 120, 0.1)
        stop.set()
        for thread in threads:
            thread.join(TIMEOUT_S + 5)
        workers_after = {p.pid for p in psutil.Process(server.pid).children()}
    finally:
        server.terminate()
        server.wait(30)
        log.close()

    assert not errors, errors
    assert recovered, "too few requests after the restart"
    statuses = [r["status"] for r in results]
    assert set(statuses) <= {200, 201, 503}, sorted(set(statuses))
    failed = [r for r in results if r["status"] == 503]
    assert failed, "no request met the outage"
    for r in failed:
        assert r["body"]["error"]["code"] == "database_unavailable", r
        assert r["retry_after"] == "5", r
    # Requests that started while Postgres was down failed fast, not after a connect or socket timeout.
    assert max(r["seconds"] for r in results if down_at <= r["at"] < up_at) < 3.0
    assert max(r["seconds"] for r in results) < TIMEOUT_S
    # Recovered by itself: everything sent a moment after the restart succeeded, from the same worker processes.
    late = [r for r in results if r["at"] > up_at + 2.0]
    assert late and all(r["status"] in (200, 201) for r in late), [(r["path"], r["status"]) for r in late]
    assert {r["path"].split("/")[2] for r in late} >= {"playlists", "sessions", "tracks"}
    assert workers_after == workers_before

    with psycopg.connect(database_url(db)) as conn:
        rows = conn.execute("""
            SELECT s.id,
                   (SELECT array_agg(version ORDER BY version) FROM recommend_playlist p WHERE p.session_id = s.id),
                   (SELECT count(*) FROM recommend_steeringevent e WHERE e.session_id = s.id AND e.kind = 'create'),
                   (SELECT count(*) FROM recommend_steeringevent e WHERE e.session_id = s.id AND e.kind = 'steer')
            FROM recommend_session s""").fetchall()
        assert len(rows) >= CLIENTS
        for session_id, versions, creates, steers in rows:
            assert versions == list(range(1, len(versions or []) + 1)) and versions, (session_id, versions)
            assert creates == 1 and steers == len(versions) - 1, (session_id, creates, steers, versions)
        short = conn.execute("""
            SELECT p.id, count(i.id) FROM recommend_playlist p LEFT JOIN recommend_playlistitem i
            ON i.playlist_id = p.id GROUP BY p.id HAVING count(i.id) <> 10""").fetchall()
        assert short == []
        batches = conn.execute("""
            SELECT split_part(t.external_id, '-t', 1), count(*), count(e.id) FROM catalog_track t
            LEFT JOIN catalog_trackembedding e ON e.track_id = t.id
            WHERE t.source = 'restart-test' GROUP BY 1""").fetchall()
        assert batches and all(n == BATCH and vectors == BATCH for _, n, vectors in batches), batches
    created = {r["body"]["session"]["id"] for r in results if r["status"] == 201 and "session" in r["body"]}
    assert created <= {str(session_id) for session_id, *_ in rows}
