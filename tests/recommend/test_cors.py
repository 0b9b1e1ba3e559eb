"""Browsers on an allowed origin may call the API (CORS_ALLOWED_ORIGINS): preflights pass with the session token
header, and every /api/ response carries the CORS headers, errors included; other origins and paths get none."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

APP = "https://app.example.com"


@pytest.fixture
def allowed(settings):
    settings.CORS_ALLOWED_ORIGINS = [APP]


def preflight(client: Client, path: str, origin: str):
    return client.options(path, HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                          HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type, x-session-token")


def test_preflight_of_a_steer_from_an_allowed_origin(db, allowed):
    response = preflight(Client(), f"/api/sessions/{uuid.uuid4()}/steer", APP)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    assert "x-session-token" in response["Access-Control-Allow-Headers"].split(", ")
    assert "POST" in response["Access-Control-Allow-Methods"]


def test_an_error_response_is_readable_by_the_allowed_origin(db, allowed):
    response = Client().get(f"/api/sessions/{uuid.uuid4()}", HTTP_ORIGIN=APP, HTTP_X_SESSION_TOKEN="x")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "session_not_found"
    assert response["Access-Control-Allow-Origin"] == APP


def test_other_origins_and_paths_get_no_cors_headers(db, allowed):
    client = Client()
    assert "Access-Control-Allow-Origin" not in preflight(client, "/api/playlists/from-image",
                                                          "https://evil.example.net")
    assert "Access-Control-Allow-Origin" not in client.get("/healthz", HTTP_ORIGIN=APP)


def test_no_origin_is_allowed_by_default(db):
    response = preflight(Client(), "/api/playlists/from-image", APP)
    assert "Access-Control-Allow-Origin" not in response
