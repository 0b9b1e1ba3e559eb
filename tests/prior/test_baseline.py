import numpy as np
import pytest
import torch

from prior.baseline import cosine_loss, split_validation, train_regression
from prior.config import TrainConfig
from prior.service import PriorSampler, RegressionModel
from tests.prior.prior_toys import COND_DIM, MUSIC_DIM, MUSIC_SPACE, tiny_network, toy_pairs


def test_split_keeps_rows_on_both_sides():
    train, val = split_validation(10, 0.1, 0)
    assert len(train) == 9 and len(val) == 1 and set(train.tolist()) | set(val.tolist()) == set(range(10))
    assert len(split_validation(1, 0.1, 0)[1]) == 0


def test_cosine_loss_is_zero_for_identical_unit_vectors():
    x = torch.nn.functional.normalize(torch.randn(4, 3), dim=-1)
    assert cosine_loss(x, x).item() == pytest.approx(0.0, abs=1e-6)


def test_baseline_trains_saves_and_predicts(tmp_path):
    pairs = toy_pairs(tmp_path)
    cfg = TrainConfig(steps=400, batch=64, warmup=10, lr=3e-3, eval_every=20, patience=3)
    metrics = train_regression(pairs, tmp_path / "rg", tiny_network(), cfg, progress=False)
    assert metrics["n_val"] > 0 and metrics["val_cosine_loss"] < 0.9
    model = RegressionModel.load(tmp_path / "rg", device="cpu", expect_music_space=MUSIC_SPACE)
    out = model.predict(pairs.cond[:5])
    assert out.shape == (5, MUSIC_DIM) and np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)
    assert model.predict(pairs.cond[0]).shape == (MUSIC_DIM,)
    with pytest.raises(ValueError, match="dimension"):
        model.predict(np.zeros((2, COND_DIM + 1)))
    with pytest.raises(ValueError, match="expected a diffusion"):
        PriorSampler.load(tmp_path / "rg")
