"""A small client for the Subsonic REST API (Navidrome, Gonic, Airsonic, Supysonic, ...): the calls the catalog
needs to read a library and write playlists back, with timeouts and one-line errors.

Why not py-sonic: it opens every request without a timeout (a server that stops answering mid-walk would hang the
ingest forever) and turns the server's numeric error code into an exception class, losing the code a user needs to
see. This client is stdlib only (``urllib``), ~150 lines, and tested against a real server (tests/subsonic/).

Authentication (http://www.subsonic.org/pages/api.jsp): servers speaking API 1.13 or later take a salted token
(``t = md5(password + s)``); older ones (Supysonic answers as 1.12 and rejects tokens with error 10) take the
password hex-encoded (``p=enc:...``). ``auth="auto"`` pings with a token first and falls back to the hex password
when the server says it is older than 1.13 or refuses token authentication (errors 10, 30, 41).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

CLIENT_NAME = "diff4steer"
TOKEN_API_VERSION = "1.16.1"
LEGACY_API_VERSION = "1.12.0"
AUTH_MODES = ("auto", "token", "password")
ERROR_NAMES = {
    0: "generic error", 10: "required parameter missing", 20: "client must upgrade", 30: "server must upgrade",
    40: "wrong username or password", 41: "token authentication not supported", 50: "not authorized",
    60: "trial expired", 70: "not found",
}


class SubsonicError(Exception):
    """Any failure talking to the server; ``str()`` is one line for a user. ``code`` is the Subsonic error code
    (None when the server could not be reached or did not answer in the Subsonic format)."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class SubsonicUnreachable(SubsonicError):
    """No answer: connection refused, DNS failure, timeout, HTTP error, or not a Subsonic server."""


class SubsonicAuthError(SubsonicError):
    """Wrong user name or password (error 40), or the user may not do this (50)."""


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in str(text).split("."))
    except ValueError:
        return (0,)


class SubsonicClient:
    """One server and user. ``url`` is the server's base URL (``http://host:4533``; ``/rest`` is added)."""

    def __init__(self, url: str, user: str, password: str, *, auth: str = "auto", timeout: float = 15.0):
        parsed = urllib.parse.urlsplit(url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SubsonicError(f"{url!r} is not an http(s) URL of a Subsonic server")
        if auth not in AUTH_MODES:
            raise SubsonicError(f"unknown auth mode {auth!r}; use one of {', '.join(AUTH_MODES)}")
        self.url = url.strip().rstrip("/")
        self.user = user
        self._password = password
        self.auth = auth
        self.timeout = float(timeout)
        self.server_version: str | None = None

    def __repr__(self) -> str:  # never the password
        return f"SubsonicClient({self.url!r}, user={self.user!r}, auth={self.auth!r})"

    # --- transport -------------------------------------------------------------------------------------------

    def _auth_params(self) -> list[tuple[str, str]]:
        if self.auth == "password":
            return [("u", self.user), ("p", "enc:" + self._password.encode("utf-8").hex()), ("v", LEGACY_API_VERSION)]
        salt = secrets.token_hex(8)
        token = hashlib.md5((self._password + salt).encode("utf-8")).hexdigest()  # noqa: S324 (the protocol's)
        return [("u", self.user), ("t", token), ("s", salt), ("v", TOKEN_API_VERSION)]

    def _open(self, method: str, params: Sequence[tuple[str, Any]]):
        query = [*self._auth_params(), ("c", CLIENT_NAME), ("f", "json"),
                 *((k, str(v)) for k, v in params if v is not None)]
        request = urllib.request.Request(f"{self.url}/rest/{method}", data=urllib.parse.urlencode(query).encode(),
                                         headers={"User-Agent": CLIENT_NAME})
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)  # noqa: S310 (http(s) checked above)
        except urllib.error.HTTPError as exc:
            raise SubsonicUnreachable(f"{self.url}: HTTP {exc.code} {exc.reason} on {method}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:  # refused, DNS, timeout, reset
            reason = getattr(exc, "reason", exc)
            raise SubsonicUnreachable(f"{self.url}: server unreachable ({reason})") from None

    def _call_once(self, method: str, params: Sequence[tuple[str, Any]]) -> dict[str, Any]:
        with self._open(method, params) as response:
            try:
                raw = response.read()
            except (OSError, http.client.HTTPException) as exc:
                raise SubsonicUnreachable(f"{self.url}: connection lost during {method} ({exc})") from None
        try:
            body = json.loads(raw.decode("utf-8"))["subsonic-response"]
        except (ValueError, KeyError, TypeError):
            raise SubsonicUnreachable(f"{self.url}: not a Subsonic API answer to {method}") from None
        self.server_version = body.get("version") or self.server_version
        if body.get("status") != "ok":
            error = body.get("error") or {}
            code = int(error.get("code", 0)) if str(error.get("code", "0")).isdigit() else 0
            message = error.get("message") or ERROR_NAMES.get(code, "error")
            kind = SubsonicAuthError if code in (40, 50) else SubsonicError
            raise kind(f"{self.url}: {method} failed with Subsonic error {code}: {message}", code)
        return body

    def call(self, method: str, params: Sequence[tuple[str, Any]] = ()) -> dict[str, Any]:
        """The ``subsonic-response`` object of ``method``; list parameters are repeated pairs in ``params``."""
        if self.auth == "auto":
            self._negotiate()
        return self._call_once(method, params)

    def _negotiate(self) -> None:
        """Token authentication if the server takes it, else the hex-encoded password (see module docstring)."""
        self.auth = "token"
        try:
            self._call_once("ping", ())
        except SubsonicAuthError:
            raise
        except SubsonicError as exc:
            too_old = self.server_version is not None and _version(self.server_version) < (1, 13)
            if isinstance(exc, SubsonicUnreachable) or not (too_old or exc.code in (10, 30, 41)):
                self.auth = "auto"
                raise
            self.auth = "password"

    # --- the API calls used here ------------------------------------------------------------------------------

    def ping(self) -> str:
        """Check the server and the credentials; the server's API version."""
        return str(self.call("ping").get("version", ""))

    def artists(self) -> list[dict[str, Any]]:
        """Every artist of the library (``getArtists``, ID3 tags), as the server lists them."""
        indexes = self.call("getArtists").get("artists", {}).get("index", [])
        return [artist for index in indexes for artist in index.get("artist", [])]

    def artist_albums(self, artist_id: str) -> list[dict[str, Any]]:
        return self.call("getArtist", [("id", artist_id)]).get("artist", {}).get("album", [])

    def album_songs(self, album_id: str) -> list[dict[str, Any]]:
        return self.call("getAlbum", [("id", album_id)]).get("album", {}).get("song", [])

    def albums(self) -> list[dict[str, Any]]:
        """Every album (id, name, ``songCount``), artist by artist, each once: what :meth:`walk_songs` will read,
        so a caller knows how many songs are coming before it asks for them."""
        albums: dict[str, dict[str, Any]] = {}
        for artist in self.artists():
            for album in self.artist_albums(str(artist["id"])):
                albums.setdefault(str(album["id"]), album)  # an album may be listed under two artists
        return list(albums.values())

    def walk_songs(self, albums: Sequence[dict[str, Any]] | None = None) -> Iterator[dict[str, Any]]:
        """Every song of ``albums`` (default: :meth:`albums`), one request per album, so memory stays bounded."""
        for album in self.albums() if albums is None else albums:
            yield from self.album_songs(str(album["id"]))

    def stream(self, song_id: str, max_bytes: int = 200 * 1024 * 1024) -> bytes:
        """The song's audio as the server sends it (original format unless it transcodes)."""
        if self.auth == "auto":
            self._negotiate()
        with self._open("stream", [("id", song_id)]) as response:
            try:
                data = response.read(max_bytes + 1)
            except (OSError, http.client.HTTPException) as exc:
                raise SubsonicUnreachable(f"{self.url}: connection lost during stream ({exc})") from None
            kind = response.headers.get("Content-Type", "")
        if kind.startswith(("application/json", "text/")):
            try:
                error = json.loads(data)["subsonic-response"].get("error", {})
            except (ValueError, KeyError, TypeError):
                error = {}
            raise SubsonicError(f"{self.url}: stream {song_id} failed: {error.get('message', kind)}",
                                error.get("code"))
        if len(data) > max_bytes:
            raise SubsonicError(f"{self.url}: stream {song_id} is larger than {max_bytes} bytes")
        return data

    def playlists(self) -> list[dict[str, Any]]:
        return self.call("getPlaylists").get("playlists", {}).get("playlist", [])

    def playlist(self, playlist_id: str) -> dict[str, Any]:
        return self.call("getPlaylist", [("id", playlist_id)]).get("playlist", {})

    def create_playlist(self, name: str, song_ids: Sequence[str], playlist_id: str | None = None) -> None:
        """``createPlaylist``: a new playlist, or (with ``playlist_id``) replace an existing one's songs."""
        params: list[tuple[str, Any]] = [("playlistId", playlist_id)] if playlist_id else [("name", name)]
        self.call("createPlaylist", params + [("songId", s) for s in song_ids])

    def update_playlist(self, playlist_id: str, *, name: str | None = None, add: Sequence[str] = (),
                        remove_indexes: Sequence[int] = ()) -> None:
        params: list[tuple[str, Any]] = [("playlistId", playlist_id), ("name", name)]
        params += [("songIdToAdd", s) for s in add] + [("songIndexToRemove", i) for i in remove_indexes]
        self.call("updatePlaylist", params)
