"""URL map: the listener page at /, the REST API under /api/, the admin, health checks, and the OpenAPI schema and docs."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from config import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("catalog.urls")),
    path("api/", include("recommend.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file, not inline: the page passes a strict Content-Security-Policy.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="web/redoc.html"), name="redoc"),
    path("healthz", health.healthz, name="healthz"),
    path("", include("web.urls")),
    path("readyz", health.readyz, name="readyz"),
]

handler404 = "config.health.not_found"
handler500 = "config.health.server_error"
