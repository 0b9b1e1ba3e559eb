"""The high-level API that the web app and the Celery worker call: load a checkpoint, get seeds.

    sampler = PriorSampler.load("var/models/prior", expect_cond_space=..., expect_music_space=catalog_space)
    seeds = sampler.sample(query_vec, n_seeds=16, guidance=1.0, steer=[(jazz_vec, 0.1), (vocals_vec, -0.05)])
    # seeds: float32 [16, Dm], L2-normalised, ready for per-seed nearest-neighbour search in the catalog

    baseline = RegressionModel.load("var/models/regression")
    points = baseline.predict(query_batch)            # [B, Dm], L2-normalised

Loading refuses a checkpoint whose spaces differ from the expected ones (:class:`~prior.spaces.SpaceMismatchError`),
so a catalog re-embedded with a new music encoder cannot be searched with seeds from an old prior. ``None`` for any
sampling argument means the default: the checkpoint's tuned "sampling" block over :class:`~prior.config.SamplingConfig`.
Loading is the slow part; a worker loads once per process and calls :meth:`PriorSampler.sample` per request.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from prior.affinity import condition_affinity
from prior.baseline import RegressionNetwork
from prior.checkpoint import Checkpoint, load_checkpoint
from prior.config import TRUNK_DTYPES, SamplingConfig, SteeringConfig
from prior.cuda_graphs import GraphedPass
from prior.device import pick_device
from prior.guidance import STEER_SCHEDULES, guided_denoiser
from prior.precond import EDMDenoiser
from prior.sampling import SAMPLERS, draws_noise, karras_sigmas, run_sampler, steps_for_nfe
from prior.spaces import EmbeddingSpace

MAX_SEEDS = 1024


@dataclass(frozen=True)
class RunSettings:
    """What queries must share to be sampled in one batch: the seed count, the sampler and its schedule."""

    n_seeds: int
    sampler: str
    steps: int
    steer_schedule: str
    steered: bool  # steered queries need a backward pass per step: batching them with plain ones would waste it


@dataclass(frozen=True)
class PreparedQuery:
    """One validated request as tensors (:meth:`PriorSampler.prepare`), ready for :meth:`PriorSampler.run`."""

    cond: torch.Tensor  # [B, 1, Dc]
    noise: torch.Tensor  # [B, n_seeds, Dm], the initial sample at sigma_max, drawn from the query's own seed
    guidance: float
    direction: torch.Tensor | None  # [1 or B, 1, Dm]: sum_n k_n z_n over the steering pairs, None: no steering
    generator: torch.Generator  # the query's random stream (stochastic samplers go on drawing from it)
    single: bool  # the caller passed one vector [Dc]: return [n_seeds, Dm], not [1, n_seeds, Dm]
    settings: RunSettings

    @property
    def rows(self) -> int:
        return self.noise.shape[0]


def trunk_dtype(name: str, device: torch.device) -> torch.dtype:
    """The dtype the prior's per-seed MLP runs in for the setting ``name`` (one of :data:`TRUNK_DTYPES`).

    ``auto`` is bfloat16 on a CPU with native bf16 matrix instructions (AVX512-BF16 or AMX), where it cuts
    sampling's CPU time by a quarter at a batch of 4 queries, and float32 anywhere else: CPUs without them
    emulate bf16, which is not expected to beat float32, and on a GPU this small prior is not matmul-bound
    (neither is measured here).
    Seeds stay float32 either way; see :meth:`prior.network.PriorNetwork.trunk_to`.
    """
    if name not in TRUNK_DTYPES:
        raise ValueError(f"unknown trunk dtype {name!r}; choose one of {', '.join(TRUNK_DTYPES)}")
    if name == "auto":
        return torch.bfloat16 if device.type == "cpu" and native_cpu_bf16() else torch.float32
    return getattr(torch, name)


def native_cpu_bf16() -> bool:
    """Whether this CPU has bf16 matrix instructions (AVX512-BF16 or AMX), as torch's CPU feature checks see it.

    Not oneDNN's ``is_mkldnn_bf16_supported``: that is true on any AVX-512 CPU, where bf16 is emulated.
    """
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):  # private torch helpers: a build without them means "not known to be fast"
        return False


def _as_matrix(values: np.ndarray, dim: int, what: str) -> tuple[np.ndarray, bool]:
    """Validate a vector [D] or batch [B, D]; returns float32 [B, D] and whether the input was a single vector."""
    arr = np.asarray(values, dtype=np.float32)
    single = arr.ndim == 1
    if single:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"{what} must be a vector [{dim}] or a non-empty batch [B, {dim}], got shape {arr.shape}")
    if arr.shape[1] != dim:
        raise ValueError(f"{what} has dimension {arr.shape[1]}, expected {dim}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} contains NaN or inf")
    return arr, single


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def _freeze(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    model.to(device).eval()
    for param in model.parameters():
        param.requires_grad_(False)  # steering differentiates w.r.t. x only; no weight gradients are ever needed
    return model


class _LoadedModel:
    """What both loaded models share: loading a checkpoint of their ``kind`` with its spaces checked."""

    kind: str

    @classmethod
    def load(
        cls,
        checkpoint_dir: str | Path,
        device: str | None = None,
        expect_cond_space: EmbeddingSpace | None = None,
        expect_music_space: EmbeddingSpace | None = None,
        **options: object,
    ):
        """Load a checkpoint of this class's kind, its spaces checked; ``options`` go to the constructor."""
        ckpt = load_checkpoint(checkpoint_dir, expect_cond_space, expect_music_space, expect_kind=cls.kind)
        return cls(ckpt, device=device, **options)


class PriorSampler(_LoadedModel):
    """A loaded diffusion prior: draws seed embeddings p(music | cond), with guidance and steering."""

    kind = "diffusion"

    def __init__(self, checkpoint: Checkpoint, device: str | None = None, dtype: str = "float32",
                 cuda_graphs: bool = False):
        """``dtype``: what the network's per-seed MLP computes in (:func:`trunk_dtype`; ``auto`` picks).
        ``cuda_graphs``: replay recorded sampling passes on a CUDA device (:mod:`prior.cuda_graphs`); ignored
        elsewhere."""
        if checkpoint.kind != "diffusion":
            raise ValueError(f"{checkpoint.path}: a {checkpoint.kind} checkpoint cannot be sampled (RegressionModel)")
        self.checkpoint = checkpoint
        self.device = pick_device(device)
        self.cond_space: EmbeddingSpace = checkpoint.cond_space
        self.music_space: EmbeddingSpace = checkpoint.music_space
        self.defaults: SamplingConfig = checkpoint.sampling_config()
        self.steering: SteeringConfig = checkpoint.steering_config()  # prior.steering's defaults for this prior
        self.denoiser = _freeze(checkpoint.load_into(EDMDenoiser(checkpoint.network)), self.device)
        self.denoiser.net.trunk_to(trunk_dtype(dtype, self.device))
        self.graphs = GraphedPass() if cuda_graphs and self.device.type == "cuda" else None

    @property
    def dtype(self) -> torch.dtype:
        """The dtype the network's per-seed MLP computes in (seeds are float32 whatever it is)."""
        return self.denoiser.net.trunk_dtype

    @property
    def sigma_data(self) -> float:
        return self.denoiser.sigma_data

    def sample(
        self,
        cond: np.ndarray,
        n_seeds: int = 16,
        guidance: float | None = None,
        steer: Sequence[tuple[np.ndarray, float]] = (),
        sampler: str | None = None,
        nfe: int | None = None,
        seed: int | None = None,
        steer_schedule: str | None = None,
    ) -> np.ndarray:
        """Seeds for one query ``cond [Dc]`` -> ``[n_seeds, Dm]``, or a batch ``[B, Dc]`` -> ``[B, n_seeds, Dm]``.

        ``steer`` is a list of (vector in the music space [Dm] — a tag's text embedding or an example track — , k);
        negative k steers away. Vectors are L2-normalised here. ``seed`` makes the result reproducible (same seed,
        same inputs, same device -> same seeds); None draws a fresh one. Returns float32, L2-normalised rows.
        """
        query = self.prepare(cond, n_seeds, guidance, steer, sampler=sampler, nfe=nfe, seed=seed,
                             steer_schedule=steer_schedule)
        return self.run([query])[0]

    def prepare(
        self,
        cond: np.ndarray,
        n_seeds: int = 16,
        guidance: float | None = None,
        steer: Sequence[tuple[np.ndarray, float]] = (),
        *,
        sampler: str | None = None,
        nfe: int | None = None,
        seed: int | None = None,
        steer_schedule: str | None = None,
    ) -> PreparedQuery:
        """Validate one :meth:`sample` request and draw its initial noise; :meth:`run` then samples it.

        Split from sampling so that concurrent requests can be checked one by one (a bad one fails alone) and
        then run as one batch (:mod:`prior.batching`). Raises ``ValueError`` with what is wrong.
        """
        cfg = self.defaults
        cond_np, single = _as_matrix(cond, self.cond_space.dim, "cond")
        if not isinstance(n_seeds, int | np.integer) or not 1 <= n_seeds <= MAX_SEEDS:
            raise ValueError(f"n_seeds must be an integer in [1, {MAX_SEEDS}], got {n_seeds!r}")
        guidance = cfg.guidance if guidance is None else float(guidance)
        if not np.isfinite(guidance):
            raise ValueError("guidance must be finite")
        sampler = cfg.sampler if sampler is None else sampler
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
        steer_schedule = cfg.steer_schedule if steer_schedule is None else steer_schedule
        if steer_schedule not in STEER_SCHEDULES:
            raise ValueError(f"unknown steer_schedule {steer_schedule!r}; choose one of {', '.join(STEER_SCHEDULES)}")
        if sampler == "reference":
            steps = cfg.reference_steps if nfe is None else steps_for_nfe(sampler, int(nfe))
        else:
            steps = steps_for_nfe(sampler, cfg.nfe if nfe is None else int(nfe))

        rows, dev = cond_np.shape[0], self.device
        direction = None  # sum_n k_n z_n: by linearity one backward pass steers by all pairs (prior.guidance)
        for i, item in enumerate(steer):
            try:
                vector, k = item
            except (TypeError, ValueError):
                raise ValueError(f"steer[{i}] must be a (vector, k) pair") from None
            vec, _ = _as_matrix(vector, self.music_space.dim, f"steer[{i}] vector")
            if vec.shape[0] not in (1, rows):
                raise ValueError(f"steer[{i}] vector has {vec.shape[0]} rows, expected 1 or {rows}")
            if not np.isfinite(float(k)):
                raise ValueError(f"steer[{i}] k must be finite")
            if np.linalg.norm(vec, axis=1).min() < 1e-8:
                raise ValueError(f"steer[{i}] vector is zero")
            if float(k) == 0:
                continue
            z = float(k) * _normalise(torch.from_numpy(vec).to(dev)).unsqueeze(1)  # [1 or B, 1, Dm]
            direction = z if direction is None else direction + z

        generator = torch.Generator(device=dev)
        generator.manual_seed(int(seed) if seed is not None else secrets.randbits(63))
        sigma_max = float(karras_sigmas(steps, cfg.sigma_min, cfg.sigma_max, cfg.rho)[0])
        noise = torch.randn((rows, n_seeds, self.music_space.dim), generator=generator, device=dev) * sigma_max
        return PreparedQuery(
            cond=torch.from_numpy(cond_np).to(dev).unsqueeze(1),  # [B, 1, Dc]: one embedding per query, not per seed
            noise=noise, guidance=guidance, direction=direction, generator=generator, single=single,
            settings=RunSettings(n_seeds=int(n_seeds), sampler=sampler, steps=steps, steer_schedule=steer_schedule,
                                 steered=direction is not None),
        )

    def condition_affinity(self, cond: np.ndarray, tracks: np.ndarray, seed: int | None = None) -> np.ndarray:
        """How much more likely each track is under ``cond [Dc]`` than under no condition -> ``[N]`` float64.

        ``tracks [N, Dm]`` (e.g. a playlist's candidates; L2-normalised here, as the music space is); an estimate of
        log p(t | cond) - log p(t) up to scale (:mod:`prior.affinity`), comparable only between the tracks of one
        call. ``seed`` fixes its noise draws (same seed, same inputs -> same values).
        """
        cond_np, single = _as_matrix(cond, self.cond_space.dim, "cond")
        if not single:
            raise ValueError(f"cond must be one vector [{self.cond_space.dim}], got shape {cond_np.shape}")
        tracks_np, _ = _as_matrix(tracks, self.music_space.dim, "tracks")
        generator = torch.Generator(device=self.device)
        generator.manual_seed(int(seed) if seed is not None else secrets.randbits(63))
        with torch.inference_mode():
            x = _normalise(torch.from_numpy(tracks_np).to(self.device))
            out = condition_affinity(self.denoiser, torch.from_numpy(cond_np[0]).to(self.device), x,
                                     self.sigma_data, generator)
        return out.cpu().numpy()

    def can_batch(self, query: PreparedQuery) -> bool:
        """Whether ``query`` may share a :meth:`run` with others: only if its sampler draws no noise after the
        initial one (else its result would depend on who it was batched with, and a seed would not reproduce it)."""
        return not draws_noise(query.settings.sampler, self.defaults.churn)

    def run(self, queries: Sequence[PreparedQuery]) -> list[np.ndarray]:
        """Sample prepared queries in ONE batched pass; returns each query's seeds as :meth:`sample` would.

        Every query keeps its own condition, guidance weight, steering direction and initial noise, so the result
        of a query does not depend on the others in the run (up to float rounding in the batched matrix products).
        They must share :class:`RunSettings`; more than one query needs a sampler that :meth:`can_batch`.
        """
        if not queries:
            return []
        settings = queries[0].settings
        if any(q.settings != settings for q in queries):
            raise ValueError("queries of one run must share n_seeds, sampler, steps and steering (RunSettings)")
        if len(queries) > 1 and not all(self.can_batch(q) for q in queries):
            raise ValueError(f"sampler {settings.sampler!r} draws noise while sampling: run its queries one by one")
        cond = torch.cat([q.cond for q in queries])
        x = torch.cat([q.noise for q in queries])
        guidance: float | torch.Tensor = queries[0].guidance
        if any(q.guidance != guidance for q in queries):  # per-query CFG weights, broadcast over seeds and dims
            guidance = torch.tensor([q.guidance for q in queries for _ in range(q.rows)],
                                    dtype=x.dtype, device=x.device).reshape(-1, 1, 1)
        inputs = {"cond": cond, "x": x, "guidance": guidance}
        if settings.steered:
            inputs["direction"] = torch.cat([q.direction.expand(q.rows, 1, -1) for q in queries])
        cfg = self.defaults
        sigmas = karras_sigmas(settings.steps, cfg.sigma_min, cfg.sigma_max, cfg.rho)
        # Steering's gradient is the network's hand-written VJP (prior.guidance), not autograd: inference_mode works.
        with torch.inference_mode():
            if self.graphs is not None and self.can_batch(queries[0]):
                if not isinstance(guidance, torch.Tensor):  # one recording serves every guidance weight
                    inputs["guidance"] = torch.full((x.shape[0], 1, 1), guidance, dtype=x.dtype, device=x.device)
                x0 = self.graphs.run((settings, x.shape[0]), inputs, lambda t: self._pass(settings, t, sigmas, None))
            else:
                x0 = self._pass(settings, inputs, sigmas, queries[0].generator)
            seeds = _normalise(x0).float().cpu().numpy()
        out, start = [], 0
        for q in queries:
            part = seeds[start : start + q.rows]
            out.append(part[0] if q.single else part)
            start += q.rows
        return out

    def _pass(self, settings: RunSettings, inputs: dict[str, torch.Tensor | float], sigmas: torch.Tensor,
              generator: torch.Generator | None) -> torch.Tensor:
        """One sampling pass over the batch in ``inputs`` (cond, x, guidance, optional direction): the part that
        :mod:`prior.cuda_graphs` records, so it makes no host-device copies of its own."""
        cfg = self.defaults
        direction = inputs.get("direction")
        denoise = guided_denoiser(
            self.denoiser, inputs["cond"], guidance=inputs["guidance"],
            steer=[(direction, 1.0)] if direction is not None else [], steer_schedule=settings.steer_schedule,
            sigma_data=self.sigma_data, sigmas=sigmas.tolist(),
        )
        return run_sampler(
            settings.sampler, denoise, inputs["x"], sigmas, generator,
            churn=cfg.churn, churn_sigma_min=cfg.churn_sigma_min, churn_sigma_max=cfg.churn_sigma_max,
            s_noise=cfg.s_noise,
        )


class RegressionModel(_LoadedModel):
    """The deterministic baseline: one point per query, cond [B, Dc] -> [B, Dm] (L2-normalised)."""

    kind = "regression"

    def __init__(self, checkpoint: Checkpoint, device: str | None = None):
        if checkpoint.kind != "regression":
            raise ValueError(f"{checkpoint.path}: a {checkpoint.kind} checkpoint is not a regression model")
        self.checkpoint = checkpoint
        self.device = pick_device(device)
        self.cond_space: EmbeddingSpace = checkpoint.cond_space
        self.music_space: EmbeddingSpace = checkpoint.music_space
        self.network = _freeze(checkpoint.load_into(RegressionNetwork(checkpoint.network)), self.device)

    def predict(self, cond: np.ndarray) -> np.ndarray:
        """cond [B, Dc] -> [B, Dm] (a single vector [Dc] -> [Dm]); float32, L2-normalised."""
        cond_np, single = _as_matrix(cond, self.cond_space.dim, "cond")
        with torch.inference_mode():
            out = self.network(torch.from_numpy(cond_np).to(self.device)).float().cpu().numpy()
        return out[0] if single else out
