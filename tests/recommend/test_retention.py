"""Session retention (recommend.services.retention, ``manage.py purge_sessions``): idle sessions go whole, in
batches; recent ones, tracks and sessions in use stay."""

from __future__ import annotations

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from catalog.models import Track
from recommend.models import Playlist, PlaylistItem, Session, SteeringEvent, hash_token
from recommend.services.retention import purge_sessions
from tests.conftest import held_in_another_transaction

TOKEN = "retention-test-token"


def make_session(tracks: list[Track], *, idle_days: float, playlists: int = 2) -> Session:
    """A session with ``playlists`` versions of 3 items each and one event per version, last used ``idle_days`` ago."""
    session = Session.objects.create(token_hash=hash_token(TOKEN), cond_space="palette-v1", query_embedding=[1.0, 0.0])
    for version in range(1, playlists + 1):
        playlist = Playlist.objects.create(session=session, version=version)
        PlaylistItem.objects.bulk_create(
            PlaylistItem(playlist=playlist, rank=rank, score=0.5, seed=0, track=track)
            for rank, track in enumerate(tracks[:3], start=1)
        )
        SteeringEvent.objects.create(session=session, kind=SteeringEvent.Kind.STEER, playlist_version=version)
    # auto_now sets updated_at on save; an update() writes the past directly
    Session.objects.filter(pk=session.pk).update(updated_at=timezone.now() - timedelta(days=idle_days))
    return session


@pytest.fixture
def tracks(db) -> list[Track]:
    return [Track.objects.create(source="test", external_id=f"t{i}", title=f"Track {i}") for i in range(4)]


def rows_of(session: Session) -> tuple[int, int, int]:
    return (Playlist.objects.filter(session=session).count(),
            PlaylistItem.objects.filter(playlist__session=session).count(),
            SteeringEvent.objects.filter(session=session).count())


def test_idle_sessions_go_whole_and_recent_ones_stay(tracks):
    idle = [make_session(tracks, idle_days=40 + i) for i in range(3)]
    recent = [make_session(tracks, idle_days=29), make_session(tracks, idle_days=0)]
    tracks_before = Track.objects.count()

    report = purge_sessions(timedelta(days=30))

    assert (report.sessions, report.playlists, report.items, report.events) == (3, 6, 18, 6)
    assert not report.dry_run
    assert set(Session.objects.values_list("pk", flat=True)) == {s.pk for s in recent}
    assert all(rows_of(s) == (2, 6, 2) for s in recent)
    assert all(rows_of(s) == (0, 0, 0) for s in idle)
    assert Track.objects.count() == tracks_before


def test_a_purged_session_is_a_404_over_the_api(tracks):
    session = make_session(tracks, idle_days=31)
    client = APIClient()
    assert client.get(f"/api/sessions/{session.pk}", HTTP_X_SESSION_TOKEN=TOKEN).status_code == 200

    purge_sessions(timedelta(days=30))

    response = client.get(f"/api/sessions/{session.pk}", HTTP_X_SESSION_TOKEN=TOKEN)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "session_not_found"


def test_dry_run_counts_and_deletes_nothing(tracks):
    make_session(tracks, idle_days=45, playlists=3)
    make_session(tracks, idle_days=1)

    report = purge_sessions(timedelta(days=30), dry_run=True)

    assert (report.sessions, report.playlists, report.items, report.events) == (1, 3, 9, 3)
    assert report.dry_run and report.summary().startswith("would delete 1 sessions")
    assert Session.objects.count() == 2 and PlaylistItem.objects.count() == 15


def test_deletes_in_batches_until_none_is_left(tracks):
    for i in range(5):
        make_session(tracks, idle_days=60 + i, playlists=1)
    sizes: list[int] = []

    report = purge_sessions(timedelta(days=30), batch=2, progress=sizes.append)

    assert sizes == [2, 2, 1]
    assert report.sessions == 5 and not Session.objects.exists()


@pytest.mark.parametrize("older_than, batch", [(timedelta(0), 10), (timedelta(days=-1), 10), (timedelta(days=1), 0)])
def test_bad_arguments_are_refused(db, older_than, batch):
    with pytest.raises(ValueError):
        purge_sessions(older_than, batch=batch)


@pytest.fixture
def committed_idle_sessions(django_db_blocker):
    """Two idle sessions committed outside the test's transaction, so another connection can lock one; requested
    before ``db``, so they are deleted after the test's transaction has rolled back."""
    with django_db_blocker.unblock():
        sessions = [make_session([], idle_days=90, playlists=0) for _ in range(2)]
    yield sessions
    with django_db_blocker.unblock():
        Session.objects.filter(pk__in=[s.pk for s in sessions]).delete()


def test_a_session_locked_by_a_request_is_skipped_not_waited_for(committed_idle_sessions, db):
    locked, other = committed_idle_sessions

    # what steer_session does: hold the session's row lock in a transaction
    with held_in_another_transaction(lambda: Session.objects.select_for_update().get(pk=locked.pk)):
        started = time.monotonic()
        report = purge_sessions(timedelta(days=30))
        waited = time.monotonic() - started

    assert report.sessions == 1 and waited < 10
    assert set(Session.objects.values_list("pk", flat=True)) == {locked.pk}
    assert purge_sessions(timedelta(days=30)).sessions == 1  # the next run, lock released, finishes the job


def test_command_purges_with_the_configured_default(tracks, settings):
    make_session(tracks, idle_days=10)
    make_session(tracks, idle_days=3)
    settings.RECOMMEND_SESSION_RETENTION_DAYS = 7
    out = StringIO()

    call_command("purge_sessions", "--dry-run", stdout=out)
    assert out.getvalue().startswith("would delete 1 sessions (2 playlists, 6 playlist items, 2 steering events)")
    assert Session.objects.count() == 2

    out = StringIO()
    call_command("purge_sessions", "--no-progress", stdout=out)
    assert out.getvalue().startswith("deleted 1 sessions")
    assert Session.objects.count() == 1

    call_command("purge_sessions", "--older-than", "2.5", "--batch", "1", "--no-progress", stdout=StringIO())
    assert not Session.objects.exists()


@pytest.mark.parametrize("args, message", [
    (["--older-than", "0"], "more than 0 days"),
    (["--older-than", "-3"], "more than 0 days"),
    (["--batch", "0"], "--batch must be at least 1"),
])
def test_command_refuses_bad_input_and_deletes_nothing(tracks, args, message):
    make_session(tracks, idle_days=400)
    with pytest.raises(CommandError, match=message):
        call_command("purge_sessions", *args, "--no-progress", stdout=StringIO())
    assert Session.objects.count() == 1
