"""``/api/tracks/``: staff-only bulk upsert with the file-import rules, and a paginated, searchable listing."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.models import Track, TrackEmbedding
from catalog.services.spaces import ensure_space

pytestmark = pytest.mark.django_db
URL = "/api/tracks/"


def client_for(is_staff: bool) -> APIClient:
    user = get_user_model().objects.create_user(f"u{int(is_staff)}", password="x", is_staff=is_staff)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def payload(n: int = 3, dim: int = 4, **extra) -> dict:
    tracks = [
        {"source": "api", "external_id": f"x{i}", "title": f"Song {i}", "artist": "Band" if i % 2 else "Solo",
         "tags": ["jazz"] if i % 2 else ["rock", "loud"], "duration_s": 100 + i,
         "url": f"https://example.com/{i}", "metadata": {"i": i}, "embedding": [1.0 + i, 2.0, 3.0, 4.0][:dim]}
        for i in range(n)
    ]
    return {"space": "api4", "tracks": tracks, **extra}


@pytest.fixture
def staff():
    ensure_space("api4", 4)
    return client_for(True)


def test_anonymous_is_401_and_non_staff_403():
    ensure_space("api4", 4)
    anonymous = APIClient()
    response = anonymous.post(URL, payload(), format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert anonymous.get(URL).status_code == 401
    user = client_for(False)
    response = user.post(URL, payload(), format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert user.get(URL).status_code == 403
    assert not Track.objects.exists()


def test_staff_upsert_created_then_unchanged(staff):
    response = staff.post(URL, payload(), format="json")
    assert response.status_code == 201, response.json()
    assert response.json() == {"space": "api4", "created": 3, "updated": 0, "unchanged": 0, "rejected": 0}
    again = staff.post(URL, payload(), format="json")
    assert again.status_code == 200 and again.json()["unchanged"] == 3
    assert TrackEmbedding.objects.filter(space__name="api4").count() == 3
    assert Track.objects.get(external_id="x1").tags == ["jazz"]


def test_bad_rows_reject_the_whole_batch(staff):
    body = payload(5)
    body["tracks"][1]["embedding"] = [0, 0, 0, 0]
    body["tracks"][3]["embedding"] = [1, 2]
    body["tracks"][4]["external_id"] = "x0"
    response = staff.post(URL, body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_rows"
    assert [(r["row"], r["reason"]) for r in error["details"]["rows"]] == [
        (1, "embedding is a zero vector"),
        (3, "embedding has 2 dimensions, the space expects 4"),
        (4, "duplicate external_id 'x0' (first at index 0)"),
    ]
    assert not Track.objects.exists()


def test_shape_errors_are_per_row_too(staff):
    body = payload(3)
    del body["tracks"][2]["external_id"]
    body["tracks"][0]["embedding"] = "nope"
    response = staff.post(URL, body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_rows"
    assert [r["row"] for r in error["details"]["rows"]] == [0, 2]
    assert "external_id" in error["details"]["rows"][1]["reason"]


def test_unknown_space_and_malformed_json(staff):
    response = staff.post(URL, payload(space="nope"), format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "unknown_space"
    response = staff.post(URL, '{"space": "api4", "tracks": [', content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_request"
    response = staff.post(URL, {"space": "api4", "tracks": []}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_input"


def test_listing_search_filters_pagination(staff):
    assert staff.post(URL, payload(7), format="json").status_code == 201
    ensure_space("other", 4)
    page = staff.get(URL, {"page_size": 3}).json()
    assert page["count"] == 7 and len(page["results"]) == 3 and page["next"]
    first = page["results"][0]
    assert first["external_id"] == "x0" and first["spaces"] == ["api4"] and first["metadata"] == {"i": 0}
    second = staff.get(URL, {"page_size": 3, "page": 3}).json()
    assert [t["external_id"] for t in second["results"]] == ["x6"]

    def ids(**params) -> list[str]:
        return [t["external_id"] for t in staff.get(URL, params).json()["results"]]

    assert ids(search="song 3") == ["x3"]
    assert ids(artist="band") == ["x1", "x3", "x5"]
    assert ids(tag="loud") == ["x0", "x2", "x4", "x6"]
    assert ids(source="api", space="api4") == [f"x{i}" for i in range(7)]
    assert ids(space="other") == []
    assert staff.get(URL, {"page": 99}).status_code == 404


def test_openapi_schema_documents_the_endpoint(client):
    body = client.get("/api/schema/").content.decode()
    assert "/api/tracks/:" in body and "CatalogBulkUpsert" in body and "CatalogTrackPage" in body
