"""The prior on a CUDA device: same maths as on the CPU, seeds that reproduce, checkpoints that move between devices.

Skipped where torch sees no CUDA device (CI has none); `bench/gpu.sh` runs this file on a GPU machine.
"""

import numpy as np
import pytest
import torch

from prior.guidance import cfg_denoise, guided_denoiser
from prior.service import PriorSampler
from prior.train import train_prior
from tests.prior.prior_toys import COND_DIM, MUSIC_DIM, random_denoiser, tiny_network, tiny_train, toy_pairs

DEVICE = "cuda"
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device: run bench/gpu.sh there")


@pytest.fixture(autouse=True)
def exact_float32():
    """TF32 matmuls would differ from the CPU's float32 at ~1e-3: compare the float32 maths, not the tensor cores."""
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32 = previous


def inputs(seed: int, sigma: float = 0.4):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 5, MUSIC_DIM, generator=gen) * sigma
    return x, torch.randn(3, 1, COND_DIM, generator=gen), torch.randn(MUSIC_DIM, generator=gen)


def test_denoiser_and_steering_on_cuda_equal_the_cpu():
    model = random_denoiser(seed=3, depth=3).requires_grad_(False)
    x, cond, z = inputs(0)
    with torch.no_grad():
        on_cpu = guided_denoiser(model, cond, guidance=1.5, steer=[(z, 0.7)])(x, 0.4)
        plain_cpu = cfg_denoise(model, x, 0.4, cond, 1.5)
        model.to(DEVICE)
        x, cond, z = x.to(DEVICE), cond.to(DEVICE), z.to(DEVICE)
        on_gpu = guided_denoiser(model, cond, guidance=1.5, steer=[(z, 0.7)])(x, 0.4)
        plain_gpu = cfg_denoise(model, x, 0.4, cond, 1.5)
    assert on_gpu.device.type == DEVICE
    assert torch.allclose(plain_gpu.cpu(), plain_cpu, atol=1e-5)
    assert torch.allclose(on_gpu.cpu(), on_cpu, atol=1e-5)
    assert not torch.allclose(on_gpu, plain_gpu, atol=1e-3)  # the steering term is there, not zero


def test_hand_written_vjp_equals_autograd_on_cuda():
    model = random_denoiser(seed=4, depth=3).requires_grad_(False).to(DEVICE)
    x, cond, _ = (t.to(DEVICE) for t in inputs(1))
    v = torch.randn_like(x)
    denoised, vjp = model.forward_with_vjp(x, 0.4, cond)
    x_in = x.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad((model(x_in, 0.4, cond) * v).sum(), x_in)
    assert torch.allclose(denoised, model(x, 0.4, cond), atol=1e-6)
    assert torch.allclose(vjp(v), expected, atol=1e-5)


@pytest.fixture(scope="module")
def cuda_checkpoint(tmp_path_factory):
    """A tiny prior trained on the GPU: the training loop, its optimiser and EMA on CUDA tensors."""
    root = tmp_path_factory.mktemp("cuda-prior")
    metrics = train_prior(toy_pairs(root), root / "ck", tiny_network(), tiny_train(steps=60, lr=3e-3),
                          progress=False, device=DEVICE)
    assert np.isfinite(metrics["final_loss"])
    return root / "ck"


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_sampling_on_cuda_reproduces_and_steers(cuda_checkpoint, dtype):
    sampler = PriorSampler.load(cuda_checkpoint, device=DEVICE, dtype=dtype)
    assert sampler.denoiser.net.trunk_dtype == getattr(torch, dtype)
    cond = np.eye(COND_DIM, dtype=np.float32)[2]
    tag = np.eye(MUSIC_DIM, dtype=np.float32)[0]
    first = sampler.sample(cond, n_seeds=32, steer=[(tag, 0.5)], seed=7)
    again = sampler.sample(cond, n_seeds=32, steer=[(tag, 0.5)], seed=7)
    plain = sampler.sample(cond, n_seeds=32, seed=7)
    assert first.dtype == np.float32 and first.shape == (32, MUSIC_DIM)
    assert np.array_equal(first, again)
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert (first @ tag).mean() > (plain @ tag).mean() + 0.05


def test_checkpoint_trained_on_cuda_samples_on_cpu_like_on_cuda(cuda_checkpoint):
    """A GPU-trained checkpoint is served by CPU web processes: same weights, same denoiser output there."""
    on_gpu = PriorSampler.load(cuda_checkpoint, device=DEVICE).denoiser
    on_cpu = PriorSampler.load(cuda_checkpoint, device="cpu", dtype="float32").denoiser
    x, cond, _ = inputs(2)
    with torch.no_grad():
        expected = on_cpu(x, 0.4, cond)
        got = on_gpu(x.to(DEVICE), 0.4, cond.to(DEVICE)).cpu()
    assert torch.allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("steered", [False, True])
def test_recorded_passes_replay_the_eager_seeds(cuda_checkpoint, steered):
    """prior.cuda_graphs: one recording per (settings, batch size), whatever the guidance weights; same seeds."""
    eager = PriorSampler.load(cuda_checkpoint, device=DEVICE)
    graphed = PriorSampler.load(cuda_checkpoint, device=DEVICE, cuda_graphs=True)
    assert eager.graphs is None and graphed.graphs is not None
    steer = [(np.eye(MUSIC_DIM, dtype=np.float32)[0], 0.5)] if steered else ()
    batches = [[(2, None)], [(3, 2.0)], [(1, None), (4, 2.0), (5, 0.5)], [(0, 0.0)]]  # (condition, guidance)
    for batch in batches:
        def prepared(sampler, batch=batch):
            return [sampler.prepare(np.eye(COND_DIM, dtype=np.float32)[c], 8, w, steer, seed=i)
                    for i, (c, w) in enumerate(batch)]

        for got, want in zip(graphed.run(prepared(graphed)), eager.run(prepared(eager)), strict=True):
            np.testing.assert_allclose(got, want, atol=1e-5)
    assert graphed.graphs.recorded == 2  # batch size 1 (three guidance weights) and batch size 3
