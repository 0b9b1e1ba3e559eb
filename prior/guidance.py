"""Guidance: classifier-free guidance and steering, as a wrapper around D(x, sigma, cond).

Classifier-free guidance (Ho & Salimans, 2022), as Diff4Steer writes it (Bao et al. 2024, eq. 3):

    D'(x, s, q) = (1 + w) D(x, s, q) - w D(x, s, null)

w = 0 is the plain conditional prior; larger w trades diversity of the seeds for alignment with the query. Both
terms come from ONE batched forward: the condition is paired along a new leading axis with a mask that selects
the learned null embedding for the second copy, and x broadcasts against that axis (the network's shapes
broadcast), so what depends on x alone — the input projection — is computed once for both terms.

Steering (Diff4Steer eq. 4) by text or by example tracks, any vectors z_n in the music space:

    D''(x, s, q) = D'(x, s, q) + sum_n k_n(s) grad_x < D'(x, s, q), z_n >

k_n > 0 pulls the seeds towards z_n, k_n < 0 pushes them away ("less vocals"). By linearity the sum needs one
backward pass: grad_x < D', sum_n k_n z_n >. A model with ``forward_with_vjp`` (:class:`~prior.precond.EDMDenoiser`)
computes it with its hand-written vector-Jacobian product (:func:`cfg_denoise_with_vjp`; faster, and fine under
``torch.inference_mode``); any other D(x, sigma, cond) is differentiated by autograd (:func:`steer_denoise`, which
must not run under ``torch.inference_mode``; ``torch.no_grad`` is fine, grad is switched on there). Both give the
same D''; the tests hold one to the other.

Known pitfall: the formula applied with a constant k at every step adds up over the steps (k >= 0.25 collapsed the
seeds onto the steering text in a reference implementation). ``steer_schedule`` therefore scales k with the noise
level: see :func:`steer_scale`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from prior.config import STEER_SCHEDULES
from prior.network import VJP, Conditioning

Denoiser = Callable[..., torch.Tensor]  # D(x, sigma, cond, cond_mask=None)


def steer_scale(schedule: str, sigma: float, sigma_data: float) -> float:
    """Factor applied to every k_n at noise level ``sigma``.

    - ``constant``: 1, the literal formula at every step;
    - ``sigma2``: sigma^2, i.e. k acts on the score (grad log p = (D - x) / sigma^2), like classifier guidance:
      strong while the seeds are still noise, vanishing near the data, so it does not pile up at the end;
    - ``snr``: sigma^2 / (sigma^2 + sigma_data^2) = 1 - c_skip: k at high noise, fading to 0 below sigma_data.
    """
    if schedule == "constant":
        return 1.0
    if schedule == "sigma2":
        return sigma * sigma
    if schedule == "snr":
        return sigma * sigma / (sigma * sigma + sigma_data * sigma_data)
    raise ValueError(f"unknown steer_schedule {schedule!r}; choose one of {', '.join(STEER_SCHEDULES)}")


def cfg_combine(cond_out: torch.Tensor, null_out: torch.Tensor, guidance: float | torch.Tensor) -> torch.Tensor:
    """(1 + w) D(x, s, q) - w D(x, s, null); ``guidance`` a float or a tensor broadcasting per query.

    Written as the extrapolation null + (1 + w) (cond - null): one operation (torch.lerp) instead of three.
    """
    return torch.lerp(null_out, cond_out, 1 + guidance)


def cfg_denoise(model: Denoiser, x: torch.Tensor, sigma: float | torch.Tensor, cond: torch.Tensor,
                guidance: float | torch.Tensor, conditioning: Conditioning | None = None) -> torch.Tensor:
    """Classifier-free guided D' in one batched forward (cond broadcastable against x's leading dims).

    ``guidance`` is one weight, or a tensor of weights broadcasting against x (one per query of a batch).
    With a float ``guidance == 0`` it is exactly the conditional denoiser (and costs one half of the batch).
    ``conditioning``: the model's precomputed modulation for this sigma and this pairing (see guided_denoiser).
    """
    extra = {} if conditioning is None else {"conditioning": conditioning}
    if not paired(guidance):
        return model(x, sigma, cond, **extra)
    pair_cond, keep = cfg_pair(cond)
    out = model(x, sigma, pair_cond, keep, **extra)  # x broadcasts against the pair axis: [2, *x.shape]
    return cfg_combine(out[0], out[1], guidance)


def cfg_denoise_with_vjp(model: Denoiser, x: torch.Tensor, sigma: float | torch.Tensor, cond: torch.Tensor,
                         guidance: float | torch.Tensor,
                         conditioning: Conditioning | None = None) -> tuple[torch.Tensor, VJP]:
    """:func:`cfg_denoise` and ``v -> grad_x <D', v>``, from the model's ``forward_with_vjp`` (no autograd).

    D' = (1 + w) D(x, s, q) - w D(x, s, null), so the pair's output gradient is ((1 + w) v, -w v).
    """
    extra = {} if conditioning is None else {"conditioning": conditioning}
    if not paired(guidance):
        return model.forward_with_vjp(x, sigma, cond, **extra)
    pair_cond, keep = cfg_pair(cond)
    out, vjp = model.forward_with_vjp(x, sigma, pair_cond, keep, **extra)

    def cfg_vjp(v: torch.Tensor) -> torch.Tensor:
        v = v.reshape((1,) * (x.ndim - v.ndim) + v.shape)  # x's rank, so the pair axis is the leading one
        return vjp(torch.stack(torch.broadcast_tensors((1 + guidance) * v, -guidance * v)))

    return cfg_combine(out[0], out[1], guidance), cfg_vjp


def paired(guidance: float | torch.Tensor) -> bool:
    """Whether CFG needs the null branch: always for per-query weights, never for a plain w = 0."""
    return isinstance(guidance, torch.Tensor) or guidance != 0


def cfg_pair(cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The condition twice along a new leading axis, and the mask that makes the second copy the null condition."""
    # made on the device (not copied from the host), so a CUDA graph can record it (prior.cuda_graphs)
    keep = (torch.arange(2, device=cond.device) == 0).reshape([2] + [1] * cond.ndim)
    return cond.unsqueeze(0).expand(2, *cond.shape), keep


def steering_direction(steer: Sequence[tuple[torch.Tensor, float]], scale: float) -> torch.Tensor | None:
    """sum_n k_n * scale * z_n, or None when there is nothing to steer by (all k_n * scale == 0)."""
    total = None
    for z, k in steer:
        weight = float(k) * scale
        if weight == 0:
            continue
        total = weight * z if total is None else total + weight * z
    return total


def steer_denoise(guided: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                  direction: torch.Tensor) -> torch.Tensor:
    """D'' = D' + grad_x < D'(x), direction >, with D' = ``guided(x)``; one forward and one autograd backward."""
    if torch.is_inference_mode_enabled():
        raise RuntimeError("steering needs autograd: sample under torch.no_grad(), not torch.inference_mode()")
    with torch.enable_grad():
        x_in = x.detach().requires_grad_(True)
        denoised = guided(x_in)
        (grad,) = torch.autograd.grad((denoised * direction).sum(), x_in)
    return denoised.detach() + grad


def guided_denoiser(
    model: Denoiser,
    cond: torch.Tensor,
    *,
    guidance: float | torch.Tensor = 1.0,
    steer: Sequence[tuple[torch.Tensor, float]] = (),
    steer_schedule: str = "constant",
    sigma_data: float = 1.0,
    sigmas: Sequence[float] | None = None,
) -> Callable[[torch.Tensor, float], torch.Tensor]:
    """Bind the condition, CFG weight and steering into ``denoise(x, sigma)``, the form samplers take.

    ``cond`` and every steering vector must broadcast against x's leading dims, e.g. x [B, S, Dm] with
    cond [B, 1, Dc] and z [B, 1, Dm] or [Dm]. ``sigmas``: the noise levels the sampler will evaluate at; the
    model (an :class:`~prior.precond.EDMDenoiser`) then computes its conditioning for all of them up front.
    """
    steer_scale(steer_schedule, 1.0, sigma_data)  # validate the name early
    precomputed = {}
    if sigmas is not None:  # the network's per-sigma conditioning for the whole schedule, in one call
        precomputed = model.conditioning(sigmas, *(cfg_pair(cond) if paired(guidance) else (cond, None)))

    hand_written_vjp = hasattr(model, "forward_with_vjp")  # else steering differentiates by autograd

    def denoise(x: torch.Tensor, sigma: float) -> torch.Tensor:
        conditioning = precomputed.get(float(sigma))  # None (computed in the call) for a level not in the schedule
        direction = steering_direction(steer, steer_scale(steer_schedule, sigma, sigma_data)) if steer else None
        if direction is None:
            return cfg_denoise(model, x, sigma, cond, guidance, conditioning)
        if hand_written_vjp:
            denoised, vjp = cfg_denoise_with_vjp(model, x, sigma, cond, guidance, conditioning)
            return denoised + vjp(direction)
        return steer_denoise(lambda x_in: cfg_denoise(model, x_in, sigma, cond, guidance, conditioning), x, direction)

    return denoise
