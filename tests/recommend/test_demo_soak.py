"""Soak the embedded default: ``manage.py demo``'s HTTP server keeps its Postgres connections bounded.

A server with a thread per request that keeps each thread's connection open (``CONN_MAX_AGE``) holds one connection
per request served, until Postgres refuses new ones and every request is a 503. This sends a few thousand real HTTP
requests through the demo's own server (``demo_server``) from several clients at once and watches
``pg_stat_activity``: the server's connections never exceed the requests in flight, and are all closed afterwards.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from demo.management.commands.demo import demo_server
from tests.helpers.api import image_bytes
from tests.helpers.waiting import wait_until

CLIENTS = 8
READS = 2000  # GET /api/playlists/{id} and /api/sessions/{id}: each takes a connection from the server's thread
UPLOADS = 40  # POST /api/playlists/from-image: samples the prior, runs the ANN and writes a session


def _backends() -> int:
    """Connections to the test database other than this test's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def _multipart(image: bytes) -> tuple[bytes, str]:
    boundary = "soak-boundary-7d2f"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"size\"\r\n\r\n10\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.png\"\r\n"
        "Content-Type: image/png\r\n\r\n"
    ).encode() + image + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def served(catalog, django_db_blocker, settings):
    """The demo's server on a free port, its threads on the package's committed catalog (not a test transaction,
    which other threads could not see); the sessions it stores are deleted afterwards."""
    from recommend.models import Session

    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    with django_db_blocker.unblock():
        httpd = demo_server("127.0.0.1", 0)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}"
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join(10)
            Session.objects.all().delete()


def test_a_few_thousand_requests_keep_the_connection_count_bounded(served):
    baseline = _backends()
    body, content_type = _multipart(image_bytes())

    def upload(_: int) -> dict:
        request = urllib.request.Request(f"{served}/api/playlists/from-image", data=body,
                                         headers={"Content-Type": content_type}, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 201
            return json.load(response)

    with ThreadPoolExecutor(CLIENTS) as pool:
        created = list(pool.map(upload, range(UPLOADS)))
    paths = []
    for body_ in created:
        session = body_["session"]
        paths.append((f"/api/playlists/{body_['playlist']['id']}", session["token"]))
        paths.append((f"/api/sessions/{session['id']}", session["token"]))

    def read(i: int) -> int:
        path, token = paths[i % len(paths)]
        request = urllib.request.Request(f"{served}{path}", headers={"X-Session-Token": token})
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status

    peak = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        from django.db import connections

        try:
            while not done.wait(0.05):  # sampled every 50 ms until the reads are over
                peak = max(peak, _backends())
        finally:
            connections.close_all()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            statuses = list(pool.map(read, range(READS)))
    finally:
        done.set()
        watcher.join(10)

    assert statuses == [200] * READS
    # A thread closes its connection just after its response is sent, so a client's next request can overlap it:
    # at most two per client (plus this test's own); a leaking server climbs towards Postgres's 100 slots.
    assert peak - baseline <= 2 * CLIENTS + 1, f"{peak - baseline} server connections for {CLIENTS} clients"
    closed = wait_until(lambda: _backends() <= baseline, 10, 0.1)
    assert closed, "the server kept connections open after its requests ended"
