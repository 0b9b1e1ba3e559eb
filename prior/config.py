"""Configuration of the prior: the network, its training, and how seeds are sampled.

Plain dataclasses with plain defaults, so they serialise into a checkpoint's ``config.json`` and a tuner can
change a default in one place. The defaults are sized for the CPU latency budget (one query = 16 seeds with
classifier-free guidance and 2 steering tags in <= 100 ms p50 on 2 cores); see ``docs/prior-model.md``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

# What the prior's per-seed MLP may compute in (prior.service.trunk_dtype); a setting of the serving process.
TRUNK_DTYPES = ("auto", "float32", "bfloat16")
# How a steering budget k scales with the noise level (prior.guidance).
STEER_SCHEDULES = ("constant", "sigma2", "snr")

T = TypeVar("T")


@dataclass
class NetworkConfig:
    """Shape of the denoiser network F and of its EDM preconditioning.

    ``sigma_data`` is the std of the data per dimension; ``None`` means ``1/sqrt(music_dim)``, the std of a
    random unit vector's coordinates (music embeddings are L2-normalised).

    ``width = 256, depth = 4`` is the recipe that was evaluated (docs/prior-eval.md: chosen on val on the
    synthetic world) and that is sized for the CPU latency budget; the (noise, condition) embedding has the
    same width. Wider (``--width 512``) trains better per step at about 4x the sampling CPU (docs/steering.md,
    "The training recipe").
    """

    cond_dim: int
    music_dim: int
    width: int = 256
    depth: int = 4
    mlp_ratio: float = 1.0
    dropout: float = 0.0
    noise_features: int = 64
    sigma_data: float | None = None

    def resolved_sigma_data(self) -> float:
        return float(self.sigma_data) if self.sigma_data is not None else 1.0 / math.sqrt(self.music_dim)


@dataclass
class TrainConfig:
    """Optimisation of the prior (and, where it applies, of the regression baseline).

    The training noise levels follow EDM's log-normal, rescaled to this data's scale:
    ``ln(sigma / (2 * sigma_data)) ~ N(P_mean, P_std^2)``, which is EDM's image setting exactly when
    ``sigma_data = 0.5``. Unit-norm embeddings have a much smaller ``sigma_data`` (0.05 for 384-d), so an
    absolute ``P_mean = -1.2`` would train almost only at noise levels where the data is already invisible.
    """

    steps: int = 3000
    batch: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 200
    ema: float = 0.999
    clip: float = 1.0
    cond_dropout: float = 0.1
    P_mean: float = -1.2
    P_std: float = 1.2
    seed: int = 0
    # Regression baseline only: share of train held out for early stopping, and patience in evaluations.
    val_fraction: float = 0.1
    patience: int = 10
    eval_every: int = 100


@dataclass
class SamplingConfig:
    """How seeds are drawn from the prior (all overridable per call in :class:`prior.service.PriorSampler`).

    ``steer_schedule`` scales the steering strength k with the noise level (see :mod:`prior.guidance`):
    ``constant`` applies k as given at every step, ``sigma2`` multiplies it by sigma^2 (guidance on the score),
    ``snr`` by sigma^2 / (sigma^2 + sigma_data^2) (k at high noise, fading to 0 near the data).
    ``churn`` is EDM's S_churn (0 = deterministic ODE given the initial noise).

    Why these defaults: DPM-Solver++(2M) at 10 evaluations matched the 256-step reference on a multimodal toy
    world where EDM-Heun needed ~31; and sigma_max = 10 (not EDM's 80, tuned for pixels with sigma_data = 0.5)
    is still 10x the radius of the unit sphere the music vectors live on, so x_T is pure noise, while fewer of
    the few steps are spent far from the data (see docs/prior-model.md for the numbers). 10 evaluations with
    CFG and steering fit the 100 ms CPU budget.
    """

    sampler: str = "dpmpp_2m"
    nfe: int = 10
    sigma_min: float = 1e-3
    sigma_max: float = 10.0
    rho: float = 7.0
    guidance: float = 1.0
    steer_schedule: str = "constant"
    churn: float = 0.0
    churn_sigma_min: float = 0.0
    churn_sigma_max: float = float("inf")
    s_noise: float = 1.0
    reference_steps: int = 256


@dataclass
class SteeringConfig:
    """How a session's steering state steers (:func:`prior.steering.steering_plan`); a checkpoint's defaults.

    ``tag_k`` / ``avoid_k`` / ``liked_k`` / ``skipped_k``: the gradient-steering budget of each group, shared by its
    entries (so ten tags steer no harder than one); ``fade``: each older entry weighs ``fade`` times the next newer
    one; ``schedule``: how k scales with the noise level (:func:`prior.guidance.steer_scale`);
    ``condition_weight``: when > 0 and a tag is wanted, every seed retrieves by itself plus this times the
    condition's direction (mean seed minus the mean of the same draw without the condition), so the tag (in the
    seeds) and the condition both stay in force (:func:`prior.steering.retrieval_vectors`); 0: by the seeds alone.
    ``affinity_weight``: when > 0 and a tag is wanted, the retrieved candidates are re-ranked by their similarity
    to their seed plus this many of its standard deviations times the z-score of the prior's affinity of the track
    for the condition (:mod:`prior.affinity`, :func:`prior.steering.affinity_relevance`); 0: no re-ranking.

    Why these defaults (what ``python -m prior train`` writes): chosen on the VALIDATION splits of two synthetic
    worlds, the project's and one of another seed and other dimensions (``sweep steer``, 200 queries each,
    docs/steering.md "Synthetic worlds"): the sigma^2 schedule at k = 10 had the best Recall@100 on both (1.000 and
    0.995) with the seeds still diverse (MISCS 0.74 and 0.72), where the constant schedule collapses them (k = 1:
    MISCS 0.95). The other budgets keep the demo's proportions to the tag's (avoid 1/10, a like or a skip 1/20).
    A checkpoint for other data records its own choice, made on its own validation split: ``python -m prior sweep
    steer --record``; the demo's prior records the steering chosen through the API (``demo.steering``), the
    MTG-Jamendo bench's the one its validation chose. No single setting served every world (docs/steering.md).
    ``affinity_weight`` is 0 here: it was chosen through the demo's API (the only place the condition's influence
    under a steer is measured), not on the synthetic worlds, whose sweeps ran without it.
    """

    tag_k: float = 10.0
    avoid_k: float = 1.0
    liked_k: float = 0.5
    skipped_k: float = 0.5
    fade: float = 0.5
    schedule: str = "sigma2"
    condition_weight: float = 0.35
    affinity_weight: float = 0.0

    def check(self) -> None:
        """Raise ValueError naming the first setting out of range."""
        for name in ("tag_k", "avoid_k", "liked_k", "skipped_k", "condition_weight", "affinity_weight"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"steering {name} must be a finite number >= 0, got {value!r}")
        if not (isinstance(self.fade, int | float) and 0 < self.fade <= 1):
            raise ValueError(f"steering fade must be in (0, 1], got {self.fade!r}")
        if self.schedule not in STEER_SCHEDULES:
            raise ValueError(f"unknown steering schedule {self.schedule!r}; choose one of {', '.join(STEER_SCHEDULES)}")


def config_to_dict(config: Any) -> dict:
    """A JSON-safe dict (inf becomes the string "inf", which :func:`config_from_dict` reads back)."""
    out = {}
    for key, value in asdict(config).items():
        out[key] = "inf" if isinstance(value, float) and math.isinf(value) else value
    return out


def config_from_dict(cls: type[T], data: dict) -> T:
    """Build ``cls`` from ``data``, ignoring unknown keys (forward compatibility) and using defaults for missing."""
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values = {}
    for key, value in data.items():
        if key not in known:
            continue
        values[key] = float(value) if value in ("inf", "-inf") else value
    return cls(**values)
