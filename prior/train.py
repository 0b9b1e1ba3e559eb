"""Training the diffusion prior on paired data from the NPZ contract, and the one training loop (:func:`fit`,
:func:`prepare`) that the regression baseline (:mod:`prior.baseline`) trains with too.

AdamW with linear warm-up then cosine decay, gradient-norm clipping, and an exponential moving average (EMA) of the
weights: the EMA weights are what gets saved for sampling, because diffusion samples from averaged weights are
markedly better than from the last iterate (Karras et al. 2022; Song & Ermon 2020). Training is seedable (same
data + config + seed -> same weights on the same device) and resumable: every ``save_every`` steps and at the end,
``training_state.pt`` (raw weights, EMA, optimizer, step, random state) is written beside the checkpoint, and
``resume=True`` continues from it.
"""

from __future__ import annotations

import copy
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from prior.checkpoint import TRAINING_STATE_FILE, save_checkpoint
from prior.config import NetworkConfig, SteeringConfig, TrainConfig, config_from_dict, config_to_dict
from prior.data.npz import Pairs
from prior.device import pick_device
from prior.loss import edm_loss
from prior.precond import EDMDenoiser
from prior.progress import Progress, progress_bar


class TrainingError(ValueError):
    """Training cannot start or continue (e.g. nothing to resume, or a resume with a different setup)."""


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate at ``step`` (0-based): linear warm-up to ``cfg.lr``, then cosine decay to 0 at ``cfg.steps``."""
    if cfg.warmup > 0 and step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    span = max(1, cfg.steps - cfg.warmup)
    progress = min(1.0, (step - cfg.warmup) / span)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * progress))


def ema_decay(step: int, target: float) -> float:
    """EMA decay with a ramp, so the average is not dominated by the random initial weights early on."""
    return min(target, (1 + step) / (10 + step))


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        e.lerp_(p, 1 - decay)


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases, norms and the null embedding (1-d parameters), as is usual."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.99))


def seeded_init(factory, seed: int):
    """Build a module with weights from ``seed`` without disturbing the caller's global random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory()


def check_dims(pairs: Pairs, network: NetworkConfig, train: TrainConfig) -> None:
    """The network must take the data's dimensions, and a run must have at least one step of one row."""
    if (network.cond_dim, network.music_dim) != (pairs.cond.shape[1], pairs.music.shape[1]):
        raise TrainingError(
            f"network expects cond/music dims {network.cond_dim}/{network.music_dim}, "
            f"data has {pairs.cond.shape[1]}/{pairs.music.shape[1]}"
        )
    if train.steps < 1 or train.batch < 1:
        raise TrainingError("steps and batch must be >= 1")


@dataclass
class Setup:
    """What a training run starts from: the data on the device, the seeded model, its optimizer, the batch stream."""

    device: torch.device
    cond: torch.Tensor
    music: torch.Tensor
    model: nn.Module
    optimizer: torch.optim.Optimizer
    generator: torch.Generator


def prepare(pairs: Pairs, build: Callable[[], nn.Module], train: TrainConfig, device: str | None) -> Setup:
    """The device (:func:`prior.device.pick_device`), the model built with weights from ``train.seed``, AdamW, and
    the random stream of batches (and of the model's noise) seeded with ``train.seed``: same seed, same run."""
    dev = pick_device(device)
    model = seeded_init(build, train.seed).to(dev)
    generator = torch.Generator(device=dev)
    generator.manual_seed(train.seed)
    return Setup(dev, torch.from_numpy(pairs.cond).to(dev), torch.from_numpy(pairs.music).to(dev), model,
                 make_optimizer(model, train), generator)


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: TrainConfig,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    *,
    rows: int,
    generator: torch.Generator,
    step: int = 0,
    end: int | None = None,
    after_step: Callable[[int, torch.Tensor, Progress], bool | None] | None = None,
    desc: str = "train",
    progress: bool | None = None,
) -> int:
    """The one training loop of the prior and the regression baseline; returns the step reached.

    Each step sets the learning rate (:func:`lr_at`), draws ``train.batch`` row indices below ``rows`` from
    ``generator``, takes the model's loss on them (``batch_loss(indices)``: the only model-specific part), stops
    on a non-finite loss, clips the gradient norm to ``train.clip`` and steps the optimizer. Then ``after_step(step,
    loss, bar)`` (step counted from 1) does the model's own bookkeeping (EMA, checkpoints, validation) and returns
    True to stop early. It runs from ``step`` up to ``end`` (default ``train.steps``), with a progress bar.
    Why one loop: the baseline is only a fair comparison if it is trained the way the prior is.
    """
    end = train.steps if end is None else min(end, train.steps)
    model.train()
    device = next(model.parameters()).device
    with progress_bar(train.steps, "step", progress, desc=desc, initial=min(step, train.steps)) as bar:
        while step < end:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, train)
            idx = torch.randint(rows, (train.batch,), generator=generator, device=device)
            loss = batch_loss(idx)
            if not torch.isfinite(loss):
                raise TrainingError(f"loss became {loss.item()} at step {step}; try a lower --lr")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if train.clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), train.clip)
            optimizer.step()
            step += 1
            bar(1)
            if after_step is not None and after_step(step, loss.detach(), bar):
                break
    return step


def train_prior(
    pairs: Pairs,
    out_dir: str | Path,
    network: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    *,
    resume: bool = False,
    progress: bool | None = None,
    device: str | None = None,
    save_every: int = 500,
    stop_at: int | None = None,
    steering: SteeringConfig | None = None,
) -> dict:
    """Train the prior on ``pairs`` and write a checkpoint (EMA weights) to ``out_dir``; returns its metrics.

    The checkpoint also records the steering defaults (``steering``, else :class:`SteeringConfig`'s), so what is
    evaluated with it is what is served with it (:mod:`prior.steering`).

    ``network`` defaults to :class:`NetworkConfig` at the data's dimensions. With ``resume``, training continues
    from ``out_dir/training_state.pt`` up to ``train.steps`` total steps (``train`` applies from there on, so a
    larger ``steps`` extends a run; a different network config or data file is refused).
    """
    train = train or TrainConfig()
    steering = config_to_dict(steering or SteeringConfig())
    network = network or NetworkConfig(cond_dim=pairs.cond.shape[1], music_dim=pairs.music.shape[1])
    check_dims(pairs, network, train)
    # Record the sigma_data actually used, so the checkpoint does not depend on how a default is computed later.
    network = replace(network, sigma_data=network.resolved_sigma_data())
    out_dir = Path(out_dir)
    run = prepare(pairs, lambda: EDMDenoiser(network), train, device)
    dev, cond, music, model, optimizer, generator = (run.device, run.cond, run.music, run.model, run.optimizer,
                                                     run.generator)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    step, losses, elapsed = 0, deque(maxlen=100), 0.0

    state_path = out_dir / TRAINING_STATE_FILE
    if resume:
        if not state_path.is_file():
            raise TrainingError(f"{out_dir}: nothing to resume (no {TRAINING_STATE_FILE})")
        try:
            state = torch.load(state_path, map_location=dev, weights_only=True)
        except Exception as exc:  # pickle/zip errors: one clear line
            raise TrainingError(f"{state_path}: unreadable training state ({exc})") from None
        saved = config_from_dict(NetworkConfig, state["network"])
        if replace(saved, sigma_data=saved.resolved_sigma_data()) != network:
            raise TrainingError(f"{state_path}: saved network config differs from the requested one")
        if state["data_fingerprint"] != pairs.fingerprint:
            raise TrainingError(f"{state_path}: was trained on different data ({state['data_fingerprint']})")
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"].cpu())
        step, elapsed = int(state["step"]), float(state["elapsed"])
        losses.extend(state["losses"])

    def save() -> dict:
        metrics = {
            "final_loss": float(sum(losses) / len(losses)) if losses else None,
            "steps": step,
            "train_seconds": round(elapsed, 1),
            "n_pairs": len(pairs),
        }
        save_checkpoint(
            out_dir, kind="diffusion", model=ema, network=network, cond_space=pairs.cond_space,
            music_space=pairs.music_space, data_fingerprint=pairs.fingerprint, train=train, metrics=metrics,
            steering=steering,
        )
        torch.save(
            {
                "step": step, "elapsed": elapsed, "losses": list(losses), "model": model.state_dict(),
                "ema": ema.state_dict(), "optimizer": optimizer.state_dict(), "generator": generator.get_state(),
                "network": config_to_dict(network), "train": config_to_dict(train),
                "data_fingerprint": pairs.fingerprint,
            },
            state_path.with_name(state_path.name + ".tmp"),
        )
        state_path.with_name(state_path.name + ".tmp").replace(state_path)
        return metrics

    clock = [time.perf_counter()]  # when the current stretch of training steps started (saves are not counted)

    def after_step(done: int, loss: torch.Tensor, bar: Progress) -> None:
        nonlocal step, elapsed
        update_ema(ema, model, ema_decay(done - 1, train.ema))
        step = done
        losses.append(loss.item())
        now = time.perf_counter()
        elapsed += now - clock[0]
        if step % 50 == 0:
            bar.note(loss=f"{sum(losses) / len(losses):.4f}")
        if save_every and step % save_every == 0 and step < train.steps:
            save()
        clock[0] = time.perf_counter()

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        return edm_loss(model, music[idx], cond[idx], P_mean=train.P_mean, P_std=train.P_std,
                        cond_dropout=train.cond_dropout, generator=generator)

    try:
        fit(model, optimizer, train, batch_loss, rows=len(pairs), generator=generator, step=step, end=stop_at,
            after_step=after_step, desc="prior", progress=progress)
    except KeyboardInterrupt:
        save()  # so that --resume continues from here
        raise
    return save()
