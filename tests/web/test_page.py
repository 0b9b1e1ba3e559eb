"""The page at / without a browser: served with a strict Content-Security-Policy, its assets from this host."""

from __future__ import annotations

import re


def test_page_is_served_with_a_strict_csp_and_local_assets(client):
    response = client.get("/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    html = response.content.decode()
    assert re.findall(r'(?:src|href)="(/static/[^"]+)"', html) == ["/static/web/app.css", "/static/web/app.js"]
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)
    for asset in ("/static/web/app.css", "/static/web/app.js"):
        assert client.get(asset).status_code == 200


def test_page_calls_only_the_public_api():
    from pathlib import Path

    from django.conf import settings

    script = (Path(settings.BASE_DIR) / "web" / "static" / "web" / "app.js").read_text()
    paths = set(re.findall(r'["`](/[a-z][^"`$?]*)', script))
    assert paths and all(p.startswith("/api/") for p in paths), paths


def test_only_get(client):
    assert client.post("/").status_code == 405
