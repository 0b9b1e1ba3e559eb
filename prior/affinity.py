"""How well a track fits a condition, by the prior's own judgement: its denoising-error affinity.

Why: a steered playlist must keep the tag AND the query (the demo: a genre AND the picture's mood). Gradient
steering puts the tag into the seeds; the condition then has to come back somewhere. A track t fits the condition
q when the prior finds it more likely given q than given nothing, i.e. the pointwise mutual information
log p(t | q) - log p(t). A diffusion model's denoising error is a bound on -log p (the diffusion ELBO), so the
difference of the null and the conditional denoiser's errors on the same noisy track estimates it: the diffusion
classifier of Li et al. 2023 ("Your Diffusion Model is Secretly a Zero-Shot Classifier", arXiv 2303.16203),
with the classes "this condition" and "no condition" (the null embedding classifier-free guidance trains):

    a(t) = sum_sigma ( ||D(t + sigma eps, sigma, null) - t||^2 - ||D(t + sigma eps, sigma, q) - t||^2 ) / sigma^2

over a few noise levels (multiples of sigma_data, :data:`AFFINITY_LEVELS`). Every track of one call shares the
same noise draws (common random numbers): comparisons between tracks, which is all a re-ranking uses, then lose
the variance that separate draws would add. For a Gaussian world with exact denoisers
(p(t | q) = N(mu_q, s^2 I), p(t) = N(0, s^2 I)) a(t) is an increasing affine function of the true log ratio,
noise draws or not (tests/prior/test_affinity.py).

The scale of a(t) has no meaning of its own; :func:`prior.steering.affinity_relevance` uses its z-score within
the candidate pool.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from prior.guidance import Denoiser, cfg_pair

# Noise levels, in units of the data's sigma: low levels judge fine detail, high ones the broad region; the sum
# over a few of them is what the ELBO integrates (coarsely). Chosen with the demo's API bench (docs/steering.md).
AFFINITY_LEVELS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)


def condition_affinity(
    denoiser: Denoiser,
    cond: torch.Tensor,
    tracks: torch.Tensor,
    sigma_data: float,
    generator: torch.Generator,
    levels: Sequence[float] = AFFINITY_LEVELS,
) -> torch.Tensor:
    """a(t) for every row of ``tracks [N, Dm]`` under the condition ``cond [Dc]`` (module docstring) -> ``[N]``.

    ``denoiser`` is D(x, sigma, cond, cond_mask) with a learned null condition (the mask's False rows);
    ``generator`` draws the shared noise, one ``[Dm]`` vector per level.
    """
    if tracks.ndim != 2 or cond.ndim != 1:
        raise ValueError(f"tracks must be [N, Dm] and cond [Dc], got {tuple(tracks.shape)} and {tuple(cond.shape)}")
    pair_cond, keep = cfg_pair(cond.reshape(1, -1))  # [2, 1, Dc]: the condition, then the null one
    total = torch.zeros(tracks.shape[0], dtype=torch.float64, device=tracks.device)
    for level in levels:
        sigma = float(level) * float(sigma_data)
        noise = torch.randn(tracks.shape[1:], generator=generator, device=tracks.device, dtype=tracks.dtype)
        out = denoiser(tracks + sigma * noise, sigma, pair_cond, keep)  # [2, N, Dm]: tracks broadcast on the pair
        errors = ((out - tracks) ** 2).sum(dim=-1).double()  # [2, N]
        total += (errors[1] - errors[0]) / (sigma * sigma)
    return total
