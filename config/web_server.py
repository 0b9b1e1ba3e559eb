"""gunicorn's settings (the web server of the Dockerfile, docker-compose and bench/api.py): one typed default each.

The :mod:`recommend.conf` pattern for settings that gunicorn, not Django, reads: ``config/gunicorn.conf.py`` takes
its values from :func:`gunicorn_settings`, and ``config/settings.py`` runs :func:`check_environment` when any
process of the project starts, so ``GUNICORN_THREADS=many`` stops ``manage.py``, gunicorn and Celery with one line
naming the variable instead of a traceback from ``int()``. See docs/operations.md for each one.
"""

from __future__ import annotations

import os
import re
from typing import Any

from django.core.exceptions import ImproperlyConfigured

DEFAULTS: dict[str, Any] = {
    # Where gunicorn listens: HOST:PORT, [IPv6]:PORT or unix:PATH.
    "GUNICORN_BIND": "0.0.0.0:8000",
    # Worker processes (gunicorn's own variable); 0: one per CPU.
    "WEB_CONCURRENCY": 0,
    # Requests each worker serves at once (gthread); their sampling calls share batched passes of the prior.
    "GUNICORN_THREADS": 4,
    # Seconds before a worker that stopped answering is restarted.
    "GUNICORN_TIMEOUT": 60,
}
MINIMUMS: dict[str, int] = {"WEB_CONCURRENCY": 0, "GUNICORN_THREADS": 1, "GUNICORN_TIMEOUT": 1}
BIND = re.compile(r"^(unix:\S+|\[[0-9A-Fa-f:.]+\]:(?P<port6>\d+)|[^\s:\[\]]+:(?P<port>\d+))$")


def parse(name: str, raw: str) -> Any:
    """``raw`` as ``name``'s type, checked; ``ValueError`` naming the setting otherwise."""
    text = raw.strip()
    if name == "GUNICORN_BIND":
        match = BIND.match(text)
        port = match and (match["port"] or match["port6"])
        if not match or (port is not None and not 1 <= int(port) <= 65535):
            raise ValueError(f"{name}={raw!r} is not HOST:PORT, [IPv6]:PORT or unix:PATH")
        return text
    try:
        number = int(text)
    except ValueError:
        number = None
    if number is None or number < MINIMUMS[name]:
        raise ValueError(f"{name}={raw!r} is not a whole number >= {MINIMUMS[name]}")
    return number


def get(name: str) -> Any:
    """``name``'s value from the environment, else its default; ``ImproperlyConfigured`` naming it if malformed."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return DEFAULTS[name]
    try:
        return parse(name, raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{exc} (default {DEFAULTS[name]!r}); fix or unset it") from None


def check_environment() -> None:
    """Parse every setting's environment value now: raises ImproperlyConfigured naming the first bad one."""
    for name in DEFAULTS:
        get(name)


def gunicorn_settings() -> dict[str, Any]:
    """gunicorn's ``bind``, ``workers``, ``threads`` and ``timeout``, from the environment and the defaults."""
    return {
        "bind": get("GUNICORN_BIND"),
        "workers": get("WEB_CONCURRENCY") or os.cpu_count() or 2,
        "threads": get("GUNICORN_THREADS"),
        "timeout": get("GUNICORN_TIMEOUT"),
    }
