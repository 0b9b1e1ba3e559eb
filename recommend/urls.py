"""REST routes of the recommend app (mounted under /api/)."""

from django.urls import path

from recommend import views

urlpatterns = [
    path("playlists/from-image", views.PlaylistFromImageApi.as_view(), name="playlist-from-image"),
    path("playlists/<int:playlist_id>", views.PlaylistDetailApi.as_view(), name="playlist-detail"),
    path("playlists/<int:playlist_id>/push", views.PlaylistPushApi.as_view(), name="playlist-push"),
    path("playlists/<int:playlist_id>/export", views.PlaylistExportApi.as_view(), name="playlist-export"),
    path("sessions/<str:session_id>", views.SessionDetailApi.as_view(), name="session-detail"),
    path("sessions/<str:session_id>/steer", views.SessionSteerApi.as_view(), name="session-steer"),
    path("sessions/<str:session_id>/feedback", views.SessionFeedbackApi.as_view(), name="session-feedback"),
]
