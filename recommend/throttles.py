"""Throttling per client of the session endpoints: playlist creation (anonymous) and re-steering, which sample the
prior, and feedback, which stores an event per call."""

from __future__ import annotations

import logging
import time

from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

log = logging.getLogger(__name__)


class SessionThrottle(ScopedRateThrottle):
    """DRF's scoped throttle (the view's ``throttle_scope``: ``from_image``, ``steer`` or ``feedback``; rates from
    ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``), but reading the rate at request time: DRF's class freezes it at
    import, which tests and live reconfiguration miss. Clients are told apart by IP address (``NUM_PROXIES``, 0 by
    default: X-Forwarded-For is trusted only behind that many proxies); counts live in the default cache
    (``CACHE_URL``)."""

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        """DRF's check, failing open when the cache cannot be reached (a Redis restart): throttling protects the
        service, it is not worth answering every request with a 500 while the counter is away."""
        try:
            allowed = super().allow_request(request, view)
        except Exception as exc:  # any cache backend's connection error; the request itself is fine
            warn_cache_unavailable(self.scope, exc)
            return True
        if self.rate is not None:  # the cache answered: the next outage is news, warn about it at once
            _last_warning[0] = None
        return allowed


_last_warning: list[float | None] = [None]  # monotonic time of this process's last warning; None: none this outage


def warn_cache_unavailable(scope: str, exc: Exception, every_s: float = 60.0) -> None:
    """One warning per process per ``every_s`` while the cache is away, not one per request; the first request of
    each outage warns (a request the cache served since re-arms it)."""
    now = time.monotonic()
    if _last_warning[0] is None or now - _last_warning[0] >= every_s:
        _last_warning[0] = now
        log.warning("throttle %s not applied: the cache is unavailable (%s: %s); warning again in %.0f s at most",
                    scope, type(exc).__name__, exc, every_s)
