"""Push a playlist version to a Subsonic-API server, so it plays in the listener's own apps.

Only tracks that came from that server (catalog ``source`` = the server's source, ``external_id`` = its song id)
can be pushed; the others are reported as skipped, with their source. A playlist of the same name owned by the
user is updated in place (``updatePlaylist``: old entries removed, new ones added, in playlist order), otherwise
created (``createPlaylist``). Pushing the same version twice gives the same server playlist, not a second one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from catalog.services.subsonic import default_source
from catalog.subsonic import SubsonicAuthError, SubsonicClient, SubsonicError, SubsonicUnreachable
from core.errors import Conflict, Unavailable, UpstreamFailed
from recommend.models import Playlist

MAX_NAME_LENGTH = 200


@dataclass
class PushResult:
    server_playlist_id: str
    name: str
    created: bool
    pushed: list[int] = field(default_factory=list)  # catalog track ids, in playlist order
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {"track_id", "source", "reason"}

    def as_dict(self) -> dict[str, Any]:
        return {"server_playlist_id": self.server_playlist_id, "name": self.name, "created": self.created,
                "pushed": self.pushed, "skipped": self.skipped}


def default_name(playlist: Playlist) -> str:
    return f"Diff4Steer {str(playlist.session_id)[:8]} v{playlist.version}"


def configured_client() -> SubsonicClient:
    """The server in settings (``SUBSONIC_URL``/``_USER``/``_PASSWORD``); Unavailable ``push_not_configured`` if
    unset."""
    from django.conf import settings

    if not (settings.SUBSONIC_URL and settings.SUBSONIC_USER and settings.SUBSONIC_PASSWORD):
        raise Unavailable("No Subsonic server is configured (SUBSONIC_URL, SUBSONIC_USER, SUBSONIC_PASSWORD).",
                          code="push_not_configured")
    try:
        return SubsonicClient(settings.SUBSONIC_URL, settings.SUBSONIC_USER, settings.SUBSONIC_PASSWORD,
                              auth=settings.SUBSONIC_AUTH, timeout=float(settings.SUBSONIC_TIMEOUT))
    except SubsonicError as exc:
        raise Unavailable(str(exc), code="push_not_configured") from None


def server_error(exc: SubsonicError) -> UpstreamFailed:
    """A failure of the music server, not of this request, with a stable code."""
    if isinstance(exc, SubsonicUnreachable):
        code = "subsonic_unreachable"
    elif isinstance(exc, SubsonicAuthError):
        code = "subsonic_auth_failed"
    else:
        code = "subsonic_error"
    return UpstreamFailed(str(exc), code=code, details={"subsonic_code": exc.code})


def push_playlist(playlist: Playlist, client: SubsonicClient, *, name: str = "", source: str = "") -> PushResult:
    """Create or update the server playlist ``name`` with the playlist's tracks from ``source`` (see module doc).

    ``playlist`` must have its items and tracks loaded (:func:`recommend.selectors.get_playlist`). Raises
    :class:`~core.errors.Conflict` ``nothing_to_push`` when no track came from the server, and
    :class:`~core.errors.UpstreamFailed` when the server fails.
    """
    name = (name or default_name(playlist)).strip()[:MAX_NAME_LENGTH]
    source = source or default_source(client.url)
    song_ids: list[str] = []
    result = PushResult(server_playlist_id="", name=name, created=False)
    for item in playlist.items.all():
        track = item.track
        if track.source == source:
            song_ids.append(track.external_id)
            result.pushed.append(track.pk)
        else:
            result.skipped.append({"track_id": track.pk, "source": track.source,
                                   "reason": f"not a song of {source}"})
    if not song_ids:
        raise Conflict(f"None of the playlist's tracks came from {source}: nothing to push.", code="nothing_to_push",
                       details={"source": source, "skipped": len(result.skipped)})
    try:
        existing = _find(client, name)
        if existing is None:
            client.create_playlist(name, song_ids)
            existing = _find(client, name)
            if existing is None:
                raise SubsonicError(f"{client.url}: createPlaylist answered ok but no playlist {name!r} exists")
            result.created = True
        else:
            entries = len(client.playlist(str(existing["id"])).get("entry", []))
            client.update_playlist(str(existing["id"]), add=song_ids, remove_indexes=range(entries))
    except SubsonicError as exc:
        raise server_error(exc) from None
    result.server_playlist_id = str(existing["id"])
    return result


def _find(client: SubsonicClient, name: str) -> dict[str, Any] | None:
    """The user's own playlist called ``name`` (the newest if several)."""
    mine = [p for p in client.playlists() if p.get("name") == name and p.get("owner", client.user) == client.user]
    return max(mine, key=lambda p: str(p.get("created", ""))) if mine else None
