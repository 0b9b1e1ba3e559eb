"""From per-seed nearest-neighbour lists to a ranked playlist (pure: arrays in, ranked items out).

Steps (docs/architecture.md): merge the per-seed lists with :mod:`prior.retrieval` (round-robin by default: every seed,
i.e. every mode of the prior's posterior, gets a fair share; reciprocal-rank fusion favours tracks many seeds
agree on), keep the first ``pool_factor * size`` merged candidates as the pool, then diversify the pool with MMR
and the artist rules (:mod:`recommend.diversify`). The merge decides *which* tracks are candidates, MMR decides
which of them make the list and in what order. A steered list can be re-ranked first: the prior's affinity of
each pool track for the query added to its relevance (``affinity``, :func:`prior.steering.affinity_relevance`).

An item's ``score`` is the cosine similarity between the track and the seed that retrieved it (its ``seed``), so
scores are comparable across merge methods; pinned (liked) tracks report their best seed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from prior.retrieval import reciprocal_rank_fusion_items, round_robin_merge_items
from prior.steering import affinity_relevance
from recommend.diversify import DiversifyParams, artist_keys, diversify

MERGE_METHODS = ("round_robin", "rrf")


@dataclass(frozen=True)
class RankedItem:
    track_id: int
    seed: int
    score: float


def neighbours_per_seed(pool: int, n_seeds: int, k_min: int, k_max: int) -> int:
    """First guess of k (neighbours fetched per seed) for a merged pool of ``pool`` tracks.

    Round-robin takes about ``pool / S`` tracks from each seed's list; twice that covers the overlap between
    neighbouring seeds' lists in the common case, and :func:`pool_is_complete` says when it did not. The ANN's
    cost grows with k, so fetching 40 per seed "to be safe" when 8 will do is the most expensive habit here.
    """
    return int(min(max(math.ceil(2 * pool / max(n_seeds, 1)), k_min), k_max))


def pool_is_complete(
    per_seed_ids: Sequence[Sequence[int]], artists: Mapping[int, str], k: int, pool: int, size: int,
    max_per_artist: int,
) -> bool:
    """Whether searching deeper than ``k`` per seed could not improve the playlist.

    Complete when the lists hold ``pool`` distinct tracks that can fill ``size`` slots under the artist cap, or
    when every list came back shorter than ``k`` (the catalog, minus exclusions, has nothing more to give).
    """
    if all(len(ids) < k for ids in per_seed_ids):
        return True
    distinct = list(dict.fromkeys(t for ids in per_seed_ids for t in ids))
    if len(distinct) < pool:
        return False
    per_artist = Counter(artist_keys([artists.get(t, "") for t in distinct]))
    return sum(min(count, max_per_artist) for count in per_artist.values()) >= size


def merge_candidates(
    per_seed_ids: Sequence[Sequence[int]], per_seed_scores: Sequence[Sequence[float]], limit: int, method: str
) -> list[tuple[int, int]]:
    """Merged ``(track_id, seed)`` pairs, best first, at most ``limit``; ``method`` is one of :data:`MERGE_METHODS`."""
    if method == "round_robin":
        items = round_robin_merge_items(per_seed_ids, limit, per_seed_scores)
    elif method == "rrf":
        items = reciprocal_rank_fusion_items(per_seed_ids, limit, per_seed_scores=per_seed_scores)
    else:
        raise ValueError(f"unknown merge method {method!r}; choose one of {', '.join(MERGE_METHODS)}")
    return [(int(item.id), int(item.seed)) for item in items]


@dataclass(frozen=True)
class PlaylistPool:
    """The candidates :func:`rank_playlist` diversifies, as ``(track_id, seed)``: the ``pinned`` (liked) ones first."""

    candidates: list[tuple[int, int]]
    pinned: int

    @property
    def ids(self) -> list[int]:
        return [t for t, _ in self.candidates]


def playlist_pool(
    seeds: np.ndarray,
    per_seed_ids: Sequence[Sequence[int]],
    per_seed_scores: Sequence[Sequence[float]],
    vectors: Mapping[int, np.ndarray],
    size: int,
    *,
    merge: str = "round_robin",
    pool_factor: int = 3,
    pinned: Sequence[int] = (),
) -> PlaylistPool:
    """The pinned (liked) ids first, each with its nearest seed, then the merged lists' first ``pool_factor * size``.

    A step of its own because the steering model's re-ranking needs the prior's affinity for exactly these tracks
    before :func:`rank_playlist` runs."""
    seeds = np.asarray(seeds, dtype=np.float32)
    pinned = list(dict.fromkeys(int(t) for t in pinned))[: max(size, 0)]
    pinned_set = set(pinned)
    limit = max(size * max(pool_factor, 1), size) + len(pinned)
    merged = [(t, s) for t, s in merge_candidates(per_seed_ids, per_seed_scores, limit, merge) if t not in pinned_set]
    candidates = [(t, int(np.argmax(seeds @ np.asarray(vectors[t], dtype=np.float32)))) for t in pinned]
    return PlaylistPool(candidates=candidates + merged, pinned=len(pinned))


def rank_playlist(
    seeds: np.ndarray,
    pool: PlaylistPool,
    vectors: Mapping[int, np.ndarray],
    artists: Mapping[int, str],
    size: int,
    *,
    params: DiversifyParams = DiversifyParams(),
    groups_of: Callable[[Sequence[int]], Sequence[tuple[Sequence[Hashable | None], int]]] | None = None,
    affinity: Mapping[int, float] | None = None,
    affinity_weight: float = 0.0,
) -> list[RankedItem]:
    """The playlist from a :func:`playlist_pool`: ``min(size, what the catalog and the artist cap allow)`` distinct
    tracks, in order.

    ``vectors`` and ``artists`` must cover every track of the pool. Its pinned ids (liked tracks) are placed in the
    list first, then diversification fills it; artist separation may move them down a little.
    ``groups_of`` gives extra caps for the candidates' ids (album and song-version caps, :mod:`recommend.filters`).
    ``affinity`` (every pool track's, with ``affinity_weight`` > 0): the steering model's re-ranking, the prior's
    affinity of each track for the query added to its relevance (:func:`prior.steering.affinity_relevance`); the
    items' ``score`` stays the cosine to their seed.
    """
    if not pool.candidates:
        return []
    seeds = np.asarray(seeds, dtype=np.float32)
    ids = pool.ids
    matrix = np.stack([np.asarray(vectors[t], dtype=np.float32) for t in ids])
    seed_of = np.array([s for _, s in pool.candidates])
    relevance = np.einsum("nd,nd->n", matrix, seeds[seed_of])
    ranking = relevance
    if affinity is not None and affinity_weight > 0:
        ranking = affinity_relevance(relevance, np.array([affinity[t] for t in ids]), affinity_weight)
    order = diversify(
        ranking,
        matrix,
        size,
        artists=[artists.get(t, "") for t in ids],
        params=params,
        pinned=list(range(pool.pinned)),
        groups=groups_of(ids) if groups_of is not None else (),
    )
    return [RankedItem(track_id=ids[i], seed=int(seed_of[i]), score=float(relevance[i])) for i in order]
