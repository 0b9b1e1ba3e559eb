"""Steering as users get it, through the API: genre share after one steer, the picture's mood kept, avoid tags.

    python bench/steer_api.py [--sessions 6] [--configs served,k0.1,pool200] [--seed 0] [--genres rock,jazz,...]

Needs the demo artefacts (``make demo`` once): the demo prior (``PRIOR_CHECKPOINT``, default
``var/models/demo-prior``) and the MusicCaps caption vectors (``var/demo-pairs/catalog.npz``). It builds the demo's
catalog (the 5,521 MusicCaps clips, MiniLM caption vectors: a TEXT PROXY for audio) in its own throwaway embedded
Postgres and calls the API's views in-process (Django's test client: views, serializers, services, the prior and
pgvector, all real; no HTTP socket), with the two pictures ``make demo`` renders (bright-warm and dark-cold).

For every configuration and every picture x genre x session: ``POST /api/playlists/from-image`` (20 tracks, the
version the picture alone chose) then ``POST /api/sessions/{id}/steer`` with ``{"tags": [genre]}``. Reported:

- ``genre_share``: share of the steered playlist's tracks whose MusicCaps aspect list names the genre (per genre
  and the mean over genres); ``genre_share_unsteered``: the same share in the picture's own version;
- ``mood_gap``: what the picture controls is mood (the demo prior maps a picture's warmth and light to valence):
  (happy - sad share of the warm picture's playlists) - (the same for the cold picture's), a track being happy /
  sad when the valence of its aspect list (the lexicon the demo pairs were built with,
  :func:`prior.data.demo_pairs.mood_from_aspects`) is above 0.3 / below -0.3; ``unsteered`` on the pictures'
  own versions, ``steered`` on the versions steered by a genre (over all genres, so the same tags on both sides);
- ``avoid``: sessions that steer ``{"avoid": [tag]}`` for a few common instruments/voices; the share of the
  playlist carrying the tag before (the picture's version) and after.

Track identity between sessions is sampling noise, not the picture's influence, so it is not reported. Every
session uses its own sampling seed (``RECOMMEND_RNG_SEED``), the same across configurations; ``--seed`` shifts
them (choose on one offset, report on another). ``--configs``: ``served`` (the checkpoint's steering defaults,
what ``make demo`` serves), ``kX`` (gradient steering only, tag budget X), ``cwW_kX`` (the same, and every seed
retrieves by itself plus W times the picture's direction, :func:`prior.steering.retrieval_vectors`; ``cwW`` alone
keeps the served k); ``_aB`` re-ranks the candidates with affinity weight B (:func:`prior.steering.affinity_relevance`;
any configuration other than ``served`` without it does not re-rank); a suffix ``_constant`` / ``_sigma2`` / ``_snr``
sets the schedule. Prints ONE JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import stack  # noqa: E402 - the same throwaway database and catalog as bench/api.py

# tag -> patterns that make a track "carry" it (matched on its MusicCaps aspects, lower case)
GENRES: dict[str, tuple[str, ...]] = {
    "rock": (r"\brock\b",),
    "pop": (r"\bpop\b",),
    "jazz": (r"\bjazz",),
    "heavy metal": (r"\bmetal\b",),
    "hip hop": (r"\bhip[- ]?hop\b", r"\brap\b"),
    "classical": (r"\bclassical\b",),
    "electronic music": (r"\belectronic (dance )?music\b", r"\bedm\b", r"\btechno\b", r"\belectronica\b"),
    "reggae": (r"\breggae",),
    "blues": (r"\bblues\b",),
    "country": (r"\bcountry\b",),
    "folk": (r"\bfolk\b",),
    "funk": (r"\bfunk\b", r"\bfunky\b"),
}
AVOID: dict[str, tuple[str, ...]] = {
    "male vocals": (r"\bmale (vocal|voice|singer|vocalist)",),
    "female vocals": (r"\bfemale (vocal|voice|singer|vocalist)",),
    "piano": (r"\bpiano",),
    "electric guitar": (r"\belectric guitar", r"\be-guitar"),
    "acoustic drums": (r"\bacoustic drums",),
}
PICTURES = ("bright-warm", "dark-cold")
HAPPY, SAD = 0.3, -0.3


def log(message: str) -> None:
    print(f"[bench/steer_api] {message}", file=sys.stderr, flush=True)


def parse_config(name: str) -> dict:
    """``served`` -> {}; ``k0.3`` -> gradient steering only, tag budget 0.3; ``cw0.2`` / ``cw0.2_k0.5`` -> condition
    weight 0.2 (with tag budget 0.5; without it the served one); ``_a3`` -> re-ranked by affinity, weight 3 (without
    it: no re-ranking)."""
    if name == "served":
        return {}
    match = re.fullmatch(r"(?:cw([0-9.]+))?_?(?:k([0-9.]+))?(?:_?a([0-9.]+))?(?:_(constant|sigma2|snr))?", name)
    if not match or not any(match.groups()[:3]):
        raise ValueError(f"unknown configuration {name!r}: use served, kX, cwW, aB or cwW_kX_aB, optionally _SCHEDULE")
    weight, k, affinity, schedule = match.groups()
    out = {"RECOMMEND_STEER_CONDITION_WEIGHT": float(weight or 0),
           "RECOMMEND_STEER_AFFINITY_WEIGHT": float(affinity or 0)}
    if k is not None:
        out["RECOMMEND_STEER_TAG_K"] = float(k)
    if schedule is not None:
        out["RECOMMEND_STEER_SCHEDULE"] = schedule
    return out


def pictures() -> dict[str, bytes]:
    """The two pictures ``make demo`` renders (demo/management/commands/demo.py), as PNG bytes."""
    from demo.management.commands.demo import SAMPLE_MOODS
    from prior.data.demo_pairs import Mood, render_mood_image

    out = {}
    for name in PICTURES:
        buffer = io.BytesIO()
        render_mood_image(Mood(*SAMPLE_MOODS[name]), np.random.default_rng(7), size=256).save(buffer, "PNG")
        out[name] = buffer.getvalue()
    return out


class Labels:
    """What each catalog track carries (genres, avoid tags) and its mood, from its MusicCaps aspects."""

    def __init__(self):
        from catalog.datasets import data_file
        from catalog.models import Track
        from prior.data.demo_pairs import mood_from_aspects
        from prior.data.musiccaps import read_clips

        clips = {c.ytid: c for c in read_clips(data_file("musiccaps", "musiccaps-public.csv"))}
        self.carries: dict[int, set[str]] = {}
        self.valence: dict[int, float] = {}
        patterns = {tag: [re.compile(p) for p in ps] for tag, ps in {**GENRES, **AVOID}.items()}
        for track_id, external_id in Track.objects.values_list("id", "external_id"):
            clip = clips.get(external_id)
            aspects = [a.lower() for a in clip.aspects] if clip else []
            self.carries[track_id] = {t for t, ps in patterns.items() if any(p.search(a) for p in ps for a in aspects)}
            self.valence[track_id] = mood_from_aspects(clip.aspects, clip.caption).valence if clip else 0.0

    def share(self, ids: list[int], tag: str) -> float:
        return float(np.mean([tag in self.carries[t] for t in ids])) if ids else 0.0

    def mood(self, ids: list[int]) -> tuple[float, float]:
        values = np.array([self.valence[t] for t in ids])
        return float((values > HAPPY).mean()), float((values < SAD).mean())


def mood_gap(labels: Labels, playlists: dict[str, list[list[int]]]) -> dict:
    """(happy - sad) of the warm picture's playlists minus the cold one's, with the shares and a standard error."""
    out: dict = {}
    per_picture = {}
    for picture, lists in playlists.items():
        moods = np.array([labels.mood(ids) for ids in lists])  # [n, 2]: happy, sad
        net = moods[:, 0] - moods[:, 1]
        per_picture[picture] = net
        out[picture] = {"happy": round(float(moods[:, 0].mean()), 3), "sad": round(float(moods[:, 1].mean()), 3)}
    warm, cold = per_picture[PICTURES[0]], per_picture[PICTURES[1]]
    out["gap"] = round(float(warm.mean() - cold.mean()), 3)
    out["gap_se"] = round(float(np.sqrt(warm.var(ddof=1) / len(warm) + cold.var(ddof=1) / len(cold))), 3)
    return out


def run_config(client, labels: Labels, images: dict[str, bytes], overrides: dict, sessions: int, seed: int,
               genres: list[str], avoid_tags: list[str]) -> dict:
    from django.test.utils import override_settings

    from recommend.services.steering_vectors import steering_config

    def session(picture: str, rng_seed: int, body: dict) -> tuple[list[int], list[int]]:
        with override_settings(RECOMMEND_RNG_SEED=rng_seed):
            upload = io.BytesIO(images[picture])
            upload.name = f"{picture}.png"
            start = client.post("/api/playlists/from-image", {"image": upload, "size": "20"})
            assert start.status_code == 201, start.content[:300]
            started = start.json()
            sid, token = started["session"]["id"], started["session"]["token"]
            steered = client.post(f"/api/sessions/{sid}/steer", json.dumps(body), content_type="application/json",
                                  HTTP_X_SESSION_TOKEN=token)
            assert steered.status_code == 201, steered.content[:300]
        ids = lambda playlist: [item["track"]["id"] for item in playlist["items"]]  # noqa: E731
        return ids(started["playlist"]), ids(steered.json()["playlist"])

    t0 = time.perf_counter()
    with override_settings(**overrides):
        config = steering_config()
        genre_rows, unsteered, every_share = {}, {p: [] for p in PICTURES}, []
        steered_lists = {p: [] for p in PICTURES}
        for g_index, genre in enumerate(genres):
            before, after = [], []
            for picture in PICTURES:
                for s in range(sessions):
                    v1, v2 = session(picture, seed + 1000 * g_index + s, {"tags": [genre]})
                    before.append(labels.share(v1, genre))
                    after.append(labels.share(v2, genre))
                    unsteered[picture].append(v1)
                    steered_lists[picture].append(v2)
            every_share += after
            genre_rows[genre] = {"share": round(float(np.mean(after)), 3),
                                 "unsteered": round(float(np.mean(before)), 3)}
        avoid_rows = {}
        for a_index, tag in enumerate(avoid_tags):
            before, after = [], []
            for picture in PICTURES:
                for s in range(sessions):
                    v1, v2 = session(picture, seed + 500_000 + 1000 * a_index + s, {"avoid": [tag]})
                    before.append(labels.share(v1, tag))
                    after.append(labels.share(v2, tag))
            avoid_rows[tag] = {"before": round(float(np.mean(before)), 3), "after": round(float(np.mean(after)), 3)}
    shares = [r["share"] for r in genre_rows.values()]
    avoid_before = float(np.mean([r["before"] for r in avoid_rows.values()])) if avoid_rows else None
    avoid_after = float(np.mean([r["after"] for r in avoid_rows.values()])) if avoid_rows else None
    moods = {"unsteered": mood_gap(labels, unsteered), "steered": mood_gap(labels, steered_lists)}
    unsteered_gap = moods["unsteered"]["gap"]
    return {
        "steering": {k: v for k, v in config.__dict__.items()},
        "genre_share": round(float(np.mean(shares)), 3),
        # over the steered sessions (genres x pictures x sessions): how far the mean could move by the sessions drawn
        "genre_share_se": round(float(np.std(every_share, ddof=1) / np.sqrt(len(every_share))), 3),
        "genre_share_min": round(float(np.min(shares)), 3),
        "genre_share_unsteered": round(float(np.mean([r["unsteered"] for r in genre_rows.values()])), 3),
        "mood_gap": moods,
        "mood_kept": round(moods["steered"]["gap"] / unsteered_gap, 3) if unsteered_gap else None,
        "avoid": {"before": None if avoid_before is None else round(avoid_before, 3),
                  "after": None if avoid_after is None else round(avoid_after, 3),
                  "ratio": None if not avoid_before else round(avoid_after / avoid_before, 3),
                  "per_tag": avoid_rows},
        "genres": genre_rows,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def meets_targets(row: dict) -> bool:
    """The served-steering targets: >= 80 % genre share while the picture keeps >= two thirds of its mood gap (and
    the steered gap is >= 0.30), and an avoid tag at least halves its share."""
    ratio, kept = row["avoid"]["ratio"], row["mood_kept"]
    return (row["genre_share"] >= 0.8 and row["mood_gap"]["steered"]["gap"] >= 0.3 and kept is not None
            and kept >= 2 / 3 and (ratio is None or ratio <= 0.5))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=6, help="sessions per picture and tag (default 6)")
    parser.add_argument("--configs", default="served", help="comma-separated configurations (default served)")
    parser.add_argument("--genres", default=",".join(GENRES), help="comma-separated genre tags (default: all 12)")
    parser.add_argument("--avoid", default=",".join(AVOID), help="comma-separated avoid tags ('' for none)")
    parser.add_argument("--seed", type=int, default=0, help="offset of every session's sampling seed")
    parser.add_argument("--checkpoint", type=Path, default=Path(os.environ.get(
        "PRIOR_CHECKPOINT", ROOT / "var" / "models" / "demo-prior")), help="the prior (default: the demo prior)")
    parser.add_argument("--pairs", type=Path, default=ROOT / "var" / "demo-pairs",
                        help="the demo pairs folder (catalog.npz, written by make demo)")
    args = parser.parse_args(argv)
    genres = [g.strip() for g in args.genres.split(",") if g.strip()]
    avoid_tags = [a.strip() for a in args.avoid.split(",") if a.strip()]
    unknown = [t for t in genres if t not in GENRES] + [t for t in avoid_tags if t not in AVOID]
    if unknown or not genres or args.sessions < 2:
        parser.error(f"--genres from {', '.join(GENRES)}; --avoid from {', '.join(AVOID)}; --sessions >= 2"
                     + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    try:
        configs = {name: parse_config(name) for name in (c.strip() for c in args.configs.split(",")) if name}
    except ValueError as exc:
        parser.error(str(exc))
    checkpoint, pairs = args.checkpoint.resolve(), args.pairs.resolve()
    missing = stack.missing_demo_input(checkpoint, pairs / "catalog.npz")
    if missing:
        print(missing, file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="bench-steer-api-"))
    pgdata = work / "pgdata"
    try:
        stack.setup_env(pgdata, checkpoint)
        os.environ["ALLOWED_HOSTS"] = "testserver"
        stack.start_database(pgdata, "")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import Client

        from prior.data.npz import load_catalog

        call_command("migrate", verbosity=0)
        catalog = stack.load_catalog(len(load_catalog(pairs / "catalog.npz").ids), pairs / "catalog.npz", work)
        labels = Labels()
        images = pictures()
        client = Client()
        results = {}
        for name, overrides in configs.items():
            results[name] = row = run_config(client, labels, images, overrides, args.sessions, args.seed, genres,
                                             avoid_tags)
            row["meets_targets"] = meets_targets(row)
            log(f"{name}: genre share {row['genre_share']} ± {row['genre_share_se']} (unsteered "
                f"{row['genre_share_unsteered']}), mood gap {row['mood_gap']['steered']['gap']} ± "
                f"{row['mood_gap']['steered']['gap_se']} (unsteered {row['mood_gap']['unsteered']['gap']}, kept "
                f"{row['mood_kept']}), avoid "
                f"{row['avoid']['before']} -> {row['avoid']['after']}, {row['seconds']} s")
        print(json.dumps({
            "bench": "steer_api", "catalog": catalog, "prior": stack.prior_info(checkpoint),
            "sessions_per_picture_and_tag": args.sessions, "seed": args.seed, "pictures": list(PICTURES),
            "genres": genres, "avoid_tags": avoid_tags, "mood_thresholds": {"happy": HAPPY, "sad": SAD},
            "configs": results,
            "machine": {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)},
            "note": "music vectors are MiniLM caption embeddings (text proxy); pictures are the demo's synthetic "
                    "mood pictures; labels are MusicCaps aspect lists",
        }))
        return 0
    finally:
        stack.stop_database(pgdata)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
