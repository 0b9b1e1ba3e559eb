"""``manage.py ingest_subsonic --url URL --user NAME``: import a Subsonic-API server's library into the catalog.

The password comes from ``$SUBSONIC_PASSWORD`` (or ``--password-env VAR``), else a prompt; never the command line
(it would show in ``ps`` and shell history). Re-runs update changed songs and remove deleted ones.
"""

from __future__ import annotations

import getpass
import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from catalog.management.commands._ingest_cli import print_errors
from catalog.services.ingest import IngestError
from catalog.services.subsonic import EMBED_MODES, ingest_subsonic, pick_encoder
from catalog.subsonic import AUTH_MODES, SubsonicClient, SubsonicError
from prior.progress import progress_bar


def password_from(env_name: str, stdin_is_tty: bool) -> str:
    """The password from ``env_name``, else a prompt when a person is there to answer it."""
    password = os.environ.get(env_name)
    if password:
        return password
    if not stdin_is_tty:
        raise CommandError(f"no password: set ${env_name} (or run interactively to be asked)")
    return getpass.getpass("Subsonic password: ")


class Command(BaseCommand):
    help = "Import the songs of a Subsonic-API server (Navidrome, Gonic, Airsonic, Supysonic, ...) into the catalog."

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="the server's base URL, e.g. http://localhost:4533")
        parser.add_argument("--user", required=True, help="user name on the server")
        parser.add_argument("--password-env", default="SUBSONIC_PASSWORD",
                            help="environment variable holding the password (default SUBSONIC_PASSWORD); "
                                 "prompted for when unset")
        parser.add_argument("--auth", choices=AUTH_MODES, default="auto",
                            help="salted token (API 1.13+), hex password (older servers), or auto (default)")
        parser.add_argument("--embed", choices=EMBED_MODES, default="auto",
                            help="audio through MUSIC_ENCODER when it has weights, else metadata text (auto)")
        parser.add_argument("--source", help="catalog source name of these songs (default subsonic:<host:port>)")
        parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each answer")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **opts):
        import sys

        password = password_from(opts["password_env"], sys.stdin.isatty())
        try:
            client = SubsonicClient(opts["url"], opts["user"], password, auth=opts["auth"], timeout=opts["timeout"])
            version = client.ping()
        except SubsonicError as exc:
            raise CommandError(str(exc)) from None
        try:
            encoder, audio, why = pick_encoder(opts["embed"])
        except IngestError as exc:
            raise CommandError(str(exc)) from None
        how = "audio from the stream endpoint" if audio else "the metadata text (a text proxy, not audio)"
        self.stdout.write(f"{client.url}: Subsonic API {version} ({client.auth} authentication); embedding {how} "
                          f"with {encoder.space.encoder} into {encoder.space.name}: {why}")
        if encoder.space.name != settings.CATALOG_SPACE:
            self.stderr.write(f"note: playlists are served from CATALOG_SPACE={settings.CATALOG_SPACE}, "
                              f"not {encoder.space.name}")
        with progress_bar(None, "songs", not opts["no_progress"], unit_scale=True) as bar:
            def on_total(total: int) -> None:
                bar.bar.total = total
                bar.bar.refresh()

            try:
                result = ingest_subsonic(client, encoder=encoder, audio=audio, source=opts["source"],
                                         progress=bar, on_total=on_total)
            except IngestError as exc:
                bar.close()
                raise CommandError(str(exc)) from None
        print_errors(self, result.report)
        self.stdout.write(self.style.SUCCESS(result.summary()))
