"""HTTPS_ONLY: plain-http requests are redirected to https, except the health probes that load balancers and
orchestrators send over plain http inside the network."""

from __future__ import annotations

from django.test import Client


def test_http_is_redirected_but_not_the_health_probes(db, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    client = Client()  # a new client: the middleware reads these settings when it is built
    response = client.get("/api/schema/")
    assert response.status_code == 301 and response["Location"].startswith("https://")
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)  # answered, whatever the models' state: not redirected
    assert client.get("/api/schema/", secure=True).status_code == 200
