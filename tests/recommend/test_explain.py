"""Why each track is there and the 2-D map: the pure function, and what the API returns with a playlist."""

from __future__ import annotations

import numpy as np
import pytest

from recommend.explain import explain_playlist, project_2d
from tests.conftest import unit_vectors
from tests.helpers.api import image_bytes


def test_projection_keeps_the_two_main_directions_and_is_scaled(rng):
    x = np.zeros((40, 6))
    x[:, 2] = rng.normal(0, 5, 40)  # the widest spread
    x[:, 4] = rng.normal(0, 1, 40)
    x += rng.normal(0, 0.01, x.shape)
    points = project_2d(x)
    assert points.shape == (40, 2)
    assert np.abs(points).max() == pytest.approx(1.0)
    assert abs(np.corrcoef(points[:, 0], x[:, 2])[0, 1]) > 0.99
    assert abs(np.corrcoef(points[:, 1], x[:, 4])[0, 1]) > 0.99
    assert np.array_equal(project_2d(x), points)  # the same picture for the same vectors


def test_each_track_gets_the_closest_tag(rng):
    tags = unit_vectors(rng, 2, 8)
    tracks = {10: tags[0] + 0.1 * rng.standard_normal(8), 11: tags[1] + 0.1 * rng.standard_normal(8)}
    seeds = unit_vectors(rng, 4, 8)
    out = explain_playlist(seeds, [11, 10], tracks, ["piano", "drums"], tags)
    assert out["tags"] == {"10": "piano", "11": "drums"}
    assert len(out["seeds"]) == 4 and set(out["tracks"]) == {"10", "11"}
    assert explain_playlist(seeds, [11, 10], tracks, [], np.zeros((0, 8)))["tags"] == {}


def test_playlists_carry_seed_points_and_each_items_point_and_tag(api):
    response = api.post("/api/playlists/from-image", {"image": _upload(), "size": 6, "seeds": 4}, format="multipart")
    assert response.status_code == 201, response.content
    playlist = response.json()["playlist"]
    assert len(playlist["seed_points"]) == 4
    assert all(item["tag"] is None for item in playlist["items"])  # no tag in force
    assert all(len(item["point"]) == 2 and all(-1 <= v <= 1 for v in item["point"]) for item in playlist["items"])

    session, token = response.json()["session"]["id"], response.json()["session"]["token"]
    steered = api.post(f"/api/sessions/{session}/steer", {"tags": ["piano", "drums"]}, format="json",
                       HTTP_X_SESSION_TOKEN=token).json()["playlist"]
    assert {item["tag"] for item in steered["items"]} <= {"piano", "drums"}
    assert all(item["tag"] for item in steered["items"])
    read = api.get(f"/api/playlists/{steered['id']}", HTTP_X_SESSION_TOKEN=token).json()
    assert read["seed_points"] == steered["seed_points"]
    assert [i["point"] for i in read["items"]] == [i["point"] for i in steered["items"]]


def _upload():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("photo.png", image_bytes(), content_type="image/png")
