"""Where production weights come from: a local directory or the Hugging Face cache, never a download at run time.

Serving must not reach the internet (and cannot, where this project is built), so encoders load with
``local_files_only``. ``python -m prior fetch-models NAME...`` (:func:`fetch_model`) is the one place that
downloads, on a machine with internet access, into the HF cache or ``--dir DIR/<name>``.

A space's ``version`` is a fingerprint of the weight files, so the same weights match wherever they were loaded
from, and a fine-tuned or different checkpoint never silently matches a catalog embedded with another.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from prior.encoders.base import EncoderError, ModelNotAvailableError

DEFAULT_MODELS: dict[str, str] = {
    "clip": "openai/clip-vit-base-patch32",
    "clap": "laion/larger_clap_music",
}
"""Registry family -> Hugging Face repository fetched and loaded by default."""

MODELS_DIR_ENV = "PRIOR_MODELS_DIR"
"""If set, ``$PRIOR_MODELS_DIR/<family>`` is tried before the HF cache (what ``fetch-models --dir`` writes)."""

_SKIP_PATTERNS = ["*.h5", "*.msgpack", "*.ot", "*.onnx", "*.tflite", "tf_*", "flax_*", "rust_*", "*.gguf"]
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def resolve_model_dir(
    family: str, model: str | None = None, models_dir: str | None = None, local_files_only: bool = True
) -> tuple[Path, str]:
    """Find the weights of ``family``: (directory, human-readable source).

    ``model`` is a directory or a repository id; without it, ``models_dir`` (or ``$PRIOR_MODELS_DIR``)/``family``
    is tried, then the family's default repository in the HF cache.
    """
    if model:
        path = Path(model).expanduser()
        if path.is_dir():
            return path.resolve(), str(path)
        if model.startswith((".", "/", "~")) or model.count("/") > 1:
            raise ModelNotAvailableError(f"{family} model directory {model} does not exist")
        repo_id = model
    else:
        base = models_dir or os.environ.get(MODELS_DIR_ENV)
        if base and (Path(base).expanduser() / family).is_dir():
            path = (Path(base).expanduser() / family).resolve()
            return path, str(path)
        if family not in DEFAULT_MODELS:
            raise ModelNotAvailableError(f"no default model for {family!r}; pass model=<directory or repo id>")
        repo_id = DEFAULT_MODELS[family]
    try:
        from huggingface_hub import snapshot_download

        path = snapshot_download(repo_id, local_files_only=local_files_only, ignore_patterns=_SKIP_PATTERNS)
    except Exception as exc:  # not cached / offline / unknown repo: one clear line, not a hub traceback
        raise ModelNotAvailableError(
            f"{family} model {repo_id} is not on this machine ({type(exc).__name__}); run "
            f"`python -m prior fetch-models {family}` where there is internet access, or pass a model directory"
        ) from None
    return Path(path), repo_id


def weights_fingerprint(directory: Path, length: int = 16) -> str:
    """sha256 of the weight files (safetensors preferred): the ``version`` of the encoder's embedding space."""
    files = sorted(p for p in Path(directory).iterdir() if p.suffix == ".safetensors")
    if not files:
        files = sorted(p for p in Path(directory).iterdir() if p.suffix in _WEIGHT_SUFFIXES)
    if not files:
        raise ModelNotAvailableError(f"{directory}: no weight files (*.safetensors, *.bin)")
    digest = hashlib.sha256()
    for path in files:
        with open(path, "rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 22), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()[:length]


def fetch_model(name: str, directory: str | Path | None = None) -> Path:
    """Download ``name`` (a family in :data:`DEFAULT_MODELS` or a repository id); needs internet access.

    With ``directory`` the files go to ``directory/<name>`` (point ``$PRIOR_MODELS_DIR`` or ``model=`` at it),
    otherwise to the HF cache, where the encoders find them by repository id.
    """
    repo_id = DEFAULT_MODELS.get(name, name)
    if "/" not in repo_id:
        known = ", ".join(sorted(DEFAULT_MODELS))
        raise ModelNotAvailableError(f"unknown model {name!r}: use one of {known} or a repository id (owner/name)")
    try:
        from huggingface_hub import HfApi, snapshot_download

        files = HfApi().list_repo_files(repo_id)
        ignore = list(_SKIP_PATTERNS)
        if any(f.endswith(".safetensors") for f in files):
            ignore += ["*.bin", "*.pt", "*.pth"]  # same weights twice otherwise
        local_dir = None
        if directory is not None:
            local_dir = Path(directory).expanduser() / (name if name in DEFAULT_MODELS else repo_id.replace("/", "__"))
        path = snapshot_download(repo_id, local_dir=local_dir, ignore_patterns=ignore)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelNotAvailableError(
            f"could not download {repo_id}: {type(exc).__name__}: {reason[:200]} (fetch-models needs internet access)"
        ) from None
    return Path(path)


def unloadable(directory: Path | str, family: str, exc: Exception) -> EncoderError:
    """One clear line for corrupt or foreign model files, whatever the library raised."""
    reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    return EncoderError(f"{directory} is not a loadable {family} model ({reason})")
