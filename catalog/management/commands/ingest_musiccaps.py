"""``manage.py ingest_musiccaps [--limit N] [--split train|test]``: MusicCaps clips into the offline space.

Vectors are MiniLM embeddings of the captions (a text proxy for music, docs/encoders.md), in space ``minilm-l6-v2``.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from catalog.management.commands._ingest_cli import run_ingest
from catalog.services.datasets import ingest_musiccaps
from prior.progress import progress_bar


class Command(BaseCommand):
    help = "Import MusicCaps clips (../shared/data/musiccaps) with MiniLM caption vectors (text proxy)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, help="only the first N clips")
        parser.add_argument("--split", choices=["train", "test"], help="only one split (is_audioset_eval)")
        parser.add_argument("--skip-invalid", action="store_true", help="import the good rows, report the rest")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **opts):
        total = opts["limit"] or (None if opts["split"] else 5521)
        with progress_bar(total, "clips", not opts["no_progress"], unit_scale=True) as progress:
            run_ingest(self, lambda: ingest_musiccaps(
                limit=opts["limit"], split=opts["split"], skip_invalid=opts["skip_invalid"], progress=progress,
            ), progress)
        self.stdout.write("Vectors are MiniLM embeddings of the captions: a text proxy, not audio (docs/encoders.md).")
