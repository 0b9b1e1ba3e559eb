"""Samplers: turn noise into seed embeddings by integrating the prior's reverse process.

Every sampler has ONE signature, ``sampler(denoiser, x, sigmas, generator, **opts) -> x0``:

- ``denoiser(x, sigma) -> D`` is the (guided, steered) denoiser with the condition already bound
  (see :func:`prior.guidance.guided_denoiser`); ``sigma`` is a Python float, the same for the whole batch;
- ``x`` is the initial noise already scaled by ``sigmas[0]``;
- ``sigmas`` is a decreasing 1-d tensor ending in 0 (:func:`karras_sigmas` gives one);
- ``generator`` is the only source of randomness, so a seed reproduces a result exactly.

Variance-exploding formulation throughout (x_sigma = x_0 + sigma n), as in EDM.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

Denoise = Callable[[torch.Tensor, float], torch.Tensor]


def karras_sigmas(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    """EDM's time steps (Karras et al. 2022, eq. 5): n levels from sigma_max to sigma_min, then 0. Shape [n + 1]."""
    if n < 1:
        raise ValueError("need at least one step")
    if n == 1:
        levels = torch.tensor([sigma_max], dtype=torch.float64)
    else:
        ramp = torch.linspace(0, 1, n, dtype=torch.float64)
        lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
        levels = (hi + ramp * (lo - hi)) ** rho
    return torch.cat([levels, levels.new_zeros(1)])


def _noise(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def sample_reference(denoiser: Denoise, x: torch.Tensor, sigmas: torch.Tensor, generator: torch.Generator,
                     **_: object) -> torch.Tensor:
    """Euler–Maruyama on the reverse-time variance-exploding SDE (Song et al. 2021, eq. 6; Karras et al. 2022, eq. 6).

    With g^2 = d(sigma^2)/dt the reverse SDE is dx = -g^2 score dt + g dw; one step from sigma_i to sigma_{i+1}
    is x += v * score + sqrt(v) * n with v = sigma_i^2 - sigma_{i+1}^2 and score = (D - x) / sigma_i^2.
    Slow (one evaluation per step, 256 steps by default) but with no ODE-solver bias: the yardstick that fast
    samplers are compared against. The last step (to sigma = 0) returns the denoised estimate, without noise.
    """
    steps = len(sigmas) - 1
    for i in range(steps):
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        denoised = denoiser(x, s)
        if s_next == 0:
            return denoised
        var = s * s - s_next * s_next
        x = x + (var / (s * s)) * (denoised - x) + var**0.5 * _noise(x, generator)
    return x


def sample_heun(denoiser: Denoise, x: torch.Tensor, sigmas: torch.Tensor, generator: torch.Generator, *,
                churn: float = 0.0, churn_sigma_min: float = 0.0, churn_sigma_max: float = float("inf"),
                s_noise: float = 1.0, **_: object) -> torch.Tensor:
    """EDM's stochastic Heun sampler (Karras et al. 2022, Algorithm 2); churn = S_churn (0 gives Algorithm 1).

    Each step optionally raises the noise level by gamma (adding fresh noise), takes an Euler step of the
    probability-flow ODE dx/dsigma = (x - D) / sigma and corrects it with the slope at the end point
    (2nd order); the last step, to sigma = 0, is plain Euler. 2 * steps - 1 network evaluations.
    """
    steps = len(sigmas) - 1
    for i in range(steps):
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        gamma = min(churn / steps, 2**0.5 - 1) if churn_sigma_min <= s <= churn_sigma_max else 0.0
        s_hat = s * (1 + gamma)
        if gamma > 0:
            x = x + (s_hat**2 - s**2) ** 0.5 * s_noise * _noise(x, generator)
        d = (x - denoiser(x, s_hat)) / s_hat
        x_next = x + (s_next - s_hat) * d
        if s_next > 0:
            d_next = (x_next - denoiser(x_next, s_next)) / s_next
            x_next = x + (s_next - s_hat) * (0.5 * d + 0.5 * d_next)
        x = x_next
    return x


def sample_dpmpp_2m(denoiser: Denoise, x: torch.Tensor, sigmas: torch.Tensor, generator: torch.Generator,
                    **_: object) -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022, arXiv 2211.01095, Alg. 2), in k-diffusion's sigma parametrisation.

    With t = -ln(sigma), the ODE is solved exactly for a denoised estimate that is constant over the step
    (x_next = sigma_next/sigma x + (1 - e^{-h}) D); the multistep correction extrapolates D linearly from the
    previous step's estimate, for 2nd order at one network evaluation per step. Deterministic.
    """
    del generator  # deterministic; the parameter keeps the one signature
    old_denoised, h_last = None, None
    steps = len(sigmas) - 1
    for i in range(steps):
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        denoised = denoiser(x, s)
        if s_next == 0:
            return denoised
        h = math.log(s / s_next)
        if old_denoised is None:
            estimate = denoised
        else:
            r = h_last / h
            estimate = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old_denoised
        x = (s_next / s) * x - math.expm1(-h) * estimate
        old_denoised, h_last = denoised, h
    return x


Sampler = Callable[..., torch.Tensor]

SAMPLERS: dict[str, Sampler] = {
    "reference": sample_reference,
    "heun": sample_heun,
    "dpmpp_2m": sample_dpmpp_2m,
}


def steps_for_nfe(sampler: str, nfe: int) -> int:
    """Number of sigma steps that costs at most ``nfe`` network evaluations with ``sampler`` (at least 1).

    Heun evaluates twice per step except on the last (2 * steps - 1); the others once per step.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    if nfe < 1:
        raise ValueError("nfe must be >= 1")
    return max(1, (nfe + 1) // 2) if sampler == "heun" else nfe


def nfe_for_steps(sampler: str, steps: int) -> int:
    """Network evaluations that ``steps`` steps of ``sampler`` cost (the inverse of :func:`steps_for_nfe`)."""
    return 2 * steps - 1 if sampler == "heun" else steps


def draws_noise(name: str, churn: float = 0.0) -> bool:
    """Whether sampler ``name`` draws random numbers after the initial noise (reference always, heun with churn).

    Such a sampler's result for one query depends on the batch it ran in (the draws are shared), so
    :mod:`prior.batching` runs its queries alone to keep "same seed, same seeds".
    """
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")
    return name == "reference" or (name == "heun" and churn > 0)


def run_sampler(name: str, denoiser: Denoise, x: torch.Tensor, sigmas: torch.Tensor, generator: torch.Generator,
                **opts: object) -> torch.Tensor:
    """Look ``name`` up in :data:`SAMPLERS` and run it (a clear error for an unknown name)."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")
    return SAMPLERS[name](denoiser, x, sigmas, generator, **opts)
