"""Leak-free steering on real tags: the MTG-Jamendo tag world (docs/steering.md, "Jamendo tag world").

A query is a track of the evaluated split (official split-0; top-50 tags): its CONDITION is the text of its
instrument and mood/theme tags ("music with piano; mood: calm"), and it is steered with one of its GENRE tags
("rock music"), which the condition does not contain. Ground truth is multi-relevant: every catalog track (all
tracks of the split) carrying the steered genre. Scored on each method's merged list:

- ``steered_p@20`` / ``steered_p@100``: share of the list carrying the steered genre;
- ``condition_kept@20``: share of the top 20 sharing at least one condition tag;
- ``joint_p@20``: share of the top 20 carrying the steered genre AND sharing a condition tag;
- ``ils@20``: intra-list similarity (mean pairwise cosine of the top 20 in the catalog space);
- ``artists@20``: distinct artists (the TSV's artist ids) in the top 20;
- ``avoid_before@20`` / ``avoid_after@20`` (served steering only): share of the top 20 carrying an avoided
  instrument (per query: the instrument outside the condition most common among the genre's catalog tracks),
  steered with the genre alone, then with the genre and that instrument as an avoid tag.

The space is a TEXT PROXY (MiniLM, ``prior.encoders.get_text_encoder("minilm")``): a catalog track's vector is the
embedding of its tag sentence, so it contains its own genre's words. ``--world no-genre`` leaves the genres out of
every track's sentence (catalog and training targets), so what is left is what the instruments and moods say about
the genre: the difference between the two worlds is how much is word matching.

``--world musiccaps`` is the same protocol on MusicCaps with the genre held out of the condition (the project's
MusicCaps evaluation steers with aspects that are part of its condition, so it leaks). Splits as ``make-musiccaps``
writes them (``is_audioset_eval`` -> test; the rest -> train less a seeded 15 % validation part). Genres: the
``N_GENRES`` words of ``GENRE_CANDIDATES`` named by the most training aspect lists. A query is a clip of the evaluated
split naming one of them: it is steered with one of its genres ("rock music"); its CONDITION is the sentence of its
aspects that contain no genre word at all ("male vocals, electric guitar, aggressive"). Relevant: every clip of the
split whose aspect list names the genre; condition kept: shares an aspect with the condition. The catalog vector is
MiniLM of the caption (the project's text proxy), which often names the genre; ``--world musiccaps-no-genre``
removes every genre word from the captions (catalog and training targets). MusicCaps has no artist ids
(``artists@20`` counts clips); the avoided tag is the aspect outside the condition most common among the genre's
clips.

Methods (all in one run): ``text`` (the tag's embedding alone, exact nearest neighbours); ``regression+steer``
(prior/baseline.py: normalise(prediction + k x tag)); ``regression+jitter`` (16 seeds: the prediction plus random
unit noise x 0.5, then + k x tag); ``knn+steer`` (the music vectors of the 16 training pairs whose conditions are
nearest, each + k x tag: a non-parametric prior); ``diffusion`` (unsteered); ``diffusion+steer`` (the served steering
model, prior.steering: ``steering_plan`` with the checkpoint's SteeringConfig, gradient steering and retrieval by each
seed plus condition_weight x the condition's direction); ``diffusion+steer cw0`` (the same with condition_weight 0);
``diffusion+steer train defaults`` (``SteeringConfig()``, what ``train`` writes, when validation chose otherwise).
Each baseline's k, and the prior's steering (schedule, tag budget, condition weight: ``STEERING_GRID``), are chosen
on the validation split by joint_p@20; the prior's choice is RECORDED in its checkpoint (``update_steering``) and the
test split, run once, reads it from there like a served checkpoint. Likes and skips (``feedback_effect``): the
served steering with one liked (skipped) track of the steered list added, and how much nearer (farther) the next list
moves to it.

Usage: ``python bench/steering.py [--world tags|no-genre|musiccaps|musiccaps-no-genre] [--queries 300]
[--steps 3000] [--out FILE]``. Trains (or reuses, in ``var/bench_steering/<world>/``) a small prior (width 256) and
the regression baseline on the train split.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prior.checkpoint import update_steering  # noqa: E402
from prior.config import config_to_dict  # noqa: E402
from prior.data.jamendo import JamendoError, JamendoTrack, describe, read_tracks, tsv_name  # noqa: E402
from prior.retrieval import per_seed_top_k, round_robin_merge  # noqa: E402
from prior.service import PriorSampler  # noqa: E402
from prior.steering import NULL_GUIDANCE, SteeringConfig, SteeringState, retrieval_vectors, steering_plan  # noqa: E402

GENRE, INSTRUMENT, MOOD = "genre", "instrument", "mood/theme"
LIST_K = 100
TOP = 20
N_SEEDS = 16
JITTER = 0.5
K_GRID = (0.25, 0.5, 1.0, 2.0)
# The diffusion steering chosen on validation: (schedule, tag budget k, condition weight). The snr schedule's k acts
# only at high noise, so its useful range sits above the constant schedule's.
STEERING_GRID = tuple(("constant", k, cw) for k in (0.25, 0.5, 1.0) for cw in (0.0, 0.35)) + tuple(
    ("snr", k, cw) for k in (1.0, 3.0, 10.0) for cw in (0.0, 0.35))
MUSICCAPS_WORLDS = ("musiccaps", "musiccaps-no-genre")
WORLDS = ("tags", "no-genre") + MUSICCAPS_WORLDS
NOTES = {
    "tags": "TEXT PROXY: MiniLM embeddings of tag sentences, not audio",
    "no-genre": "TEXT PROXY: MiniLM embeddings of tag sentences, not audio",
    "musiccaps": "TEXT PROXY: MiniLM embeddings of the captions, not audio",
    "musiccaps-no-genre": "TEXT PROXY: MiniLM embeddings of the captions with their genre words removed, not audio",
}


# ---------------------------------------------------------------- the tag world


@dataclass(frozen=True)
class Split:
    """One split as a catalog (every track) plus its queries (tracks with a genre and a condition)."""

    tracks: list  # JamendoTrack (tag worlds) or MusicCaps clips (musiccaps worlds)
    tag_sets: list[frozenset[str]]  # every readable tag of each catalog track (MusicCaps: aspects and genres)
    artists: np.ndarray  # [N] artist id per catalog track (MusicCaps has none: the clip's own id)
    queries: np.ndarray  # [Q] catalog indices of the query tracks
    genre: list[str]  # [Q] the steered genre per query
    condition: list[frozenset[str]]  # [Q] the condition's tags per query


def condition_tags(track: JamendoTrack) -> list[str]:
    return track.categories.get(INSTRUMENT, []) + track.categories.get(MOOD, [])


def condition_text(track: JamendoTrack) -> str:
    """The query's condition: its instruments and moods as a sentence, without its genres."""
    return describe({INSTRUMENT: track.categories.get(INSTRUMENT, []), MOOD: track.categories.get(MOOD, [])})


def track_text(track: JamendoTrack, world: str) -> str:
    """What the catalog embeds for a track: all its tags, or (``no-genre``) all but its genres."""
    cats = track.categories if world == "tags" else {k: v for k, v in track.categories.items() if k != GENRE}
    return describe(cats)


def tag_text(genre: str) -> str:
    return describe({GENRE: [genre]})


def avoid_text(instrument: str) -> str:
    return describe({INSTRUMENT: [instrument]})


def make_split(tracks: list[JamendoTrack], n_queries: int | None, seed: int) -> Split:
    """The catalog and a seeded sample of queries (each with one of its genres drawn as the steered tag)."""
    rng = np.random.default_rng(seed)
    usable = [i for i, t in enumerate(tracks) if t.categories.get(GENRE) and condition_tags(t)]
    if n_queries is not None and n_queries < len(usable):
        usable = sorted(rng.choice(usable, size=n_queries, replace=False).tolist())
    genre = [str(rng.choice(tracks[i].categories[GENRE])) for i in usable]
    return Split(
        tracks=tracks, tag_sets=[frozenset(t.tags) for t in tracks],
        artists=np.array([t.artist_id for t in tracks]), queries=np.array(usable, dtype=np.int64), genre=genre,
        condition=[frozenset(condition_tags(tracks[i])) for i in usable],
    )


def avoid_instruments(split: Split) -> list[str | None]:
    """Per query: the instrument outside its condition most common among the catalog tracks of its genre."""
    out = []
    for genre, cond in zip(split.genre, split.condition, strict=True):
        counts: dict[str, int] = {}
        for track in split.tracks:
            if genre in track.categories.get(GENRE, ()):
                for ins in track.categories.get(INSTRUMENT, ()):
                    if ins not in cond:
                        counts[ins] = counts.get(ins, 0) + 1
        out.append(max(counts, key=lambda k: (counts[k], k)) if counts else None)
    return out


# ---------------------------------------------------------------- the MusicCaps world (held-out genre aspects)

# Words (and one phrase) that name a genre in MusicCaps aspect lists: the project's genre lexicon
# (prior/data/musiccaps.py) less the words that name an ensemble, a use or a form rather than a genre
# ("instrumental", "dance", "orchestra", "soundtrack", "ballad", ...), with "hip hop" as one phrase. An aspect naming
# any of them never goes into a condition; the steered genres are the N_GENRES most frequent in the training clips.
GENRE_CANDIDATES = frozenset(
    """rock pop jazz blues folk country classical metal punk reggae hip hop rap r&b soul funk disco house techno
    trance edm electronic electro dubstep ambient lounge latin salsa bossa samba flamenco tango gospel christian
    worship opera baroque indie grunge emo ska bluegrass bollywood indian arabic african afrobeat k-pop j-pop kpop
    anime chiptune lofi lo-fi trap dancehall reggaeton cumbia mariachi polka waltz carnatic hindustani bebop swing
    psychedelic shoegaze synthwave synthpop industrial hardcore grindcore""".split()
) - {"hip", "hop"} | {"hip hop"}
N_GENRES = 16
# The split make-musiccaps writes: is_audioset_eval -> test; the rest -> train, less a seeded 15 % validation part.
MUSICCAPS_VAL_FRACTION, MUSICCAPS_SPLIT_SEED = 0.15, 0


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9&']+", text.lower())


# A genre word followed by one of these names a sound or an instrument, not the clip's genre ("electronic drums",
# "ambient room noise", "classical guitar", "funky bass"): such an aspect stays out of the condition but does not
# make the clip relevant to the genre.
SOUND_NOUNS = frozenset(
    "drum drums sound sounds noise noises room crowd street nature percussion percussions instrumentation hall synth "
    "bass electric guitar".split())


def _grams(aspect: str) -> list[tuple[str, str]]:
    """(word or two-word phrase, the word after it) for every word and word pair of an aspect; adjectives count as
    their genre ("jazzy" -> "jazz", "bluesy" -> "blues")."""
    tokens = _tokens(aspect) + [""]
    out = []
    for i, word in enumerate(tokens[:-1]):
        out.append((word, tokens[i + 1]))
        if word.endswith("y"):
            out.append((word[:-1], tokens[i + 1]))
        if tokens[i + 1]:
            out.append((f"{word} {tokens[i + 1]}", tokens[i + 2] if i + 2 < len(tokens) else ""))
    return out


def mentions_genre(aspect: str) -> bool:
    """Whether an aspect contains any genre word at all (then it is never part of a condition)."""
    return any(gram in GENRE_CANDIDATES for gram, _ in _grams(aspect))


def aspect_genres(aspect: str, genres: frozenset[str] | Sequence[str] = GENRE_CANDIDATES) -> set[str]:
    """The genres of ``genres`` an aspect names: a word ("rock"), its adjective ("jazzy") or "hip hop" / "hip-hop",
    unless a sound noun follows it ("electronic drums")."""
    return {gram for gram, after in _grams(aspect) if gram in genres and after not in SOUND_NOUNS}


def clip_genres(clip, genres: Sequence[str]) -> set[str]:
    return set().union(*(aspect_genres(a, genres) for a in clip.aspects)) if clip.aspects else set()


def condition_aspects(clip) -> list[str]:
    """A clip's aspects that name no genre at all (any of GENRE_CANDIDATES, not only the steered ones)."""
    return [a for a in clip.aspects if not mentions_genre(a)]


def clip_condition_text(clip) -> str:
    """The query's condition: its non-genre aspects as one sentence ("male vocal, acoustic guitar, happy")."""
    return ", ".join(condition_aspects(clip))


def genre_text(genre: str) -> str:
    return f"{genre} music"


def strip_genres(text: str) -> str:
    """``text`` with every genre word (and its adjective, and "hip hop") removed: the no-genre catalog text."""
    text = re.sub(r"\bhip[\s-]+hop\b", " ", text, flags=re.IGNORECASE)
    words = {g for g in GENRE_CANDIDATES if " " not in g}

    def drop(match: re.Match) -> str:
        word = match.group(0).lower()
        return " " if word in words or (word.endswith("y") and word[:-1] in words) else match.group(0)

    return re.sub(r"\s+", " ", re.sub(r"[A-Za-z0-9&']+", drop, text)).strip()


def clip_text(clip, world: str) -> str:
    """What the catalog embeds for a clip: its caption (the project's text proxy), or (``musiccaps-no-genre``) the
    caption with its genre words removed."""
    return clip.caption if world == "musiccaps" else strip_genres(clip.caption)


def genre_vocabulary(train: Sequence, n: int = N_GENRES) -> list[str]:
    """The ``n`` genres named by the most training clips' aspect lists (ties by name)."""
    counts: dict[str, int] = {}
    for clip in train:
        for g in clip_genres(clip, GENRE_CANDIDATES):
            counts[g] = counts.get(g, 0) + 1
    return sorted(sorted(counts, key=lambda g: (-counts[g], g))[:n])


def musiccaps_splits(clips: Sequence) -> tuple[list, list, list]:
    """(train, validation, test) as make-musiccaps splits them, so no test (or validation) clip is trained on."""
    train_all = [c for c in clips if not c.is_eval]
    order = np.random.default_rng(MUSICCAPS_SPLIT_SEED).permutation(len(train_all))
    n_val = int(round(MUSICCAPS_VAL_FRACTION * len(train_all)))
    val = [train_all[i] for i in sorted(order[:n_val])]
    train = [train_all[i] for i in sorted(order[n_val:])]
    return train, val, [c for c in clips if c.is_eval]


def make_musiccaps_split(clips: Sequence, genres: Sequence[str], n_queries: int | None, seed: int) -> Split:
    """The catalog (every clip of the split) and a seeded sample of queries: clips naming a genre of ``genres`` and
    with at least one non-genre aspect; each steered with one of its genres drawn at random, conditioned on its
    non-genre aspects. A clip's tag set is its aspects plus the genres they name, so relevance is by aspect."""
    rng = np.random.default_rng(seed)
    usable = [i for i, c in enumerate(clips) if clip_genres(c, genres) and condition_aspects(c)]
    if n_queries is not None and n_queries < len(usable):
        usable = sorted(rng.choice(usable, size=n_queries, replace=False).tolist())
    return Split(
        tracks=list(clips), tag_sets=[frozenset(c.aspects) | clip_genres(c, genres) for c in clips],
        artists=np.array([c.ytid for c in clips]), queries=np.array(usable, dtype=np.int64),
        genre=[str(rng.choice(sorted(clip_genres(clips[i], genres)))) for i in usable],
        condition=[frozenset(condition_aspects(clips[i])) for i in usable],
    )


def avoid_aspects(split: Split) -> list[str | None]:
    """Per query: the non-genre aspect outside its condition most common among the catalog clips of its genre."""
    out = []
    for genre, cond in zip(split.genre, split.condition, strict=True):
        counts: dict[str, int] = {}
        for clip, tags in zip(split.tracks, split.tag_sets, strict=True):
            if genre in tags:
                for aspect in condition_aspects(clip):
                    if aspect not in cond:
                        counts[aspect] = counts.get(aspect, 0) + 1
        out.append(max(counts, key=lambda k: (counts[k], k)) if counts else None)
    return out


# ---------------------------------------------------------------- either world's texts


def split_texts(split: Split, world: str) -> tuple[list[str], list[str], list[str]]:
    """What is embedded for a split: (catalog texts, the queries' condition texts, their steering texts)."""
    if world in MUSICCAPS_WORLDS:
        return ([clip_text(c, world) for c in split.tracks],
                [clip_condition_text(split.tracks[i]) for i in split.queries], [genre_text(g) for g in split.genre])
    return ([track_text(t, world) for t in split.tracks], [condition_text(split.tracks[i]) for i in split.queries],
            [tag_text(g) for g in split.genre])


def pair_texts(train: Sequence, world: str) -> tuple[list[str], list[str]]:
    """The training pairs' (condition, music) texts: every training item that has a condition."""
    if world in MUSICCAPS_WORLDS:
        usable = [c for c in train if condition_aspects(c)]
        return [clip_condition_text(c) for c in usable], [clip_text(c, world) for c in usable]
    usable = [t for t in train if condition_tags(t)]
    return [condition_text(t) for t in usable], [track_text(t, world) for t in usable]


def avoid_tags(split: Split, world: str) -> tuple[list[str | None], list[str]]:
    """Per query the tag to avoid (or None) and the text each is steered away with."""
    if world in MUSICCAPS_WORLDS:
        tags = avoid_aspects(split)
        return tags, [t or "music" for t in tags]
    tags = avoid_instruments(split)
    return tags, [avoid_text(t or "piano") for t in tags]


# ---------------------------------------------------------------- metrics


def merged(query_vectors: np.ndarray, catalog: np.ndarray, k: int = LIST_K) -> list[list[int]]:
    """Exact per-seed top-k by cosine, merged round-robin: ``[Q, S, D]`` (or ``[Q, D]``) -> one list per query."""
    q = np.asarray(query_vectors, np.float32)
    if q.ndim == 2:
        q = q[:, None, :]
    idx, _ = per_seed_top_k(q, catalog, k)
    return [[int(i) for i in round_robin_merge(per_seed, k)] for per_seed in idx]


def share(items: Sequence[int], has: Callable[[int], bool]) -> float:
    return float(np.mean([has(i) for i in items])) if len(items) else 0.0


def intra_list_similarity(vectors: np.ndarray) -> float:
    """Mean pairwise cosine of unit rows ``[n, D]`` (n >= 2)."""
    v = np.asarray(vectors, np.float64)
    n = len(v)
    if n < 2:
        return 1.0
    gram = v @ v.T
    return float((gram.sum() - np.trace(gram)) / (n * (n - 1)))


def list_metrics(lists: list[list[int]], split: Split, catalog: np.ndarray) -> dict:
    """Mean over queries of the metrics in the module docstring (the avoid share is added by the caller)."""
    rows = {name: [] for name in ("steered_p@20", "steered_p@100", "condition_kept@20", "joint_p@20", "ils@20",
                                  "artists@20")}
    for items, genre, cond in zip(lists, split.genre, split.condition, strict=True):
        top = items[:TOP]

        def has_genre(i: int, genre: str = genre) -> bool:
            return genre in split.tag_sets[i]

        def keeps(i: int, cond: frozenset = cond) -> bool:
            return bool(cond & split.tag_sets[i])

        rows["steered_p@20"].append(share(top, has_genre))
        rows["steered_p@100"].append(share(items[:LIST_K], has_genre))
        rows["condition_kept@20"].append(share(top, keeps))
        rows["joint_p@20"].append(share(top, lambda i: has_genre(i) and keeps(i)))
        rows["ils@20"].append(intra_list_similarity(catalog[top]))
        rows["artists@20"].append(float(len(set(split.artists[top].tolist()))))
    out: dict = {"n": len(lists)}
    for name, values in rows.items():
        arr = np.asarray(values, np.float64)
        out[name] = round(float(arr.mean()), 4) if len(arr) else 0.0
        out[f"{name}_se"] = round(float(arr.std(ddof=1) / np.sqrt(len(arr))), 4) if len(arr) > 1 else 0.0
    return out


def tag_share(lists: list[list[int]], tags: Sequence[str | None], split: Split) -> float:
    """Mean share of the top 20 carrying each query's tag (queries without one are left out)."""
    vals = [share(items[:TOP], lambda i, t=t: t in split.tag_sets[i]) for items, t in zip(lists, tags, strict=True)
            if t is not None]
    return round(float(np.mean(vals)), 4) if vals else 0.0


# ---------------------------------------------------------------- methods


def l2(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def additive(seeds: np.ndarray, tags: np.ndarray, k: float) -> np.ndarray:
    """normalise(seed + k x tag) for seeds ``[Q, S, D]`` and tags ``[Q, D]``."""
    return l2(seeds + k * tags[:, None, :])


def jitter_seeds(pred: np.ndarray, n: int, scale: float, seed: int) -> np.ndarray:
    """``[Q, n, D]``: each prediction plus ``scale`` x a random unit vector (a diverse deterministic baseline)."""
    rng = np.random.default_rng(seed)
    noise = l2(rng.standard_normal((len(pred), n, pred.shape[1])).astype(np.float32))
    return l2(pred[:, None, :] + scale * noise)


def knn_seeds(cond: np.ndarray, train_cond: np.ndarray, train_music: np.ndarray, n: int) -> np.ndarray:
    """``[Q, n, D]``: the music of the ``n`` training pairs whose conditions are nearest (cosine)."""
    idx, _ = per_seed_top_k(l2(cond)[:, None, :], l2(train_cond), n)
    return train_music[idx[:, 0, :]]


def diffusion_draw(prior, cond: np.ndarray, steer: list[tuple[np.ndarray, float]], schedule: str,
                   guidance: float | None = None, batch: int = 64, seed: int = 0) -> np.ndarray:
    """Seeds ``[Q, S, D]``; ``steer``: batch pairs ``([Q, D], k)`` from the steering model's plans."""
    parts = []
    for start in range(0, len(cond), batch):
        rows = slice(start, min(len(cond), start + batch))
        parts.append(prior.sample(cond[rows], n_seeds=N_SEEDS, guidance=guidance,
                                  steer=[(v[rows], k) for v, k in steer], seed=seed + start, steer_schedule=schedule))
    return np.concatenate(parts)


def served_steering(prior, cond: np.ndarray, tags: np.ndarray, config: SteeringConfig,
                    avoid: np.ndarray | None = None, liked: np.ndarray | None = None,
                    skipped: np.ndarray | None = None) -> np.ndarray:
    """What each seed retrieves by under the served steering model (prior.steering), ``[Q, S, D]``; ``avoid``,
    ``liked``, ``skipped``: one vector per query ``[Q, D]`` (or None)."""
    if config.affinity_weight:  # its grid never sets it; a recorded weight must not be silently ignored
        raise ValueError("bench/steering.py does not re-rank by affinity (prior.affinity): set affinity_weight 0")

    def one(rows: np.ndarray | None, i: int):
        return () if rows is None else rows[i : i + 1]

    plans = [steering_plan(SteeringState(tags=tags[i : i + 1], avoid=one(avoid, i), liked=one(liked, i),
                                         skipped=one(skipped, i)), config) for i in range(len(tags))]
    ks = [k for _, k in plans[0].pairs]
    pairs = [(np.stack([p.pairs[j][0] for p in plans]), k) for j, k in enumerate(ks)]
    seeds = diffusion_draw(prior, cond, pairs, config.schedule)
    if not plans[0].adds_condition:
        return seeds
    null = diffusion_draw(prior, cond, pairs, config.schedule, guidance=NULL_GUIDANCE)
    return np.stack([retrieval_vectors(p, s, n) for p, s, n in zip(plans, seeds, null, strict=True)])


def mean_similarity(lists: list[list[int]], targets: np.ndarray, catalog: np.ndarray) -> float:
    """Mean cosine between each list's top 20 and its query's target vector ``[Q, D]``."""
    return round(float(np.mean([(catalog[items[:TOP]] @ t).mean() for items, t in zip(lists, targets, strict=True)])),
                 4)


def feedback_effect(prior, cond: np.ndarray, tags: np.ndarray, config: SteeringConfig, lists: list[list[int]],
                    split: Split, catalog: np.ndarray) -> dict:
    """What a like and a skip do to the next list, under the served steering.

    Like: per query, the first track of the steered top 20 that carries the genre and shares a condition tag (the
    listener's "more like this"); the next list is steered with the genre and that liked track. Skip: the first
    track of the top 20 without the genre; the next list is steered with the genre and that skipped track. Reported:
    the mean cosine of the top 20 to the liked (skipped) track before and after, and joint precision after a like.
    """
    out: dict = {}
    for name in ("liked", "skipped"):
        picks, rows = [], []
        for q, (items, genre, cond_tags) in enumerate(zip(lists, split.genre, split.condition, strict=True)):
            def wanted(i: int, genre: str = genre, cond_tags: frozenset = cond_tags, name: str = name) -> bool:
                has = genre in split.tag_sets[i]
                return has and bool(cond_tags & split.tag_sets[i]) if name == "liked" else not has
            pick = next((i for i in items[:TOP] if wanted(i)), None)
            if pick is not None:
                picks.append(pick)
                rows.append(q)
        if not rows:
            continue
        idx = np.array(rows)
        target = catalog[np.array(picks)]
        after = merged(served_steering(prior, cond[idx], tags[idx], config, **{name: target}), catalog)
        before = [lists[q] for q in rows]
        out[f"{name}_queries"] = len(rows)
        out[f"{name}_similarity_before@20"] = mean_similarity(before, target, catalog)
        out[f"{name}_similarity_after@20"] = mean_similarity(after, target, catalog)
        if name == "liked":
            sub = replace(split, queries=split.queries[idx], genre=[split.genre[q] for q in rows],
                          condition=[split.condition[q] for q in rows])
            out["liked_joint_p@20_before"] = list_metrics(before, sub, catalog)["joint_p@20"]
            out["liked_joint_p@20_after"] = list_metrics(after, sub, catalog)["joint_p@20"]
    return out


# ---------------------------------------------------------------- the run


def prior_dir(world: str) -> Path:
    """Where the bench keeps the world's prior (its regression beside it)."""
    return ROOT / "var" / "bench_steering" / world / "prior"


def data_dir() -> Path:
    override = os.environ.get("SHARED_DATA_DIR")
    return Path(override) if override else ROOT.parent / "shared" / "data"


Embed = Callable[[Sequence[str]], np.ndarray]


def text_embedder(path: Path | None = None) -> Embed:
    """MiniLM text vectors, each distinct sentence encoded once (tag sentences repeat a lot), kept in ``path``
    between runs: the project's one text-vector cache (:class:`prior.encoders.cache.CachingTextEncoder`)."""
    from prior.encoders import get_text_encoder
    from prior.encoders.cache import CachingTextEncoder

    return CachingTextEncoder(get_text_encoder("minilm"), path=path).encode_texts


def train_models(world: str, train: list, embed: Embed, steps: int, out: Path, retrain: bool):
    """The small prior (width 256) and the regression baseline on the train split's (condition, track) pairs."""
    from prior.baseline import train_regression
    from prior.config import NetworkConfig, TrainConfig
    from prior.data.npz import Pairs
    from prior.service import PriorSampler, RegressionModel
    from prior.spaces import MINILM
    from prior.train import train_prior

    cond_texts, music_texts = pair_texts(train, world)
    cond, music = embed(cond_texts), embed(music_texts)
    source = "musiccaps" if world in MUSICCAPS_WORLDS else "jamendo"
    pairs = Pairs(cond=cond, music=music, steer=None, track_id=None, cond_space=MINILM, music_space=MINILM,
                  fingerprint=f"{source}-train-{world}-{len(cond_texts)}")
    network = NetworkConfig(cond_dim=cond.shape[1], music_dim=music.shape[1], width=256)
    train_cfg = TrainConfig(steps=steps)
    info: dict = {"train_pairs": len(cond_texts), "steps": steps, "width": network.width, "depth": network.depth}
    t0 = time.perf_counter()
    if retrain or not (out / "prior" / "config.json").exists():
        train_prior(pairs, out / "prior", network, train_cfg, progress=False, device="cpu")
    if retrain or not (out / "regression" / "config.json").exists():
        info["regression"] = train_regression(pairs, out / "regression", network, train_cfg, progress=False,
                                              device="cpu")
    info["train_seconds"] = round(time.perf_counter() - t0, 1)
    prior = PriorSampler.load(out / "prior", device="cpu")
    regression = RegressionModel.load(out / "regression", device="cpu")
    return prior, regression, cond, music, info


def evaluate_split(split: Split, world: str, embed: Embed, prior, regression, train_cond, train_music,
                   params: dict) -> dict:
    """Every method on one split with the given parameters (``params``: each method's k)."""
    catalog, cond, tags = (embed(texts) for texts in split_texts(split, world))
    served = prior.steering or SteeringConfig()
    out: dict = {}

    def score(name: str, vectors: np.ndarray) -> list[list[int]]:
        t0 = time.perf_counter()
        lists = merged(vectors, catalog)
        out[name] = list_metrics(lists, split, catalog) | {"seconds": round(time.perf_counter() - t0, 1)}
        return lists

    score("text", tags)
    pred = regression.predict(cond)
    score("regression", pred)
    score("regression+steer", additive(pred[:, None, :], tags, params["regression+steer"]))
    score("regression+jitter", additive(jitter_seeds(pred, N_SEEDS, JITTER, 0), tags, params["regression+jitter"]))
    score("knn+steer", additive(knn_seeds(cond, train_cond, train_music, N_SEEDS), tags, params["knn+steer"]))
    score("diffusion", diffusion_draw(prior, cond, [], served.schedule))
    lists = score("diffusion+steer", served_steering(prior, cond, tags, served))
    score("diffusion+steer cw0", served_steering(prior, cond, tags, replace(served, condition_weight=0.0)))
    if served != SteeringConfig():
        score("diffusion+steer train defaults", served_steering(prior, cond, tags, SteeringConfig()))
    out["diffusion+steer"].update(feedback_effect(prior, cond, tags, served, lists, split, catalog))
    if params.get("avoid", True):
        instruments, avoid_texts = avoid_tags(split, world)
        has = np.array([i is not None for i in instruments])
        avoid = embed(avoid_texts)
        after = merged(served_steering(prior, cond, tags, served, avoid=avoid), catalog)
        out["diffusion+steer"]["avoid_before@20"] = tag_share(lists, instruments, split)
        out["diffusion+steer"]["avoid_after@20"] = tag_share(after, instruments, split)
        out["diffusion+steer"]["avoid_queries"] = int(has.sum())
    return out


def choose_on_validation(split: Split, world: str, embed: Embed, prior, regression, train_cond,
                         train_music) -> tuple[dict, dict]:
    """Each method's k with the highest joint_p@20 on validation, and the sweep that chose it."""
    catalog, cond, tags = (embed(texts) for texts in split_texts(split, world))
    pred = regression.predict(cond)
    seeds = {"regression+steer": pred[:, None, :], "regression+jitter": jitter_seeds(pred, N_SEEDS, JITTER, 0),
             "knn+steer": knn_seeds(cond, train_cond, train_music, N_SEEDS)}
    sweep: dict = {}
    chosen: dict = {}
    for name, s in seeds.items():
        sweep[name] = {str(k): list_metrics(merged(additive(s, tags, k), catalog), split, catalog) for k in K_GRID}
        chosen[name] = max(K_GRID, key=lambda k, n=name: sweep[n][str(k)]["joint_p@20"])
    sweep["diffusion+steer"] = {}
    for schedule, k, cw in STEERING_GRID:
        config = replace(SteeringConfig(), schedule=schedule, tag_k=k, condition_weight=cw)
        sweep["diffusion+steer"][f"{schedule} k{k} cw{cw}"] = list_metrics(
            merged(served_steering(prior, cond, tags, config), catalog), split, catalog)
    best = max(STEERING_GRID, key=lambda g: sweep["diffusion+steer"][f"{g[0]} k{g[1]} cw{g[2]}"]["joint_p@20"])
    chosen["diffusion+steer"] = {"schedule": best[0], "tag_k": best[1], "condition_weight": best[2]}
    return chosen, sweep


def targets(result: dict) -> dict:
    """The Jamendo targets: diffusion+steer vs regression+steer (steered p@20 at equal or lower ILS) and vs text."""
    d, r, t = result["diffusion+steer"], result["regression+steer"], result["text"]
    return {
        "diffusion+steer beats regression+steer on steered_p@20 at <= ILS":
            d["steered_p@20"] > r["steered_p@20"] and d["ils@20"] <= r["ils@20"],
        "diffusion+steer beats text on joint_p@20": d["joint_p@20"] > t["joint_p@20"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world", choices=WORLDS, default="tags")
    parser.add_argument("--queries", type=int, default=300, help="queries per split (validation and test)")
    parser.add_argument("--steps", type=int, default=3000, help="training steps of the prior (and at most the "
                        "regression's)")
    parser.add_argument("--retrain", action="store_true", help="train even if var/bench_steering/<world> exists")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: more spin-wait on a "
                        "busy machine)")
    args = parser.parse_args(argv)
    if args.queries < 2 or args.steps < 1:
        print("error: --queries must be >= 2 and --steps >= 1", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    genres: list[str] = []
    try:
        if args.world in MUSICCAPS_WORLDS:
            from prior.data.musiccaps import read_clips

            train, val, test = musiccaps_splits(read_clips(data_dir() / "musiccaps" / "musiccaps-public.csv"))
            genres = genre_vocabulary(train)
        else:
            folder = data_dir() / "mtg-jamendo"
            train, val, test = (read_tracks(folder / tsv_name(s)) for s in ("train", "validation", "test"))
    except FileNotFoundError as exc:
        what = f"{exc.filename}: no such file" if exc.filename else str(exc)
        print(f"error: {what} (set SHARED_DATA_DIR to the folder holding the shared data)", file=sys.stderr)
        return 2
    except ValueError as exc:  # a MusicCaps CSV the reader rejects
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except JamendoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    embed = text_embedder(ROOT / "var" / "bench_steering" / "minilm_vectors.npz")
    prior, regression, train_cond, train_music, info = train_models(
        args.world, train, embed, args.steps, prior_dir(args.world).parent, args.retrain)
    if genres:
        val_split = make_musiccaps_split(val, genres, args.queries, 1)
        test_split = make_musiccaps_split(test, genres, args.queries, 2)
    else:
        val_split, test_split = make_split(val, args.queries, 1), make_split(test, args.queries, 2)
    chosen, sweep = choose_on_validation(val_split, args.world, embed, prior, regression, train_cond, train_music)
    # What is evaluated is what is served: the steering chosen on validation is recorded in the checkpoint (as a
    # served checkpoint would carry it) and the test run reads it back from there.
    update_steering(prior_dir(args.world), **chosen["diffusion+steer"])
    prior = PriorSampler.load(prior_dir(args.world), device="cpu")
    test_result = evaluate_split(test_split, args.world, embed, prior, regression, train_cond, train_music, chosen)
    musiccaps = args.world in MUSICCAPS_WORLDS
    result = {
        "bench": "steering (MusicCaps, genre aspects held out of the condition)" if musiccaps
        else "steering (MTG-Jamendo tag world)",
        "note": NOTES[args.world],
        "world": args.world,
        "settings": {"queries": args.queries, "seeds": N_SEEDS, "list_k": LIST_K, "top": TOP, "jitter": JITTER,
                     "catalog_test": len(test_split.tracks), "catalog_validation": len(val_split.tracks),
                     "served_steering": config_to_dict(prior.steering or SteeringConfig()), "training": info,
                     "chosen_on_validation": chosen, "queries_test": len(test_split.queries),
                     "queries_validation": len(val_split.queries)}
        | ({"genres": genres, "artists": "MusicCaps has no artist ids: artists@20 counts clips"} if musiccaps else {}),
        "test": test_result,
        "targets": targets(test_result),
        "validation_sweep": sweep,
        "seconds": round(time.perf_counter() - started, 1),
    }
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
