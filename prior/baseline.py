"""The deterministic regression baseline: cond -> ONE point in the music space.

This is what Diff4Steer compares against (Bao et al. 2024, Sec. 4): an MLP trained with a cosine loss to predict the
music embedding of a query. It can only return one direction per query, so on a multimodal p(music | cond) it
lands on (or between) the modes; every quality number of the prior is reported beside it. Early stopping on a
held-out slice of train keeps the comparison fair on small data (MusicCaps has ~2.6k training pairs), where an
overfitted baseline would be an easy target. Saved in the same checkpoint format, kind "regression".
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from torch import nn

from prior.checkpoint import save_checkpoint
from prior.config import NetworkConfig, TrainConfig
from prior.data.npz import Pairs
from prior.progress import Progress
from prior.train import check_dims, fit, prepare


class ResidualBlock(nn.Module):
    """x + MLP(LN(x)); the last linear starts at zero so each block starts as the identity."""

    def __init__(self, width: int, hidden: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(self.dropout(nn.functional.silu(self.fc1(self.norm(x)))))


class RegressionNetwork(nn.Module):
    """cond [..., Dc] -> L2-normalised [..., Dm]: a residual MLP of the prior's width and depth."""

    def __init__(self, config: NetworkConfig):
        super().__init__()
        self.config = config
        hidden = max(1, int(round(config.width * config.mlp_ratio)))
        self.input = nn.Linear(config.cond_dim, config.width)
        self.blocks = nn.Sequential(*(ResidualBlock(config.width, hidden, config.dropout) for _ in range(config.depth)))
        self.out_norm = nn.LayerNorm(config.width)
        self.output = nn.Linear(config.width, config.music_dim)

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        out = self.output(self.out_norm(self.blocks(self.input(cond))))
        return out / out.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def cosine_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean (1 - cos) between unit predictions and unit targets."""
    return (1 - (pred * target).sum(-1)).mean()


def split_validation(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Shuffled (train, validation) row indices; at least one row on each side when n >= 2."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = min(n - 1, max(1, int(round(n * fraction)))) if n >= 2 and fraction > 0 else 0
    return order[n_val:], order[:n_val]


def train_regression(
    pairs: Pairs,
    out_dir: str | Path,
    network: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    *,
    progress: bool | None = None,
    device: str | None = None,
) -> dict:
    """Train the baseline (at most ``train.steps`` steps, early-stopped on validation cosine loss); save; metrics."""
    train = train or TrainConfig()
    network = network or NetworkConfig(cond_dim=pairs.cond.shape[1], music_dim=pairs.music.shape[1])
    check_dims(pairs, network, train)
    run = prepare(pairs, lambda: RegressionNetwork(network), train, device)
    cond, music, model, optimizer = run.cond, run.music, run.model, run.optimizer
    train_idx, val_idx = split_validation(len(pairs), train.val_fraction, train.seed)
    train_idx, val_idx = train_idx.to(run.device), val_idx.to(run.device)
    best_loss, best_state, best_step, bad_evals = math.inf, None, 0, 0
    started = time.perf_counter()

    def val_loss() -> float:
        model.eval()
        with torch.no_grad():
            value = float(cosine_loss(model(cond[val_idx]), music[val_idx]))
        model.train()
        return value

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        rows = train_idx[idx]
        return cosine_loss(model(cond[rows]), music[rows])

    def after_step(done: int, loss: torch.Tensor, bar: Progress) -> bool:
        """Validation every ``eval_every`` steps; True (stop) after ``patience`` evaluations without progress."""
        nonlocal best_loss, best_state, best_step, bad_evals
        if not len(val_idx) or (done % train.eval_every and done != train.steps):
            return False
        current = val_loss()
        bar.note(val=f"{current:.4f}")
        if current < best_loss - 1e-5:
            best_loss, best_step, bad_evals = current, done, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        bad_evals += 1
        return bad_evals >= train.patience

    step = fit(model, optimizer, train, batch_loss, rows=len(train_idx), generator=run.generator,
               after_step=after_step, desc="baseline", progress=progress)
    if best_state is not None:
        model.load_state_dict(best_state)
    metrics = {
        "val_cosine_loss": None if math.isinf(best_loss) else best_loss,
        "best_step": best_step if best_state is not None else step,
        "steps": step,
        "stopped_early": step < train.steps,
        "train_seconds": round(time.perf_counter() - started, 1),
        "n_pairs": len(pairs),
        "n_val": int(len(val_idx)),
    }
    save_checkpoint(
        out_dir, kind="regression", model=model, network=network, cond_space=pairs.cond_space,
        music_space=pairs.music_space, data_fingerprint=pairs.fingerprint, train=train, metrics=metrics,
    )
    return metrics
