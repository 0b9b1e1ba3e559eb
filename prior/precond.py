"""EDM preconditioning: the denoiser D(x, sigma, cond) built around the raw network F.

Karras et al. 2022 ("Elucidating the Design Space of Diffusion-Based Generative Models", Table 1, Sec. 5):

    D(x, sigma) = c_skip(sigma) x + c_out(sigma) F(c_in(sigma) x, c_noise(sigma))
    c_skip = sd^2 / (sigma^2 + sd^2)      c_out = sigma sd / sqrt(sigma^2 + sd^2)
    c_in   = 1 / sqrt(sigma^2 + sd^2)      c_noise = ln(sigma) / 4

with sd = sigma_data. These keep F's input and training target at unit variance at every noise level, and make
D -> x as sigma -> 0 (nothing left to remove). ``D(x, sigma, cond, cond_mask=None)`` is the one interface that the
loss, the samplers and guidance all speak (as NVlabs/edm's ``EDMPrecond`` and k-diffusion's ``Denoiser`` do).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from prior.config import NetworkConfig
from prior.network import VJP, Conditioning, PriorNetwork


def edm_scalings(sigma: torch.Tensor | float, sigma_data: float) -> tuple[torch.Tensor | float, ...]:
    """(c_skip, c_out, c_in, c_noise) for noise level(s) ``sigma``: a tensor (any shape) or a Python float."""
    sd2 = sigma_data**2
    total = sigma**2 + sd2
    root = total**0.5
    c_skip = sd2 / total
    c_out = sigma * sigma_data / root
    c_in = 1 / root
    c_noise = (math.log(sigma) if isinstance(sigma, float) else sigma.log()) / 4
    return c_skip, c_out, c_in, c_noise


def as_sigma(sigma: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Noise level as a tensor of shape [..., 1] that broadcasts against x [..., D].

    A float or 0-d tensor becomes shape [1, ..., 1] (one level for the whole batch, which lets the network
    compute its embedding once); a tensor of shape x.shape[:-1] gains a trailing 1.
    """
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if sigma.ndim == 0:
        return sigma.reshape([1] * x.ndim)
    if sigma.ndim == x.ndim:
        return sigma
    if sigma.ndim == x.ndim - 1:
        return sigma.unsqueeze(-1)
    raise ValueError(f"sigma of shape {tuple(sigma.shape)} does not fit x of shape {tuple(x.shape)}")


class EDMDenoiser(nn.Module):
    """D(x, sigma, cond, cond_mask=None) -> denoised x, with EDM preconditioning around :class:`PriorNetwork`."""

    def __init__(self, config: NetworkConfig):
        super().__init__()
        self.config = config
        self.sigma_data = config.resolved_sigma_data()
        self.net = PriorNetwork(config)
        self._levels: dict[tuple, torch.Tensor] = {}  # noise-level tensors per schedule (_levels_tensor)

    def forward(
        self,
        x: torch.Tensor,
        sigma: float | torch.Tensor,
        cond: torch.Tensor | None,
        cond_mask: torch.Tensor | None = None,
        conditioning: Conditioning | None = None,
    ) -> torch.Tensor:
        """D(x, sigma, cond); ``conditioning``, if given, is :meth:`conditioning`'s entry for this sigma.

        One noise level for the whole batch (a Python number, as samplers pass it) keeps the scalings Python
        floats: a dozen tensor operations fewer per network evaluation, which at sampling's batch sizes cost as
        much as the arithmetic they do.
        """
        c_skip, c_out, c_in, conditioning = self._prepare(x, sigma, cond, cond_mask, conditioning)
        return c_skip * x + c_out * self.net.trunk(c_in * x, conditioning)

    def forward_with_vjp(
        self,
        x: torch.Tensor,
        sigma: float | torch.Tensor,
        cond: torch.Tensor | None,
        cond_mask: torch.Tensor | None = None,
        conditioning: Conditioning | None = None,
    ) -> tuple[torch.Tensor, VJP]:
        """D(x, sigma, cond) as :meth:`forward` computes it, and ``v -> grad_x <D, v>`` without autograd.

        Steering's gradient (:mod:`prior.guidance`) through the network's hand-written VJP
        (:meth:`PriorNetwork.trunk_with_vjp` says why). ``v`` broadcasts against D; where x broadcast against
        the condition (a CFG pair), the gradient sums over that axis, as autograd's would.
        """
        c_skip, c_out, c_in, conditioning = self._prepare(x, sigma, cond, cond_mask, conditioning)
        f, trunk_vjp = self.net.trunk_with_vjp(c_in * x, conditioning)
        denoised = c_skip * x + c_out * f

        def vjp(grad: torch.Tensor) -> torch.Tensor:
            skip = (c_skip * grad).expand(denoised.shape).sum_to_size(x.shape)
            return skip + c_in * trunk_vjp(c_out * grad)

        return denoised, vjp

    def _prepare(self, x, sigma, cond, cond_mask, conditioning) -> tuple:
        """(c_skip, c_out, c_in, conditioning) for one evaluation: the scalings and, unless given, the modulation."""
        sigma = float(sigma) if isinstance(sigma, int | float) else as_sigma(sigma, x)
        c_skip, c_out, c_in, c_noise = edm_scalings(sigma, self.sigma_data)
        if conditioning is None:
            conditioning = self.net.conditioning(as_sigma(c_noise, x), cond, cond_mask)
        return c_skip, c_out, c_in, conditioning

    def _levels_tensor(self, levels: list[float], ref: torch.Tensor) -> torch.Tensor:
        """The noise levels as a tensor on ``ref``'s device, made once per schedule and kept: a CUDA graph cannot
        record a host-to-device copy (prior.cuda_graphs), and a sampler uses a handful of schedules."""
        key = (ref.device, ref.dtype, tuple(levels))
        sigma = self._levels.get(key)
        if sigma is None:
            with torch.inference_mode(False):  # an ordinary tensor, usable later with or without autograd
                sigma = torch.tensor(levels, dtype=ref.dtype, device=ref.device)
            if len(self._levels) >= 64:
                self._levels.clear()
            self._levels[key] = sigma
        return sigma

    def conditioning(
        self, sigmas: Sequence[float], cond: torch.Tensor | None, cond_mask: torch.Tensor | None = None
    ) -> dict[float, Conditioning]:
        """The network's (noise level, condition) modulation at every sigma > 0 in ``sigmas``, from ONE call.

        Why: per step it is a dozen tiny operations on two rows, which on CPU cost as much as the per-seed MLP
        itself; a sampler knows its noise levels in advance. ``cond`` and ``cond_mask`` are as :meth:`forward`
        takes them; look entries up by ``float(sigma)``.
        """
        levels = sorted({float(s) for s in sigmas if float(s) > 0})
        if not levels:
            return {}
        ref = cond if cond is not None else self.net.null_cond
        sigma = self._levels_tensor(levels, ref)
        c_noise = edm_scalings(sigma, self.sigma_data)[3].reshape([-1] + [1] * (cond.ndim if cond is not None else 1))
        if cond is not None:  # a new leading dimension for the noise levels
            cond = cond.unsqueeze(0)
            cond_mask = cond_mask.unsqueeze(0) if cond_mask is not None else None
        all_levels = self.net.conditioning(c_noise, cond, cond_mask)
        return {level: [(gain[i], shift[i]) for gain, shift in all_levels] for i, level in enumerate(levels)}
