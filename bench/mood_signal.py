"""How well each of the prior's signals tells a happy track from a sad one of the SAME genre, for the demo pictures.

    python bench/mood_signal.py [--draws 6] [--out docs/results/steering/mood_signal.json]

Why this bench: after a genre steer, the picture can only act within the genre, so a steering method keeps the
picture's mood only as well as its picture signal ranks the genre's happy tracks above its sad ones (for the warm
picture; the reverse for the cold one). Per signal and picture: the AUC of that ranking (1 = perfect, 0.5 = chance),
over the catalog (all tracks) and within each genre (mean over the genres of bench/steer_api.py that have at least
5 happy and 5 sad tracks). Signals:

- ``condition_direction``: cos(track, c), c = mean seed - mean null seed of one draw (:func:`prior.steering.
  condition_direction`, what ``condition_weight`` adds to every seed);
- ``affinity``: the prior's affinity of the track for the picture (:mod:`prior.affinity`, what ``affinity_weight``
  re-ranks by).

Each is drawn ``--draws`` times (sampling / noise seeds 0..draws-1) and the AUCs averaged. Needs ``make demo`` once
(the demo prior, ``var/demo-pairs/catalog.npz``) and the MusicCaps CSV (labels: bench/steer_api.py's). No database.
Prints ONE JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import stack  # noqa: E402
import steer_api  # noqa: E402 - its genres, pictures and mood thresholds: the same labels as the API bench

MIN_PER_CLASS = 5


def auc(score: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties counted half (Mann-Whitney)."""
    pos, neg = score[positive], score[negative]
    return float(((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum())
                 / (len(pos) * len(neg)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=6, help="draws per signal and picture (default 6)")
    parser.add_argument("--checkpoint", type=Path, default=Path(os.environ.get(
        "PRIOR_CHECKPOINT", ROOT / "var" / "models" / "demo-prior")), help="the prior (default: the demo prior)")
    parser.add_argument("--pairs", type=Path, default=ROOT / "var" / "demo-pairs",
                        help="the demo pairs folder (catalog.npz, written by make demo)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.draws < 1:
        parser.error("--draws must be >= 1")
    missing = stack.missing_demo_input(args.checkpoint.resolve(), args.pairs.resolve() / "catalog.npz")
    if missing:
        print(missing, file=sys.stderr)
        return 2

    import io

    from PIL import Image

    sys.path.insert(0, str(ROOT))  # the project's packages before bench/'s modules (bench/catalog.py)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")  # for the shared data folder's setting
    from catalog.datasets import DatasetMissing, data_file
    from prior.data.demo_pairs import mood_from_aspects
    from prior.data.musiccaps import read_clips
    from prior.data.npz import load_catalog
    from prior.encoders import get_image_encoder
    from prior.service import PriorSampler
    from prior.steering import NULL_GUIDANCE, condition_direction

    catalog = load_catalog(args.pairs / "catalog.npz")
    tracks = catalog.music / np.linalg.norm(catalog.music, axis=1, keepdims=True)
    try:
        clips = {c.ytid: c for c in read_clips(data_file("musiccaps", "musiccaps-public.csv"))}
    except DatasetMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    aspects = [[a.lower() for a in clips[i].aspects] if i in clips else [] for i in catalog.ids]
    valence = np.array([mood_from_aspects(clips[i].aspects, clips[i].caption).valence if i in clips else 0.0
                        for i in catalog.ids])
    happy, sad = valence > steer_api.HAPPY, valence < steer_api.SAD
    genres = {}
    for genre, patterns in steer_api.GENRES.items():
        compiled = [re.compile(p) for p in patterns]
        member = np.array([any(p.search(a) for p in compiled for a in track) for track in aspects])
        if (member & happy).sum() >= MIN_PER_CLASS and (member & sad).sum() >= MIN_PER_CLASS:
            genres[genre] = member

    prior = PriorSampler.load(args.checkpoint, device="cpu")
    encoder = get_image_encoder("palette")
    pictures = {name: encoder.encode_images([Image.open(io.BytesIO(png))])[0]
                for name, png in steer_api.pictures().items()}
    signals = {
        "condition_direction": lambda q, s: tracks @ condition_direction(
            prior.sample(q, 16, seed=s), prior.sample(q, 16, guidance=NULL_GUIDANCE, seed=s)),
        "affinity": lambda q, s: prior.condition_affinity(q, tracks, seed=s),
    }
    result: dict = {}
    for name, signal in signals.items():
        result[name] = {}
        for picture, q in pictures.items():
            sign = 1.0 if picture == steer_api.PICTURES[0] else -1.0  # the cold picture should rank sad tracks first
            overall, within = [], []
            for s in range(args.draws):
                score = sign * np.asarray(signal(q, s), dtype=np.float64)
                overall.append(auc(score, happy, sad))
                within.append(np.mean([auc(score, m & happy, m & sad) for m in genres.values()]))
            result[name][picture] = {"auc_catalog": round(float(np.mean(overall)), 3),
                                     "auc_within_genre": round(float(np.mean(within)), 3)}
        print(f"[bench/mood_signal] {name}: {result[name]}", file=sys.stderr, flush=True)
    out = {"bench": "mood_signal", "prior": stack.prior_info(args.checkpoint.resolve()), "draws": args.draws,
           "genres": list(genres), "mood_thresholds": {"happy": steer_api.HAPPY, "sad": steer_api.SAD},
           "signals": result,
           "note": "AUC of ranking happy above sad tracks for the warm picture, sad above happy for the cold one; "
                   "MiniLM caption vectors (text proxy), synthetic mood pictures, MusicCaps aspect labels"}
    text = json.dumps(out)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
