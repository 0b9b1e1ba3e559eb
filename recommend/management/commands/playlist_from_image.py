"""``python manage.py playlist_from_image PHOTO [--tags jazz calm] [--size 20]``: the main job from a terminal.

Runs the same service as ``POST /api/playlists/from-image`` (so it starts a real session, printed with its token for
re-steering over the API) and prints the playlist as a table.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from recommend.selectors import get_playlist
from recommend.services.playlist import playlist_from_image
from serving import engine


def _cell(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


class Command(BaseCommand):
    help = "Print a diversified playlist for a photo (JPEG/PNG/WebP), optionally steered by tags."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("photo", type=Path, help="Path of a JPEG, PNG or WebP image.")
        parser.add_argument("--tags", nargs="+", default=[], help="Tags to steer towards (space or comma separated).")
        parser.add_argument("--size", type=int, default=20, help="Playlist length (1-100, default 20).")
        parser.add_argument("--seeds", type=int, default=16, help="Seeds sampled from the prior (1-64, default 16).")
        parser.add_argument("--guidance", type=float, default=None, help="CFG weight (default: the checkpoint's).")
        parser.add_argument("--merge", choices=["round_robin", "rrf"], default=None, help="Merge of per-seed lists.")

    def handle(self, *args, **options) -> None:
        photo: Path = options["photo"]
        if not photo.is_file():
            raise CommandError(f"{photo}: no such file")
        if not 1 <= options["size"] <= 100 or not 1 <= options["seeds"] <= 64:
            raise CommandError("--size must be in 1..100 and --seeds in 1..64")
        tags = [t for raw in options["tags"] for t in raw.split(",") if t.strip()]
        try:
            created = playlist_from_image(
                image=photo.read_bytes(), tags=tags, size=options["size"], seeds=options["seeds"],
                guidance=options["guidance"], merge=options["merge"],
            )
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc}") from None
        playlist = get_playlist(created.playlist.pk)
        self.print_table(playlist)
        space = engine.music_space()
        note = " (a text proxy for music embeddings)" if space.proxy else ""
        self.stdout.write(f"\nscore = cosine similarity to the seed, in the {space.name} space{note}.")
        self.stdout.write(f"session {created.session.pk}  token {created.token}")
        self.stdout.write(
            f'steer: curl -X POST -H "X-Session-Token: {created.token}" -H "Content-Type: application/json" '
            f"-d '{{\"tags\": [\"jazz\"]}}' http://127.0.0.1:8000/api/sessions/{created.session.pk}/steer"
        )

    def print_table(self, playlist) -> None:
        items = list(playlist.items.all())
        if not items:
            self.stdout.write("The catalog returned no tracks (is it empty?).")
            return
        total = shutil.get_terminal_size((140, 20)).columns
        artist_w, title_w = 24, 36
        url_w = max(20, total - (4 + 7 + 4 + artist_w + title_w + 5 * 2))
        header = f"{'rank':>4}  {'score':>7}  {'seed':>4}  {'artist':<{artist_w}}  {'title':<{title_w}}  url"
        self.stdout.write(header)
        self.stdout.write("-" * min(len(header) + url_w - 3, total))
        for item in items:
            track = item.track
            artist, title = _cell(track.artist or "-", artist_w), _cell(track.title or track.external_id, title_w)
            self.stdout.write(
                f"{item.rank:>4}  {item.score:>7.3f}  {item.seed:>4}  {artist:<{artist_w}}  {title:<{title_w}}"
                f"  {_cell(track.url or '-', url_w)}"
            )
