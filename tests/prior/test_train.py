import pytest
import torch

from prior.checkpoint import load_checkpoint
from prior.config import TrainConfig
from prior.loss import edm_loss
from prior.precond import EDMDenoiser
from prior.train import TrainingError, lr_at, train_prior
from tests.prior.prior_toys import tiny_network, tiny_train, toy_pairs


def eval_loss(model, pairs) -> float:
    music, cond = torch.from_numpy(pairs.music), torch.from_numpy(pairs.cond)
    with torch.no_grad():
        losses = [float(edm_loss(model, music, cond, cond_dropout=0.0, generator=torch.Generator().manual_seed(s)))
                  for s in range(8)]
    return sum(losses) / len(losses)


def test_lr_schedule_warms_up_then_decays():
    cfg = TrainConfig(steps=100, warmup=10, lr=1.0)
    assert lr_at(0, cfg) == pytest.approx(0.1)
    assert lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(55, cfg) == pytest.approx(0.5)
    assert lr_at(100, cfg) == pytest.approx(0.0, abs=1e-12)


def test_training_on_a_toy_problem_reduces_the_loss(tmp_path):
    pairs = toy_pairs(tmp_path)
    torch.manual_seed(0)
    before = eval_loss(EDMDenoiser(tiny_network()).eval(), pairs)
    metrics = train_prior(pairs, tmp_path / "ck", tiny_network(), tiny_train(steps=150, lr=3e-3), progress=False)
    ckpt = load_checkpoint(tmp_path / "ck")
    after = eval_loss(ckpt.load_into(EDMDenoiser(ckpt.network)).eval(), pairs)
    assert metrics["steps"] == 150 and metrics["final_loss"] is not None
    assert after < 0.8 * before


def test_same_seed_same_weights_and_resume_continues_exactly(tmp_path):
    pairs = toy_pairs(tmp_path)
    cfg = tiny_train(steps=20)
    train_prior(pairs, tmp_path / "straight", tiny_network(), cfg, progress=False)
    train_prior(pairs, tmp_path / "again", tiny_network(), cfg, progress=False)
    train_prior(pairs, tmp_path / "split", tiny_network(), cfg, progress=False, stop_at=8)
    assert load_checkpoint(tmp_path / "split").metrics["steps"] == 8
    metrics = train_prior(pairs, tmp_path / "split", tiny_network(), cfg, progress=False, resume=True)
    assert metrics["steps"] == 20
    a, b, c = (load_checkpoint(tmp_path / d).state_dict for d in ("straight", "again", "split"))
    for name in a:
        assert torch.equal(a[name], b[name]), name
        assert torch.allclose(a[name], c[name], atol=1e-6), name


def test_resume_refuses_a_missing_state_or_other_data(tmp_path):
    pairs = toy_pairs(tmp_path)
    with pytest.raises(TrainingError, match="nothing to resume"):
        train_prior(pairs, tmp_path / "none", tiny_network(), tiny_train(steps=2), resume=True, progress=False)
    train_prior(pairs, tmp_path / "ck", tiny_network(), tiny_train(steps=2), progress=False)
    (tmp_path / "other").mkdir()
    other = toy_pairs(tmp_path / "other", seed=5)
    with pytest.raises(TrainingError, match="different data"):
        train_prior(other, tmp_path / "ck", tiny_network(), tiny_train(steps=4), resume=True, progress=False)
    with pytest.raises(TrainingError, match="network config"):
        train_prior(pairs, tmp_path / "ck", tiny_network(width=16), tiny_train(steps=4), resume=True, progress=False)
