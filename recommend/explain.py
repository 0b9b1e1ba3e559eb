"""Why each track is in a playlist version, and where it lies: what the listener page shows beside the list.

Computed once, when the version is made (the seeds exist only then), from what the pipeline already holds: the
seeds, the chosen tracks' vectors and the tags in force. Pure numpy, no database.

- ``tags``: for each track, the steering tag whose text embedding is closest to it (the tag that pulled it there,
  as far as one can say: every tag pulls every seed), absent when no tag was in force;
- ``seeds`` / ``tracks``: a 2-D map, the first two principal axes of the seeds and the tracks together, scaled into
  [-1, 1], so a listener sees which seed found which tracks and how far apart the seeds went.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def explain_playlist(
    seeds: np.ndarray, track_ids: Sequence[int], vectors: Mapping[int, np.ndarray], tags: Sequence[str],
    tag_vectors: np.ndarray,
) -> dict:
    """``{"seeds": [[x, y], ...], "tracks": {"id": [x, y]}, "tags": {"id": tag}}`` (JSON-ready, ids as strings)."""
    seeds = np.asarray(seeds, dtype=np.float64).reshape(len(seeds), -1)
    ids = [int(t) for t in track_ids]
    items = np.stack([np.asarray(vectors[t], dtype=np.float64) for t in ids]) if ids else seeds[:0]
    points = project_2d(np.concatenate([seeds, items]))
    seed_points, track_points = points[: len(seeds)], points[len(seeds):]
    out: dict = {
        "seeds": [_pair(p) for p in seed_points],
        "tracks": {str(t): _pair(p) for t, p in zip(ids, track_points, strict=True)},
        "tags": {},
    }
    if len(tags) and len(ids):
        similarity = _unit(items) @ _unit(np.asarray(tag_vectors, dtype=np.float64)).T  # [tracks, tags]
        out["tags"] = {str(t): str(tags[int(j)]) for t, j in zip(ids, similarity.argmax(axis=1), strict=True)}
    return out


def project_2d(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` on its first two principal axes, scaled so the farthest coordinate is 1 (signs made stable)."""
    n = len(x)
    if n == 0:
        return np.zeros((0, 2))
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]
    largest = np.abs(axes).argmax(axis=1)
    axes = axes * np.sign(axes[np.arange(len(axes)), largest])[:, None]  # the same picture for the same vectors
    points = centred @ axes.T
    if points.shape[1] < 2:
        points = np.pad(points, ((0, 0), (0, 2 - points.shape[1])))
    scale = float(np.abs(points).max())
    return points / scale if scale > 1e-12 else np.zeros_like(points)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _pair(p: np.ndarray) -> list[float]:
    return [round(float(p[0]), 4), round(float(p[1]), 4)]
