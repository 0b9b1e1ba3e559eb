"""Checkpoints: a directory with the weights and everything needed to use them safely.

    DIR/model.safetensors   weights (for the prior: the EMA weights, which are what sampling should use)
    DIR/config.json         kind ("diffusion" | "regression"), network config, condition and music spaces
                            (EmbeddingSpace dicts), training-data fingerprint, train config, metrics, created time,
                            format version, and optionally a "sampling" block of tuned SamplingConfig values

A checkpoint is only meaningful next to vectors from the spaces it was trained on, so :func:`load_checkpoint`
refuses one whose spaces differ from what the caller expects (:class:`~prior.spaces.SpaceMismatchError`).
Files are written to temporary names and renamed, so a crash never leaves a half-written checkpoint behind.
Resumable training state (optimizer, step, raw weights) lives beside them in ``training_state.pt``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from prior.config import NetworkConfig, SamplingConfig, SteeringConfig, config_from_dict, config_to_dict
from prior.spaces import EmbeddingSpace, SpaceMismatchError

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
TRAINING_STATE_FILE = "training_state.pt"
KINDS = ("diffusion", "regression")


class CheckpointError(ValueError):
    """The checkpoint directory is missing, incomplete, corrupt or of the wrong kind; the message says which."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: configuration, spaces and weights (not yet put into a model)."""

    path: Path
    kind: str
    network: NetworkConfig
    cond_space: EmbeddingSpace
    music_space: EmbeddingSpace
    state_dict: dict[str, torch.Tensor]
    data_fingerprint: str | None = None
    train: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    sampling: dict = field(default_factory=dict)
    steering: dict = field(default_factory=dict)
    created: str | None = None

    def sampling_config(self) -> SamplingConfig:
        """Code defaults, overridden by the values tuned into this checkpoint's "sampling" block (if any)."""
        return config_from_dict(SamplingConfig, {**config_to_dict(SamplingConfig()), **self.sampling})

    def steering_config(self) -> SteeringConfig:
        """Code defaults, overridden by this checkpoint's "steering" block (written by ``python -m prior train``)."""
        return config_from_dict(SteeringConfig, {**config_to_dict(SteeringConfig()), **self.steering})

    def load_into(self, model: nn.Module) -> nn.Module:
        """Copy the weights into ``model`` (strict); a shape or key mismatch becomes a :class:`CheckpointError`."""
        try:
            model.load_state_dict(self.state_dict, strict=True)
        except RuntimeError as exc:
            detail = " ".join(str(exc).strip().splitlines()[:2])
            raise CheckpointError(f"{self.path}: weights do not fit the network config ({detail})") from None
        return model


def _write_atomic(path: Path, write) -> None:
    """``write(tmp)``, then rename into place; the file gets the usual permissions (0666 less the umask).

    Why the chmod: safetensors creates its file readable by its owner only (0600), whatever the umask, so a
    checkpoint trained by one user could not be read by a server running as another (a non-root container, a
    shared model directory).
    """
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


def _umask() -> int:
    """This process's umask: read from /proc on Linux (no change to it), else set and restored at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_checkpoint(
    directory: str | Path,
    *,
    kind: str,
    model: nn.Module,
    network: NetworkConfig,
    cond_space: EmbeddingSpace,
    music_space: EmbeddingSpace,
    data_fingerprint: str | None = None,
    train: Any = None,
    metrics: dict | None = None,
    sampling: dict | None = None,
    steering: dict | None = None,
) -> Path:
    """Write ``model``'s weights and the config JSON into ``directory`` (created if needed)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in model.state_dict().items()}
    config = {
        "format": "diff4steer-prior",
        "version": FORMAT_VERSION,
        "kind": kind,
        "network": config_to_dict(network),
        "cond_space": cond_space.to_dict(),
        "music_space": music_space.to_dict(),
        "data_fingerprint": data_fingerprint,
        "train": config_to_dict(train) if hasattr(train, "__dataclass_fields__") else (train or {}),
        "metrics": metrics or {},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if sampling:
        config["sampling"] = sampling
    if steering:
        config["steering"] = steering
    _write_atomic(directory / WEIGHTS_FILE, lambda p: save_file(tensors, str(p), metadata={"kind": kind}))
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    _write_atomic(directory / CONFIG_FILE, lambda p: p.write_text(text))
    return directory


def read_config(directory: str | Path) -> dict:
    """The parsed ``config.json`` of a checkpoint directory, with clear errors for missing or corrupt files."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: no such checkpoint directory")
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{directory}: not a checkpoint (missing {CONFIG_FILE})")
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: corrupt JSON ({exc})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    version = config.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: unsupported checkpoint version {version!r} (readable: <= {FORMAT_VERSION})")
    return config


def load_checkpoint(
    directory: str | Path,
    expect_cond_space: EmbeddingSpace | None = None,
    expect_music_space: EmbeddingSpace | None = None,
    expect_kind: str | None = None,
) -> Checkpoint:
    """Read a checkpoint; refuse it (SpaceMismatchError) if its spaces differ from the expected ones."""
    directory = Path(directory)
    config = read_config(directory)
    try:
        kind = str(config["kind"])
        network = config_from_dict(NetworkConfig, config["network"])
        cond_space = EmbeddingSpace.from_dict(config["cond_space"])
        music_space = EmbeddingSpace.from_dict(config["music_space"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{directory / CONFIG_FILE}: incomplete config ({type(exc).__name__}: {exc})") from None
    if kind not in KINDS:
        raise CheckpointError(f"{directory}: unknown checkpoint kind {kind!r}")
    if expect_kind is not None and kind != expect_kind:
        raise CheckpointError(f"{directory}: is a {kind} checkpoint, expected a {expect_kind} checkpoint")
    if expect_cond_space is not None:
        expect_cond_space.check_matches(cond_space, what=f"condition space of checkpoint {directory}")
    if expect_music_space is not None:
        expect_music_space.check_matches(music_space, what=f"music space of checkpoint {directory}")
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"{directory}: missing {WEIGHTS_FILE}")
    try:
        state_dict = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: corrupt weights file ({exc})") from None
    return Checkpoint(
        path=directory,
        kind=kind,
        network=network,
        cond_space=cond_space,
        music_space=music_space,
        state_dict=state_dict,
        data_fingerprint=config.get("data_fingerprint"),
        train=config.get("train") or {},
        metrics=config.get("metrics") or {},
        sampling=config.get("sampling") or {},
        steering=config.get("steering") or {},
        created=config.get("created"),
    )


def update_sampling(directory: str | Path, **values: Any) -> dict:
    """Record tuned sampling defaults (SamplingConfig field names) in a checkpoint's config.json.

    Unknown names are refused so a typo cannot silently do nothing. Returns the new "sampling" block.
    """
    known = set(SamplingConfig.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown sampling setting(s): {', '.join(unknown)}")
    directory = Path(directory)
    config = read_config(directory)
    config["sampling"] = {**(config.get("sampling") or {}), **values}
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    _write_atomic(directory / CONFIG_FILE, lambda p: p.write_text(text))
    return config["sampling"]


def update_steering(directory: str | Path, **values: Any) -> dict:
    """Record chosen steering defaults (SteeringConfig field names) in a checkpoint's config.json.

    Unknown names and out-of-range values are refused. Returns the new "steering" block.
    """
    unknown = sorted(set(values) - set(SteeringConfig.__dataclass_fields__))
    if unknown:
        raise ValueError(f"unknown steering setting(s): {', '.join(unknown)}")
    directory = Path(directory)
    config = read_config(directory)
    block = {**(config.get("steering") or {}), **values}
    config_from_dict(SteeringConfig, {**config_to_dict(SteeringConfig()), **block}).check()
    config["steering"] = block
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    _write_atomic(directory / CONFIG_FILE, lambda p: p.write_text(text))
    return block


__all__ = [
    "Checkpoint",
    "CheckpointError",
    "SpaceMismatchError",
    "load_checkpoint",
    "read_config",
    "save_checkpoint",
    "update_sampling",
    "update_steering",
]
