"""Diversification of a merged candidate list: MMR, an artist cap, and no two adjacent tracks by one artist (pure).

Why a second stage after the merge: the per-seed merge already spreads the playlist over the prior's modes, but
neighbouring seeds often retrieve near-duplicates (two takes of one song, one artist's whole album). Maximal
Marginal Relevance (Carbonell & Goldstein, 1998) trades relevance against similarity to what is already picked:

    next = argmax_i  lambda * rel_i - (1 - lambda) * max_{j picked} sim(i, j)

``lambda = 1`` is pure relevance (the merge order), ``lambda = 0`` pure novelty. On top of MMR two listening rules:
at most ``max_per_artist`` tracks per artist, and no two adjacent tracks by the same artist whenever some order of
the chosen tracks allows it. An empty artist means "unknown" and never collides with anything.

Everything here is deterministic (ties go to the earlier candidate) and works on plain arrays, so it is tested
with property tests and reused by benchmarks without Django.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DiversifyParams:
    """How the playlist is diversified (defaults from settings, see :mod:`recommend.conf`)."""

    mmr_lambda: float = 0.7
    max_per_artist: int = 2

    def __post_init__(self) -> None:
        if not 0.0 <= self.mmr_lambda <= 1.0:
            raise ValueError(f"mmr_lambda must be in [0, 1], got {self.mmr_lambda}")
        if self.max_per_artist < 1:
            raise ValueError(f"max_per_artist must be at least 1, got {self.max_per_artist}")


def artist_keys(artists: Sequence[str]) -> list[Hashable]:
    """Comparable artist keys: case- and space-insensitive names; unknown (empty) artists get a unique key each."""
    keys: list[Hashable] = []
    for i, name in enumerate(artists):
        norm = " ".join(str(name or "").split()).casefold()
        keys.append(norm if norm else ("<unknown>", i))
    return keys


def mmr_select(
    relevance: np.ndarray,
    vectors: np.ndarray,
    k: int,
    *,
    artists: Sequence[str],
    params: DiversifyParams = DiversifyParams(),
    pinned: Sequence[int] = (),
    exclude: Sequence[int] = (),
    groups: Sequence[tuple[Sequence[Hashable | None], int]] = (),
) -> list[int]:
    """Indices of up to ``k`` candidates chosen by MMR under the artist cap, in the order they were picked.

    ``groups`` adds caps of the same kind: ``(keys, cap)`` takes at most ``cap`` candidates per key (``keys[i]``
    for candidate i; ``None`` is in no group), e.g. at most N per album, one version per song.

    ``pinned`` indices are taken first, in the order given (liked tracks that must survive a re-steer); they count
    towards the artist cap but are never dropped by it. ``exclude`` indices are never taken. The result has
    ``min(k, what the cap and exclusions allow)`` items: while filling, each artist is first held to
    ``min(max_per_artist, ceil(k / 2))`` so a no-adjacent order stays possible, and only if that leaves the list
    short is the plain cap used.
    """
    relevance = np.asarray(relevance, dtype=np.float64)
    vectors = np.asarray(vectors, dtype=np.float64)
    n = len(relevance)
    if vectors.shape[0] != n or len(artists) != n:
        raise ValueError(f"relevance ({n}), vectors ({vectors.shape[0]}) and artists ({len(artists)}) must align")
    k = max(0, int(k))
    # Artists as small integer codes, so the cap is one vectorised test per pick instead of a Python loop over n.
    code_of: dict[Hashable, int] = {}
    codes = np.array([code_of.setdefault(key, len(code_of)) for key in artist_keys(artists)], dtype=np.intp)
    per_artist = np.zeros(len(code_of), dtype=np.intp)
    available = np.ones(n, dtype=bool)  # neither taken nor excluded
    for i in exclude:
        if 0 <= int(i) < n:
            available[int(i)] = False
    chosen: list[int] = []
    group_caps = []  # (codes per candidate, counts per code, cap); a None key gets a code of its own
    for keys, cap in groups:
        if len(keys) != n:
            raise ValueError(f"group keys ({len(keys)}) must align with the candidates ({n})")
        group_of: dict[Hashable, int] = {}
        group_codes = np.array([group_of.setdefault(key if key is not None else ("<none>", i), len(group_of))
                                for i, key in enumerate(keys)], dtype=np.intp)
        group_caps.append((group_codes, np.zeros(len(group_of), dtype=np.intp), max(1, int(cap))))

    def take(i: int) -> None:
        chosen.append(i)
        available[i] = False
        per_artist[codes[i]] += 1
        for group_codes, counts, _ in group_caps:
            counts[group_codes[i]] += 1

    for i in pinned:
        i = int(i)
        if len(chosen) >= k or not 0 <= i < n or not available[i]:
            continue
        take(i)
    if len(chosen) >= k or n == 0:
        return chosen

    sim = vectors @ vectors.T if vectors.size else np.zeros((n, n))
    # max similarity of every candidate to the chosen set; -inf until something is chosen (no penalty at first)
    max_sim = np.full(n, -np.inf)
    for i in chosen:
        max_sim = np.maximum(max_sim, sim[i])
    lam = params.mmr_lambda
    soft_cap = min(params.max_per_artist, max(1, math.ceil(k / 2)))
    for cap in dict.fromkeys((soft_cap, params.max_per_artist)):  # the soft cap first, the plain cap if short
        while len(chosen) < k:
            allowed = available & (per_artist[codes] < cap)
            for group_codes, counts, group_cap in group_caps:
                allowed &= counts[group_codes] < group_cap
            if not allowed.any():
                break
            penalty = np.where(np.isfinite(max_sim), max_sim, 0.0)
            gain = np.where(allowed, lam * relevance - (1.0 - lam) * penalty, -np.inf)
            best = int(np.argmax(gain))  # argmax returns the first maximum: ties go to the earlier candidate
            take(best)
            max_sim = np.maximum(max_sim, sim[best])
    return chosen


def _feasible(counts: Counter, remaining: int, prev: Hashable) -> bool:
    """Can ``remaining`` items with these artist counts be ordered with no equal neighbours, not starting with prev?

    A multiset can be laid out without equal neighbours iff no artist has more than ceil(n/2) items; if the first
    slot may not be ``prev``, that artist gets at most floor(n/2) slots (2nd, 4th, ...).
    """
    for artist, c in counts.items():
        limit = remaining // 2 if artist == prev else (remaining + 1) // 2
        if c > limit:
            return False
    return True


def separate_artists(order: Sequence[int], artists: Sequence[str]) -> list[int]:
    """Reorder ``order`` (indices into ``artists``) so no two neighbours share an artist, when that is possible.

    Greedy and stable: each slot takes the earliest remaining item whose artist differs from the previous one AND
    leaves a remainder that can still be separated; so the result stays as close to the given (relevance) order as
    the constraint allows. If no separated order exists, it still avoids neighbours where it can.
    """
    keys = artist_keys(artists)
    remaining = list(order)
    counts = Counter(keys[i] for i in remaining)
    result: list[int] = []
    prev: Hashable = object()
    while remaining:
        pick = None
        fallback = None
        for pos, i in enumerate(remaining):
            if keys[i] == prev:
                continue
            if fallback is None:
                fallback = pos
            counts[keys[i]] -= 1
            ok = _feasible(counts, len(remaining) - 1, keys[i])
            counts[keys[i]] += 1
            if ok:
                pick = pos
                break
        if pick is None:
            pick = fallback if fallback is not None else 0
        i = remaining.pop(pick)
        counts[keys[i]] -= 1
        result.append(i)
        prev = keys[i]
    return result


def diversify(
    relevance: np.ndarray,
    vectors: np.ndarray,
    k: int,
    *,
    artists: Sequence[str],
    params: DiversifyParams = DiversifyParams(),
    pinned: Sequence[int] = (),
    exclude: Sequence[int] = (),
    groups: Sequence[tuple[Sequence[Hashable | None], int]] = (),
) -> list[int]:
    """MMR selection under the artist cap (and ``groups``' caps), then artist separation: the playlist, in order."""
    chosen = mmr_select(relevance, vectors, k, artists=artists, params=params, pinned=pinned, exclude=exclude,
                        groups=groups)
    return separate_artists(chosen, artists)


def has_adjacent_artist(order: Sequence[int], artists: Sequence[str]) -> bool:
    """True when two neighbours in ``order`` share an artist (unknown artists never do)."""
    keys = artist_keys(artists)
    return any(keys[a] == keys[b] for a, b in zip(order, order[1:], strict=False))


def separable(order: Sequence[int], artists: Sequence[str]) -> bool:
    """True when some ordering of these items has no two neighbours by the same artist."""
    keys = artist_keys(artists)
    counts = Counter(keys[i] for i in order)
    return not counts or max(counts.values()) <= (len(order) + 1) // 2
