"""Behind a reverse proxy the per-client throttles tell clients apart by X-Forwarded-For, but only when NUM_PROXIES
says how many proxies to trust; otherwise the header is ignored (a client could send any address in it)."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.cache import cache

from tests.helpers.api import URL, assert_error

BODY = {"image_embedding": list(np.full(48, 0.1)), "size": 2}


@pytest.fixture
def one_per_minute(settings):
    cache.clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"from_image": "1/minute"}}
    yield settings
    cache.clear()


def post_from(api, client_address: str):
    """A request relayed by the proxy at 10.0.0.2, which put the client's address in X-Forwarded-For."""
    return api.post(URL, BODY, format="json", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=client_address)


def test_behind_one_trusted_proxy_each_client_has_its_own_rate(api, one_per_minute):
    one_per_minute.REST_FRAMEWORK = {**one_per_minute.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert post_from(api, "203.0.113.7").status_code == 201
    assert post_from(api, "198.51.100.4").status_code == 201  # another client behind the same proxy
    assert_error(post_from(api, "203.0.113.7"), 429, "throttled")


def test_without_num_proxies_the_forwarded_address_is_not_trusted(api, one_per_minute):
    assert post_from(api, "203.0.113.7").status_code == 201
    assert_error(post_from(api, "198.51.100.4"), 429, "throttled")  # same REMOTE_ADDR: same client
