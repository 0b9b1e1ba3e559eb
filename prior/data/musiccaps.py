"""MusicCaps: the one reader of its CSV (:func:`read_clips`, :func:`parse_row`) and the TEXT PROXY built from it.

The reader is shared by everything that reads the file (the catalog's importer, the demo pairs, the benchmarks,
the tests), so a row means the same everywhere: a :class:`Clip`, or one line saying why the row cannot be used.
:func:`read_clips` stops at the first such row with ``path:line: why``; the catalog's importer reports every bad
row instead (:mod:`catalog.datasets.musiccaps`), as all its ingest formats do.

The text proxy: paired data from captions and aspect lists, no audio (docs/encoders.md).

- music = MiniLM(caption): the offline text encoder stands in for a music encoder, so every number measured on
  these files is a text-proxy number and must be labelled so.
- cond = multi-hot of the aspect vocabulary (a space different from the music space): one unit per aspect phrase
  and one per aspect word seen in at least ``min_count`` TRAINING clips (words let "groovy bass line" share
  evidence with "groovy bass"), plain 0/1 (about 24 ones per clip). Built from the training split only; unseen
  aspects are dropped. (An L2-normalised multi-hot was tried first: its entries (~0.2) were so small next to the
  prior's noise embedding that the diffusion prior all but ignored the condition: val Recall@100 0.29 vs 0.55.)
- steer = MiniLM of the clip's genre/mood aspects (aspects containing a word from :data:`GENRE_WORDS` or
  :data:`MOOD_WORDS`), joined by ", "; clips with none fall back to all their aspects (counted in ``meta.json``).
- Splits: ``is_audioset_eval`` False -> train (minus a seeded validation part ``val.npz`` for tuning),
  True -> test; catalog = all clips, ids = ``ytid``.
- Optional augmentation (``augment > 1``) writes ``train_aug.npz`` beside ``train.npz``: every training clip once
  with all its aspects plus ``augment - 1`` copies whose aspects are each kept with probability ``aspect_keep``.
  A caption then has several partial descriptions, and a partial description several captions: p(music | cond)
  becomes genuinely one-to-many, which is what keeps a diffusion prior on 2k clips from collapsing onto
  memorised captions. Validation and test conditions are never augmented.
- Text embeddings are cached in ``text_cache.npz`` in the output directory
  (:class:`~prior.encoders.cache.CachingTextEncoder`), so re-running is cheap.

The CSV is read where it lies (``../shared/data/musiccaps/musiccaps-public.csv``); nothing is copied.
MusicCaps: Agostinelli et al. 2023, CC BY-SA 4.0 (Google LLC).
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from prior.data.npz import save_catalog, save_pairs
from prior.encoders.base import TextEncoder
from prior.encoders.cache import CachingTextEncoder
from prior.spaces import EmbeddingSpace

DEFAULT_CSV = Path("..") / "shared" / "data" / "musiccaps" / "musiccaps-public.csv"
ATTRIBUTION = "MusicCaps (Agostinelli et al., 2023), CC BY-SA 4.0, Google LLC"

GENRE_WORDS = frozenset(
    """rock pop jazz blues folk country classical metal punk reggae hip hop rap r&b soul funk disco house techno
    trance edm electronic electro dubstep ambient lounge latin salsa bossa samba flamenco tango
    gospel christian worship opera orchestral orchestra baroque symphony indie alternative grunge emo ska
    bluegrass bollywood indian arabic middle eastern african afrobeat k-pop j-pop kpop anime chiptune
    lofi lo-fi trap dancehall reggaeton cumbia mariachi polka waltz march marching carnatic hindustani
    soundtrack cinematic lullaby nursery christmas chant ballad swing bebop fusion
    psychedelic shoegaze synthwave synthpop industrial hardcore grindcore experimental minimal
    instrumental dance club""".split()
)
MOOD_WORDS = frozenset(
    """happy sad calm calming relaxing relaxed energetic emotional passionate groovy romantic mellow cheerful
    melancholic melancholy joyful aggressive soothing sentimental intense exciting upbeat fun playful
    dark eerie scary spooky suspenseful epic dramatic peaceful chill chilled dreamy hypnotic uplifting
    nostalgic angry lively spirited youthful easygoing soulful tender sweet sombre somber gloomy haunting
    mysterious tense hopeful powerful bright cool meditative serene tranquil festive triumphant funny
    inspiring inspirational heartfelt wistful moody pleasant vibrant enthusiastic buoyant""".split()
)


class MusicCapsError(ValueError):
    """The CSV cannot be read as MusicCaps (columns missing, or a row :func:`read_clips` cannot use); one line."""


COLUMNS = ("ytid", "start_s", "end_s", "aspect_list", "caption", "is_audioset_eval")


@dataclass(frozen=True)
class Clip:
    """One row of the CSV. ``aspects`` as written (stripped, empty ones dropped, file order, repeats kept);
    the text proxy normalises them (:func:`normalise_aspect`), the catalog keeps them as tags."""

    ytid: str
    caption: str
    aspects: tuple[str, ...]
    is_eval: bool  # ``is_audioset_eval``: the test split
    start_s: float = 0.0
    end_s: float = 10.0
    audioset_labels: tuple[str, ...] = ()
    author_id: str = ""
    is_balanced: bool = False
    line: int = 0  # line of the CSV file (the header is line 1)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9&'\-]+", text.lower())


def normalise_aspect(aspect: str) -> str:
    return " ".join(_words(aspect))


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def parse_row(row: dict[str, str | None], line: int) -> Clip | str:
    """One CSV row -> the clip, or why it cannot be used (one line). ``aspect_list`` is parsed with
    ``ast.literal_eval``, never ``eval``."""
    ytid = (row.get("ytid") or "").strip()
    caption = (row.get("caption") or "").strip()
    if not ytid:
        return "missing ytid"
    if not caption:
        return "empty caption: nothing to embed"
    try:
        aspects = ast.literal_eval(row.get("aspect_list") or "[]")
    except (ValueError, SyntaxError):
        return "aspect_list is not a Python list literal"
    if not isinstance(aspects, list):
        return "aspect_list is not a list"
    try:
        start_s, end_s = float(row.get("start_s") or ""), float(row.get("end_s") or "")
    except ValueError:
        return "start_s or end_s is not a number"
    return Clip(
        ytid=ytid,
        caption=caption,
        aspects=tuple(a for a in (str(x).strip() for x in aspects) if a),
        is_eval=_true(row.get("is_audioset_eval")),
        start_s=start_s,
        end_s=end_s,
        audioset_labels=tuple(x for x in (row.get("audioset_positive_labels") or "").split(",") if x),
        author_id=(row.get("author_id") or "").strip(),
        is_balanced=_true(row.get("is_balanced_subset")),
        line=line,
    )


def read_rows(csv_path: str | Path) -> Iterator[tuple[int, dict[str, str | None]]]:
    """(line, row) of every data row; a missing file or a file without MusicCaps' columns is a one-line error."""
    path = Path(csv_path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (MusicCaps CSV)")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = set(COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise MusicCapsError(f"{path}: not a MusicCaps CSV (missing columns: {', '.join(sorted(missing))})")
        start = reader.line_num + 1
        for row in reader:
            yield start, row
            start = reader.line_num + 1


def read_clips(csv_path: str | Path, limit: int | None = None) -> list[Clip]:
    """The first ``limit`` clips (all by default); a row that cannot be used stops with ``path:line: why``."""
    clips: list[Clip] = []
    for line, row in read_rows(csv_path):
        if limit is not None and len(clips) >= limit:
            break
        clip = parse_row(row, line)
        if isinstance(clip, str):
            raise MusicCapsError(f"{csv_path}:{line}: {clip}")
        clips.append(clip)
    return clips


def text_proxy_clips(clips: Sequence[Clip]) -> list[Clip]:
    """The clips with normalised aspect phrases (lower case, punctuation dropped), as the text proxy uses them."""
    return [replace(c, aspects=tuple(a for a in (normalise_aspect(x) for x in c.aspects) if a)) for c in clips]


GENRE_PHRASES = ("hip hop", "r&b", "drum and bass", "drum & bass", "video game", "new wave", "hip-hop")


def is_genre_or_mood(aspect: str) -> bool:
    words = set(_words(aspect))
    return bool(words & GENRE_WORDS or words & MOOD_WORDS or any(p in aspect for p in GENRE_PHRASES))


def steer_text(clip: Clip) -> tuple[str, bool]:
    """The clip's genre/mood aspects as one text, and whether it had any (else all aspects are used)."""
    chosen = [a for a in clip.aspects if is_genre_or_mood(a)]
    if chosen:
        return ", ".join(chosen), True
    return ", ".join(clip.aspects) or clip.caption, False


def build_vocabulary(train: Sequence[Clip], min_count: int = 2) -> list[str]:
    """Aspect phrases and aspect words seen in at least ``min_count`` training clips, sorted (deterministic)."""
    phrases = Counter(a for clip in train for a in set(clip.aspects))
    words = Counter(w for clip in train for w in {w for a in clip.aspects for w in _words(a)})
    vocab = {f"aspect:{a}" for a, n in phrases.items() if n >= min_count}
    vocab |= {f"word:{w}" for w, n in words.items() if n >= min_count}
    return sorted(vocab)


def multi_hot(clips: Sequence[Clip], vocabulary: Sequence[str]) -> np.ndarray:
    """0/1 multi-hot ``[N, V]``; a clip with no known aspect gets the uninformative all-ones row instead of zeros."""
    index = {term: i for i, term in enumerate(vocabulary)}
    out = np.zeros((len(clips), len(vocabulary)), dtype=np.float32)
    for row, clip in enumerate(clips):
        terms = {f"aspect:{a}" for a in clip.aspects} | {f"word:{w}" for a in clip.aspects for w in _words(a)}
        for term in terms:
            if term in index:
                out[row, index[term]] = 1.0
    empty = out.sum(axis=1) == 0
    out[empty] = 1.0 / np.sqrt(len(vocabulary))  # no known aspect: uninformative, not all zeros
    return out


def cond_space_for(vocabulary: Sequence[str]) -> EmbeddingSpace:
    digest = hashlib.sha256("\n".join(vocabulary).encode()).hexdigest()[:12]
    return EmbeddingSpace(name="musiccaps-aspects", dim=len(vocabulary), encoder="aspect multi-hot", version=digest)


def augment_clips(clips: Sequence[Clip], copies: int, keep: float, rng: np.random.Generator) -> list[Clip]:
    """Each clip once as is, plus ``copies - 1`` versions with a random subset of its aspects (at least one)."""
    out = list(clips)
    for _ in range(copies - 1):
        for clip in clips:
            mask = rng.random(len(clip.aspects)) < keep
            if len(clip.aspects) and not mask.any():
                mask[rng.integers(len(clip.aspects))] = True
            out.append(replace(clip, aspects=tuple(a for a, m in zip(clip.aspects, mask, strict=True) if m)))
    return out


def write_musiccaps(
    out_dir: str | Path,
    csv_path: str | Path,
    *,
    val_fraction: float = 0.15,
    seed: int = 0,
    min_count: int = 2,
    limit: int | None = None,
    augment: int = 1,
    aspect_keep: float = 0.7,
    text_encoder: TextEncoder | None = None,
    progress: bool | None = None,
) -> dict[str, Path]:
    """Write ``train.npz``, ``val.npz``, ``test.npz``, ``catalog.npz`` and ``meta.json`` (see module docstring).

    ``text_encoder`` (default MiniLM) gives the music space; its vectors are cached in ``text_cache.npz``."""
    clips = text_proxy_clips(read_clips(csv_path, limit=limit))
    train_all = [c for c in clips if not c.is_eval]
    test = [c for c in clips if c.is_eval]
    if not train_all or not test:
        raise ValueError(f"{csv_path}: need both train (is_audioset_eval False) and test (True) clips")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(train_all))
    n_val = int(round(val_fraction * len(train_all)))
    val = [train_all[i] for i in sorted(order[:n_val])]
    train = [train_all[i] for i in sorted(order[n_val:])]
    vocabulary = build_vocabulary(train, min_count=min_count)
    if not vocabulary:
        raise ValueError("empty aspect vocabulary; lower min_count or give more clips")
    cond_space = cond_space_for(vocabulary)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if text_encoder is None:
        from prior.encoders import get_text_encoder

        text_encoder = get_text_encoder("minilm")
    encoder = CachingTextEncoder(text_encoder, path=out / "text_cache.npz", progress=progress)
    music_space = text_encoder.space
    captions = encoder.encode_texts([c.caption for c in clips])
    caption_of = {c.ytid: captions[i] for i, c in enumerate(clips)}
    steer_texts = [steer_text(c) for c in clips]
    steer_vectors = encoder.encode_texts([text for text, _ in steer_texts])
    steer_of = {c.ytid: steer_vectors[i] for i, c in enumerate(clips)}

    paths = {"catalog": save_catalog(out / "catalog.npz", [c.ytid for c in clips], captions, music_space=music_space)}
    parts = [("train", train), ("val", val), ("test", test)]
    if augment > 1:
        parts.append(("train_aug", augment_clips(train, augment, aspect_keep, np.random.default_rng([seed, 7]))))
    for name, part in parts:
        if not part:
            continue
        ids = np.array([c.ytid for c in part])
        paths[name] = save_pairs(
            out / f"{name}.npz",
            multi_hot(part, vocabulary),
            np.stack([caption_of[i] for i in ids]),
            steer=np.stack([steer_of[i] for i in ids]),
            track_id=ids,
            cond_space=cond_space,
            music_space=music_space,
        )
    meta = {
        "what": "MusicCaps TEXT PROXY: music = MiniLM(caption), cond = aspect multi-hot, "
        "steer = MiniLM(genre/mood aspects)",
        "attribution": ATTRIBUTION,
        "csv": str(csv_path),
        "counts": {"train": len(train), "val": len(val), "test": len(test), "catalog": len(clips)},
        "vocabulary_size": len(vocabulary),
        "steer_fallback_clips": int(sum(1 for _, ok in steer_texts if not ok)),
        "val_fraction": val_fraction,
        "seed": seed,
        "min_count": min_count,
        "augment": augment,
        "aspect_keep": aspect_keep,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    (out / "vocabulary.txt").write_text("\n".join(vocabulary) + "\n")
    paths["meta"] = out / "meta.json"
    return paths
