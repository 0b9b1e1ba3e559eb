"""The raw denoiser network F(x_in, c_noise, cond) of the prior: a residual MLP.

Diff4Steer's prior is a residual MLP over the music embedding (the paper: 6 blocks of width 4096). Every block
is told the noise level and the condition through adaptive layer norm (FiLM: a per-block scale and shift computed
from an embedding of both), so conditioning cannot be washed out by depth. A learned *null* condition embedding
stands in for "no condition", which is what classifier-free guidance contrasts with (Ho & Salimans, 2022).

Shapes broadcast: ``x [..., Dm]`` with ``c_noise [..., 1]`` and ``cond [..., Dc]`` whose leading dimensions
broadcast against x's. Sampling uses this to compute the (noise, condition) embedding once per query instead of
once per seed: ``x [2, B, S, Dm]`` (conditional/null x queries x seeds), ``c_noise [1, 1, 1, 1]``,
``cond [2, B, 1, Dc]``. The per-seed cost is then only the residual MLP itself.

The network knows nothing about sigma_data or the EDM scalings: that is :mod:`prior.precond`'s job.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from prior.config import NetworkConfig

Conditioning = list[tuple[torch.Tensor, torch.Tensor]]  # per block: (1 + scale, shift), broadcasting against x
VJP = Callable[[torch.Tensor], torch.Tensor]  # grad of the output -> grad of the input (a vector-Jacobian product)
aten = torch.ops.aten


class NoiseEmbedding(nn.Module):
    """Sinusoidal features of c_noise = ln(sigma)/4 at log-spaced frequencies (EDM's positional embedding idea).

    c_noise spans roughly [-2, 1.5] over sigma in [1e-3, 80], so frequencies 1..64 resolve it from coarse to fine.
    Fixed (not learned), so nothing about it needs saving.
    """

    def __init__(self, features: int):
        super().__init__()
        if features % 2:
            raise ValueError("noise_features must be even")
        freqs = torch.exp(torch.linspace(0.0, math.log(64.0), features // 2))
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, c_noise: torch.Tensor) -> torch.Tensor:
        angles = c_noise * self.freqs  # [..., 1] * [F/2] -> [..., F/2]
        return torch.cat([angles.cos(), angles.sin()], dim=-1)


class Block(nn.Module):
    """Pre-norm residual block: x + MLP(LN(x) * (1 + scale) + shift), scale/shift from the embedding.

    The last linear starts at zero, so each block starts as the identity (as EDM's and DiT's blocks do);
    training adds to a well-conditioned residual stream instead of fighting a random one.
    """

    def __init__(self, width: int, emb_width: int, hidden: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.film = nn.Linear(emb_width, 2 * width)
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def modulation(self, emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(1 + scale, shift) of this block from the (noise, condition) embedding: the gain comes with its 1
        already added, so a sampler that precomputes it (EDMDenoiser.conditioning) does not add it per step."""
        scale, shift = self.film(emb).chunk(2, dim=-1)
        return 1 + scale, shift

    def forward(self, x: torch.Tensor, modulation: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        gain, shift = modulation
        h = torch.addcmul(shift, self.norm(x), gain)  # LN(x) * (1 + scale) + shift, one operation
        h = self.fc2(self.dropout(nn.functional.silu(self.fc1(h))))
        return x + h

    def forward_with_vjp(
        self, x: torch.Tensor, modulation: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, VJP]:
        """:meth:`forward` and its VJP, written out (see :meth:`PriorNetwork.trunk_with_vjp`); no dropout."""
        gain, shift = modulation
        normed, mean, rstd = aten.native_layer_norm(x, self.norm.normalized_shape, None, None, self.norm.eps)
        pre = self.fc1(torch.addcmul(shift, normed, gain))
        out = x + self.fc2(nn.functional.silu(pre))

        def vjp(grad: torch.Tensor) -> torch.Tensor:
            grad_normed = (aten.silu_backward(grad @ self.fc2.weight, pre) @ self.fc1.weight) * gain
            # x may be shared by a CFG pair (it broadcast against the modulation): its gradient sums over the pair
            grad_normed, grad = grad_normed.sum_to_size(x.shape), grad.sum_to_size(x.shape)
            grad_x = aten.native_layer_norm_backward(
                grad_normed, x, self.norm.normalized_shape, mean, rstd, None, None, [True, False, False]
            )[0]
            return grad + grad_x

        return out, vjp


class PriorNetwork(nn.Module):
    """F(x_in, c_noise, cond, cond_mask): the residual MLP that EDM's preconditioning wraps.

    ``cond_mask`` (bool, broadcastable to cond's leading shape + [1]) is False where the condition is dropped:
    there the learned null embedding replaces the condition's embedding. ``cond=None`` means null everywhere.
    """

    def __init__(self, config: NetworkConfig):
        super().__init__()
        self.config = config
        width = config.width
        hidden = max(1, int(round(width * config.mlp_ratio)))
        self.noise_embed = NoiseEmbedding(config.noise_features)
        self.noise_proj = nn.Linear(config.noise_features, width)
        self.cond_proj = nn.Linear(config.cond_dim, width)
        self.null_cond = nn.Parameter(torch.zeros(width))
        self.emb_mlp = nn.Sequential(nn.SiLU(), nn.Linear(width, width), nn.SiLU())
        self.input = nn.Linear(config.music_dim, width)
        self.blocks = nn.ModuleList(Block(width, width, hidden, config.dropout) for _ in range(config.depth))
        self.out_norm = nn.LayerNorm(width)
        self.output = nn.Linear(width, config.music_dim)
        nn.init.normal_(self.null_cond, std=0.02)

    def embed(self, c_noise: torch.Tensor, cond: torch.Tensor | None, cond_mask: torch.Tensor | None) -> torch.Tensor:
        """The joint (noise level, condition) embedding that modulates every block."""
        noise = self.noise_proj(self.noise_embed(c_noise))
        if cond is None:
            cond_emb = self.null_cond.expand_as(noise)
        else:
            cond_emb = self.cond_proj(cond)
            if cond_mask is not None:
                cond_emb = torch.where(cond_mask, cond_emb, self.null_cond.to(cond_emb.dtype))
        return self.emb_mlp(noise + cond_emb)

    def conditioning(
        self, c_noise: torch.Tensor, cond: torch.Tensor | None, cond_mask: torch.Tensor | None = None
    ) -> Conditioning:
        """Everything the network computes from the noise level and the condition alone: each block's FiLM.

        Separate from :meth:`trunk` because it does not depend on x: a sampler knows its noise levels in advance
        and computes this for all of them in ONE call (leading dimension = steps), instead of a handful of
        tiny operations per step (see :meth:`prior.precond.EDMDenoiser.conditioning`).
        """
        emb = self.embed(c_noise, cond, cond_mask)
        dtype = self.trunk_dtype
        return [tuple(m.to(dtype) for m in block.modulation(emb)) for block in self.blocks]

    def trunk(self, x: torch.Tensor, conditioning: Conditioning) -> torch.Tensor:
        """The per-seed residual MLP, modulated by :meth:`conditioning`; computed in :attr:`trunk_dtype`,
        returned in x's dtype."""
        h = self.input(x.to(self.trunk_dtype))
        for block, modulation in zip(self.blocks, conditioning, strict=True):
            h = block(h, modulation)
        return self.output(self.out_norm(h)).to(x.dtype)

    def trunk_with_vjp(self, x: torch.Tensor, conditioning: Conditioning) -> tuple[torch.Tensor, VJP]:
        """:meth:`trunk` and its vector-Jacobian product ``v -> (d trunk / d x)^T v``, written out by hand.

        Why: text steering needs grad_x <D'(x), z> at every sampler step. Autograd's tape and engine cost as much as
        the backward's arithmetic at sampling's batch sizes; this path records nothing, its first product is
        computed once per query (z is the same for all seeds), and it works under ``torch.inference_mode``. A
        steered demo-prior query measured ~15–22 % less CPU (docs/prior-model.md). ``v`` broadcasts against the
        output; the result has x's shape and dtype. Eval mode only (dropout would need its mask).
        """
        if self.training and any(not isinstance(block.dropout, nn.Identity) for block in self.blocks):
            raise RuntimeError("trunk_with_vjp is for sampling: call eval() first (dropout is not differentiated)")
        dtype = self.trunk_dtype
        h = self.input(x.to(dtype))
        block_vjps = []
        for block, modulation in zip(self.blocks, conditioning, strict=True):
            h, block_vjp = block.forward_with_vjp(h, modulation)
            block_vjps.append(block_vjp)
        norm = self.out_norm
        normed, mean, rstd = aten.native_layer_norm(h, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
        out = self.output(normed).to(x.dtype)

        def vjp(grad: torch.Tensor) -> torch.Tensor:
            grad_h = (grad.to(dtype) @ self.output.weight).expand(h.shape)  # a view: v is often [..., 1, Dm]
            grad_h = aten.native_layer_norm_backward(
                grad_h, h, norm.normalized_shape, mean, rstd, norm.weight, norm.bias, [True, False, False]
            )[0]
            for block_vjp in reversed(block_vjps):
                grad_h = block_vjp(grad_h)
            return (grad_h @ self.input.weight).to(x.dtype)

        return out, vjp

    @property
    def trunk_dtype(self) -> torch.dtype:
        return self.input.weight.dtype

    def trunk_to(self, dtype: torch.dtype) -> PriorNetwork:
        """Run the per-seed MLP (:meth:`trunk`) in ``dtype``; the (noise, condition) path stays as it is.

        Why: the trunk is nearly all of sampling's work, and on CPUs with native bf16 (AVX512-BF16, AMX) a
        bfloat16 trunk cuts a quarter of it for a batch of queries, with seeds within cosine 0.9999 of
        float32's (docs/prior-model.md, ``bench/prior_speed.py``). The conditioning path is computed once per
        schedule, so it costs nothing to keep in float32, and its sinusoidal noise features (angles up to
        ~100 rad) need float32's precision.
        """
        per_seed = [self.input, self.out_norm, self.output]
        for block in self.blocks:  # not block.film: it belongs to the conditioning path
            per_seed += [block.fc1, block.fc2]
        for module in per_seed:
            module.to(dtype)
        return self

    def forward(
        self,
        x: torch.Tensor,
        c_noise: torch.Tensor,
        cond: torch.Tensor | None,
        cond_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.trunk(x, self.conditioning(c_noise, cond, cond_mask))
