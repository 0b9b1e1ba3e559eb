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
