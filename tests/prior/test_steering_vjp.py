"""The hand-written vector-Jacobian product that steering uses equals autograd's gradient."""

import pytest
import torch

from prior.guidance import cfg_denoise, guided_denoiser, steer_denoise
from tests.prior.prior_toys import COND_DIM, MUSIC_DIM, random_denoiser


@pytest.fixture
def model():
    return random_denoiser(seed=3, depth=3).requires_grad_(False)


def autograd_steered(model, x, sigma, cond, guidance, direction):
    """The reference: D' + grad_x <D', direction> by autograd through the plain forward."""
    with torch.no_grad():
        return steer_denoise(lambda x_in: cfg_denoise(model, x_in, sigma, cond, guidance), x, direction)


@pytest.mark.parametrize("guidance", [0.0, 1.5, -1.0, "per-query"])
@pytest.mark.parametrize("direction_shape", ["shared", "per-query"])
@pytest.mark.parametrize("sigma", [0.02, 0.4, 6.0])
@pytest.mark.parametrize("schedule", [False, True])
def test_hand_written_steering_equals_autograd(model, guidance, direction_shape, sigma, schedule):
    torch.manual_seed(0)
    x, cond = torch.randn(3, 5, MUSIC_DIM) * sigma, torch.randn(3, 1, COND_DIM)
    w = torch.tensor([0.0, 1.0, 2.5]).reshape(3, 1, 1) if guidance == "per-query" else guidance
    z = torch.randn(MUSIC_DIM) if direction_shape == "shared" else torch.randn(3, 1, MUSIC_DIM)
    denoise = guided_denoiser(model, cond, guidance=w, steer=[(z, 0.7)], sigmas=[sigma] if schedule else None)
    with torch.no_grad():
        fast = denoise(x, sigma)
    expected = autograd_steered(model, x, sigma, cond, w, 0.7 * z)
    assert fast.shape == expected.shape == x.shape
    assert torch.allclose(fast, expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("sigma", [0.3, "per-row"])
def test_forward_with_vjp_is_the_forward_and_its_gradient(model, sigma):
    torch.manual_seed(1)
    x, cond, v = torch.randn(2, 4, MUSIC_DIM), torch.randn(2, 1, COND_DIM), torch.randn(2, 4, MUSIC_DIM)
    sigma = torch.rand(2, 4) * 2 + 0.01 if sigma == "per-row" else sigma  # a noise level per seed (training's form)
    denoised, vjp = model.forward_with_vjp(x, sigma, cond)
    assert torch.allclose(denoised, model(x, sigma, cond), atol=1e-6)
    x_in = x.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad((model(x_in, sigma, cond) * v).sum(), x_in)
    assert torch.allclose(vjp(v), expected, atol=1e-5)  # a different v for every seed, not only a shared one


def test_bfloat16_trunk_matches_autograd_in_bfloat16(model):
    model.net.trunk_to(torch.bfloat16)
    torch.manual_seed(2)
    x, cond, z = torch.randn(2, 8, MUSIC_DIM) * 0.3, torch.randn(2, 1, COND_DIM), torch.randn(MUSIC_DIM)
    with torch.no_grad():
        plain = cfg_denoise(model, x, 0.3, cond, 1.0)
        fast = guided_denoiser(model, cond, steer=[(z, 0.5)])(x, 0.3) - plain
    reference = autograd_steered(model, x, 0.3, cond, 1.0, 0.5 * z) - plain
    assert fast.dtype == torch.float32
    cosine = torch.nn.functional.cosine_similarity(fast.flatten(), reference.flatten(), dim=0)
    assert cosine > 0.999, cosine


def test_hand_written_steering_runs_under_inference_mode(model):
    x, cond, z = torch.randn(1, 4, MUSIC_DIM), torch.randn(1, 1, COND_DIM), torch.randn(MUSIC_DIM)
    denoise = guided_denoiser(model, cond, steer=[(z, 0.3)])
    with torch.no_grad():
        expected = denoise(x, 0.3)
    with torch.inference_mode():
        assert torch.equal(denoise(x, 0.3), expected)


def test_refuses_dropout_in_training_mode():
    from prior.precond import EDMDenoiser
    from tests.prior.prior_toys import tiny_network

    config = tiny_network()
    config.dropout = 0.1
    model = EDMDenoiser(config).train()
    with pytest.raises(RuntimeError, match="eval"):
        model.forward_with_vjp(torch.randn(1, 2, MUSIC_DIM), 0.3, torch.randn(1, 1, COND_DIM))
