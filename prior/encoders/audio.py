"""Audio plumbing for music encoders and audio ingest: mono mix, resampling, reading files, embedding a folder.

Music encoders expect mono float32 at their own rate (CLAP: 48 kHz); catalog audio comes as 22.05/44.1/48 kHz,
stereo, in WAV/FLAC/OGG/MP3. Resampling uses a polyphase filter (``scipy.signal.resample_poly``), which is exact for
the rational ratios between the usual rates and has proper anti-aliasing. The catalog's ``ingest_tracks
--audio-dir`` builds on :func:`embed_audio_files`, which reads and embeds in batches so memory stays bounded however
many files a folder holds, and reports unreadable files instead of stopping on the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path

import numpy as np

from prior.encoders.base import MusicEncoder

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff"})


class AudioInputError(ValueError):
    """An audio file or waveform cannot be used; the message names it and says why."""


def to_mono(waveform: np.ndarray) -> np.ndarray:
    """Average the channels into one float32 signal.

    A 2-d array is ``[samples, channels]`` (soundfile's layout); one that is clearly ``[channels, samples]`` (at most
    8 rows and more columns than rows, torchaudio's layout) is accepted too.
    """
    x = np.asarray(waveform)
    if x.ndim == 1:
        mono = x
    elif x.ndim == 2:
        channels_first = x.shape[0] <= 8 and x.shape[1] > x.shape[0]
        mono = x.mean(axis=0 if channels_first else 1)
    else:
        raise AudioInputError(f"a waveform must be 1-d or 2-d, got shape {x.shape}")
    if np.issubdtype(mono.dtype, np.integer):  # PCM integers -> [-1, 1]
        mono = mono / float(np.iinfo(x.dtype).max)
    mono = np.asarray(mono, dtype=np.float32)
    if mono.size == 0:
        raise AudioInputError("the waveform is empty")
    if not np.isfinite(mono).all():
        raise AudioInputError("the waveform has NaN or inf samples")
    return mono


def resample(waveform: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Mono ``waveform`` from ``orig_rate`` to ``target_rate`` Hz (polyphase, anti-aliased); float32."""
    orig_rate, target_rate = int(orig_rate), int(target_rate)
    if orig_rate <= 0 or target_rate <= 0:
        raise AudioInputError(f"sample rates must be positive, got {orig_rate} -> {target_rate}")
    x = np.asarray(waveform, dtype=np.float32)
    if orig_rate == target_rate:
        return x
    from scipy.signal import resample_poly

    g = gcd(orig_rate, target_rate)
    return resample_poly(x, target_rate // g, orig_rate // g).astype(np.float32)


def prepare(waveform: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """Mono-mix then resample: what every music encoder does to its input first."""
    return resample(to_mono(waveform), sample_rate, target_rate)


def load_audio(path: str | Path, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Read an audio file as (mono float32 waveform, sample rate). ``max_seconds`` reads only the beginning."""
    import soundfile

    path = Path(path)
    try:
        info = soundfile.info(str(path))
        frames = -1 if max_seconds is None else int(max_seconds * info.samplerate)
        data, rate = soundfile.read(str(path), frames=frames, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, OSError, ValueError) as exc:
        raise AudioInputError(f"{path.name}: not a readable audio file ({exc})") from None
    if data.shape[0] == 0:
        raise AudioInputError(f"{path.name}: the audio has no samples")
    return to_mono(data), int(rate)


def find_audio_files(directory: str | Path) -> list[Path]:
    """Audio files under ``directory`` (recursively), sorted so ingest order and ids are reproducible."""
    directory = Path(directory)
    if not directory.is_dir():
        raise AudioInputError(f"{directory}: not a directory")
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)


@dataclass
class AudioEmbeddings:
    """What :func:`embed_audio_files` made: ``vectors[i]`` belongs to ``paths[i]``; ``failed`` maps path -> reason."""

    paths: list[Path]
    vectors: np.ndarray
    failed: dict[Path, str] = field(default_factory=dict)


def embed_audio_files(
    encoder: MusicEncoder,
    paths: Iterable[str | Path],
    batch_size: int = 8,
    max_seconds: float | None = None,
) -> AudioEmbeddings:
    """Read, resample and embed audio files ``batch_size`` at a time; unreadable files go to ``failed``."""
    if batch_size < 1:
        raise ValueError("batch size must be at least 1")
    done: list[Path] = []
    chunks: list[np.ndarray] = []
    failed: dict[Path, str] = {}
    pending_paths: list[Path] = []
    pending: list[np.ndarray] = []

    def flush() -> None:
        if pending:
            chunks.append(encoder.encode_audio(pending, encoder.sample_rate))
            done.extend(pending_paths)
            pending.clear()
            pending_paths.clear()

    for raw in paths:
        path = Path(raw)
        try:
            waveform, rate = load_audio(path, max_seconds=max_seconds)
            pending.append(resample(waveform, rate, encoder.sample_rate))
            pending_paths.append(path)
        except AudioInputError as exc:
            failed[path] = str(exc)
            continue
        if len(pending) >= batch_size:
            flush()
    flush()
    vectors = np.concatenate(chunks) if chunks else np.zeros((0, encoder.space.dim), np.float32)
    return AudioEmbeddings(paths=done, vectors=vectors, failed=failed)


def windows(waveform: np.ndarray, length: int, max_windows: int) -> Sequence[np.ndarray]:
    """Up to ``max_windows`` evenly spaced windows of ``length`` samples covering the track (one if it is short).

    Music encoders see a fixed span (CLAP: 10 s); averaging a few windows from start, middle and end describes a
    whole track better than its first ten seconds, and unlike a random crop it is deterministic.
    """
    if len(waveform) <= length or max_windows <= 1:
        return [waveform[:length]]
    count = min(max_windows, int(np.ceil(len(waveform) / length)))
    starts = np.linspace(0, len(waveform) - length, count).round().astype(int)
    return [waveform[s : s + length] for s in starts]
