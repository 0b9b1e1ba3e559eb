"""recommend.selectors.served_so_far: what a re-steer must know about a session's past, in one query."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from recommend.models import Playlist, PlaylistItem, Session, hash_token, new_token
from recommend.selectors import served_so_far, served_track_ids


def new_session() -> Session:
    return Session.objects.create(token_hash=hash_token(new_token()), cond_space="palette-v1", query_embedding=[1.0])


def test_latest_version_and_every_served_track_in_one_query(catalog, db):
    tracks = [t.pk for t in catalog["tracks"][:5]]
    session, other = new_session(), new_session()
    assert served_so_far(session) == (0, set())
    first = Playlist.objects.create(session=session, version=1, params={})
    PlaylistItem.objects.bulk_create(
        [PlaylistItem(playlist=first, rank=r, score=0.5, seed=0, track_id=t) for r, t in enumerate(tracks[:3], 1)]
    )
    Playlist.objects.create(session=session, version=2, params={})  # a version with nothing in it still counts
    noise = Playlist.objects.create(session=other, version=7, params={})
    PlaylistItem.objects.create(playlist=noise, rank=1, score=0.1, seed=0, track_id=tracks[4])
    with CaptureQueriesContext(connection) as queries:
        latest, served = served_so_far(session)
    assert len(queries.captured_queries) == 1
    assert (latest, served) == (2, set(tracks[:3]))
    assert served == served_track_ids(session)  # the same answer as the feedback service's own check
