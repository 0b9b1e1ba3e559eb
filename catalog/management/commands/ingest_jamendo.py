"""``manage.py ingest_jamendo [--split train|validation|test|all] [--limit N]``: MTG-Jamendo tracks, offline space.

Vectors are MiniLM embeddings of each track's tags rendered as text (a text proxy, docs/encoders.md).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from catalog.datasets.jamendo import SPLITS
from catalog.management.commands._ingest_cli import run_ingest
from catalog.services.datasets import ingest_jamendo
from prior.progress import progress_bar

SIZES = {"train": 32136, "validation": 10888, "test": 11356}


class Command(BaseCommand):
    help = "Import MTG-Jamendo tracks (../shared/data/mtg-jamendo) with MiniLM vectors of their tags (text proxy)."

    def add_arguments(self, parser):
        parser.add_argument("--split", choices=[*SPLITS, "all"], default="train", help="which split (default train)")
        parser.add_argument("--limit", type=int, help="only the first N tracks of each split")
        parser.add_argument("--skip-invalid", action="store_true", help="import the good rows, report the rest")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **opts):
        for split in SPLITS if opts["split"] == "all" else [opts["split"]]:
            total = opts["limit"] or SIZES[split]
            with progress_bar(total, f"tracks ({split})", not opts["no_progress"], unit_scale=True) as bar:
                run_ingest(self, lambda split=split, bar=bar: ingest_jamendo(
                    split=split, limit=opts["limit"], skip_invalid=opts["skip_invalid"], progress=bar,
                ), bar)
        self.stdout.write("Vectors are MiniLM embeddings of the tags: a text proxy, not audio (docs/encoders.md).")
