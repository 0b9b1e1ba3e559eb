"""URL map: the listener page at /, the REST API under /api/, the admin, health checks, the OpenAPI schema and docs."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from config import health
from web.views import RedocView, SwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("catalog.urls")),
    path("api/", include("recommend.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Self-hosted Swagger UI and ReDoc, each under a Content-Security-Policy (web/views.py).
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    path("healthz", health.healthz, name="healthz"),
    path("", include("web.urls")),
    path("readyz", health.readyz, name="readyz"),
]

handler404 = "config.health.not_found"
handler500 = "config.health.server_error"
