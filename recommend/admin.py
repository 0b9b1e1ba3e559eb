"""Read-only admin views of sessions and playlists (support and debugging: what was served, and why)."""

from django.contrib import admin

from recommend.models import Playlist, PlaylistItem, Session, SteeringEvent


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class SteeringEventInline(ReadOnlyInline):
    model = SteeringEvent
    fields = ("kind", "tags", "avoid", "liked", "skipped", "playlist_version", "created_at")
    readonly_fields = fields


class PlaylistItemInline(ReadOnlyInline):
    model = PlaylistItem
    fields = ("rank", "score", "seed", "track")
    readonly_fields = fields


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "cond_space", "tags", "avoid")
    readonly_fields = ("id", "token_hash", "cond_space", "created_at", "updated_at")
    exclude = ("query_embedding",)
    inlines = (SteeringEventInline,)
    search_fields = ("id",)


@admin.register(Playlist)
class PlaylistAdmin(admin.ModelAdmin):
    list_display = ("id", "session", "version", "created_at")
    readonly_fields = ("session", "version", "params", "created_at")
    inlines = (PlaylistItemInline,)
    list_select_related = ("session",)
