import pytest
import torch

from prior.guidance import cfg_combine, cfg_denoise, guided_denoiser, steer_denoise, steer_scale
from tests.prior.prior_toys import COND_DIM, MUSIC_DIM, random_denoiser


def cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cosine_similarity(a, b.expand_as(a), dim=-1)


@pytest.fixture
def model():
    return random_denoiser(seed=1).requires_grad_(False)


def test_w0_equals_the_conditional_denoiser(model):
    x, cond = torch.randn(3, 5, MUSIC_DIM), torch.randn(3, 1, COND_DIM)
    with torch.no_grad():
        assert torch.equal(cfg_denoise(model, x, 0.2, cond, 0.0), model(x, 0.2, cond))
        assert torch.equal(guided_denoiser(model, cond, guidance=0.0)(x, 0.2), model(x, 0.2, cond))


@pytest.mark.parametrize("w", [0.5, 1.0, 3.0, -1.0])
def test_batched_cfg_matches_two_forwards(model, w):
    x, cond = torch.randn(3, 5, MUSIC_DIM), torch.randn(3, 1, COND_DIM)
    with torch.no_grad():
        batched = cfg_denoise(model, x, 0.2, cond, w)
        two = (1 + w) * model(x, 0.2, cond) - w * model(x, 0.2, None)
    assert torch.allclose(batched, two, atol=1e-5)


def test_cfg_uses_one_forward_with_x_shared_by_both_terms(model):
    calls = []

    def counting(*args, **kw):
        out = model(*args, **kw)
        calls.append((args[0].shape, args[2].shape, out.shape))
        return out

    with torch.no_grad():
        cfg_denoise(counting, torch.randn(2, 4, MUSIC_DIM), 1.0, torch.randn(2, 1, COND_DIM), 1.0)
    # x goes in once and broadcasts against the condition's pair axis: the input projection is not computed twice
    assert calls == [(torch.Size([2, 4, MUSIC_DIM]), torch.Size([2, 2, 1, COND_DIM]), torch.Size([2, 2, 4, MUSIC_DIM]))]


def test_cfg_combine_is_the_paper_formula():
    assert cfg_combine(torch.tensor(2.0), torch.tensor(1.0), 3.0).item() == pytest.approx(4 * 2 - 3 * 1)


@pytest.mark.parametrize("sigma", [0.01, 0.05, 0.5])
def test_a_steering_step_moves_towards_positive_and_away_from_negative_text(model, sigma):
    torch.manual_seed(0)
    x, cond = torch.randn(2, 16, MUSIC_DIM) * 0.3, torch.randn(2, 1, COND_DIM)
    z = torch.nn.functional.normalize(torch.randn(MUSIC_DIM), dim=0)
    with torch.no_grad():
        plain = cfg_denoise(model, x, sigma, cond, 1.0)
        towards = guided_denoiser(model, cond, guidance=1.0, steer=[(z, 0.3)])(x, sigma)
        away = guided_denoiser(model, cond, guidance=1.0, steer=[(z, -0.3)])(x, sigma)
    assert cos(towards, z).mean() > cos(plain, z).mean() > cos(away, z).mean()


def test_steering_is_the_gradient_of_the_inner_product(model):
    x, cond, z = torch.randn(1, 2, MUSIC_DIM), torch.randn(1, 1, COND_DIM), torch.randn(MUSIC_DIM)
    with torch.no_grad():
        out = steer_denoise(lambda xi: cfg_denoise(model, xi, 0.3, cond, 1.0), x, 0.5 * z)
    jac = torch.autograd.functional.jacobian(lambda xi: cfg_denoise(model, xi, 0.3, cond, 1.0)[0, 0], x)[:, 0, 0]
    expected = cfg_denoise(model, x, 0.3, cond, 1.0)[0, 0] + 0.5 * jac.T @ z
    assert torch.allclose(out[0, 0], expected, atol=1e-5)


def test_two_tags_are_one_backward_of_their_weighted_sum(model):
    x, cond = torch.randn(1, 3, MUSIC_DIM), torch.randn(1, 1, COND_DIM)
    z1, z2 = torch.randn(MUSIC_DIM), torch.randn(MUSIC_DIM)
    with torch.no_grad():
        two = guided_denoiser(model, cond, steer=[(z1, 0.2), (z2, -0.1)])(x, 0.3)
        one = guided_denoiser(model, cond, steer=[(0.2 * z1 - 0.1 * z2, 1.0)])(x, 0.3)
    assert torch.allclose(two, one, atol=1e-6)


def test_steer_schedules():
    assert steer_scale("constant", 7.0, 0.1) == 1.0
    assert steer_scale("sigma2", 0.5, 0.1) == pytest.approx(0.25)
    assert steer_scale("snr", 0.1, 0.1) == pytest.approx(0.5)
    assert steer_scale("snr", 1e-4, 0.1) < 1e-5
    with pytest.raises(ValueError):
        steer_scale("nope", 1.0, 0.1)
    with pytest.raises(ValueError):
        guided_denoiser(random_denoiser(), torch.zeros(1, COND_DIM), steer_schedule="nope")


def test_autograd_steering_refuses_inference_mode(model):
    x, cond, z = torch.randn(1, 2, MUSIC_DIM), torch.randn(1, 1, COND_DIM), torch.randn(MUSIC_DIM)
    any_denoiser = lambda *args, **kw: model(*args, **kw)  # noqa: E731 - a D(x, sigma, cond) without forward_with_vjp
    with torch.inference_mode(), pytest.raises(RuntimeError, match="no_grad"):
        guided_denoiser(any_denoiser, cond, steer=[(z, 0.1)])(x, 0.3)


@pytest.mark.parametrize("guidance", [0.0, 1.5, "per-query"])
@pytest.mark.parametrize("steered", [False, True])
def test_precomputed_schedule_conditioning_changes_nothing(model, guidance, steered):
    x, cond = torch.randn(3, 5, MUSIC_DIM), torch.randn(3, 1, COND_DIM)
    w = torch.tensor([0.0, 1.0, 2.5]).reshape(3, 1, 1) if guidance == "per-query" else guidance
    steer = [(torch.randn(MUSIC_DIM), 0.2)] if steered else []
    sigmas = [5.0, 0.7, 0.05]
    plain = guided_denoiser(model, cond, guidance=w, steer=steer)
    fast = guided_denoiser(model, cond, guidance=w, steer=steer, sigmas=sigmas)
    with torch.no_grad():
        for sigma in [*sigmas, 0.3]:  # 0.3 is not in the schedule: computed in the call, as without sigmas
            assert torch.allclose(fast(x, sigma), plain(x, sigma), atol=1e-5)
