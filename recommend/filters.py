"""Playlist filters: what a listener rules out (genres, years, long tracks, artists) and how much of one album or
one song a playlist may hold. Sent with ``from-image``, remembered by the session, replaced by a ``steer`` that
sends new ones.

Two kinds, applied where each is cheap and exact:
- row filters (:class:`catalog.filters.TrackFilter`) run inside the one-round-trip ANN query, so every seed's list
  is filled with tracks that pass (pgvector's iterative index scan);
- caps on groups of tracks (at most N per album, one version per song) need the other picks, so they run in the
  diversifier (:func:`recommend.diversify.mmr_select`'s ``groups``), beside the artist cap.

A genre no track has makes the playlist empty with a note instead of failing: the listener asked for something the
catalog does not hold, which is an answer, not an error.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from catalog.filters import TrackFilter, normalise_name

# "(Remastered 2011)", "[Live]", "- 2011 Remaster", "- Radio Edit": version markers, not part of the song's name.
_BRACKETS = re.compile(r"\s*[(\[{][^)\]}]*[)\]}]")
_VERSION_SUFFIX = re.compile(
    r"\s+[-–—]\s+.*\b(remaster(ed)?|live|version|edit|mix|remix|mono|stereo|demo|acoustic|take|session)\b.*$",
    re.IGNORECASE,
)
_NOT_WORD = re.compile(r"[\W_]+")
_APOSTROPHES = re.compile(r"['’`]")


def song_key(title: str, artist: str) -> Hashable | None:
    """Normalised (artist, title) for "one version per song": case, punctuation and version markers ignored.

    "Nightcall (Remastered 2011)" and "Nightcall - Live at Wembley" by the same artist are one song; a track with
    no title is its own song (None).
    """
    title = _APOSTROPHES.sub("", str(title or ""))
    base = _VERSION_SUFFIX.sub("", _BRACKETS.sub("", title))
    name = _NOT_WORD.sub(" ", base).strip().casefold() or _NOT_WORD.sub(" ", title).strip().casefold()
    return (normalise_name(artist), name) if name else None


def album_key(album: str) -> Hashable | None:
    """The album's name, case- and space-insensitive; no album is no group (None)."""
    return normalise_name(album) or None


@dataclass(frozen=True)
class PlaylistFilters:
    """Everything a listener can filter on; ``PlaylistFilters()`` filters nothing."""

    track: TrackFilter = field(default_factory=TrackFilter)
    max_per_album: int | None = None
    one_version_per_song: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> PlaylistFilters:
        """From validated input (:class:`recommend.serializers.FiltersSerializer`) or a session's stored dict."""
        data = dict(data or {})
        return cls(
            track=TrackFilter.of(
                genres=data.get("genres") or (), exclude_genres=data.get("exclude_genres") or (),
                year_min=data.get("year_min"), year_max=data.get("year_max"),
                max_duration_s=data.get("max_duration_s"), exclude_artists=data.get("exclude_artists") or (),
            ),
            max_per_album=data.get("max_per_album"),
            one_version_per_song=bool(data.get("one_version_per_song", False)),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON for the session and the playlist's params: only the fields that are set."""
        track = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.track).items()}
        data = {**track, "max_per_album": self.max_per_album,
                "one_version_per_song": self.one_version_per_song or None}
        return {k: v for k, v in data.items() if v not in (None, [], ())}

    @property
    def is_empty(self) -> bool:
        return self == PlaylistFilters()


@dataclass(frozen=True)
class ResolvedFilters:
    """The filter the ANN applies, what to tell the listener, and whether nothing can match at all."""

    track: TrackFilter
    notes: list[str]
    matches_nothing: bool


def resolve(filters: PlaylistFilters) -> ResolvedFilters:
    """Check the genres against the catalog (one query): unknown ones become notes; only unknown ones asked for
    means no track can match."""
    from catalog.selectors import known_genres

    track = filters.track
    asked = set(track.genres) | set(track.exclude_genres)
    if not asked:
        return ResolvedFilters(track, [], False)
    known = known_genres(asked)
    notes = [f"No track in the catalog has the genre or tag {g!r}." for g in sorted(asked - known)]
    genres = tuple(g for g in track.genres if g in known)
    excluded = tuple(g for g in track.exclude_genres if g in known)
    matches_nothing = bool(track.genres) and not genres
    if matches_nothing:
        notes.append("None of the genres asked for is in the catalog: the playlist is empty.")
    resolved = TrackFilter(genres=genres, exclude_genres=excluded, year_min=track.year_min, year_max=track.year_max,
                           max_duration_s=track.max_duration_s, exclude_artists=track.exclude_artists)
    return ResolvedFilters(resolved, notes, matches_nothing)


def diversifier_groups(
    filters: PlaylistFilters, ids: Sequence[int], albums: Mapping[int, str], titles: Mapping[int, str],
    artists: Mapping[int, str],
) -> list[tuple[list[Hashable | None], int]]:
    """The ``groups`` caps for :func:`recommend.diversify.diversify`, one key per candidate id."""
    groups: list[tuple[list[Hashable | None], int]] = []
    if filters.max_per_album is not None:
        groups.append(([album_key(albums.get(t, "")) for t in ids], int(filters.max_per_album)))
    if filters.one_version_per_song:
        groups.append(([song_key(titles.get(t, ""), artists.get(t, "")) for t in ids], 1))
    return groups


def session_filters(params: Mapping[str, Any] | None, new: PlaylistFilters | None) -> tuple[PlaylistFilters, dict]:
    """The filters a steer uses — ``new`` if the request sent some, else the session's — and the session's params
    to store (with ``new`` remembered)."""
    params = dict(params or {})
    if new is None:
        return PlaylistFilters.from_dict(params.get("filters")), params
    params["filters"] = new.as_dict()
    return new, params
