"""``manage.py demo`` (what ``make demo`` runs): set up everything the offline demo needs, then serve the API.

Each step is skipped when its output already exists, so the first run builds (a few minutes on a laptop CPU) and
every later run only checks and serves (seconds):

1. migrate the database (the embedded Postgres under ``./var/`` unless ``DATABASE_URL`` is set);
2. ingest the MusicCaps catalog with MiniLM caption vectors (the offline text proxy, docs/encoders.md) when the
   catalog space is empty;
3. build the SYNTHETIC image–music pairs (:mod:`prior.data.demo_pairs`) and train the demo prior into
   ``PRIOR_CHECKPOINT`` (default ``./var/models/demo-prior``) when no finished checkpoint is there, recording the
   demo's steering (:data:`demo.steering.DEMO_STEERING`, chosen through the API; a demo prior trained before it
   changed gets the current one); an interrupted training run resumes where it stopped;
4. render two sample pictures (``var/demo/dark-cold.png``, ``var/demo/bright-warm.png``), load the models once,
   and serve the API on HOST:PORT with a threaded WSGI server, printing ``curl`` commands that return playlists.

Why a threaded in-process server and not gunicorn: the demo runs Celery tasks in-process, so one process that
loads the models once and answers requests from threads is the simplest thing that behaves like production.
The server is Django's own ``ThreadedWSGIServer``, which closes the request thread's database connections when
the request ends: a thread per request that kept its connection (``CONN_MAX_AGE``) would hold one Postgres slot
per request served until the server ran out of them (see :func:`demo_server`).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from config.env import env_value
from demo.steering import DEMO_STEERING
from prior.data.musiccaps import MusicCapsError
from prior.progress import progress_bar

DEMO_NETWORK = {"width": 256, "depth": 3}
DEMO_TRAIN = {"steps": 2000, "batch": 256, "warmup": 100}
SAMPLE_MOODS = {"dark-cold": (-0.9, -0.8), "bright-warm": (0.9, 0.7)}


class Command(BaseCommand):
    help = "Set up the offline demo on first run (database, MusicCaps catalog, demo prior) and serve the API."

    def add_arguments(self, parser):
        # HOST / PORT from the environment, as `make demo` passes them (docs/operations.md); the flags win.
        parser.add_argument("--host", default=os.environ.get("HOST", "").strip() or "127.0.0.1",
                            help="address to listen on (default $HOST, else 127.0.0.1)")
        parser.add_argument("--port", type=int, default=env_value("PORT", 8000),
                            help="port to listen on (default $PORT, else 8000)")
        parser.add_argument("--steps", type=int, default=DEMO_TRAIN["steps"], help="training steps of the demo prior")
        parser.add_argument("--no-serve", action="store_true", help="set everything up, then exit")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args, **opts):
        if not 1 <= opts["port"] <= 65535:
            raise CommandError(f"--port must be between 1 and 65535, got {opts['port']}")
        if opts["steps"] < 1:
            raise CommandError("--steps must be at least 1")
        self.progress = not opts["no_progress"]
        # SIGTERM behaves like Ctrl-C at every step: training saves its state, the server closes, and the exit
        # handlers run, so the embedded Postgres is stopped rather than left behind by a killed process.
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            self.run_demo(opts)
        except KeyboardInterrupt:
            raise CommandError("interrupted; the next run reuses what is finished and resumes training") from None
        except MusicCapsError as exc:  # a row the one MusicCaps reader cannot use: its file, line and why
            raise CommandError(f"the demo needs a readable MusicCaps CSV: {exc}") from None
        finally:
            signal.signal(signal.SIGTERM, previous)

    def run_demo(self, opts: dict) -> None:
        started = time.perf_counter()
        var = Path(settings.VAR_DIR)
        self.text_encoder = None  # one MiniLM for the whole run, each text embedded once (see encoder())
        self.step("database", self.migrate)
        # Pairs before the catalog: both embed the same MusicCaps captions, and the catalog reuses the vectors.
        self.step("demo pairs", lambda: self.ensure_pairs(var / "demo-pairs"))
        self.step("catalog", lambda: self.ensure_catalog(var / "demo-pairs"))
        self.step("demo prior", lambda: self.ensure_prior(var / "demo-pairs", opts["steps"]))
        images = self.step("sample images", lambda: self.sample_images(var / "demo"))
        self.step("load models", self.warm_up)
        self.stdout.write(self.style.SUCCESS(f"ready in {time.perf_counter() - started:.0f} s"))
        if not opts["no_serve"]:
            self.serve(opts["host"], opts["port"], images)

    # -- steps -----------------------------------------------------------------------------------------------

    def step(self, name: str, func):
        self.stdout.write(f"» {name} ...")
        t0 = time.perf_counter()
        result = func()
        self.stdout.write(f"  {name}: done in {time.perf_counter() - t0:.1f} s")
        return result

    def migrate(self) -> None:
        embedded = not os.environ.get("DATABASE_URL")
        self.stdout.write(f"  {'embedded Postgres under ' + str(settings.VAR_DIR) if embedded else 'DATABASE_URL'}")
        call_command("migrate", interactive=False, verbosity=0)

    def encoder(self, pairs_dir: Path):
        """MiniLM, wrapped so a text is embedded once per run; seeded with the captions of ``catalog.npz``."""
        if self.text_encoder is None:
            from prior.encoders import get_text_encoder
            from prior.encoders.cache import CachingTextEncoder

            self.text_encoder = CachingTextEncoder(get_text_encoder(settings.TEXT_ENCODER), progress=self.progress)
            seed_from_demo_catalog(self.text_encoder, pairs_dir / "catalog.npz", self.musiccaps_csv())
        return self.text_encoder

    def musiccaps_csv(self) -> Path:
        from catalog.datasets import DatasetMissing, data_file

        try:
            return data_file("musiccaps", "musiccaps-public.csv").resolve()
        except DatasetMissing as exc:
            raise CommandError(f"the demo needs the MusicCaps CSV: {exc}") from None

    def ensure_pairs(self, out: Path) -> None:
        from prior.data.demo_pairs import build_demo_pairs

        if (out / "train.npz").is_file() and (out / "catalog.npz").is_file():
            self.stdout.write(f"  {out} (reused)")
            return
        if _prior_steps(Path(settings.PRIOR_CHECKPOINT)):
            self.stdout.write("  not needed: the prior is already trained")
            return
        self.stdout.write("  rendering SYNTHETIC mood pictures for MusicCaps clips and embedding the captions ...")
        summary = build_demo_pairs(self.musiccaps_csv(), out, text_encoder=self.encoder(out))
        self.stdout.write(f"  {summary.n_train} training pairs, moods {json.dumps(summary.moods)}")

    def ensure_catalog(self, pairs_dir: Path) -> None:
        from catalog.models import EmbeddingSpace, TrackEmbedding
        from catalog.services.datasets import ingest_musiccaps
        from catalog.services.ingest import IngestError

        space = EmbeddingSpace.objects.filter(name=settings.CATALOG_SPACE).first()
        count = TrackEmbedding.objects.filter(space=space).count() if space else 0
        if count:
            self.stdout.write(f"  {count} tracks in space {settings.CATALOG_SPACE} (reused)")
            return
        if settings.CATALOG_SPACE != "minilm-l6-v2":
            raise CommandError(
                f"CATALOG_SPACE={settings.CATALOG_SPACE!r} is empty and the demo only builds the offline "
                "'minilm-l6-v2' catalog: ingest your catalog first (manage.py ingest_tracks)"
            )
        self.stdout.write("  ingesting MusicCaps with MiniLM caption vectors (a text proxy for audio) ...")
        self.musiccaps_csv()
        try:
            with progress_bar(5521, "clips", self.progress) as progress:
                report = ingest_musiccaps(encoder=self.encoder(pairs_dir), progress=progress)
        except IngestError as exc:
            raise CommandError(f"MusicCaps ingest failed: {exc}") from None
        self.stdout.write(f"  {report.summary()}")

    def ensure_prior(self, pairs_dir: Path, steps: int) -> None:
        from prior.checkpoint import TRAINING_STATE_FILE

        path = Path(settings.PRIOR_CHECKPOINT)
        done = _prior_steps(path)
        if done and (done >= steps or not (path / TRAINING_STATE_FILE).is_file()):
            self.stdout.write(f"  {path} ({done} steps, reused)")
            self.refresh_steering(path, pairs_dir / "train.npz")
            return
        train_npz = pairs_dir / "train.npz"
        if not train_npz.is_file():
            self.ensure_pairs(pairs_dir)
        self.train(train_npz, path, steps, resume=done > 0)

    def refresh_steering(self, path: Path, train_npz: Path) -> None:
        """A demo prior trained before the demo's steering last changed gets the current one (its "steering" block;
        the weights stay). Only the demo's own prior, told by its data fingerprint: a prior of other data that
        ``PRIOR_CHECKPOINT`` names keeps the steering its own validation chose."""
        from prior.checkpoint import read_config, update_steering
        from prior.config import config_to_dict
        from prior.data.npz import file_fingerprint

        wanted = config_to_dict(DEMO_STEERING)
        config = read_config(path)
        if config.get("steering") == wanted or not train_npz.is_file():
            return
        if config.get("data_fingerprint") != file_fingerprint(train_npz):
            return
        update_steering(path, **wanted)
        self.stdout.write("  recorded the demo's current steering in it (demo/steering.py)")

    def train(self, train_npz: Path, out: Path, steps: int, resume: bool) -> None:
        from prior.config import NetworkConfig, TrainConfig
        from prior.data.npz import DataError, load_pairs
        from prior.train import TrainingError, train_prior

        try:
            pairs = load_pairs(train_npz)
        except DataError as exc:
            raise CommandError(f"{exc} (delete {train_npz.parent} and run again to rebuild the demo pairs)") from None
        network = NetworkConfig(cond_dim=pairs.cond.shape[1], music_dim=pairs.music.shape[1], **DEMO_NETWORK)
        config = TrainConfig(**{**DEMO_TRAIN, "steps": steps})
        verb = "resuming" if resume else "training"
        self.stdout.write(f"  {verb} the demo prior ({steps} steps, width {network.width}, depth {network.depth}) "
                          f"into {out}; Ctrl-C stops and the next run resumes")
        try:
            metrics = train_prior(pairs, out, network, config, resume=resume, progress=self.progress,
                                  steering=DEMO_STEERING)
        except KeyboardInterrupt:
            raise CommandError("training interrupted; its state is saved and the next `make demo` resumes") from None
        except TrainingError as exc:  # e.g. PRIOR_CHECKPOINT holds another prior, trained on other data
            raise CommandError(f"cannot train the demo prior into {out}: {exc}") from None
        self.stdout.write(f"  final loss {metrics['final_loss']:.4f} after {metrics['steps']} steps")

    def sample_images(self, out: Path) -> dict[str, Path]:
        import numpy as np

        from prior.data.demo_pairs import Mood, render_mood_image

        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name, (valence, energy) in SAMPLE_MOODS.items():
            path = out / f"{name}.png"
            if not path.is_file():
                image = render_mood_image(Mood(valence, energy), np.random.default_rng(7), size=256)
                image.save(path)
            paths[name] = path
        return paths

    def warm_up(self) -> None:
        from serving import runtime

        ok, detail = runtime.readiness()
        if not ok:
            raise CommandError(f"models not ready: {detail}")
        self.stdout.write(f"  {detail}")

    # -- serving ---------------------------------------------------------------------------------------------

    def serve(self, host: str, port: int, images: dict[str, Path]) -> None:
        if host not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
            settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host]  # so the printed URL is accepted
        try:
            httpd = demo_server(host, port)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port} ({exc.strerror}); try PORT=8001 make demo") from None
        self.print_examples(host, port, images)

        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("\nstopping")
        finally:
            httpd.server_close()

    def print_examples(self, host: str, port: int, images: dict[str, Path]) -> None:
        base = f"http://{'localhost' if host in ('0.0.0.0', '::') else host}:{port}"
        rel = {name: _relative(path) for name, path in images.items()}
        pretty = "python3 -m json.tool"
        self.stdout.write(self.style.SUCCESS(f"\nServing the Diff4Steer demo on {base}  (Ctrl-C stops)\n"))
        self.stdout.write(
            f"Open {base}/ in a browser: a photo in, a playlist out, tags to re-steer it.\n\n"
            "Or from a terminal, a playlist for a dark, cold picture (try the bright, warm one too):\n\n"
            f"  curl -s -F image=@{rel['dark-cold']} {base}/api/playlists/from-image | {pretty}\n"
            f"  curl -s -F image=@{rel['bright-warm']} -F size=10 {base}/api/playlists/from-image | {pretty}\n\n"
            "Re-steer the session with tags (id and token from the answer above):\n\n"
            f"  curl -s -X POST -H 'X-Session-Token: TOKEN' -H 'Content-Type: application/json' \\\n"
            f"       -d '{{\"tags\": [\"calm piano\"], \"avoid\": [\"vocals\"]}}' {base}/api/sessions/ID/steer\n\n"
            f"API docs: {base}/api/docs/   readiness: {base}/readyz\n"
            "Offline stand-ins: the image encoder is a colour/light/texture descriptor (not CLIP), and track vectors\n"
            "are MiniLM embeddings of MusicCaps captions (a text proxy, not audio). MusicCaps: CC BY-SA 4.0, Google.\n"
        )


def seed_from_demo_catalog(encoder, catalog_npz: Path, csv_path: Path) -> None:
    """``catalog.npz`` holds MiniLM(caption) of every clip, in CSV order: give ``encoder`` them by caption."""
    if not catalog_npz.is_file():
        return
    from prior.data.musiccaps import read_clips
    from prior.data.npz import load_catalog

    catalog = load_catalog(catalog_npz)
    if catalog.music_space.name != encoder.space.name:
        return
    vectors = dict(zip((str(i) for i in catalog.ids), catalog.music, strict=True))
    clips = [clip for clip in read_clips(csv_path) if clip.ytid in vectors]
    encoder.remember([clip.caption for clip in clips], [vectors[clip.ytid] for clip in clips])


def demo_server(host: str, port: int):
    """The demo's HTTP server, bound and ready for ``serve_forever()``: a thread per request, Django's app.

    Django's ``ThreadedWSGIServer`` closes every database connection of a request's thread when the request ends
    (``close_request``), so the number of Postgres connections is bounded by the requests in flight, not by the
    requests served; a plain ``ThreadingMixIn`` server leaves one open per thread and exhausts the server's slots.
    """
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler, get_internal_wsgi_application

    httpd = ThreadedWSGIServer((host, port), WSGIRequestHandler, ipv6=":" in host)
    httpd.set_app(get_internal_wsgi_application())
    return httpd


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _prior_steps(path: Path) -> int:
    """Training steps recorded in the checkpoint at ``path``; 0 when there is none."""
    from prior.checkpoint import CheckpointError, read_config

    try:
        return int((read_config(path).get("metrics") or {}).get("steps") or 0)
    except (CheckpointError, TypeError, ValueError):
        return 0


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
