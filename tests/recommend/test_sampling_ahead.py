"""Requests announce their sampling on arrival, so concurrent requests of one process share a batched pass."""

from __future__ import annotations

from tests.helpers.api import URL, image_file, start, steer, upload


def test_from_image_and_steer_announce_until_they_sample(api, catalog, monkeypatch):
    from recommend.services import playlist, steering
    from serving import runtime

    session_id, token, _ = start(api)  # the first request loads the batcher
    batcher = runtime.loaded_batcher()
    assert batcher is not None and batcher.max_wait > 0
    seen = []
    query_vector, check_current = playlist.query_vector, steering.check_current

    def record(real):
        return lambda *args: (seen.append(batcher.expected), real(*args))[1]

    monkeypatch.setattr(playlist, "query_vector", record(query_vector))  # decoding: before sampling
    monkeypatch.setattr(steering, "check_current", record(check_current))  # session read: before sampling
    assert upload(api).status_code == 201
    assert steer(api, session_id, token, tags=["calm piano"]).status_code == 201
    assert seen == [1, 1] and batcher.expected == 0


def test_a_request_that_fails_before_sampling_withdraws_its_announcement(api, catalog):
    from serving import runtime

    start(api)
    response = api.post(URL, {"image": image_file(b"this is a text file, not a photo" * 10)}, format="multipart")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_image"
    assert runtime.loaded_batcher().expected == 0
