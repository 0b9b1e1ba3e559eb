"""The NPZ file contract, validated on read so a bad file fails with a clear message.

- ``train.npz``: ``cond [N,Dc]``, ``music [N,Dm]``, optional ``steer [N,Dm]``
- ``catalog.npz``: ``ids [M]`` (strings), ``music [M,Dm]``
- ``test.npz``: ``cond [Q,Dc]``, ``music [Q,Dm]``, ``track_id [Q]`` (strings in the catalog), optional ``steer``

Optional 0-d string entries ``cond_space`` and ``music_space`` hold the JSON of an
:class:`~prior.spaces.EmbeddingSpace`, so a checkpoint trained on the file knows which spaces it speaks.
Files without them get an anonymous space named after their dimension.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prior.spaces import EmbeddingSpace


class DataError(ValueError):
    """The file does not follow the NPZ contract; the message says what is wrong and where."""


@dataclass(frozen=True)
class Pairs:
    """Query/music pairs (``train.npz`` or ``test.npz``). ``track_id`` is set for test files."""

    cond: np.ndarray
    music: np.ndarray
    steer: np.ndarray | None
    track_id: np.ndarray | None
    cond_space: EmbeddingSpace
    music_space: EmbeddingSpace
    fingerprint: str

    def __len__(self) -> int:
        return len(self.cond)


@dataclass(frozen=True)
class Catalog:
    """Retrieval candidates (``catalog.npz``)."""

    ids: np.ndarray
    music: np.ndarray
    music_space: EmbeddingSpace
    fingerprint: str

    def __len__(self) -> int:
        return len(self.ids)


def anonymous_space(role: str, dim: int) -> EmbeddingSpace:
    return EmbeddingSpace(name=f"{role}-{dim}d", dim=dim, encoder="unknown")


def l2_normalise(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


def file_fingerprint(path: str | Path) -> str:
    """sha256 of the file's bytes: recorded in checkpoints so a model can be traced to its data."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def _open(path: str | Path) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except Exception as exc:  # zipfile/format errors: say which file, not a traceback
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None


def _matrix(data: dict, key: str, path: Path, rows: int | None = None, unit: bool = False) -> np.ndarray:
    if key not in data:
        raise DataError(f"{path}: missing array '{key}' (found: {', '.join(sorted(data)) or 'none'})")
    arr = data[key]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"{path}: '{key}' must be a non-empty 2-d array, got shape {arr.shape}")
    if rows is not None and arr.shape[0] != rows:
        raise DataError(f"{path}: '{key}' has {arr.shape[0]} rows, expected {rows}")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise DataError(f"{path}: '{key}' row {bad} has NaN or inf")
    if unit:
        norms = np.linalg.norm(arr, axis=1)
        if (norms < 1e-6).any():
            raise DataError(f"{path}: '{key}' row {int(np.flatnonzero(norms < 1e-6)[0])} is a zero vector")
        arr = l2_normalise(arr)
    return arr


def _strings(data: dict, key: str, path: Path, rows: int) -> np.ndarray:
    if key not in data:
        raise DataError(f"{path}: missing array '{key}'")
    arr = data[key]
    if arr.ndim != 1 or arr.shape[0] != rows:
        raise DataError(f"{path}: '{key}' must be 1-d with {rows} entries, got shape {arr.shape}")
    return arr.astype(str)


def _space(data: dict, key: str, role: str, dim: int, path: Path) -> EmbeddingSpace:
    if key not in data:
        return anonymous_space(role, dim)
    try:
        space = EmbeddingSpace.from_dict(json.loads(str(data[key])))
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: '{key}' is not an embedding-space JSON object ({exc})") from None
    if space.dim != dim:
        raise DataError(f"{path}: '{key}' says dim {space.dim} but the vectors have {dim}")
    return space


def load_pairs(path: str | Path, require_track_id: bool = False) -> Pairs:
    """Read ``train.npz`` or (with ``require_track_id``) ``test.npz``; music and steer are re-normalised."""
    path = Path(path)
    data = _open(path)
    cond = _matrix(data, "cond", path)
    music = _matrix(data, "music", path, rows=len(cond), unit=True)
    steer = _matrix(data, "steer", path, rows=len(cond), unit=True) if "steer" in data else None
    if steer is not None and steer.shape[1] != music.shape[1]:
        raise DataError(f"{path}: 'steer' has dim {steer.shape[1]}, music has {music.shape[1]}")
    track_id = _strings(data, "track_id", path, len(cond)) if (require_track_id or "track_id" in data) else None
    return Pairs(
        cond=cond,
        music=music,
        steer=steer,
        track_id=track_id,
        cond_space=_space(data, "cond_space", "cond", cond.shape[1], path),
        music_space=_space(data, "music_space", "music", music.shape[1], path),
        fingerprint=file_fingerprint(path),
    )


def load_catalog(path: str | Path) -> Catalog:
    path = Path(path)
    data = _open(path)
    music = _matrix(data, "music", path, unit=True)
    ids = _strings(data, "ids", path, len(music))
    if len(np.unique(ids)) != len(ids):
        raise DataError(f"{path}: 'ids' has duplicates")
    return Catalog(
        ids=ids,
        music=music,
        music_space=_space(data, "music_space", "music", music.shape[1], path),
        fingerprint=file_fingerprint(path),
    )


def save_pairs(
    path: str | Path,
    cond: np.ndarray,
    music: np.ndarray,
    *,
    steer: np.ndarray | None = None,
    track_id: np.ndarray | None = None,
    cond_space: EmbeddingSpace | None = None,
    music_space: EmbeddingSpace | None = None,
) -> Path:
    arrays: dict[str, np.ndarray] = {"cond": np.asarray(cond, np.float32), "music": l2_normalise(music)}
    if steer is not None:
        arrays["steer"] = l2_normalise(steer)
    if track_id is not None:
        arrays["track_id"] = np.asarray(track_id).astype(str)
    if cond_space is not None:
        arrays["cond_space"] = np.array(json.dumps(cond_space.to_dict()))
    if music_space is not None:
        arrays["music_space"] = np.array(json.dumps(music_space.to_dict()))
    np.savez(path, **arrays)
    return Path(path)


def save_catalog(
    path: str | Path, ids: np.ndarray, music: np.ndarray, *, music_space: EmbeddingSpace | None = None
) -> Path:
    arrays: dict[str, np.ndarray] = {"ids": np.asarray(ids).astype(str), "music": l2_normalise(music)}
    if music_space is not None:
        arrays["music_space"] = np.array(json.dumps(music_space.to_dict()))
    np.savez(path, **arrays)
    return Path(path)
