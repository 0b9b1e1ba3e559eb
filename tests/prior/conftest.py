import importlib.util
import sys
from pathlib import Path

import pytest

from prior.service import PriorSampler
from prior.train import train_prior
from tests.prior.prior_toys import COND_SPACE, MUSIC_SPACE, tiny_network, tiny_train, toy_pairs


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """A tiny trained diffusion prior (60 steps on the toy world): real weights, loaded like any checkpoint.

    Not the session's ``tiny_prior`` (tests/conftest.py): the prior's own tests need the 6 -> 8 dimensional toy
    world of prior_toys.py, whose clusters and modes they know (one-hot queries, two modes per cluster), to check
    what sampling, guidance and batching do; the serving prior (48 -> 384, random pairs) has no such structure."""
    root = tmp_path_factory.mktemp("prior")
    train_prior(toy_pairs(root), root / "ck", tiny_network(), tiny_train(steps=60, lr=3e-3), progress=False)
    return root / "ck"


@pytest.fixture(scope="session")
def sampler(checkpoint):
    return PriorSampler.load(checkpoint, device="cpu", expect_cond_space=COND_SPACE, expect_music_space=MUSIC_SPACE)


@pytest.fixture(scope="module")
def bench():
    """bench/steering.py loaded as a module (it is a script, not a package): its worlds and metrics under test."""
    path = Path(__file__).resolve().parents[2] / "bench" / "steering.py"
    spec = importlib.util.spec_from_file_location("bench_steering", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)
