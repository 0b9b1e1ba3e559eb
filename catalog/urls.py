"""REST routes of the catalog app (mounted under /api/)."""

from django.urls import path

from catalog.api.views import TrackListCreateApi

urlpatterns = [
    path("tracks/", TrackListCreateApi.as_view(), name="track-list"),
]
