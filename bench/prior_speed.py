"""CPU latency of the prior: one query = 16 seeds with CFG and 2 steering tags, per sampler and NFE.

    python bench/prior_speed.py [--checkpoint DIR] [--threads 2] [--repeats 20] [--nfe 7,11,15] [--batch-queries 4]
                                [--dtype auto|float32|bfloat16] [--no-compare-dtypes]
    python bench/prior_speed.py --throughput [--device cuda] [--widths 1024,4096] [--dtypes fp32,bf16] [--batch 64]
    python bench/prior_speed.py --callers 1,8,32 [--device cuda] [--seconds 5] [--cuda-graphs]   # threads, one batcher

Prints ONE JSON object: p50/p95 milliseconds per query for each (sampler, NFE) through the real service path
(:meth:`prior.service.PriorSampler.sample`), the achieved FLOP/s of the batched CFG forward, and the machine's
peak matmul FLOP/s (a large sgemm) measured in the same run, so the two can be compared on the same machine state.
Without ``--checkpoint`` the default network (:class:`prior.config.NetworkConfig`) is randomly initialised at
``--cond-dim``/``--music-dim``: latency does not depend on the weights. Other processes on the machine add noise;
``load_average`` in the output says how busy it was, and ``cpu_ms_p50`` (this process's CPU time per query, all
threads) is what the query costs when it does not wait for the cores; on a busy machine, 2 OpenMP threads spin
against other processes and wall time balloons far beyond it. ``trunk_dtype`` times the network's per-seed MLP
in float32 and in bfloat16 side by side (``--dtype`` picks the one the other numbers use; ``auto``, the web app's
default, is bfloat16 on CPUs with native bf16) and reports how near the bfloat16 seeds are to the float32 ones.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# OpenMP threads that spin while waiting make 2-thread torch ~10x slower when other processes share the cores
# (measured here: 1,152 vs 112 ms per query at load 4.5 on 2 cores). PASSIVE must be set before torch loads;
# an explicit OMP_WAIT_POLICY in the environment wins, and the output records which one ran.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from prior.checkpoint import save_checkpoint  # noqa: E402
from prior.config import NetworkConfig, config_to_dict  # noqa: E402
from prior.device import pick_device  # noqa: E402
from prior.guidance import cfg_denoise, cfg_pair  # noqa: E402
from prior.precond import EDMDenoiser  # noqa: E402
from prior.service import TRUNK_DTYPES, PriorSampler, native_cpu_bf16  # noqa: E402
from prior.spaces import EmbeddingSpace  # noqa: E402


def forward_flops(cfg: NetworkConfig, rows: int, emb_rows: int) -> int:
    """Multiply-add FLOPs (2 per MAC) of the linear layers in one forward: ``rows`` seeds, ``emb_rows`` embeddings."""
    hidden = max(1, int(round(cfg.width * cfg.mlp_ratio)))
    per_row = cfg.music_dim * cfg.width + cfg.depth * 2 * cfg.width * hidden + cfg.width * cfg.music_dim
    per_emb = cfg.noise_features * cfg.width + cfg.cond_dim * cfg.width + cfg.width**2 + cfg.depth * 2 * cfg.width**2
    return 2 * (rows * per_row + emb_rows * per_emb)


def timed(fn, repeats: int, warmup: int = 2, cpu: list[float] | None = None) -> list[float]:
    """Wall milliseconds per call; with ``cpu``, also this process's CPU milliseconds (all threads) per call."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        out.append((time.perf_counter() - start) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - start_cpu) * 1000)
    return out


def summary(wall: list[float], cpu: list[float]) -> dict:
    return {"p50_ms": round(percentile(wall, 50), 2), "p95_ms": round(percentile(wall, 95), 2),
            "cpu_ms_p50": round(percentile(cpu, 50), 2)}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def peak_matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = min(timed(lambda: a @ b, repeats))
    return 2 * n**3 / (best / 1000) / 1e9


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def time_batches(denoise, shape, dtype, device, sigmas, sampler: str, repeats: int) -> float:
    """p50 milliseconds of sampling one batch of noise of ``shape`` (synchronising CUDA)."""
    from prior.sampling import run_sampler

    gen = torch.Generator(device=device).manual_seed(0)

    def run():
        with torch.no_grad():
            x = torch.randn(shape, generator=gen, device=device, dtype=dtype) * float(sigmas[0])
            run_sampler(sampler, denoise, x, sigmas, gen)
        if device.type == "cuda":
            torch.cuda.synchronize()

    return percentile(timed(run, repeats), 50)


def throughput(args: argparse.Namespace) -> dict:
    """Queries/s at a batch of queries (16 seeds, CFG, 2 steering tags, default sampler) per width and dtype."""
    from prior.config import SamplingConfig
    from prior.guidance import guided_denoiser
    from prior.sampling import karras_sigmas, steps_for_nfe

    device = pick_device(args.device)
    defaults = SamplingConfig()
    sigmas = karras_sigmas(steps_for_nfe(defaults.sampler, defaults.nfe), defaults.sigma_min, defaults.sigma_max)
    rows = {}
    for width in [int(w) for w in args.widths.split(",")]:
        for dtype_name in args.dtypes.split(","):
            dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
            torch.manual_seed(0)
            cfg = NetworkConfig(cond_dim=args.cond_dim, music_dim=args.music_dim, width=width, depth=args.depth)
            model = EDMDenoiser(cfg).to(device=device, dtype=dtype).eval().requires_grad_(False)
            cond = torch.randn(args.batch, 1, cfg.cond_dim, device=device, dtype=dtype)
            tags = torch.nn.functional.normalize(torch.randn(2, cfg.music_dim, device=device, dtype=dtype), dim=-1)
            denoise = guided_denoiser(model, cond, guidance=1.0, steer=[(tags[0], args.k), (tags[1], -args.k)],
                                      sigma_data=model.sigma_data, sigmas=sigmas.tolist())
            ms = time_batches(denoise, (args.batch, args.seeds, cfg.music_dim), dtype, device, sigmas,
                              defaults.sampler, args.repeats)
            rows[f"width{width}-{dtype_name}"] = {"ms_per_batch": round(ms, 2),
                                                  "queries_per_s": round(args.batch / (ms / 1000), 1)}
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    return {"what": "prior throughput: batches of queries (seeds, CFG, 2 steering tags, default sampler)",
            "device": name, "torch": torch.__version__, "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
            "batch": args.batch, "seeds": args.seeds, "depth": args.depth,
            "sampler": defaults.sampler, "nfe": defaults.nfe, "results": rows}


def concurrent_callers(args: argparse.Namespace) -> dict:
    """Queries/s when N threads call ONE :class:`~prior.batching.SampleBatcher` (``max_batch`` = N) back to back for
    ``--seconds``: what a Celery worker with ``--pool threads --concurrency N`` and ``PRIOR_BATCH_MAX`` = N gets
    from the prior alone (16 seeds, CFG, 2 steering tags, the checkpoint's sampler)."""
    import threading

    from prior.batching import SampleBatcher

    device = str(pick_device(args.device))
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.checkpoint or make_default_checkpoint(Path(tmp) / "ck", args.cond_dim, args.music_dim)
        sampler = PriorSampler.load(ckpt, device=device, dtype=args.dtype, cuda_graphs=args.cuda_graphs)
    rng = np.random.default_rng(0)
    cond = rng.standard_normal(sampler.cond_space.dim).astype(np.float32)
    steer = [(rng.standard_normal(sampler.music_space.dim).astype(np.float32), k) for k in (args.k, -args.k)]
    rows = {}
    for n in [int(c) for c in args.callers.split(",") if c.strip()]:
        batcher = SampleBatcher(sampler, max_batch=n)
        for i in range(2):  # warm-up (a first CUDA call also pays for its kernels' loading)
            batcher.sample(cond, n_seeds=args.seeds, guidance=args.guidance, steer=steer, seed=i)
        batcher.runs = batcher.queries = 0
        done = [0] * n
        deadline = time.monotonic() + args.seconds

        def loop(i: int, batcher: SampleBatcher, done: list[int], deadline: float) -> None:
            while time.monotonic() < deadline:
                batcher.sample(cond, n_seeds=args.seeds, guidance=args.guidance, steer=steer, seed=i)
                done[i] += 1

        threads = [threading.Thread(target=loop, args=(i, batcher, done, deadline)) for i in range(n)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
        rows[str(n)] = {"queries_per_s": round(sum(done) / elapsed, 1),
                        "queries_per_pass": round(batcher.queries / max(batcher.runs, 1), 2)}
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else cpu_name()
    return {"what": "queries/s of N threads calling one SampleBatcher (max_batch = N)", "device": name,
            "torch": torch.__version__, "trunk_dtype": str(sampler.dtype).removeprefix("torch."),
            "cuda_graphs": sampler.graphs is not None,
            "network": {k: v for k, v in config_to_dict(sampler.checkpoint.network).items() if k != "sigma_data"},
            "seeds": args.seeds, "seconds": args.seconds, "callers": rows}


def batching_gain(sampler: PriorSampler, cond: np.ndarray, steer: list, args: argparse.Namespace) -> dict:
    """B queries (default sampler) as B separate calls vs ONE call with a [B, Dc] condition, with and without
    steering: what a server that batched concurrent requests would save (p50 ms for all B queries together)."""
    rng = np.random.default_rng(1)
    conds = np.stack([cond] + [rng.standard_normal(cond.shape).astype(np.float32)
                               for _ in range(args.batch_queries - 1)])
    out: dict = {"queries": args.batch_queries}
    for name, pairs in (("plain", ()), ("steered", steer)):
        def singles(pairs=pairs):
            for row in conds:
                sampler.sample(row, n_seeds=args.seeds, guidance=args.guidance, steer=pairs, seed=0)

        def batched(pairs=pairs):
            sampler.sample(conds, n_seeds=args.seeds, guidance=args.guidance, steer=pairs, seed=0)

        one_by_one = percentile(timed(singles, args.repeats), 50)
        together = percentile(timed(batched, args.repeats), 50)
        out[name] = {"separate_calls_ms": round(one_by_one, 2), "one_batched_call_ms": round(together, 2),
                     "speedup": round(one_by_one / together, 2)}
    return out


def dtype_gain(checkpoint: Path, cond: np.ndarray, steer: list, args: argparse.Namespace) -> dict:
    """The trunk in float32 vs bfloat16, timed side by side (alternating, so both see the same machine state):
    process CPU ms p50 of the default query, alone and as a batch of ``--batch-queries``, with and without
    steering; and how close the bfloat16 seeds are to the float32 ones (cosine, same seed)."""
    samplers = {name: PriorSampler.load(checkpoint, device="cpu", dtype=name) for name in ("float32", "bfloat16")}
    rng = np.random.default_rng(2)
    conds = np.stack([cond] + [rng.standard_normal(cond.shape).astype(np.float32)
                               for _ in range(max(args.batch_queries, 1) - 1)])
    out: dict = {"native_bf16": native_cpu_bf16()}
    for label, pairs in (("plain", ()), ("steered", steer)):
        for rows in sorted({1, len(conds)}):
            cpu: dict[str, list[float]] = {name: [] for name in samplers}
            for repeat in range(args.repeats + 2):
                order = list(samplers) if repeat % 2 else list(samplers)[::-1]
                for name in order:
                    start = time.process_time()
                    samplers[name].sample(conds[:rows], n_seeds=args.seeds, guidance=args.guidance, steer=pairs,
                                          seed=repeat)
                    if repeat >= 2:  # the first two are warm-up
                        cpu[name].append((time.process_time() - start) * 1000)
            f32, b16 = percentile(cpu["float32"], 50), percentile(cpu["bfloat16"], 50)
            out[f"{label}_{rows}q"] = {"float32_cpu_ms": round(f32, 2), "bfloat16_cpu_ms": round(b16, 2),
                                       "ratio": round(b16 / f32, 3)}
        a = samplers["float32"].sample(conds, n_seeds=args.seeds, guidance=args.guidance, steer=pairs, seed=0)
        b = samplers["bfloat16"].sample(conds, n_seeds=args.seeds, guidance=args.guidance, steer=pairs, seed=0)
        cosine = (a * b).sum(-1)
        out[f"{label}_seed_cosine"] = {"mean": round(float(cosine.mean()), 6), "min": round(float(cosine.min()), 6)}
    return out


def make_default_checkpoint(directory: Path, cond_dim: int, music_dim: int) -> Path:
    torch.manual_seed(0)
    cfg = NetworkConfig(cond_dim=cond_dim, music_dim=music_dim)
    return save_checkpoint(
        directory, kind="diffusion", model=EDMDenoiser(cfg), network=cfg,
        cond_space=EmbeddingSpace(name=f"bench-cond-{cond_dim}", dim=cond_dim, encoder="random"),
        music_space=EmbeddingSpace(name=f"bench-music-{music_dim}", dim=music_dim, encoder="random"),
        metrics={"note": "random weights, for timing only"},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--cond-dim", type=int, default=512)
    parser.add_argument("--music-dim", type=int, default=384)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--samplers", default="heun,dpmpp_2m")
    parser.add_argument("--nfe", default="7,11,15,23,31")
    parser.add_argument("--reference-repeats", type=int, default=3, help="256-step reference runs (0 = skip)")
    parser.add_argument("--guidance", type=float, default=1.0)
    parser.add_argument("--k", type=float, default=0.05, help="steering strength of each of the 2 tags")
    parser.add_argument("--dtype", default="auto", choices=TRUNK_DTYPES,
                        help="the trunk's dtype for the latency numbers (default auto, as the web app runs it)")
    parser.add_argument("--compare-dtypes", action=argparse.BooleanOptionalAction, default=True,
                        help="also time float32 vs bfloat16 side by side (default on)")
    parser.add_argument("--throughput", action="store_true", help="queries/s at --batch per width and dtype instead")
    parser.add_argument("--device", default=None)
    parser.add_argument("--widths", default="1024,4096")
    parser.add_argument("--dtypes", default="fp32,bf16")
    parser.add_argument("--depth", type=int, default=NetworkConfig.depth)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--callers", default=None, help="e.g. 1,8,32: threads through one SampleBatcher instead")
    parser.add_argument("--seconds", type=float, default=5.0, help="for --callers: seconds per caller count")
    parser.add_argument("--cuda-graphs", action=argparse.BooleanOptionalAction, default=False,
                        help="for --callers: replay recorded sampling passes (prior.cuda_graphs; CUDA only)")
    parser.add_argument("--batch-queries", type=int, default=4,
                        help="also time this many queries as separate calls vs one batched call (0 = skip)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.throughput:
        print(json.dumps(throughput(args), indent=2))
        return 0
    if args.callers:
        print(json.dumps(concurrent_callers(args), indent=2))
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.checkpoint or make_default_checkpoint(Path(tmp) / "ck", args.cond_dim, args.music_dim)
        sampler = PriorSampler.load(ckpt, device="cpu", dtype=args.dtype)
        rng = np.random.default_rng(0)
        cond = rng.standard_normal(sampler.checkpoint.network.cond_dim).astype(np.float32)
        tags = [rng.standard_normal(sampler.checkpoint.network.music_dim).astype(np.float32) for _ in range(2)]
        steer = [(tags[0], args.k), (tags[1], -args.k)]
        dtypes = dtype_gain(ckpt, cond, steer, args) if args.compare_dtypes else None
    cfg = sampler.checkpoint.network

    def query(name: str, nfe: int | None, with_steer: bool = True):
        return lambda: sampler.sample(cond, n_seeds=args.seeds, guidance=args.guidance,
                                      steer=steer if with_steer else (), sampler=name, nfe=nfe, seed=0)

    latency: dict[str, dict] = {}
    for name in [s for s in args.samplers.split(",") if s]:
        latency[name] = {}
        for nfe in [int(n) for n in args.nfe.split(",") if n]:
            cpu: list[float] = []
            latency[name][str(nfe)] = summary(timed(query(name, nfe), args.repeats, cpu=cpu), cpu)
    if args.reference_repeats > 0:
        cpu = []
        wall = timed(query("reference", None), args.reference_repeats, warmup=1, cpu=cpu)
        latency["reference"] = {"256": summary(wall, cpu)}
    default = sampler.defaults
    cpu = []
    wall = timed(query(default.sampler, default.nfe, with_steer=False), args.repeats, cpu=cpu)
    no_steer = {f"{default.sampler}@{default.nfe}": summary(wall, cpu)}

    batching = batching_gain(sampler, cond, steer, args) if args.batch_queries > 1 else None

    # The batched CFG forward of one query (what every network evaluation of a sampler does: the (noise level,
    # condition) modulation comes precomputed for the whole schedule, so only the per-seed trunk runs).
    model = sampler.denoiser
    x = torch.randn(1, args.seeds, cfg.music_dim)
    cond_t = torch.from_numpy(cond).reshape(1, 1, -1)
    with torch.inference_mode():
        modulation = model.conditioning([0.5], *cfg_pair(cond_t))[0.5]
        fwd_ms = timed(lambda: cfg_denoise(model, x, 0.5, cond_t, args.guidance, modulation), max(50, args.repeats),
                       warmup=5)
    flops = forward_flops(cfg, rows=2 * args.seeds, emb_rows=0)
    fwd_p50 = percentile(fwd_ms, 50)
    achieved = flops / (fwd_p50 / 1000) / 1e9
    peak = peak_matmul_gflops()

    result = {
        "what": "CPU latency of one prior query (seeds, CFG, 2 steering tags) through PriorSampler.sample",
        "cpu": cpu_name(),
        "threads": args.threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "torch": torch.__version__,
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "network": {k: v for k, v in config_to_dict(cfg).items() if k != "sigma_data"},
        "checkpoint": str(args.checkpoint) if args.checkpoint else "random weights (default NetworkConfig)",
        "query": {"seeds": args.seeds, "guidance": args.guidance, "steer_tags": 2, "k": args.k,
                  "steer_schedule": default.steer_schedule},
        "default_sampler": {"sampler": default.sampler, "nfe": default.nfe},
        "latency": latency,
        "latency_without_steering": no_steer,
        "batching": batching,
        "trunk_dtype": {"serving": str(sampler.dtype).removeprefix("torch."), "float32_vs_bfloat16": dtypes},
        "forward": {
            "batch_rows": 2 * args.seeds,
            "mflop": round(flops / 1e6, 2),
            "p50_ms": round(fwd_p50, 3),
            "achieved_gflops": round(achieved, 2),
        },
        "peak_matmul_gflops": round(peak, 2),
        "forward_utilisation": round(achieved / peak, 4),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
