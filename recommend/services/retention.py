"""Session retention: delete the sessions nobody has used for a while, with their playlists and history.

Why: anyone may start a session (``from-image`` is anonymous, throttled per client only), and each one keeps its
image embedding, one playlist version per call (20 items by default) and its steering events. Without a limit these
tables grow with traffic for ever. A session is *idle* when its ``updated_at`` (set by every steer and feedback) is
older than the cutoff; it is then deleted whole. Tracks are never touched.

Deletion goes in batches of ``batch`` sessions, each batch one transaction, so a purge stopped half-way leaves every
remaining session complete and a rerun finishes the job. Sessions locked by an in-flight steer or feedback are
skipped (``SKIP LOCKED``) rather than waited for; being in use, they are not idle anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from recommend.models import Playlist, PlaylistItem, Session, SteeringEvent


@dataclass(frozen=True)
class PurgeReport:
    """What a purge deleted, or with ``dry_run`` would delete, for sessions idle since before ``cutoff``."""

    cutoff: datetime
    sessions: int
    playlists: int
    items: int
    events: int
    dry_run: bool

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (f"{verb} {self.sessions} sessions ({self.playlists} playlists, {self.items} playlist items, "
                f"{self.events} steering events) idle since before {self.cutoff:%Y-%m-%d %H:%M:%S %Z}")


def idle_sessions(cutoff: datetime) -> QuerySet[Session]:
    return Session.objects.filter(updated_at__lt=cutoff)


def purge_sessions(
    older_than: timedelta,
    *,
    batch: int = 1000,
    dry_run: bool = False,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> PurgeReport:
    """Delete every session idle for longer than ``older_than``; ``progress(n)`` is told each batch's size."""
    if older_than <= timedelta(0):
        raise ValueError(f"older_than must be positive, got {older_than}")
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    cutoff = (now or timezone.now()) - older_than
    if dry_run:
        idle = idle_sessions(cutoff)
        return PurgeReport(
            cutoff=cutoff, sessions=idle.count(), playlists=Playlist.objects.filter(session__in=idle).count(),
            items=PlaylistItem.objects.filter(playlist__session__in=idle).count(),
            events=SteeringEvent.objects.filter(session__in=idle).count(), dry_run=True,
        )
    totals = {Session: 0, Playlist: 0, PlaylistItem: 0, SteeringEvent: 0}
    while True:
        with transaction.atomic():
            ids = list(
                idle_sessions(cutoff).select_for_update(skip_locked=True).order_by("updated_at")
                .values_list("pk", flat=True)[:batch]
            )
            if not ids:
                break
            _, per_model = Session.objects.filter(pk__in=ids).delete()  # cascades to playlists, items, events
        for model in totals:
            totals[model] += per_model.get(model._meta.label, 0)
        if progress is not None:
            progress(len(ids))
        if len(ids) < batch:
            break
    return PurgeReport(cutoff=cutoff, sessions=totals[Session], playlists=totals[Playlist],
                       items=totals[PlaylistItem], events=totals[SteeringEvent], dry_run=False)
