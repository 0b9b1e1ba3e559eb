"""Throttling of playlist creation per client (the expensive, anonymous endpoint)."""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle


class FromImageThrottle(ScopedRateThrottle):
    """DRF's scoped throttle (scope ``from_image``, rate from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``), but
    reading the rate at request time: DRF's class freezes it at import, which tests and live reconfiguration miss.
    Clients are told apart by IP address (set ``NUM_PROXIES`` behind a proxy)."""

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
