"""``manage.py push_playlist PLAYLIST_ID [--name NAME]``: create or update the playlist on a Subsonic-API server.

The server defaults to the configured one (``SUBSONIC_URL``, ``SUBSONIC_USER``, ``SUBSONIC_PASSWORD``); ``--url`` and
``--user`` name another, with the password from ``$SUBSONIC_PASSWORD`` (or ``--password-env``) or a prompt.
"""

from __future__ import annotations

import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from catalog.management.commands.ingest_subsonic import password_from
from catalog.subsonic import AUTH_MODES, SubsonicClient, SubsonicError
from core.errors import ApplicationError
from recommend.selectors import get_playlist
from recommend.services.push import push_playlist


class Command(BaseCommand):
    help = "Push a playlist version to a Subsonic-API server (its songs from that server; others are skipped)."

    def add_arguments(self, parser):
        parser.add_argument("playlist_id", type=int, help="the playlist version's id (as the API returns it)")
        parser.add_argument("--name", default="", help="playlist name on the server (default 'Diff4Steer ...')")
        parser.add_argument("--url", default="", help="server base URL (default SUBSONIC_URL)")
        parser.add_argument("--user", default="", help="user on the server (default SUBSONIC_USER)")
        parser.add_argument("--password-env", default="SUBSONIC_PASSWORD", help="variable holding the password")
        parser.add_argument("--auth", choices=AUTH_MODES, default=None, help="default SUBSONIC_AUTH (auto)")
        parser.add_argument("--source", default="", help="catalog source of the server's songs "
                                                         "(default SUBSONIC_SOURCE, else subsonic:<host:port>)")

    def handle(self, *args, **opts):
        url, user = opts["url"] or settings.SUBSONIC_URL, opts["user"] or settings.SUBSONIC_USER
        if not url or not user:
            raise CommandError("no server: give --url and --user (or set SUBSONIC_URL and SUBSONIC_USER)")
        password = password_from(opts["password_env"], sys.stdin.isatty())
        try:
            client = SubsonicClient(url, user, password, auth=opts["auth"] or settings.SUBSONIC_AUTH,
                                    timeout=float(settings.SUBSONIC_TIMEOUT))
            playlist = get_playlist(opts["playlist_id"])
            result = push_playlist(playlist, client, name=opts["name"],
                                   source=opts["source"] or settings.SUBSONIC_SOURCE)
        except (ApplicationError, SubsonicError) as exc:
            raise CommandError(str(exc)) from None
        verb = "created" if result.created else "updated"
        self.stdout.write(self.style.SUCCESS(
            f"{verb} {result.name!r} (id {result.server_playlist_id}) on {client.url}: {len(result.pushed)} songs, "
            f"{len(result.skipped)} skipped (not from this server)"
        ))
        for skipped in result.skipped:
            self.stderr.write(f"skipped track {skipped['track_id']} ({skipped['source']})")
