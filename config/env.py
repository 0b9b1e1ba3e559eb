"""Settings from environment variables: one parser for the project, and errors that name the variable.

A malformed value raises ``ImproperlyConfigured`` with the variable's name, its value and the default, so a
process stops at start with one line saying what to fix (``manage.py`` prints just that line), instead of a
bare ``ValueError`` from ``int()`` or a 500 at the first request that reads it.
"""

from __future__ import annotations

import os
import re
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")


def truthy(value: str) -> bool:
    """Whether a flag's text means on: ``1``, ``true``, ``yes`` or ``on`` (any case, spaces ignored)."""
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else truthy(value)


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


ORIGIN = re.compile(r"^https?://[^/\s]+$")


def env_origins(name: str) -> list[str]:
    """Comma-separated web origins (``https://app.example.com``, ``http://localhost:3000``): scheme and host,
    no path. A browser sends exactly that in its ``Origin`` header, so anything else would silently never match."""
    origins = env_list(name, "")
    bad = [origin for origin in origins if not ORIGIN.match(origin)]
    if bad:
        raise ImproperlyConfigured(
            f"{name}: {bad[0]!r} is not an origin; write scheme://host[:port] without a path, e.g. https://app.example.com"
        )
    return origins


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """``name``'s value, one of ``choices``; ``default`` when unset or blank."""
    value = os.environ.get(name, "").strip() or default
    if value not in choices:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not one of {', '.join(choices)} (default {default!r}); fix or unset it"
        )
    return value


RATE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


def env_rate(name: str, default: str) -> str:
    """A throttle rate such as ``120/minute`` (DRF's form); checked here, as DRF would only fail at a request."""
    value = os.environ.get(name, "").strip() or default
    if not RATE.match(value):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a rate like 120/minute (default {default!r}); fix or unset it"
        )
    return value


MEMORY = re.compile(r"^\d+(kB|MB|GB|TB)$")


def env_memory(name: str, default: str) -> str:
    """A Postgres memory size such as ``512MB`` (units kB, MB, GB, TB); checked here, as Postgres would only refuse
    it in the middle of an ingest."""
    value = os.environ.get(name, "").strip() or default
    if not MEMORY.match(value):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a Postgres memory size like 512MB or 2GB (default {default!r}); fix or unset it"
        )
    return value


def cache_config(url: str) -> dict:
    """Django's default cache for ``CACHE_URL``: Redis (``redis://``, ``rediss://``) when set, else this process's
    memory. Why it matters: the API's per-client throttles count in this cache, and a per-process count lets each
    gunicorn worker (and each container) grant the full rate again."""
    url = url.strip()
    if not url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    if not url.startswith(("redis://", "rediss://")):
        raise ImproperlyConfigured(f"CACHE_URL={url!r} is not a Redis URL; write redis://host:6379/1 or unset it")
    return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}


def env_value(name: str, default: T, kind: type | None = None) -> T:
    """``name``'s value parsed as ``kind`` (default: the type of ``default``); ``default`` when unset or blank."""
    kind = kind or type(default)
    if kind is bool or kind is type(None):
        raise TypeError(f"env_value({name!r}): use env_bool for flags, and pass kind when the default is None")
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a valid {kind.__name__} (default {default!r}); fix or unset it"
        ) from None
