"""SYNTHETIC image–music pairs for the offline demo prior. They are made up, and this module says how.

No real image–music pairs (and no CLIP, no audio) exist offline, so the demo prior learns a mapping that *is*
expressible with what we have: the mood of a MusicCaps clip -> the colour, light and texture of a picture.

For each MusicCaps clip:
1. **Mood**: valence (sad ... happy) and energy (calm ... intense) in [-1, 1] from its ``aspect_list`` with a small
   hand-written lexicon (:data:`LEXICON`: "sad", "melancholic", "dark" -> low valence; "happy", "cheerful",
   "uplifting" -> high; "calm", "slow tempo", "ambient" -> low energy; "energetic", "fast tempo", "aggressive" ->
   high). Words in the caption count at half weight where the aspects say nothing; no match means neutral (0).
2. **Pictures**: ``images_per_clip`` procedural images rendered from the mood plus randomness
   (:func:`render_mood_image`): valence sets warmth (cold blues -> greens -> warm oranges) and brightness; energy
   sets saturation, the number and hardness of shapes, grain and blur. The association (happy = bright and warm,
   sad = dark and cold, calm = smooth, energetic = busy and saturated) is a common colour–emotion convention, not
   a measured fact about the clip.
3. ``cond`` = the :mod:`palette <prior.encoders.palette>` descriptor of the picture; ``music`` = MiniLM of the
   caption (the offline text-proxy music space); ``steer`` = MiniLM of the aspect list (a text steering vector).

Rows come from the one MusicCaps reader (:func:`prior.data.musiccaps.read_clips`). Split: MusicCaps' own
``is_audioset_eval`` flag; train clips give ``images_per_clip`` pairs each, test clips one
pair each (``track_id`` = ytid); the catalog holds every clip. What a prior trained on this can do: map a photo's
mood to music of that mood. What it cannot: anything about content (a beach vs a city) — see docs/encoders.md.

Data: MusicCaps (Agostinelli et al., 2023), CC BY-SA 4.0, Google LLC.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from prior.data.musiccaps import ATTRIBUTION, read_clips
from prior.data.npz import save_catalog, save_pairs

LEXICON_VERSION = "1"
# word or phrase -> (valence, energy); None = says nothing about that axis
LEXICON: dict[str, tuple[float | None, float | None]] = {
    # positive valence
    "happy": (1.0, 0.3), "joyful": (1.0, 0.4), "joy": (1.0, None), "cheerful": (1.0, 0.4), "fun": (0.8, 0.4),
    "playful": (0.8, 0.3), "uplifting": (0.9, 0.4), "positive": (0.8, None), "bright": (0.7, None),
    "upbeat": (0.6, 0.7), "lively": (0.6, 0.6), "festive": (0.9, 0.6), "funny": (0.7, None), "bouncy": (0.6, 0.6),
    "peppy": (0.8, 0.6), "perky": (0.7, 0.5), "buoyant": (0.7, 0.4), "vibrant": (0.6, 0.5),
    "enthusiastic": (0.6, 0.6), "inspiring": (0.7, None), "motivational": (0.7, 0.4), "romantic": (0.5, -0.3),
    "love song": (0.5, -0.2), "sunny": (1.0, None), "pleasant": (0.5, -0.2), "warm": (0.4, -0.2),
    "groovy": (0.4, 0.3), "funky": (0.5, 0.4), "danceable": (0.5, 0.6), "party": (0.8, 0.8),
    "carefree": (0.8, None), "easygoing": (0.4, -0.5), "youthful": (0.4, 0.3), "spirited": (0.5, 0.5),
    "vivacious": (0.7, 0.6), "triumphant": (0.7, 0.6), "celebratory": (0.9, 0.6), "hopeful": (0.6, None),
    "reggae": (0.5, None), "catchy": (0.3, None), "cute": (0.6, None),
    # negative valence
    "sad": (-1.0, -0.4), "sadness": (-1.0, -0.4), "melancholic": (-0.9, -0.4), "melancholy": (-0.9, -0.4),
    "sorrowful": (-1.0, -0.4), "mournful": (-1.0, -0.5), "depressing": (-1.0, -0.4), "depressive": (-1.0, -0.4),
    "gloomy": (-0.9, -0.3), "dark": (-0.8, None), "grim": (-0.9, None), "sinister": (-0.9, None),
    "ominous": (-0.8, None), "eerie": (-0.8, -0.2), "scary": (-0.9, None), "spooky": (-0.8, None),
    "haunting": (-0.6, -0.3), "horror": (-1.0, None), "suspenseful": (-0.6, 0.2), "suspense": (-0.6, 0.2),
    "tense": (-0.6, 0.4), "mysterious": (-0.4, -0.2), "angry": (-0.8, 0.9), "aggressive": (-0.6, 1.0),
    "violent": (-0.8, 0.9), "harsh": (-0.5, 0.5), "lonely": (-0.8, -0.5), "nostalgic": (-0.3, -0.3),
    "sentimental": (-0.3, -0.3), "poignant": (-0.5, -0.3), "pensive": (-0.4, -0.5), "emotional": (-0.2, None),
    "somber": (-0.9, -0.5), "sombre": (-0.9, -0.5), "grief": (-1.0, -0.5), "tragic": (-1.0, None),
    "dramatic": (-0.3, 0.4), "chaotic": (-0.4, 0.8), "heavy metal": (-0.6, 1.0), "metal": (-0.5, 0.9),
    "doom": (-0.9, None), "emo": (-0.5, None), "sorrow": (-1.0, -0.4),
    # energy only
    "energetic": (None, 1.0), "fast tempo": (None, 0.9), "uptempo": (None, 0.8), "intense": (None, 0.9),
    "loud": (None, 0.8), "powerful": (None, 0.8), "exciting": (None, 0.8), "vigorous": (None, 0.9),
    "manic": (None, 1.0), "adrenaline": (None, 1.0), "punchy": (None, 0.5), "heavy": (None, 0.6),
    "hard rock": (None, 0.8), "punk": (None, 0.9), "edm": (None, 0.8), "techno": (None, 0.8), "trance": (None, 0.6),
    "dance": (None, 0.6), "club": (None, 0.7), "wild": (None, 0.9), "driving": (None, 0.6), "epic": (None, 0.6),
    "distorted": (None, 0.6), "rap": (None, 0.4), "rock": (None, 0.5), "pulsating": (None, 0.6),
    "calm": (None, -1.0), "calming": (None, -1.0), "relaxing": (None, -1.0), "relaxed": (None, -0.9),
    "soothing": (None, -1.0), "mellow": (None, -0.8), "soft": (None, -0.7), "slow tempo": (None, -0.8),
    "slower tempo": (None, -0.7), "slow": (None, -0.7), "gentle": (None, -0.8), "peaceful": (0.3, -1.0),
    "quiet": (None, -0.8), "meditative": (None, -1.0), "meditation": (None, -1.0), "ambient": (None, -0.8),
    "dreamy": (0.2, -0.7), "lullaby": (0.2, -1.0), "chill": (0.2, -0.7), "serene": (0.3, -1.0),
    "tranquil": (0.3, -1.0), "ballad": (None, -0.6), "ethereal": (None, -0.6), "minimalist": (None, -0.4),
    "smooth": (None, -0.4),
}  # fmt: skip
_PATTERNS = [
    (re.compile(r"\b" + re.escape(k) + r"\b"), v) for k, v in sorted(LEXICON.items(), key=lambda kv: -len(kv[0]))
]


@dataclass(frozen=True)
class Mood:
    valence: float  # -1 sad ... +1 happy
    energy: float  # -1 calm ... +1 intense

    def label(self) -> str:
        """Quadrant name, for summaries: happy/energetic, happy/calm, sad/energetic, sad/calm (or neutral)."""
        if abs(self.valence) < 0.15 and abs(self.energy) < 0.15:
            return "neutral"
        return f"{'happy' if self.valence >= 0 else 'sad'}/{'energetic' if self.energy >= 0 else 'calm'}"


def _scores(texts: Sequence[str]) -> tuple[list[float], list[float]]:
    valence: list[float] = []
    energy: list[float] = []
    for text in texts:
        remaining = text.lower()
        for pattern, (v, e) in _PATTERNS:  # longest phrases first; a matched phrase is consumed
            if pattern.search(remaining):
                remaining = pattern.sub(" ", remaining)
                if v is not None:
                    valence.append(v)
                if e is not None:
                    energy.append(e)
    return valence, energy


def mood_from_aspects(aspects: Sequence[str], caption: str = "") -> Mood:
    """Valence and energy of a clip from its aspect list (caption words at half weight where aspects are silent)."""
    valence, energy = _scores(aspects)
    cap_valence, cap_energy = _scores([caption]) if caption else ([], [])
    v = float(np.mean(valence)) if valence else (0.5 * float(np.mean(cap_valence)) if cap_valence else 0.0)
    e = float(np.mean(energy)) if energy else (0.5 * float(np.mean(cap_energy)) if cap_energy else 0.0)
    return Mood(valence=float(np.clip(v, -1, 1)), energy=float(np.clip(e, -1, 1)))


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    import colorsys

    r, g, b = colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1)))
    return int(r * 255), int(g * 255), int(b * 255)


def render_mood_image(mood: Mood, rng: np.random.Generator, size: int = 96) -> Image.Image:
    """A procedural picture whose colour, light and texture follow ``mood`` (plus randomness: no two alike)."""
    t = (mood.valence + 1) / 2  # 0 sad ... 1 happy
    busy = (mood.energy + 1) / 2  # 0 calm ... 1 intense
    hue = 0.62 * (1 - t) + 0.08 * t + rng.normal(0, 0.04)  # blue/violet -> green/teal -> orange/yellow
    value = float(np.clip(0.5 + 0.32 * mood.valence + 0.08 * mood.energy + rng.normal(0, 0.06), 0.08, 0.95))
    saturation = float(np.clip(0.45 + 0.35 * mood.energy + 0.1 * mood.valence + rng.normal(0, 0.08), 0.05, 1.0))

    def colour(spread: float = 0.06) -> tuple[int, int, int]:
        return _hsv(hue + rng.normal(0, spread), saturation * rng.uniform(0.7, 1.15), value * rng.uniform(0.75, 1.2))

    top, bottom = np.array(colour(), float), np.array(colour(), float)
    ramp = np.linspace(0, 1, size)[:, None, None]
    canvas = Image.fromarray((top * (1 - ramp) + bottom * ramp).repeat(size, axis=1).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(canvas)
    shapes = int(round(2 + 14 * busy + rng.uniform(0, 3)))
    for _ in range(shapes):
        extent = size * rng.uniform(0.15, 0.6) * (1.2 - 0.7 * busy)
        x, y = rng.uniform(-0.1, 1.0, size=2) * size
        box = (x, y, x + extent, y + extent * rng.uniform(0.4, 1.6))
        fill = colour(0.08 + 0.25 * busy)  # energetic pictures mix more contrasting hues
        if rng.uniform() < busy:
            draw.rectangle(box, fill=fill) if rng.uniform() < 0.5 else draw.line(box, fill=fill, width=3)
        else:
            draw.ellipse(box, fill=fill)
    canvas = canvas.filter(ImageFilter.GaussianBlur(radius=0.3 + 4.0 * (1 - busy)))
    grain = rng.normal(0, 2 + 18 * busy, size=(size, size, 1))
    pixels = np.clip(np.asarray(canvas, np.float32) + grain, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


@dataclass(frozen=True)
class DemoPairsSummary:
    train: Path
    test: Path
    catalog: Path
    manifest: Path
    n_train: int
    n_test: int
    n_catalog: int
    moods: dict[str, int]


def build_demo_pairs(
    csv_path: str | Path,
    out_dir: str | Path,
    images_per_clip: int = 3,
    seed: int = 0,
    limit: int | None = None,
    image_encoder=None,
    text_encoder=None,
    progress: Callable[[str], None] | None = None,
) -> DemoPairsSummary:
    """Write ``train.npz``, ``test.npz``, ``catalog.npz`` and ``demo_pairs.json`` to ``out_dir``.

    ``cond`` lives in the palette space, ``music``/``steer`` in the MiniLM text-proxy space; both are recorded in
    the files. Deterministic for a given ``seed``. ``progress`` receives one line per stage (the CLI prints it).
    """
    from prior.encoders import get_image_encoder, get_text_encoder

    if images_per_clip < 1:
        raise ValueError("images_per_clip must be at least 1")
    clips = read_clips(csv_path, limit=limit)
    if not clips:
        raise ValueError(f"{csv_path}: no usable MusicCaps rows")
    if len({c.ytid for c in clips}) != len(clips):
        raise ValueError(f"{csv_path}: duplicate ytid values")
    image_encoder = image_encoder or get_image_encoder("palette")
    text_encoder = text_encoder or get_text_encoder("minilm")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    say = progress or (lambda _line: None)
    say(f"embedding {len(clips)} captions and aspect lists with {text_encoder.space.name}")
    music = text_encoder.encode_texts([c.caption for c in clips])
    steer = text_encoder.encode_texts([", ".join(c.aspects) or c.caption for c in clips])
    moods = [mood_from_aspects(c.aspects, c.caption) for c in clips]

    say(f"rendering and describing pictures ({images_per_clip} per training clip, 1 per test clip)")
    cond_rows: list[np.ndarray] = []
    clip_of_row: list[int] = []
    for index, (clip, mood) in enumerate(zip(clips, moods, strict=True)):
        rng = np.random.default_rng([seed, index])
        count = 1 if clip.is_eval else images_per_clip
        pictures = [render_mood_image(mood, rng) for _ in range(count)]
        cond_rows.append(image_encoder.encode_images(pictures))
        clip_of_row.extend([index] * count)
    cond = np.concatenate(cond_rows)
    rows = np.asarray(clip_of_row)
    is_eval = np.asarray([clips[i].is_eval for i in rows])
    ids = np.asarray([c.ytid for c in clips])

    spaces = {"cond_space": image_encoder.space, "music_space": text_encoder.space}
    train_rows, test_rows = rows[~is_eval], rows[is_eval]
    if len(train_rows) == 0 or len(test_rows) == 0:
        raise ValueError(f"{csv_path}: need clips on both sides of is_audioset_eval (train and test)")
    train = save_pairs(out / "train.npz", cond[~is_eval], music[train_rows], steer=steer[train_rows], **spaces)
    test = save_pairs(
        out / "test.npz", cond[is_eval], music[test_rows], steer=steer[test_rows], track_id=ids[test_rows], **spaces
    )
    catalog = save_catalog(out / "catalog.npz", ids, music, music_space=text_encoder.space)

    labels: dict[str, int] = {}
    for mood in moods:
        labels[mood.label()] = labels.get(mood.label(), 0) + 1
    manifest = out / "demo_pairs.json"
    manifest.write_text(
        json.dumps(
            {
                "synthetic": True,
                "what": "procedural images rendered from MusicCaps mood aspects, paired with MiniLM(caption)",
                "cond_space": image_encoder.space.to_dict(),
                "music_space": text_encoder.space.to_dict(),
                "music_is_text_proxy": bool(text_encoder.space.proxy),
                "source": str(csv_path),
                "attribution": ATTRIBUTION,
                "seed": seed,
                "images_per_train_clip": images_per_clip,
                "lexicon_version": LEXICON_VERSION,
                "clips": len(clips),
                "train_pairs": int((~is_eval).sum()),
                "test_pairs": int(is_eval.sum()),
                "moods": labels,
            },
            indent=2,
        )
        + "\n"
    )
    return DemoPairsSummary(
        train=train,
        test=test,
        catalog=catalog,
        manifest=manifest,
        n_train=int((~is_eval).sum()),
        n_test=int(is_eval.sum()),
        n_catalog=len(clips),
        moods=labels,
    )
