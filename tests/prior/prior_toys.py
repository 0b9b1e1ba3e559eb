"""Tiny worlds and models for the prior's tests: small enough that the whole set runs in seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from prior.config import NetworkConfig, TrainConfig
from prior.data.npz import load_pairs, save_pairs
from prior.precond import EDMDenoiser
from prior.spaces import EmbeddingSpace

# Tiny models run far faster on one thread, and much more so when several processes share the CPU cores
# (OpenMP threads then spin against each other): 50 toy training steps took 13 s on 2 threads vs 0.8 s on 1.
torch.set_num_threads(1)

COND_DIM, MUSIC_DIM = 6, 8
COND_SPACE = EmbeddingSpace(name="toy-cond", dim=COND_DIM, encoder="toy")
MUSIC_SPACE = EmbeddingSpace(name="toy-music", dim=MUSIC_DIM, encoder="toy")


def tiny_network(width: int = 32, depth: int = 2) -> NetworkConfig:
    return NetworkConfig(cond_dim=COND_DIM, music_dim=MUSIC_DIM, width=width, depth=depth, noise_features=16)


def tiny_train(steps: int = 30, **kw) -> TrainConfig:
    return TrainConfig(steps=steps, batch=32, warmup=5, **kw)


def random_denoiser(seed: int = 0, width: int = 32, depth: int = 2) -> EDMDenoiser:
    """A randomly initialised denoiser whose blocks are NOT identities (zero-initialised layers are randomised)."""
    torch.manual_seed(seed)
    model = EDMDenoiser(tiny_network(width, depth))
    with torch.no_grad():
        for param in model.parameters():
            if param.abs().sum() == 0:
                param.normal_(0, 0.1)
    return model.eval()


def toy_world(n: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Condition = one-hot-ish cluster id (+ noise); music = one of two modes per cluster, unit norm."""
    rng = np.random.default_rng(seed)
    modes = rng.standard_normal((COND_DIM, 2, MUSIC_DIM))
    cluster = rng.integers(0, COND_DIM, n)
    mode = rng.integers(0, 2, n)
    cond = np.eye(COND_DIM, dtype=np.float32)[cluster] + 0.05 * rng.standard_normal((n, COND_DIM)).astype(np.float32)
    music = modes[cluster, mode] + 0.1 * rng.standard_normal((n, MUSIC_DIM))
    return cond, (music / np.linalg.norm(music, axis=1, keepdims=True)).astype(np.float32)


def toy_pairs_file(directory: Path, n: int = 256, seed: int = 0, spaces: bool = True) -> Path:
    cond, music = toy_world(n, seed)
    path = Path(directory) / "train.npz"
    kw = {"cond_space": COND_SPACE, "music_space": MUSIC_SPACE} if spaces else {}
    return save_pairs(path, cond, music, steer=music, **kw)


def toy_pairs(directory: Path, n: int = 256, seed: int = 0):
    return load_pairs(toy_pairs_file(directory, n, seed))


def query(i: int = 0) -> np.ndarray:
    """The i-th one-hot condition of the toy world."""
    return np.eye(COND_DIM, dtype=np.float32)[i]
