"""The Subsonic round trip against a real server: scan a generated library, ingest it, make a playlist with filters,
push it back, and read the playlist from the server through its own API."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from django.core.management import call_command
from django.test import override_settings

from catalog.models import Track
from catalog.services.subsonic import default_source, ingest_subsonic
from catalog.subsonic import SubsonicClient
from recommend.filters import song_key
from recommend.models import Playlist, PlaylistItem, Session
from tests.helpers.api import image_bytes, image_file
from tests.subsonic_server import LIBRARY, PASSWORD, USER

URL = "/api/playlists/from-image"


@pytest.fixture
def library(api, supysonic, minilm):
    """The Supysonic library ingested into the test catalog's space (beside the MusicCaps slice)."""
    client = SubsonicClient(supysonic.url, USER, PASSWORD, timeout=10)
    result = ingest_subsonic(client, encoder=minilm)
    assert result.report.created == len(LIBRARY)
    settings = override_settings(SUBSONIC_URL=supysonic.url, SUBSONIC_USER=USER, SUBSONIC_PASSWORD=PASSWORD)
    with settings:
        yield client


def library_source(client: SubsonicClient) -> str:
    return default_source(client.url)


def create(api, filters, size=10, tags=""):
    data = {"image": image_file(image_bytes()), "size": size, "filters": json.dumps(filters)}
    if tags:
        data["tags"] = tags
    response = api.post(URL, data, format="multipart")
    assert response.status_code == 201, response.json()
    return response.json()


def tracks_of(playlist: dict) -> list[Track]:
    by_id = Track.objects.in_bulk([item["track"]["id"] for item in playlist["items"]])
    return [by_id[item["track"]["id"]] for item in playlist["items"]]


def push(api, playlist_id: int, token: str | None, **body):
    headers = {"HTTP_X_SESSION_TOKEN": token} if token else {}
    return api.post(f"/api/playlists/{playlist_id}/push", body, format="json", **headers)


def test_filtered_playlist_is_pushed_and_read_back_from_the_server(api, library):
    filters = {"genres": ["synthwave"], "max_duration_s": 3.5, "max_per_album": 2, "one_version_per_song": True}
    body = create(api, filters)
    playlist, token = body["playlist"], body["session"]["token"]
    tracks = tracks_of(playlist)
    # Synthwave under 3.5 s: 3 songs of one album, 2 of another (two versions of "Nightcall" among them), 2 artists.
    assert 2 <= len(tracks) <= 4
    assert all(t.genre == "Synthwave" and t.duration_s <= 3.5 for t in tracks)
    assert max(Counter(t.album for t in tracks).values()) <= 2
    assert len({song_key(t.title, t.artist) for t in tracks}) == len(tracks), "one version per song"
    assert playlist["notes"] == []
    assert Session.objects.get(pk=body["session"]["id"]).params["filters"] == filters

    response = push(api, playlist["id"], token, name="Night drive")
    assert response.status_code == 200, response.json()
    pushed = response.json()
    assert (pushed["name"], pushed["created"], pushed["skipped"]) == ("Night drive", True, [])
    assert pushed["pushed"] == [t.pk for t in tracks]
    on_server = library.playlist(pushed["server_playlist_id"])
    assert on_server["name"] == "Night drive"
    assert [entry["id"] for entry in on_server["entry"]] == [t.external_id for t in tracks]

    # the session remembers the filters: a steer without filters keeps them; one with filters replaces them
    steer_url = f"/api/sessions/{body['session']['id']}/steer"
    steered = api.post(steer_url, {"tags": ["calm"]}, format="json", HTTP_X_SESSION_TOKEN=token).json()["playlist"]
    assert all(t.genre == "Synthwave" and t.duration_s <= 3.5 for t in tracks_of(steered))
    # (MusicCaps clips tagged "jazz" match a genre filter too, but their year is unknown, so year_max drops them)
    new_filters = {"genres": ["Jazz"], "year_max": 1965}
    jazz = api.post(steer_url, {"filters": new_filters}, format="json", HTTP_X_SESSION_TOKEN=token)
    assert jazz.status_code == 201, jazz.json()
    jazz_tracks = tracks_of(jazz.json()["playlist"])
    assert jazz_tracks and all(t.genre == "Jazz" and t.year <= 1965 for t in jazz_tracks)
    assert Session.objects.get(pk=body["session"]["id"]).params["filters"] == {"genres": ["jazz"], "year_max": 1965}

    # pushing under the same name updates that playlist: same id, only the new songs, no second playlist
    again = push(api, jazz.json()["playlist"]["id"], token, name="Night drive").json()
    assert (again["created"], again["server_playlist_id"]) == (False, pushed["server_playlist_id"])
    on_server = library.playlist(pushed["server_playlist_id"])
    assert again["pushed"] == [t.pk for t in jazz_tracks]
    assert [entry["id"] for entry in on_server["entry"]] == [t.external_id for t in jazz_tracks]
    assert [p["name"] for p in library.playlists()].count("Night drive") == 1


def test_tracks_from_other_sources_are_reported_as_skipped(api, library, catalog, supysonic, capsys, monkeypatch):
    body = create(api, {"genres": ["folk"]}, size=5)
    session = Session.objects.get(pk=body["session"]["id"])
    folk = list(Track.objects.filter(source=library_source(library), genre="Folk").order_by("title"))
    other = catalog["tracks"][0]  # a MusicCaps track: not on the server
    mixed = Playlist.objects.create(session=session, version=2)
    PlaylistItem.objects.bulk_create([PlaylistItem(playlist=mixed, rank=1, score=0.5, seed=0, track=other)] + [
        PlaylistItem(playlist=mixed, rank=i, score=0.5, seed=0, track=t) for i, t in enumerate(folk, start=2)])
    response = push(api, mixed.pk, body["session"]["token"])
    assert response.status_code == 200, response.json()
    result = response.json()
    assert result["pushed"] == [t.pk for t in folk]
    assert result["skipped"] == [{"track_id": other.pk, "source": "musiccaps-test",
                                  "reason": f"not a song of {default_source(supysonic.url)}"}]
    assert result["name"].startswith("Diff4Steer ")

    only_other = Playlist.objects.create(session=session, version=3)
    PlaylistItem.objects.create(playlist=only_other, rank=1, score=0.5, seed=0, track=other)
    nothing = push(api, only_other.pk, body["session"]["token"])
    assert nothing.status_code == 409 and nothing.json()["error"]["code"] == "nothing_to_push"

    # the management command pushes too (here under another name)
    monkeypatch.setenv("SUBSONIC_PASSWORD", PASSWORD)
    call_command("push_playlist", str(mixed.pk), "--name", "From the terminal", "--url", supysonic.url,
                 "--user", USER)
    out, err = capsys.readouterr()
    assert "created 'From the terminal'" in out and f"{len(folk)} songs, 1 skipped" in out
    named = [p for p in library.playlists() if p["name"] == "From the terminal"]
    assert [e["id"] for e in library.playlist(named[0]["id"])["entry"]] == [t.external_id for t in folk]


def test_push_needs_the_session_token_or_staff_and_a_reachable_server(api, library, supysonic, django_user_model):
    body = create(api, {"genres": ["jazz"]}, size=3)
    playlist_id = body["playlist"]["id"]
    assert push(api, playlist_id, None).json()["error"]["code"] == "missing_token"
    assert push(api, playlist_id, "wrong-token").status_code == 403
    staff = django_user_model.objects.create_user("ops", password="pw", is_staff=True)
    api.force_authenticate(staff)
    assert push(api, playlist_id, None).status_code == 200
    api.force_authenticate(None)
    with override_settings(SUBSONIC_URL=""):
        response = push(api, playlist_id, body["session"]["token"])
        assert (response.status_code, response.json()["error"]["code"]) == (503, "push_not_configured")
    with override_settings(SUBSONIC_PASSWORD="wrong"):
        response = push(api, playlist_id, body["session"]["token"])
        assert (response.status_code, response.json()["error"]["code"]) == (502, "subsonic_auth_failed")
    supysonic.stop()
    response = push(api, playlist_id, body["session"]["token"])
    assert (response.status_code, response.json()["error"]["code"]) == (502, "subsonic_unreachable")


def test_unknown_genre_is_an_empty_playlist_with_a_note_and_bad_filters_are_400(api, library):
    body = create(api, {"genres": ["space polka"]})
    assert body["playlist"]["items"] == []
    assert any("'space polka'" in note for note in body["playlist"]["notes"])
    partly = create(api, {"genres": ["space polka", "jazz"]}, size=3)
    assert partly["playlist"]["items"] and any("'space polka'" in n for n in partly["playlist"]["notes"])
    for bad in ({"year_min": 2000, "year_max": 1990}, {"max_duration_s": -1}, {"max_per_album": 0},
                {"genre": ["jazz"]}, {"genres": "jazz"}):
        response = api.post(URL, {"image": image_file(image_bytes()), "filters": json.dumps(bad)},
                            format="multipart")
        assert response.status_code == 400, bad
        assert response.json()["error"]["code"] == "invalid_input"
    years = create(api, {"year_min": 1955, "year_max": 1965, "exclude_artists": [" the late  QUARTET"]}, size=5)
    assert years["playlist"]["items"] == []  # the only songs of those years are by the excluded artist
