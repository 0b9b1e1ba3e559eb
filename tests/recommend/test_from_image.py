"""POST /api/playlists/from-image end to end: a real image or embedding -> 201 with a diversified playlist."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from recommend.models import Playlist, PlaylistItem, Session, SteeringEvent
from tests.helpers.api import URL, image_bytes, image_file, upload


def test_image_upload_gives_a_full_diverse_playlist(api, catalog):
    response = upload(api, {"size": 20})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"session", "playlist"}
    assert len(body["session"]["token"]) >= 43  # 32 random bytes, URL-safe base64
    playlist = body["playlist"]
    assert playlist["version"] == 1
    items = playlist["items"]
    assert [item["rank"] for item in items] == list(range(1, 21))
    track_ids = [item["track"]["id"] for item in items]
    assert len(set(track_ids)) == 20
    artists = [item["track"]["artist"] for item in items]
    assert max(Counter(artists).values()) <= 2, "artist cap"
    assert all(a != b for a, b in zip(artists, artists[1:], strict=False)), "no adjacent same artist"
    assert set(items[0]["track"]) == {"id", "external_id", "title", "artist", "tags", "album", "genre", "year",
                                      "duration_s", "url"}
    assert all(0 <= item["seed"] < 16 for item in items)
    # the score is the cosine between the track and its seed: real numbers in [-1, 1]
    assert all(-1.0 <= item["score"] <= 1.0 for item in items)
    stored = Playlist.objects.get(pk=playlist["id"])
    assert stored.session_id.hex == body["session"]["id"].replace("-", "")
    assert PlaylistItem.objects.filter(playlist=stored).count() == 20
    assert SteeringEvent.objects.filter(session_id=stored.session_id, kind="create").count() == 1
    session = Session.objects.get(pk=stored.session_id)
    assert session.token_hash != body["session"]["token"] and len(session.token_hash) == 64


def test_response_is_the_stored_playlist_not_read_back(api, catalog):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = upload(api, {"size": 10})
    assert response.status_code == 201, response.json()
    playlist = response.json()["playlist"]
    stored = PlaylistItem.objects.filter(playlist_id=playlist["id"]).order_by("rank").values_list("track_id", "seed")
    assert list(stored) == [(item["track"]["id"], item["seed"]) for item in playlist["items"]]
    sql = [q["sql"] for q in queries.captured_queries]
    assert not [q for q in sql if q.startswith("SELECT") and 'FROM "recommend_playlist"' in q]  # no re-read
    assert len([q for q in sql if 'FROM "recommend_playlistitem"' in q]) == 1  # items + tracks: one query


def test_json_embedding_with_tags_size_seeds_and_guidance(api, catalog):
    dim = 48
    response = api.post(
        URL,
        {"image_embedding": list(np.linspace(-1, 1, dim)), "tags": ["Jazz", " calm  piano "], "size": 7, "seeds": 4,
         "guidance": 2.0, "merge": "rrf"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    items = response.json()["playlist"]["items"]
    assert len(items) == 7 and len({i["track"]["id"] for i in items}) == 7
    assert all(0 <= i["seed"] < 4 for i in items)
    session = Session.objects.get(pk=response.json()["session"]["id"])
    assert session.tags == ["jazz", "calm piano"]
    assert session.params["merge"] == "rrf"
    assert abs(np.linalg.norm(session.query_embedding) - 1) < 1e-5


def test_size_larger_than_the_cap_allows_is_filled_as_far_as_possible(api, catalog, settings):
    settings.RECOMMEND_MAX_PER_ARTIST = 1
    response = upload(api, {"size": 60})
    assert response.status_code == 201
    artists = [i["track"]["artist"] for i in response.json()["playlist"]["items"]]
    assert len(artists) == len(set(artists)) <= 30  # 30 artists in the slice, one track each


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_jpeg_and_webp_are_accepted(api, catalog, fmt):
    response = api.post(URL, {"image": image_file(image_bytes(fmt=fmt), f"p.{fmt.lower()}"), "size": 3},
                        format="multipart")
    assert response.status_code == 201, response.json()
