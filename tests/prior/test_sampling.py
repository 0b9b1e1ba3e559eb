import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from prior.sampling import SAMPLERS, karras_sigmas, nfe_for_steps, run_sampler, steps_for_nfe

MU, STD = torch.tensor([0.5, -1.0]), 0.3


def gaussian_denoiser(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """The exact D for data ~ N(MU, STD^2 I): E[y | y + sigma n = x]."""
    return MU + STD**2 / (STD**2 + sigma**2) * (x - MU)


def test_karras_sigmas_shape_and_ends():
    s = karras_sigmas(10, 1e-3, 80.0, 7.0)
    assert s.shape == (11,)
    assert s[0].item() == pytest.approx(80.0)
    assert s[-2].item() == pytest.approx(1e-3)
    assert s[-1].item() == 0
    assert (s[:-1] > s[1:]).all()


def test_nfe_steps_round_trip():
    assert steps_for_nfe("heun", 15) == 8 and nfe_for_steps("heun", 8) == 15
    assert steps_for_nfe("dpmpp_2m", 16) == 16
    assert steps_for_nfe("reference", 256) == 256
    with pytest.raises(ValueError):
        steps_for_nfe("nope", 10)


@pytest.mark.parametrize(("name", "steps"), [("reference", 256), ("heun", 32), ("dpmpp_2m", 20)])
def test_samplers_recover_a_known_gaussian(name, steps):
    g = torch.Generator().manual_seed(0)
    sigmas = karras_sigmas(steps, 1e-3, 80.0)
    x = torch.randn(4000, 2, generator=g, dtype=torch.float64) * sigmas[0]
    out = run_sampler(name, gaussian_denoiser, x, sigmas, g)
    assert torch.allclose(out.mean(0), MU.double(), atol=0.03)
    assert torch.allclose(out.std(0), torch.full((2,), STD, dtype=torch.float64), atol=0.03)


def test_heun_with_churn_also_recovers_the_gaussian():
    g = torch.Generator().manual_seed(1)
    sigmas = karras_sigmas(48, 1e-3, 80.0)
    x = torch.randn(4000, 2, generator=g, dtype=torch.float64) * sigmas[0]
    out = SAMPLERS["heun"](gaussian_denoiser, x, sigmas, g, churn=10.0)
    assert torch.allclose(out.std(0), torch.full((2,), STD, dtype=torch.float64), atol=0.04)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_same_generator_seed_same_samples(name):
    def run(seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        sigmas = karras_sigmas(8, 1e-3, 80.0)
        x = torch.randn(16, 2, generator=g) * sigmas[0]
        return run_sampler(name, gaussian_denoiser, x, sigmas, g, churn=5.0)

    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))


def test_unknown_sampler_is_refused():
    with pytest.raises(ValueError, match="unknown sampler"):
        run_sampler("euler-ish", gaussian_denoiser, torch.zeros(1, 2), karras_sigmas(2, 1e-3, 1.0), torch.Generator())


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(1, 300),
    sigma_min=st.floats(1e-4, 0.1),
    ratio=st.floats(1.5, 1e5),
    rho=st.floats(1.0, 10.0),
)
def test_karras_sigmas_are_strictly_decreasing_and_end_in_zero(n, sigma_min, ratio, rho):
    s = karras_sigmas(n, sigma_min, sigma_min * ratio, rho)
    assert s.shape == (n + 1,) and s[-1] == 0
    assert (s[:-1] > s[1:]).all()
    assert s[0].item() == pytest.approx(sigma_min * ratio, rel=1e-9)
