"""Encoder throughput: images/s and texts/s.

    python bench/encoders.py [--repeats 3] [--threads N]            # offline encoders on CPU, batch 1 and 32
    python bench/encoders.py --gpu [--batch 64] [--device cuda]     # + CLIP ViT-B/32 and CLAP at batch 64
    python bench/encoders.py --gpu --no-offline                     # only those (a GPU box without MiniLM's wheel)

Prints ONE JSON object on stdout (progress on stderr).

- Offline (always): ``palette`` images/s (128x128 to 1024x768 photos-like inputs: the encoder resizes first, so
  the decode-free cost is nearly size-independent; 640x480 is used) and ``minilm`` texts/s on real MusicCaps
  captions (or a fixed caption if the CSV is not there), each at batch 1 and batch 32, best of ``--repeats``.
- ``--gpu``: the production architectures with RANDOM weights built from their configs (no download; throughput
  does not depend on the weights): CLIP ViT-B/32 (``CLIPConfig()`` defaults = openai/clip-vit-base-patch32) image
  and text towers, and CLAP with an HTSAT-base audio tower and RoBERTa-base text tower (the architecture of LAION's
  ``larger_clap_*`` checkpoints) text and audio (10 s clips at 48 kHz) towers, fp32 and fp16 autocast, at
  ``--batch``. Model time only (inputs already on the device); preprocessing is measured separately where cheap.
  Runs on CPU too (slowly) with ``--device cpu`` to check the code path.

Other processes on a shared machine make these numbers noisy; ``load_average`` says how busy it was.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CSV = ROOT / ".." / "shared" / "data" / "musiccaps" / "musiccaps-public.csv"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def best_rate(fn, items: int, repeats: int) -> dict:
    """Items per wall-clock second and per CPU second (this process, all threads) of ``fn()``, best of ``repeats``
    after one warm-up. On a shared machine the wall rate drops with the load; the CPU rate much less so."""
    fn()
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, max(time.process_time() - cpu, 1e-9))
    return {"per_s": float(f"{items / best_wall:.3g}"), "per_cpu_s": float(f"{items / best_cpu:.3g}")}


def captions(n: int) -> list[str]:
    if CSV.is_file():
        from prior.data.musiccaps import read_clips

        return [c.caption for c in read_clips(CSV, limit=n)]
    return ["A mellow piano ballad with soft female vocals, sad and soulful."] * n


def offline(repeats: int) -> dict:
    from PIL import Image

    from prior.encoders import get_image_encoder, get_text_encoder

    rng = np.random.default_rng(0)
    photos = [Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)) for _ in range(32)]
    palette = get_image_encoder("palette")
    minilm = get_text_encoder("minilm", device="cpu")
    texts = captions(32)
    result = {}
    for batch in (1, 32):
        log(f"offline encoders, batch {batch}")
        result[f"palette_images_b{batch}"] = best_rate(
            lambda b=batch: palette.encode_images(photos[:b]), batch, repeats
        )
        result[f"minilm_texts_b{batch}"] = best_rate(lambda b=batch: minilm.encode_texts(texts[:b]), batch, repeats)
    return result


def architectures(batch: int, device: str, repeats: int) -> dict:
    import torch
    from transformers import ClapConfig, ClapModel, CLIPConfig, CLIPModel

    torch.manual_seed(0)
    result: dict = {"batch": batch, "device": device}
    if device.startswith("cuda"):
        result["gpu"] = torch.cuda.get_device_name(0)

    def timed(name: str, model, call) -> None:
        for precision in ("fp32", "fp16"):
            if precision == "fp16" and not device.startswith("cuda"):
                continue

            def run(half: bool = precision == "fp16") -> None:
                with torch.inference_mode(), torch.autocast(device.split(":")[0], torch.float16, enabled=half):
                    call(model)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()

            result[f"{name}_{precision}"] = best_rate(run, batch, repeats)
            log(f"{name} {precision}: {result[f'{name}_{precision}']}")

    log("CLIP ViT-B/32 (random weights)")
    clip = CLIPModel(CLIPConfig()).to(device).eval()
    pixels = torch.randn(batch, 3, 224, 224, device=device)
    tokens = torch.randint(0, clip.config.text_config.vocab_size, (batch, 32), device=device)
    timed("clip_images", clip, lambda m: m.get_image_features(pixel_values=pixels))
    timed("clip_texts", clip, lambda m: m.get_text_features(input_ids=tokens))
    del clip

    log("CLAP HTSAT-base + RoBERTa-base (random weights)")
    config = ClapConfig(
        audio_config=dict(patch_embeds_hidden_size=128, hidden_size=1024, depths=[2, 2, 12, 2], enable_fusion=False),
        projection_dim=512,
    )
    clap = ClapModel(config).to(device).eval()
    mels = torch.randn(batch, 1, 1001, 64, device=device)  # 10 s at 48 kHz, hop 480, 64 mel bins
    text = torch.randint(3, config.text_config.vocab_size, (batch, 32), device=device)
    timed("clap_audio_10s", clap, lambda m: m.get_audio_features(input_features=mels))
    timed("clap_texts", clap, lambda m: m.get_text_features(input_ids=text, attention_mask=torch.ones_like(text)))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--gpu", action="store_true", help="also time CLIP/CLAP architectures with random weights")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default=None, help="for --gpu: cuda (default when present) or cpu")
    parser.add_argument("--offline", action=argparse.BooleanOptionalAction, default=True,
                        help="time the offline CPU encoders (palette, MiniLM); --no-offline skips them")
    args = parser.parse_args()

    import torch

    from prior.device import pick_device

    if args.threads:
        torch.set_num_threads(args.threads)
    out = {
        "command": "python bench/encoders.py " + " ".join(sys.argv[1:]),
        "torch_threads": torch.get_num_threads(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "offline_cpu": offline(args.repeats) if args.offline else None,
        "note": "palette = weight-free colour/texture descriptor; minilm = text-proxy music space (offline stand-ins)",
    }
    if args.gpu:
        device = str(pick_device(args.device))
        out["architectures_random_weights"] = architectures(args.batch, device, args.repeats)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
