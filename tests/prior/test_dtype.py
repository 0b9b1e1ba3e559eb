"""The prior's per-seed MLP in bfloat16: only the trunk changes dtype, seeds stay float32 and close to float32's."""

from pathlib import Path

import numpy as np
import pytest
import torch

from prior.checkpoint import save_checkpoint
from prior.service import PriorSampler, native_cpu_bf16, trunk_dtype
from tests.prior.prior_toys import COND_DIM, COND_SPACE, MUSIC_DIM, MUSIC_SPACE, query, random_denoiser


@pytest.fixture(scope="module")
def active_checkpoint(tmp_path_factory):
    """A checkpoint whose blocks are NOT identities (random non-zero weights), so the trunk's rounding shows."""
    model = random_denoiser(seed=3)
    root = tmp_path_factory.mktemp("active-prior")
    save_checkpoint(root, kind="diffusion", model=model, network=model.config, cond_space=COND_SPACE,
                    music_space=MUSIC_SPACE)
    return root


def samplers(checkpoint):
    return (PriorSampler.load(checkpoint, device="cpu", dtype="float32"),
            PriorSampler.load(checkpoint, device="cpu", dtype="bfloat16"))


def test_only_the_per_seed_layers_change_dtype(active_checkpoint):
    _, bf16 = samplers(active_checkpoint)
    net = bf16.denoiser.net
    assert bf16.dtype == torch.bfloat16 and net.input.weight.dtype == torch.bfloat16
    assert all(b.fc1.weight.dtype == b.fc2.weight.dtype == torch.bfloat16 for b in net.blocks)
    # the (noise, condition) path stays float32: its sinusoidal features need the precision
    assert net.noise_proj.weight.dtype == net.cond_proj.weight.dtype == net.null_cond.dtype == torch.float32
    assert all(b.film.weight.dtype == torch.float32 for b in net.blocks)
    x = torch.randn(2, 3, MUSIC_DIM)
    with torch.no_grad():
        out = bf16.denoiser(x, 0.3, torch.randn(2, 1, COND_DIM))
    assert out.dtype == torch.float32 and out.shape == x.shape


@pytest.mark.parametrize("steered", [False, True])
def test_bfloat16_seeds_are_float32_and_near_the_float32_ones(active_checkpoint, steered):
    fp32, bf16 = samplers(active_checkpoint)
    z = np.random.default_rng(1).standard_normal(MUSIC_DIM).astype(np.float32)
    steer = [(z, 0.3)] if steered else []
    conds = np.stack([query(i) for i in range(4)])
    a = fp32.sample(conds, n_seeds=16, steer=steer, seed=5)
    b = bf16.sample(conds, n_seeds=16, steer=steer, seed=5)
    assert b.dtype == np.float32 and np.allclose(np.linalg.norm(b, axis=-1), 1, atol=1e-5)
    cosine = (a * b).sum(-1)
    assert cosine.min() > 0.99, cosine.min()
    assert not np.array_equal(a, b)  # it did run in bfloat16
    # the rounding is far below what separates one seed from another
    spread = 1 - np.mean([(s @ s.T)[np.triu_indices(16, 1)].mean() for s in a])
    assert 1 - cosine.mean() < 0.01 * spread
    assert np.array_equal(b, bf16.sample(conds, n_seeds=16, steer=steer, seed=5))  # same seed, same seeds


def cpu_flags() -> set[str]:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return set()
    return next((set(line.split(":", 1)[1].split()) for line in lines if line.startswith("flags")), set())


def test_auto_is_bfloat16_only_on_a_cpu_with_native_bf16():
    native = native_cpu_bf16()
    flags = cpu_flags()
    if flags:  # x86 Linux: the kernel's view of the same instructions
        assert native == bool(flags & {"avx512_bf16", "amx_tile"})
    assert trunk_dtype("auto", torch.device("cpu")) == (torch.bfloat16 if native else torch.float32)
    assert trunk_dtype("auto", torch.device("cuda")) == torch.float32
    assert trunk_dtype("float32", torch.device("cpu")) == torch.float32
    assert trunk_dtype("bfloat16", torch.device("cpu")) == torch.bfloat16


def test_unknown_dtype_is_a_clear_error(active_checkpoint):
    with pytest.raises(ValueError, match="unknown trunk dtype 'half'; choose one of auto, float32, bfloat16"):
        PriorSampler.load(active_checkpoint, device="cpu", dtype="half")
