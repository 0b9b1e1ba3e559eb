"""REST routes of the recommend app (filled in by the playlist API)."""

urlpatterns: list = []
