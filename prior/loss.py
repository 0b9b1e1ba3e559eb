"""The EDM training loss of the prior, with condition dropout for classifier-free guidance.

Karras et al. 2022, Sec. 5 and Table 1: draw ln(sigma) from a normal, noise the clean music embedding y, and
weight the squared error of D by lambda(sigma) = (sigma^2 + sd^2) / (sigma sd)^2 so that every noise level
contributes a unit-scale error (it equals the plain MSE of F against its effective target). Here the log-normal is
centred relative to the data's scale (see :class:`prior.config.TrainConfig`). With probability ``cond_dropout``
a pair's condition is replaced by the learned null, so one network learns both p(music | cond) and p(music),
which classifier-free guidance needs (Ho & Salimans, 2022).
"""

from __future__ import annotations

import torch

from prior.precond import EDMDenoiser


def sample_sigma(
    n: int, P_mean: float, P_std: float, sigma_data: float, generator: torch.Generator | None = None, device=None
) -> torch.Tensor:
    """Training noise levels, shape [n]: ln(sigma / (2 sigma_data)) ~ N(P_mean, P_std^2)."""
    normal = torch.randn(n, generator=generator, device=device)
    return (2 * sigma_data) * torch.exp(P_mean + P_std * normal)


def edm_weight(sigma: torch.Tensor, sigma_data: float) -> torch.Tensor:
    """lambda(sigma) = (sigma^2 + sd^2) / (sigma sd)^2."""
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


def edm_loss(
    denoiser: EDMDenoiser,
    music: torch.Tensor,
    cond: torch.Tensor,
    *,
    P_mean: float = -1.2,
    P_std: float = 1.2,
    cond_dropout: float = 0.1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Mean weighted denoising error of a batch (scalar). ``music [B, Dm]`` clean, ``cond [B, Dc]``."""
    batch, device = music.shape[0], music.device
    sd = denoiser.sigma_data
    sigma = sample_sigma(batch, P_mean, P_std, sd, generator=generator, device=device).unsqueeze(-1)
    noise = torch.randn(music.shape, generator=generator, device=device, dtype=music.dtype) * sigma
    keep = torch.rand(batch, 1, generator=generator, device=device) >= cond_dropout
    denoised = denoiser(music + noise, sigma, cond, keep)
    per_item = edm_weight(sigma, sd) * (denoised - music) ** 2
    return per_item.mean()
