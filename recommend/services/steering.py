"""Re-steering a session: new tags (towards) and avoid tags (away), liked/skipped tracks, -> playlist version n+1.

The next version samples again from the session's stored image embedding, with classifier-free guidance plus
gradient steering by everything the user has said so far (:mod:`recommend.services.steering_vectors`). It never
repeats a track served in any earlier version, except liked tracks, which are kept (placed first, then artist
separation may move them a little). The session row is locked for the whole step, so two concurrent steers of one
session produce versions n+1 and n+2, not a conflict.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from catalog.selectors import tracks_in_space
from core.errors import Conflict, InvalidInput
from recommend import conf
from recommend.filters import PlaylistFilters, session_filters
from recommend.models import MAX_TAGS, Playlist, Session, SteeringEvent
from recommend.selectors import get_session, served_so_far
from recommend.services.playlist import compute_playlist, store_playlist
from recommend.services.steering_vectors import SteeringState
from recommend.tags import clean_tags
from serving import engine


def _accumulate(old: Sequence[str], new: Sequence[str], removed: Sequence[str], limit: int) -> list[str]:
    """``old`` without ``removed``, then ``new`` (moved to the end if already there), keeping the newest ``limit``."""
    kept = [t for t in old if t not in removed and t not in new] + list(new)
    return kept[-limit:]


def check_current(session: Session) -> None:
    """Conflict when the prior was replaced by one with another condition space: the stored query cannot be reused."""
    current = engine.cond_space()
    if session.cond_space != current.name or len(session.query_embedding) != current.dim:
        raise Conflict(
            "This session was started with a model that is no longer served; start a new session.",
            code="session_outdated",
            details={"session_space": session.cond_space, "current_space": current.name},
        )


def check_room(latest_version: int) -> None:
    """Conflict ``session_full`` once a session has ``RECOMMEND_MAX_VERSIONS`` versions: every steer excludes all tracks
    served before, so each later one searches a longer exclusion list and a smaller remaining catalog."""
    limit = int(conf.get("RECOMMEND_MAX_VERSIONS"))
    if latest_version >= limit:
        raise Conflict(
            f"This session has reached {limit} playlist versions; start a new session (from-image) to go on.",
            code="session_full", details={"max_versions": limit},
        )


def rated_tracks_still_listed(session: Session) -> tuple[list[int], list[int]]:
    """The session's liked (unless skipped later) and skipped tracks that are still in the catalog's space.

    A catalog admin may delete a track someone rated, or re-embed the catalog without it: its vector is gone, so it
    can neither steer nor be kept. The session keeps the ids (its history); the next versions go on without them.
    """
    from django.conf import settings

    skipped_set = set(session.skipped)
    rated = [t for t in session.liked if t not in skipped_set] + list(session.skipped)
    listed = tracks_in_space(settings.CATALOG_SPACE, rated) if rated else set()
    liked = [t for t in session.liked if t not in skipped_set and t in listed]
    return liked, [t for t in session.skipped if t in listed]


def steer_session(
    session: Session, tags: Sequence[str] = (), avoid: Sequence[str] = (), filters: PlaylistFilters | None = None
) -> Playlist:
    """Add ``tags`` / ``avoid`` to the session's steering state and store the next playlist version.

    ``filters`` replace the session's remembered ones (None keeps them)."""
    tags, avoid = clean_tags(tags), clean_tags(avoid, field="avoid")
    both = sorted(set(tags) & set(avoid))
    if both:
        raise InvalidInput("A tag cannot be both wanted and avoided.", code="conflicting_tags", details={"tags": both})
    limit = MAX_TAGS
    with engine.sampling_ahead(), transaction.atomic():  # concurrent requests share a sampling pass
        session = get_session(session.pk, for_update=True)
        check_current(session)
        session.tags = _accumulate(session.tags, tags, avoid, limit)
        session.avoid = _accumulate(session.avoid, avoid, tags, limit)
        liked, skipped = rated_tracks_still_listed(session)
        state = SteeringState(tags=tuple(session.tags), avoid=tuple(session.avoid), liked=tuple(liked),
                              skipped=tuple(skipped))
        active_filters, session.params = session_filters(session.params, filters)
        params = session.params
        size = int(params.get("size", 20))
        latest, served = served_so_far(session)
        check_room(latest)
        computed = compute_playlist(
            session.query_embedding,
            state,
            size=size,
            n_seeds=int(params.get("seeds", 16)),
            guidance=params.get("guidance"),
            merge=params.get("merge"),
            exclude=served,
            pinned=liked[-size:],
            filters=active_filters,
        )
        version = latest + 1
        playlist = store_playlist(session, version, computed)
        session.save(update_fields=["tags", "avoid", "params", "updated_at"])
        SteeringEvent.objects.create(
            session=session, kind=SteeringEvent.Kind.STEER, tags=tags, avoid=avoid, playlist_version=version
        )
    playlist.timings_ms = computed.timings_ms
    return playlist
