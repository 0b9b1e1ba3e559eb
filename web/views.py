"""The listener's page: one template; everything it shows comes from the public REST API, called by web/app.js."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from recommend import conf

# Nothing on the page comes from another host, and no inline script or style runs: the browser enforces both.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "img-src 'self' blob: data:",
    "media-src 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    response = render(request, "web/index.html", {"image_max_bytes": int(conf.get("IMAGE_MAX_BYTES"))})
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response
