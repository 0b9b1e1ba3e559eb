import math

import pytest
import torch

from prior.precond import as_sigma, edm_scalings
from tests.prior.prior_toys import MUSIC_DIM, random_denoiser


def test_scalings_limits_as_sigma_goes_to_zero():
    sd = 0.1
    c_skip, c_out, c_in, _ = edm_scalings(torch.tensor([1e-6]), sd)
    assert c_skip.item() == pytest.approx(1.0, abs=1e-9)
    assert c_out.item() == pytest.approx(0.0, abs=1e-5)
    assert c_in.item() == pytest.approx(1 / sd, rel=1e-6)


def test_scalings_at_large_sigma_and_unit_variance_input():
    sd = 0.1
    sigma = torch.tensor([1000.0])
    c_skip, c_out, c_in, c_noise = edm_scalings(sigma, sd)
    assert c_skip.item() < 1e-7
    assert c_out.item() == pytest.approx(sd, rel=1e-4)
    # c_in keeps the network's input at unit variance: Var(y + n) = sd^2 + sigma^2
    assert (c_in * (sd**2 + sigma**2).sqrt()).item() == pytest.approx(1.0)
    assert c_noise.item() == pytest.approx(math.log(1000.0) / 4)


def test_denoiser_is_identity_at_tiny_sigma():
    model = random_denoiser()
    x = torch.randn(5, MUSIC_DIM) * 0.3
    with torch.no_grad():
        out = model(x, 1e-7, torch.randn(5, 6))
    assert torch.allclose(out, x, atol=1e-5)


def test_sigma_shapes_broadcast():
    x = torch.zeros(2, 3, 4)
    assert as_sigma(0.5, x).shape == (1, 1, 1)
    assert as_sigma(torch.ones(2, 3), x).shape == (2, 3, 1)
    with pytest.raises(ValueError):
        as_sigma(torch.ones(7), x)


def test_scalar_sigma_equals_per_row_sigma():
    model = random_denoiser()
    x, cond = torch.randn(4, MUSIC_DIM), torch.randn(4, 6)
    with torch.no_grad():
        a = model(x, 0.3, cond)
        b = model(x, torch.full((4,), 0.3), cond)
    assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("paired", [False, True])
def test_conditioning_for_a_schedule_matches_each_sigma_alone(paired):
    from prior.guidance import cfg_pair

    model = random_denoiser(seed=3).requires_grad_(False)
    x = torch.randn(2, 4, MUSIC_DIM)
    cond = torch.randn(2, 1, model.config.cond_dim)
    if paired:  # the CFG layout: [2 (cond, null), B, 1, Dc] with its mask
        x = x.unsqueeze(0).expand(2, *x.shape)
        cond, mask = cfg_pair(cond)
    else:
        mask = None
    sigmas = [10.0, 1.3, 0.2, 0.001, 0.0]  # 0 (the sampler's last entry) is never evaluated
    table = model.conditioning(sigmas, cond, mask)
    assert sorted(table) == sorted(sigmas[:-1])
    with torch.no_grad():
        for sigma in sigmas[:-1]:
            alone = model(x, sigma, cond, mask)
            assert torch.allclose(model(x, sigma, cond, mask, conditioning=table[sigma]), alone, atol=1e-6)
            other = table[0.2 if sigma != 0.2 else 1.3]  # and the table's entries do matter
            assert not torch.allclose(alone, model(x, sigma, cond, mask, conditioning=other))


@pytest.mark.parametrize("sigma", [1e-3, 0.05, 2.0, 80.0])
def test_scalings_of_a_python_float_equal_the_tensor_ones(sigma):
    as_floats = edm_scalings(sigma, 0.05)
    as_tensor = edm_scalings(torch.tensor(sigma, dtype=torch.float64), 0.05)
    assert all(isinstance(v, float) for v in as_floats)
    assert as_floats == pytest.approx([float(v) for v in as_tensor], rel=1e-12)

