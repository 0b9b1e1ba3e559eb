"""Static files are served by the app itself (WhiteNoise), and the API docs load nothing from another host."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize(
    "path",
    [
        "/static/admin/css/base.css",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js",
    ],
)
def test_static_files_are_served_by_the_app(client, path):
    response = client.get(path)
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert len(body) > 1000


def test_missing_static_file_is_404(client):
    assert client.get("/static/admin/css/no-such-file.css").status_code == 404


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_api_docs_reference_only_this_host(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html
    assert all(s.startswith("/") and not s.startswith("//") for s in sources), sources


def test_swagger_ui_has_no_inline_script(client):
    """Its start-up script is a file of this host too: the page works under a strict Content-Security-Policy."""
    html = client.get("/api/docs/").content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
