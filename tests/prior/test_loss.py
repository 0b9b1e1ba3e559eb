import torch

from prior.config import NetworkConfig
from prior.loss import edm_loss, edm_weight, sample_sigma
from prior.precond import EDMDenoiser, edm_scalings


def test_loss_is_finite_and_scalar():
    torch.manual_seed(0)
    model = EDMDenoiser(NetworkConfig(cond_dim=4, music_dim=8, width=16, depth=1, noise_features=8))
    music = torch.nn.functional.normalize(torch.randn(64, 8), dim=-1)
    loss = edm_loss(model, music, torch.randn(64, 4), generator=torch.Generator().manual_seed(0))
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())


def test_weight_is_inverse_of_squared_c_out():
    # EDM: lambda(sigma) * c_out(sigma)^2 = 1, so every noise level contributes a unit-scale error.
    sigma = torch.logspace(-3, 2, 20)
    _, c_out, _, _ = edm_scalings(sigma, 0.1)
    assert torch.allclose(edm_weight(sigma, 0.1) * c_out**2, torch.ones(20), rtol=1e-5)


def test_sigma_distribution_is_relative_to_sigma_data():
    sigma = sample_sigma(20000, -1.2, 1.2, 0.05, generator=torch.Generator().manual_seed(0))
    median = sigma.median().item()
    assert abs(median / (2 * 0.05 * torch.exp(torch.tensor(-1.2)).item()) - 1) < 0.05
