"""Per-process model loading: the prior and the encoders, loaded once, checked against the catalog, then shared.

Loading a checkpoint or an encoder takes seconds; sampling takes milliseconds. So each process (a web process
running tasks in-process, or a Celery worker) loads each model on first use and keeps it. Initialisation is lazy
and guarded by one lock, so concurrent first requests in a threaded server load each model exactly once.

Every model is checked where vectors meet:
- the prior's music space must be the catalog's space (``settings.CATALOG_SPACE``), or its seeds would be
  searched in a space they do not live in;
- the image encoder's space must be the prior's condition space;
- the text encoder's space must be the prior's music space (steering compares text vectors with music vectors).
A mismatch raises :class:`~serving.errors.PriorNotReady` naming both spaces; it is never silently ignored.
The GPU is used when torch sees one (``PRIOR_DEVICE`` overrides, e.g. ``cpu`` or ``cuda:1``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from serving import conf
from serving.errors import PriorNotReady

log = logging.getLogger(__name__)

_lock = threading.RLock()
_cache: dict[str, Any] = {}

FIX_HINT = "run `make demo` (embedded default) or set PRIOR_CHECKPOINT to a trained prior (python -m prior train)"


def _once(key: str, build: Callable[[], Any]) -> Any:
    """``_cache[key]``, made by ``build()`` on first use: once per process even when threads race for it."""
    value = _cache.get(key)
    if value is not None:
        return value
    with _lock:  # re-entrant: a build may need another cached piece (the batcher needs the prior)
        if key not in _cache:
            _cache[key] = build()
        return _cache[key]


def _setting(name: str) -> Any:
    """``name``'s typed value (:mod:`serving.conf`); a bad one set in Django's settings is a PriorNotReady naming it
    (the environment's values were checked when the process started)."""
    try:
        return conf.get(name)
    except ValueError as exc:
        raise PriorNotReady(str(exc)) from None


def device() -> str | None:
    """``PRIOR_DEVICE``; None lets torch pick (CUDA when present)."""
    return _setting("PRIOR_DEVICE") or None


def dtype() -> str:
    """``PRIOR_DTYPE``: what the prior's per-seed MLP computes in (default ``auto``: bfloat16 on CPUs with native
    bf16, float32 elsewhere; :func:`prior.service.trunk_dtype`)."""
    return _setting("PRIOR_DTYPE")


def cuda_graphs() -> bool:
    """``PRIOR_CUDA_GRAPHS``: replay recorded sampling passes on a CUDA device (:mod:`prior.cuda_graphs`; ~4-5x
    faster passes on an H100, same seeds). Off by default; ignored on CPU."""
    return _setting("PRIOR_CUDA_GRAPHS")


def uses_broker() -> bool:
    """True when tasks go through a broker to Celery workers; False when they run in this process."""
    return bool(settings.CELERY_BROKER_URL) and not settings.CELERY_TASK_ALWAYS_EAGER


def reset() -> None:
    """Forget every loaded model (tests, or after replacing the checkpoint on disk)."""
    with _lock:
        _cache.clear()


def catalog_space():
    """The catalog's embedding space (``settings.CATALOG_SPACE``) as a :class:`prior.spaces.EmbeddingSpace`."""
    from catalog.models import EmbeddingSpace

    name = settings.CATALOG_SPACE
    row = EmbeddingSpace.objects.filter(name=name).first()
    if row is None:
        raise PriorNotReady(
            f"the catalog has no embedding space {name!r} yet: ingest tracks into it "
            "(`python manage.py ingest_musiccaps`, or `make demo`), or set CATALOG_SPACE"
        )
    return row.as_prior_space()


def _load_prior():
    from prior.checkpoint import CheckpointError
    from prior.service import PriorSampler
    from prior.spaces import SpaceMismatchError

    path = Path(settings.PRIOR_CHECKPOINT)
    if not (path / "config.json").is_file():
        raise PriorNotReady(f"no prior checkpoint at {path}: {FIX_HINT}")
    dtype(), device(), cuda_graphs()  # a bad setting is named before anything is loaded
    expected = catalog_space()
    try:
        sampler = PriorSampler.load(path, device=device(), expect_music_space=expected, dtype=dtype(),
                                    cuda_graphs=cuda_graphs())
    except SpaceMismatchError as exc:
        raise PriorNotReady(
            f"the prior at {path} does not fit the catalog ({exc}); train a prior on the catalog's space "
            f"or point CATALOG_SPACE at the space the prior was trained for"
        ) from None
    except (CheckpointError, ValueError, OSError) as exc:
        raise PriorNotReady(f"cannot load the prior at {path}: {exc}") from None
    if sampler.device.type == "cpu":
        _limit_cpu_threads()
    log.info("loaded prior %s on %s, %s (cond %s, music %s)%s", path, sampler.device, sampler.dtype,
             sampler.cond_space.name, sampler.music_space.name, ", CUDA graphs" if sampler.graphs else "")
    return sampler


def _limit_cpu_threads() -> None:
    """One torch thread per request by default (``PRIOR_CPU_THREADS``) when sampling on CPU.

    Requests already run in parallel (server threads or processes), and the prior's matrices are small: intra-op
    threads add nothing for one request and, when several requests each start a team of threads on a few cores,
    the oversubscription shows up as seconds-long latency tails. Measured on 2 shared cores: 10-14 ms per 16-seed
    sample with 1 or 2 threads alone, but p50 400 ms with 2 threads while other processes were busy.
    """
    import torch

    threads = _setting("PRIOR_CPU_THREADS")
    if threads > 0 and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def get_prior():
    """The process's :class:`prior.service.PriorSampler`, loaded on first use and checked against the catalog."""
    return _once("prior", _load_prior)


def batch_max() -> int:
    """``PRIOR_BATCH_MAX``: most concurrent sampling requests of this process run as one batch (1: no batching)."""
    return _setting("PRIOR_BATCH_MAX")


def batch_wait() -> float:
    """``PRIOR_BATCH_WAIT_MS`` in seconds: how long a batch about to start waits for requests that announced they
    will sample soon (:meth:`prior.batching.SampleBatcher.expecting`); 0 turns the waiting off."""
    return _setting("PRIOR_BATCH_WAIT_MS") / 1000


def get_batcher():
    """The process's :class:`prior.batching.SampleBatcher` over :func:`get_prior`: what every sampling call uses.

    Threads of one process (gunicorn gthread, Celery's threads pool) that sample at the same time share batched
    network passes; a lone request runs at once. See :mod:`prior.batching` for why and how.
    """
    from prior.batching import SampleBatcher

    return _once("batcher", lambda: SampleBatcher(get_prior(), max_batch=batch_max(), max_wait=batch_wait()))


def loaded_prior():
    """The process's prior if it is loaded already, else None: never loads anything (cheap, cannot fail)."""
    return _cache.get("prior")


def loaded_batcher():
    """The process's batcher if it exists already, else None: never loads anything (cheap, cannot fail)."""
    return _cache.get("batcher")


def loaded_models() -> frozenset[str]:
    """Which of the process's models are loaded already ("prior", "batcher", "image", "text"): what a warm-up
    achieved. Never loads anything (cheap, cannot fail)."""
    return frozenset(key for key in ("prior", "batcher", "image", "text") if _cache.get(key) is not None)


def prior_spaces():
    """``(cond_space, music_space)`` of the configured prior, checked against the catalog, WITHOUT its weights.

    A web process that sends sampling to Celery workers needs the spaces (to check encoders and client
    embeddings) but not the network; this reads only the checkpoint's config.json.
    """
    def read():
        prior = _cache.get("prior")
        return (prior.cond_space, prior.music_space) if prior is not None else _read_spaces()

    return _once("spaces", read)


def steering_defaults():
    """The configured prior's :class:`~prior.config.SteeringConfig` (its checkpoint's "steering" block over the
    code defaults), from config.json alone: the web side plans the steering, the sampler (maybe a Celery worker)
    only runs it."""
    def read():
        from prior.checkpoint import CheckpointError, read_config
        from prior.config import SteeringConfig, config_from_dict, config_to_dict

        path = Path(settings.PRIOR_CHECKPOINT)
        try:
            block = read_config(path).get("steering") or {}
        except CheckpointError as exc:
            raise PriorNotReady(f"cannot read the prior at {path}: {exc}") from None
        return config_from_dict(SteeringConfig, {**config_to_dict(SteeringConfig()), **block})

    return _once("steering", read)


def _read_spaces():
    from prior.checkpoint import CheckpointError, read_config
    from prior.spaces import EmbeddingSpace, SpaceMismatchError

    path = Path(settings.PRIOR_CHECKPOINT)
    if not (path / "config.json").is_file():
        raise PriorNotReady(f"no prior checkpoint at {path}: {FIX_HINT}")
    try:
        config = read_config(path)
        cond, music = EmbeddingSpace.from_dict(config["cond_space"]), EmbeddingSpace.from_dict(config["music_space"])
    except (CheckpointError, KeyError, TypeError, ValueError) as exc:
        raise PriorNotReady(f"cannot read the prior at {path}: {exc}") from None
    try:
        catalog_space().check_matches(music, what=f"music space of checkpoint {path}")
    except SpaceMismatchError as exc:
        raise PriorNotReady(
            f"the prior at {path} does not fit the catalog ({exc}); train a prior on the catalog's space "
            f"or point CATALOG_SPACE at the space the prior was trained for"
        ) from None
    return cond, music


def _load_encoder(kind: str, name: str):
    from prior import encoders
    from prior.encoders.base import EncoderError

    factory = getattr(encoders, f"get_{kind}_encoder")
    try:
        return factory(name)
    except EncoderError as exc:
        raise PriorNotReady(f"cannot load the {kind} encoder {name!r}: {exc}") from None


def _checked_encoder(kind: str, name: str, expected, hint: str):
    """The encoder ``name`` of ``kind``, loaded once per process, refused unless it speaks ``expected``'s space."""
    def load():
        from prior.spaces import SpaceMismatchError

        encoder = _load_encoder(kind, name)
        try:
            expected.check_matches(encoder.space, what=f"{kind} encoder {name!r} space")
        except SpaceMismatchError as exc:
            raise PriorNotReady(f"{exc}: {hint}") from None
        return encoder

    return _once(kind, load)


def get_image_encoder():
    """The image encoder named by ``settings.IMAGE_ENCODER``; its space must be the prior's condition space."""
    cond_space, _ = prior_spaces()
    return _checked_encoder(
        "image", settings.IMAGE_ENCODER, cond_space, "set IMAGE_ENCODER to the encoder the prior was trained with"
    )


def get_text_encoder():
    """The text encoder named by ``settings.TEXT_ENCODER``; its space must be the prior's music space."""
    _, music_space = prior_spaces()
    return _checked_encoder(
        "text", settings.TEXT_ENCODER, music_space, "set TEXT_ENCODER to an encoder of the catalog's space"
    )


def exercise_models(encoders: bool = True) -> None:
    """Run one plain and one steered 16-seed query through the loaded prior (and an image and a tag through the
    encoders), discarding the results.

    Why: a model's first call pays for allocations and kernel selection, and the process's first request would
    wait for it: in one process, ad hoc, the text encoder's first tag took 47.7 ms against 17.5-18.2 for the next
    ones, the demo prior's first steered query 21.3 ms against 17.7. Called directly on the prior, not through the
    batcher, whose pass counts report real traffic.
    """
    import numpy as np
    from PIL import Image

    prior = get_prior()
    rng = np.random.default_rng(0)
    cond = rng.normal(size=prior.cond_space.dim).astype(np.float32)
    toward = rng.normal(size=prior.music_space.dim).astype(np.float32)
    prior.sample(cond, n_seeds=16, seed=0)
    prior.sample(cond, n_seeds=16, steer=[(toward, 0.1)], seed=0)
    if encoders:
        get_image_encoder().encode_images([Image.new("RGB", (64, 64), (128, 96, 64))])
        get_text_encoder().encode_texts(["warm up"])


def readiness(encoders: bool = True, *, sampling_here: bool | None = None) -> tuple[bool, str]:
    """``(ok, detail)`` for /readyz: checkpoint present, loads, spaces match the catalog (and the encoders).

    With a broker configured the weights live on the Celery workers, so this process only checks the spaces
    (config.json); without one it loads the prior, as the first request would. ``sampling_here=True`` loads it
    whatever the broker says: a Celery worker's own warm-up. Never raises: anything wrong comes back as
    ``(False, what to do about it)``.
    """
    if sampling_here is None:
        sampling_here = not uses_broker()
    try:
        if not sampling_here:
            cond_space, music_space = prior_spaces()
            where = "Celery workers"
        else:
            prior = get_prior()
            cond_space, music_space, where = prior.cond_space, prior.music_space, str(prior.device)
        if encoders:
            get_image_encoder()
            get_text_encoder()
    except PriorNotReady as exc:
        return False, str(exc)
    except Exception as exc:  # a database error, a broken install: report it, do not crash the probe
        return False, f"prior not ready: {type(exc).__name__}: {exc}"
    return True, f"prior {Path(settings.PRIOR_CHECKPOINT).name} on {where}: {cond_space.name} -> {music_space.name}"
