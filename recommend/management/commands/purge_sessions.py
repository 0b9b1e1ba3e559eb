"""``python manage.py purge_sessions [--older-than DAYS] [--batch N] [--dry-run]``: the retention job.

Run it from cron (or any scheduler) once a day; see docs/operations.md "Session retention". The default age is
``RECOMMEND_SESSION_RETENTION_DAYS`` (30).
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser

from prior.progress import progress_bar
from recommend import conf
from recommend.services.retention import idle_sessions, purge_sessions


class Command(BaseCommand):
    help = "Delete sessions idle for more than --older-than days, with their playlists and steering history."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=float, default=None, metavar="DAYS",
                            help="idle age in days (default RECOMMEND_SESSION_RETENTION_DAYS, 30)")
        parser.add_argument("--batch", type=int, default=1000, help="sessions deleted per transaction (default 1000)")
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **opts) -> None:
        days = opts["older_than"] if opts["older_than"] is not None else conf.get("RECOMMEND_SESSION_RETENTION_DAYS")
        try:
            days = float(days)
        except (TypeError, ValueError):
            raise CommandError(f"--older-than must be a number of days, got {days!r}") from None
        if not days > 0:
            raise CommandError(f"--older-than must be more than 0 days, got {days:g}")
        if opts["batch"] < 1:
            raise CommandError(f"--batch must be at least 1, got {opts['batch']}")
        older_than = timedelta(days=days)
        if opts["dry_run"]:
            self.stdout.write(purge_sessions(older_than, dry_run=True).summary())
            return
        total = 0
        if not opts["no_progress"]:
            from django.utils import timezone

            total = idle_sessions(timezone.now() - older_than).count()
        with progress_bar(total, "session", total > 0, desc="purging") as progress:
            report = purge_sessions(older_than, batch=opts["batch"], progress=progress)
        self.stdout.write(report.summary())
