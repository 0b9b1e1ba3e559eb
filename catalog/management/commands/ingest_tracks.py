"""``manage.py ingest_tracks FILE --space NAME``: import tracks and vectors from CSV, JSONL or Parquet.

See docs/catalog.md for the columns, the sidecar ``.npy`` and what makes a row invalid. Exit status 0 when the
file was imported (with ``--skip-invalid``, also when some rows were skipped), 1 when nothing was imported.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from catalog.management.commands._ingest_cli import encoder_or_error, run_ingest
from catalog.services.ingest import ingest_file
from prior.progress import progress_bar


class Command(BaseCommand):
    help = ("Import tracks with embeddings (CSV, JSONL or Parquet; inline, sidecar .npy, computed from audio, or from "
            "the rows' text by the text encoder when a row has no vector).")

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV, JSONL (.jsonl/.ndjson) or Parquet file, one track per row")
        parser.add_argument("--space", default="", help="embedding space name (required unless --audio-dir)")
        parser.add_argument("--dimension", type=int, help="create the space with this dimension if it is new")
        parser.add_argument("--encoder", default="unknown", help="encoder recorded on a newly created space")
        parser.add_argument("--format", choices=["csv", "jsonl", "parquet"], help="override the file extension")
        parser.add_argument("--embeddings", help="sidecar .npy [records, dim]: row i is the i-th record's vector")
        parser.add_argument("--source", default="file", help="source for rows without a source column")
        parser.add_argument("--skip-invalid", action="store_true", help="import the good rows, report the rest")
        parser.add_argument("--defer-index", action="store_true",
                            help="drop the space's HNSW index for the load and rebuild it after (bulk loads)")
        parser.add_argument("--audio-dir", help="compute vectors from audio: column 'audio' or <external_id>.wav")
        parser.add_argument("--music-encoder", default=None,
                            help="music encoder for --audio-dir (default settings.MUSIC_ENCODER)")
        parser.add_argument("--music-model", default=None, help="model directory or id for the music encoder")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **opts):
        music_encoder = None
        if opts["audio_dir"]:
            from prior.encoders import get_music_encoder

            name = opts["music_encoder"] or settings.MUSIC_ENCODER
            model = {"model": opts["music_model"]} if opts["music_model"] else {}
            music_encoder = encoder_or_error(lambda: get_music_encoder(name, **model))
        elif not opts["space"]:
            raise CommandError("--space is required (the embedding space to import into)")
        with progress_bar(_total(opts), "rows", not opts["no_progress"], unit_scale=True) as progress:
            run_ingest(self, lambda: ingest_file(
                opts["file"], space=opts["space"], fmt=opts["format"], source=opts["source"],
                sidecar=opts["embeddings"], dimension=opts["dimension"], encoder=opts["encoder"],
                skip_invalid=opts["skip_invalid"], defer_index=opts["defer_index"], audio_dir=opts["audio_dir"],
                music_encoder=music_encoder, progress=progress,
            ), progress)


def _total(opts) -> int | None:
    """Rows in the file when cheap to know (Parquet footer, sidecar length), for the progress bar."""
    from catalog.ingest.files import FileInvalid, TrackFile

    try:
        return TrackFile.open(opts["file"], fmt=opts["format"], sidecar=opts["embeddings"]).total
    except FileInvalid:
        return None  # the ingest reports it
