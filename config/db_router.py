"""Read replicas (``DATABASE_REPLICA_URLS``): the catalog's reads go to a Postgres streaming replica, everything
else to the primary.

What goes where, and why:
- catalog reads (the ANN search of every playlist, the track list, vectors and spaces): a replica, picked at random
  per query. They are the heavy, read-only part of serving, and a replica a few hundred milliseconds behind only
  means a track ingested that long ago is not found yet;
- sessions, playlists and feedback (``recommend``), auth, admin sessions: the primary, reads included: a session
  just written (a playlist created, then steered a moment later) must be read back from where it was written;
- any catalog read through the ORM while a transaction is open on the primary (an ingest resolving its space, then
  upserting): the primary, so a transaction reads its own writes; the playlist pipeline's own catalog reads (the
  ANN and the features of its hits) stay on a replica even inside a steer's transaction;
- every write and every migration: the primary.
Without replicas the router is not installed and everything uses ``default``, as before.
"""

from __future__ import annotations

import random

from django.conf import settings
from django.db import connections

PRIMARY = "default"
READ_APPS = frozenset({"catalog"})


def replica_aliases() -> list[str]:
    return [alias for alias in settings.DATABASES if alias.startswith("replica")]


def catalog_read_alias() -> str:
    """The database alias a catalog read through the ORM should use now: the primary inside a transaction."""
    if connections[PRIMARY].in_atomic_block:
        return PRIMARY
    return serving_read_alias()


def serving_read_alias() -> str:
    """Where the playlist pipeline's catalog reads go (the ANN and the features of its hits): a replica whenever
    there is one, also inside a transaction: a steer computes its playlist while it holds its session's row lock
    on the primary, and nothing that transaction writes is in the catalog."""
    replicas = replica_aliases()
    return random.choice(replicas) if replicas else PRIMARY


class ReplicaRouter:
    """Django database router: see the module docstring."""

    def db_for_read(self, model, **hints) -> str:
        return catalog_read_alias() if model._meta.app_label in READ_APPS else PRIMARY

    def db_for_write(self, model, **hints) -> str:
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # the replicas are copies of the primary: every object is in every database

    def allow_migrate(self, db: str, app_label: str, **hints) -> bool:
        return db == PRIMARY
