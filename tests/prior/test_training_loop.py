"""The prior and the regression baseline share one training loop (``prior.train.fit``); moving both onto it must
not change what they learn. The numbers below were measured with the two separate loops the code had before, on
the toy world with these seeds: the same seed must still give the same run (to float rounding across CPUs)."""

import pytest
from safetensors.torch import load_file

from prior import train as train_module
from prior.baseline import train_regression
from prior.config import TrainConfig
from prior.train import train_prior
from tests.prior.prior_toys import tiny_network, toy_pairs

# (final_loss, sum of |weights| of the saved model), measured before the loops were merged
PRIOR_BEFORE = (1.1251004219055176, 543.8683277339937)
BASELINE_BEFORE = (0.3943116068840027, 387.3422127372123, 60)  # (val_cosine_loss, sum |weights|, best_step)
# early stopping and a stop in the middle of the schedule (stop_at), measured the same way
PRIOR_STOPPED_BEFORE = (1.160294960526859, 537.6054606386824)
BASELINE_EARLY_BEFORE = (0.332973837852478, 396.7945258741602, 57, 60)  # (..., best_step, steps)


def weight_mass(directory) -> float:
    return sum(float(v.double().abs().sum()) for v in load_file(str(directory / "model.safetensors")).values())


@pytest.fixture
def loops(monkeypatch):
    """Every call of the one loop, by the progress label of its caller."""
    calls = []
    real = train_module.fit

    def counting(*args, **kwargs):
        calls.append(kwargs["desc"])
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "fit", counting)
    return calls


def test_the_prior_trains_as_before_through_the_one_loop(tmp_path, loops):
    pairs = toy_pairs(tmp_path)
    cfg = TrainConfig(steps=25, batch=32, warmup=5, seed=3)
    metrics = train_prior(pairs, tmp_path / "p", tiny_network(), cfg, progress=False, device="cpu", save_every=10)
    assert metrics["steps"] == 25
    assert (metrics["final_loss"], weight_mass(tmp_path / "p")) == pytest.approx(PRIOR_BEFORE, rel=1e-4)
    stopped = train_prior(pairs, tmp_path / "s", tiny_network(), cfg, progress=False, device="cpu", save_every=10,
                          stop_at=17)
    assert stopped["steps"] == 17
    assert (stopped["final_loss"], weight_mass(tmp_path / "s")) == pytest.approx(PRIOR_STOPPED_BEFORE, rel=1e-4)
    assert loops == ["prior", "prior"]


def test_the_baseline_trains_and_stops_early_as_before_through_the_one_loop(tmp_path, loops, monkeypatch):
    import prior.baseline

    monkeypatch.setattr(prior.baseline, "fit", train_module.fit)  # the counting one
    pairs = toy_pairs(tmp_path)
    full = train_regression(pairs, tmp_path / "r", tiny_network(),
                            TrainConfig(steps=60, batch=32, warmup=5, seed=3, eval_every=10, patience=2),
                            progress=False, device="cpu")
    assert not full["stopped_early"] and full["best_step"] == BASELINE_BEFORE[2]
    assert (full["val_cosine_loss"], weight_mass(tmp_path / "r")) == pytest.approx(BASELINE_BEFORE[:2], rel=1e-4)
    early = train_regression(pairs, tmp_path / "e", tiny_network(),
                             TrainConfig(steps=300, batch=32, warmup=5, seed=3, eval_every=3, patience=1),
                             progress=False, device="cpu")
    assert early["stopped_early"] and (early["best_step"], early["steps"]) == BASELINE_EARLY_BEFORE[2:]
    assert (early["val_cosine_loss"], weight_mass(tmp_path / "e")) == pytest.approx(BASELINE_EARLY_BEFORE[:2],
                                                                                    rel=1e-4)
    assert loops == ["baseline", "baseline"]


def test_a_loss_that_is_not_finite_stops_either_model(tmp_path):
    pairs = toy_pairs(tmp_path)
    pairs.cond[:] = float("nan")
    with pytest.raises(train_module.TrainingError, match="loss became nan at step 0"):
        train_regression(pairs, tmp_path / "r", tiny_network(), TrainConfig(steps=5, batch=8, warmup=1),
                         progress=False, device="cpu")
    with pytest.raises(train_module.TrainingError, match="loss became nan at step 0"):
        train_prior(pairs, tmp_path / "p", tiny_network(), TrainConfig(steps=5, batch=8, warmup=1),
                    progress=False, device="cpu")
