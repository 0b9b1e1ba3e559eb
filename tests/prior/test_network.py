import torch

from prior.network import PriorNetwork
from tests.prior.prior_toys import COND_DIM, MUSIC_DIM, random_denoiser, tiny_network


def test_shapes_and_broadcast_of_condition_over_seeds():
    net = random_denoiser().net
    x = torch.randn(3, 5, MUSIC_DIM)
    cond = torch.randn(3, 1, COND_DIM)
    c_noise = torch.zeros(1, 1, 1)
    with torch.no_grad():
        broadcast = net(x, c_noise, cond)
        explicit = net(x, c_noise.expand(3, 5, 1), cond.expand(3, 5, COND_DIM))
    assert broadcast.shape == (3, 5, MUSIC_DIM)
    assert torch.allclose(broadcast, explicit, atol=1e-6)


def test_null_condition_is_learned_and_used_where_masked():
    net = random_denoiser().net
    x, c_noise, cond = torch.randn(4, MUSIC_DIM), torch.zeros(4, 1), torch.randn(4, COND_DIM)
    keep = torch.tensor([[True], [False], [True], [False]])
    with torch.no_grad():
        mixed = net(x, c_noise, cond, keep)
        null = net(x, c_noise, None)
        full = net(x, c_noise, cond)
    assert torch.allclose(mixed[1::2], null[1::2], atol=1e-6)
    assert torch.allclose(mixed[::2], full[::2], atol=1e-6)
    assert any(name == "null_cond" for name, _ in net.named_parameters())


def test_depth_and_width_are_configurable():
    net = PriorNetwork(tiny_network(width=24, depth=3))
    assert len(net.blocks) == 3 and net.input.out_features == 24
