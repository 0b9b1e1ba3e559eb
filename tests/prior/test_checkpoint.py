import json

import pytest
import torch

from prior.checkpoint import CheckpointError, load_checkpoint, read_config, save_checkpoint, update_sampling
from prior.config import TrainConfig
from prior.precond import EDMDenoiser
from prior.spaces import EmbeddingSpace, SpaceMismatchError
from tests.prior.prior_toys import COND_DIM, COND_SPACE, MUSIC_DIM, MUSIC_SPACE, random_denoiser, tiny_network


def save(path, model=None):
    model = model or random_denoiser()
    return save_checkpoint(
        path, kind="diffusion", model=model, network=tiny_network(), cond_space=COND_SPACE,
        music_space=MUSIC_SPACE, data_fingerprint="sha256:abc", train=TrainConfig(steps=7), metrics={"loss": 0.5},
    )


def test_round_trip_gives_the_same_denoiser(tmp_path):
    model = random_denoiser(seed=3)
    save(tmp_path / "ck", model)
    ckpt = load_checkpoint(tmp_path / "ck", expect_cond_space=COND_SPACE, expect_music_space=MUSIC_SPACE)
    loaded = ckpt.load_into(EDMDenoiser(ckpt.network)).eval()
    x, cond = torch.randn(4, MUSIC_DIM), torch.randn(4, COND_DIM)
    with torch.no_grad():
        assert torch.equal(model(x, 0.3, cond), loaded(x, 0.3, cond))
    assert ckpt.kind == "diffusion" and ckpt.data_fingerprint == "sha256:abc"
    assert ckpt.train["steps"] == 7 and ckpt.metrics == {"loss": 0.5}
    assert ckpt.network == tiny_network()
    config = read_config(tmp_path / "ck")
    assert config["cond_space"]["name"] == "toy-cond" and config["version"] == 1 and config["created"]


def test_space_mismatch_is_refused(tmp_path):
    save(tmp_path / "ck")
    other = EmbeddingSpace(name="clap", dim=MUSIC_DIM, encoder="laion/clap")
    with pytest.raises(SpaceMismatchError, match="music space.*expected clap"):
        load_checkpoint(tmp_path / "ck", expect_music_space=other)
    with pytest.raises(SpaceMismatchError, match="condition space"):
        load_checkpoint(tmp_path / "ck", expect_cond_space=EmbeddingSpace(name="toy-cond", dim=9, encoder="toy"))


def test_missing_and_corrupt_files_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "absent")
    ck = save(tmp_path / "ck")
    (ck / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="corrupt weights"):
        load_checkpoint(ck)
    (ck / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing model.safetensors"):
        load_checkpoint(ck)
    (ck / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt JSON"):
        load_checkpoint(ck)
    (ck / "config.json").write_text(json.dumps({"version": 1, "kind": "diffusion"}))
    with pytest.raises(CheckpointError, match="incomplete config"):
        load_checkpoint(ck)


def test_wrong_kind_and_wrong_shapes_are_refused(tmp_path):
    ck = save(tmp_path / "ck")
    with pytest.raises(CheckpointError, match="expected a regression"):
        load_checkpoint(ck, expect_kind="regression")
    ckpt = load_checkpoint(ck)
    ckpt.network.width = 48
    with pytest.raises(CheckpointError, match="do not fit"):
        ckpt.load_into(EDMDenoiser(ckpt.network))


def test_tuned_sampling_defaults_are_recorded(tmp_path):
    ck = save(tmp_path / "ck")
    assert load_checkpoint(ck).sampling_config().guidance == 1.0
    update_sampling(ck, guidance=2.0, steer_schedule="sigma2")
    cfg = load_checkpoint(ck).sampling_config()
    assert cfg.guidance == 2.0 and cfg.steer_schedule == "sigma2"
    with pytest.raises(ValueError, match="unknown sampling"):
        update_sampling(ck, guidence=2.0)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_get_the_usual_permissions_not_safetensors_0600(tmp_path, umask, mode):
    """A server running as another user must be able to read a checkpoint (safetensors alone writes 0600)."""
    import os

    old = os.umask(umask)
    try:
        save(tmp_path / "ck")
    finally:
        os.umask(old)
    for name in ("model.safetensors", "config.json"):
        assert os.stat(tmp_path / "ck" / name).st_mode & 0o777 == mode, name
