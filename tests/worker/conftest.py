"""Fixtures for the worker: a tiny prior trained for real (no mocked model), and a clean model cache per test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from prior.spaces import MINILM, EmbeddingSpace

# The offline defaults' shapes (palette image descriptor -> MiniLM), so the real encoders can be checked against it.
COND_SPACE = EmbeddingSpace(name="palette-v1", dim=48, encoder="prior.encoders.palette", version="1", proxy=True)
MUSIC_SPACE = MINILM


def train_tiny_prior(out: Path, cond_space: EmbeddingSpace, music_space: EmbeddingSpace, steps: int = 50) -> Path:
    """Train a small real prior on random paired data in the given spaces (seconds on CPU)."""
    from prior.config import NetworkConfig, TrainConfig
    from prior.data.npz import load_pairs, save_pairs
    from prior.train import train_prior

    rng = np.random.default_rng(0)
    cond = rng.standard_normal((256, cond_space.dim)).astype(np.float32)
    music = cond @ rng.standard_normal((cond_space.dim, music_space.dim)).astype(np.float32)
    out.mkdir(parents=True, exist_ok=True)
    pairs_path = save_pairs(out / "train.npz", cond, music, cond_space=cond_space, music_space=music_space)
    pairs = load_pairs(pairs_path)
    network = NetworkConfig(cond_dim=cond_space.dim, music_dim=music_space.dim, width=64, depth=2)
    train_prior(pairs, out / "prior", network, TrainConfig(steps=steps, batch=64, warmup=5), progress=False,
                device="cpu")
    return out / "prior"


@pytest.fixture(scope="session")
def tiny_prior(tmp_path_factory) -> Path:
    return train_tiny_prior(tmp_path_factory.mktemp("tiny-prior"), COND_SPACE, MUSIC_SPACE)


@pytest.fixture(autouse=True)
def fresh_runtime():
    """Each test loads models under its own settings; nothing leaks through the per-process cache."""
    import torch

    from worker import runtime

    threads = torch.get_num_threads()  # loading a prior on CPU sets one thread per process; later tests want theirs
    runtime.reset()
    yield
    runtime.reset()
    torch.set_num_threads(threads)


@pytest.fixture
def served_prior(tiny_prior, settings, db):
    """Settings pointing at the tiny prior, with the catalog space it was trained for (CPU, in-process tasks)."""
    from catalog.services.spaces import space_from_prior

    settings.PRIOR_CHECKPOINT = str(tiny_prior)
    settings.CATALOG_SPACE = MUSIC_SPACE.name
    settings.PRIOR_DEVICE = "cpu"
    space_from_prior(MUSIC_SPACE, with_index=False)
    return tiny_prior
