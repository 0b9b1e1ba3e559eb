"""The listener's page: one template; everything it shows comes from the public REST API, called by web/app.js."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

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


class CspMixin:
    """The API docs pages with a Content-Security-Policy: their assets come from this host (drf-spectacular-sidecar)
    and the browser refuses anything else (ReDoc's bundle asks for its logo from a CDN: refused, not fetched)."""

    content_security_policy = ""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = self.content_security_policy
        return response


class SwaggerView(CspMixin, SpectacularSwaggerSplitView):
    # No inline script at all (the split view serves its start-up script as a file); Swagger UI sets a few inline
    # styles, which is all 'unsafe-inline' allows here.
    content_security_policy = "; ".join([
        "default-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:", "object-src 'none'",
        "base-uri 'none'", "frame-ancestors 'none'",
    ])


class RedocView(CspMixin, SpectacularRedocView):
    template_name = "web/redoc.html"
    # ReDoc styles itself with styled-components (inline <style>), starts from an inline script and searches in a
    # blob: worker; still nothing from another host.
    content_security_policy = "; ".join([
        "default-src 'self'", "script-src 'self' 'unsafe-inline' blob:", "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:", "worker-src 'self' blob:", "object-src 'none'", "base-uri 'none'",
        "frame-ancestors 'none'",
    ])
