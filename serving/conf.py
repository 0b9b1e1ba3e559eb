"""The serving layer's settings (how this process runs the prior): one typed default each, here and nowhere else.

The :mod:`recommend.conf` pattern: a name is looked up in Django's settings first (tests override it there), then
in the environment variable of the same name, then falls back to :data:`DEFAULTS`. A process checks every
environment value when it starts (:func:`check_environment`, run by the app's ``ready``), so ``PRIOR_BATCH_MAX=eight``
stops the boot with the variable's name instead of passing /readyz and then failing every sampling request.
See docs/operations.md for what each one does.
"""

from __future__ import annotations

import os
import re
from typing import Any

from django.conf import settings

from prior.config import TRUNK_DTYPES

DEFAULTS: dict[str, Any] = {
    # Torch device of the prior: "" lets torch pick (CUDA when it sees one), else cpu, cuda, cuda:N, mps.
    "PRIOR_DEVICE": "",
    # What the prior's per-seed MLP computes in (prior.service.trunk_dtype).
    "PRIOR_DTYPE": "auto",
    # Replay recorded sampling passes on a CUDA device (prior.cuda_graphs); ignored on CPU.
    "PRIOR_CUDA_GRAPHS": False,
    # Torch intra-op threads of a process sampling on CPU; 0 leaves torch's own choice.
    "PRIOR_CPU_THREADS": 1,
    # Most concurrent sampling requests of one process run as one batched pass (1: never batch).
    "PRIOR_BATCH_MAX": 8,
    # How long a batch about to start waits for announced requests, in milliseconds (0: never wait).
    "PRIOR_BATCH_WAIT_MS": 20.0,
}

MINIMUMS: dict[str, float] = {"PRIOR_CPU_THREADS": 0, "PRIOR_BATCH_MAX": 1, "PRIOR_BATCH_WAIT_MS": 0}
CHOICES: dict[str, tuple[str, ...]] = {"PRIOR_DTYPE": TRUNK_DTYPES}
DEVICE = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")
FLAGS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def parse(name: str, raw: Any) -> Any:
    """``raw`` (a Django setting's value or an environment string) as ``name``'s type, checked.

    Raises ``ValueError`` with a message naming the setting; the runtime reports it as a prior that is not ready,
    the boot check as a configuration error."""
    default = DEFAULTS[name]
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        flag = FLAGS.get(str(raw).strip().lower())
        if flag is None:
            raise ValueError(f"{name} must be a flag (1/0, true/false, yes/no, on/off), got {raw!r}")
        return flag
    if name in MINIMUMS:
        try:
            number = type(default)(raw)
        except (TypeError, ValueError):
            number = None
        if number is None or number < MINIMUMS[name]:
            raise ValueError(f"{name} must be a number >= {MINIMUMS[name]:g}, got {raw!r}")
        return number
    text = str(raw).strip()
    if name in CHOICES and text not in CHOICES[name]:
        raise ValueError(f"{name} must be one of {', '.join(CHOICES[name])}, got {raw!r}")
    if name == "PRIOR_DEVICE" and text and not DEVICE.match(text):
        raise ValueError(f"{name} must be cpu, cuda, cuda:N or mps (or unset: CUDA when present), got {raw!r}")
    return text


def get(name: str) -> Any:
    """``name``'s value: the Django setting when set (not None), else the environment's, else the default."""
    raw = getattr(settings, name, None)
    if raw is None:
        raw = os.environ.get(name, "").strip()
        if not raw:
            return DEFAULTS[name]
    return parse(name, raw)


def check_environment() -> None:
    """Parse every setting's environment value now: raises ImproperlyConfigured naming the first bad one."""
    from django.core.exceptions import ImproperlyConfigured

    for name, default in DEFAULTS.items():
        raw = os.environ.get(name, "").strip()
        if raw:
            try:
                parse(name, raw)
            except ValueError as exc:
                raise ImproperlyConfigured(f"{exc} (default {default!r}); fix or unset it") from None
