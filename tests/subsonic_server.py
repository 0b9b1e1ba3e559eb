"""A real Subsonic-API server for the tests: Supysonic 0.7.9 (its own venv, ``make supysonic``) on a loopback port,
over a music folder of short FLAC files written with soundfile and tagged with mutagen, scanned by ``supysonic-cli``.

Supysonic answers as API 1.12 and rejects token authentication (error 10), so the client's fallback to the hex
password is exercised on every run.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-supysonic"
USER, PASSWORD = "listener", "s3cret pass"


@dataclass(frozen=True)
class Song:
    file: str
    title: str
    artist: str
    album: str
    genre: str
    year: int
    seconds: int


# 3 genres, 4 albums; "Nightcall" twice (two versions of one song); durations 1-4 s (the filters' max_duration_s).
LIBRARY = [
    Song("a1.flac", "Nightcall", "Neon Arcade", "Midnight Drive", "Synthwave", 1984, 2),
    Song("a2.flac", "Turbo Sunset", "Neon Arcade", "Midnight Drive", "Synthwave", 1984, 3),
    Song("a3.flac", "Grid Runner", "Neon Arcade", "Midnight Drive", "Synthwave", 1984, 1),
    Song("b1.flac", "Nightcall (Remastered 2011)", "Neon Arcade", "Night Calls Again", "Synthwave", 2011, 2),
    Song("b2.flac", "Laser Tide", "Chrome Hearts", "Night Calls Again", "Synthwave", 2011, 4),
    Song("b3.flac", "Pulse Avenue", "Chrome Hearts", "Night Calls Again", "Synthwave", 2011, 2),
    Song("c1.flac", "Blue Smoke", "The Late Quartet", "After Hours", "Jazz", 1959, 3),
    Song("c2.flac", "Walking Bass", "The Late Quartet", "After Hours", "Jazz", 1959, 2),
    Song("c3.flac", "Brushes", "The Late Quartet", "After Hours", "Jazz", 1961, 1),
    Song("d1.flac", "Old Oak", "Hollow Pines", "Wood and Wire", "Folk", 1972, 2),
    Song("d2.flac", "River Song", "Hollow Pines", "Wood and Wire", "Folk", 1972, 3),
    Song("d3.flac", "Lantern", "Hollow Pines", "Wood and Wire", "Folk", 1973, 1),
]


def ensure_venv() -> Path:
    """The Supysonic venv, made with ``make supysonic`` if a checkout has not made it yet (what ``make test`` does)."""
    if not (VENV / ".installed").exists():
        done = subprocess.run(["make", "-C", str(ROOT), "supysonic", f"PYTHON={sys.executable}"],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.fail(f"make supysonic failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return VENV / "bin"


def write_song(folder: Path, song: Song, rate: int = 8000) -> Path:
    """A short real FLAC file (a tone) with the song's tags."""
    import soundfile
    from mutagen.flac import FLAC

    t = np.arange(rate * song.seconds) / rate
    tone = (0.2 * np.sin(2 * np.pi * (220 + 40 * (sum(map(ord, song.title)) % 7)) * t)).astype(np.float32)
    path = folder / song.file
    soundfile.write(path, tone, rate, format="FLAC")
    tags = FLAC(path)
    tags.update({"title": song.title, "artist": song.artist, "album": song.album, "genre": song.genre,
                 "date": str(song.year)})
    tags.save()
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SupysonicServer:
    """One server: its own SQLite database, config and music folder under ``root``; ``start``/``stop`` the process."""

    def __init__(self, root: Path, songs: list[Song] = LIBRARY):
        self.bin = ensure_venv()
        self.root = root
        self.music = root / "music"
        self.music.mkdir(parents=True)
        for song in songs:
            write_song(self.music, song)
        (root / "supysonic.conf").write_text(
            f"[base]\ndatabase_uri = sqlite:///{root / 'supysonic.db'}\n"
            f"[webapp]\ncache_dir = {root / 'cache'}\nmount_webui = no\n"
            f"[daemon]\nsocket = {root / 'daemon.sock'}\nrun_watcher = no\n"
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.cli("user", "add", USER, "-p", PASSWORD)
        self.cli("folder", "add", "library", str(self.music))
        self.scan()

    def cli(self, *args: str) -> str:
        done = subprocess.run([str(self.bin / "supysonic-cli"), *args], cwd=self.root, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, f"supysonic-cli {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def scan(self) -> str:
        return self.cli("folder", "scan", "-f", "library")

    def start(self) -> SupysonicServer:
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 (closed with the process)
        self.process = subprocess.Popen(
            [str(self.bin / "supysonic-server"), "-S", "waitress", "-h", "127.0.0.1", "-p", str(self.port)],
            cwd=self.root, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/rest/ping.view?f=json", timeout=2):  # noqa: S310
                    return self
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.2)
        self.stop()
        raise AssertionError(f"supysonic-server did not start: {(self.root / 'server.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

