"""Every refusal is the JSON error shape with a stable code, and stores nothing."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from recommend.models import Playlist, PlaylistItem, Session, SteeringEvent
from serving import engine
from tests.helpers.api import URL, assert_error, image_bytes, start, steer, upload


def counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Session, Playlist, PlaylistItem, SteeringEvent))


def post_file(api, content: bytes, name="photo.png", content_type="image/png", **data):
    return api.post(URL, {"image": SimpleUploadedFile(name, content, content_type=content_type), **data},
                    format="multipart")


def gif_bytes() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buf, format="GIF")
    return buf.getvalue()


def truncated(data: bytes) -> bytes:
    """The first two thirds: the header parses, the pixel data ends early (an interrupted upload)."""
    return data[: len(data) * 2 // 3]


BAD_UPLOADS = [
    ("not an image", lambda: b"this is a text file, not a photo" * 10, 400, "invalid_image"),
    ("empty file", lambda: b"", 400, "invalid_input"),  # Django refuses an empty upload before we see it
    ("truncated png", lambda: image_bytes(size=128)[:-300], 400, "truncated_image"),
    ("truncated jpeg", lambda: truncated(image_bytes(fmt="JPEG", size=128)), 400, "truncated_image"),
    ("gif", gif_bytes, 415, "unsupported_format"),
]


@pytest.mark.parametrize(("case", "make", "status", "code"), BAD_UPLOADS, ids=[c[0] for c in BAD_UPLOADS])
def test_bad_images_are_refused_and_nothing_is_stored(api, case, make, status, code):
    before = counts()
    assert_error(post_file(api, make()), status, code)
    assert counts() == before


def test_oversize_upload_is_413(api, settings):
    settings.IMAGE_MAX_BYTES = 2000
    before = counts()
    error = assert_error(post_file(api, image_bytes(size=256)), 413, "payload_too_large")
    assert error["details"]["max_bytes"] == 2000
    # a body far above the cap is refused from its Content-Length, before it is parsed
    assert_error(post_file(api, b"\0" * 200_000, name="big.png"), 413, "payload_too_large")
    assert counts() == before


EMBEDDING_CASES = [
    ("wrong dimension", '{"image_embedding": [0.1, 0.2, 0.3]}', "invalid_embedding"),
    ("NaN literal", '{"image_embedding": [NaN' + ", 0.1" * 47 + "]}", "malformed_request"),
    ("infinite", '{"image_embedding": [1e999' + ", 0.1" * 47 + "]}", "invalid_embedding"),
    ("zero vector", '{"image_embedding": [0' + ", 0" * 47 + "]}", "invalid_embedding"),
    ("not numbers", '{"image_embedding": ["a"' + ", 0.1" * 47 + "]}", "invalid_input"),
    ("neither image nor embedding", '{"tags": ["jazz"]}', "missing_query"),
    ("size too big", '{"image_embedding": [0.1' + ", 0.1" * 47 + '], "size": 101}', "invalid_input"),
    ("seeds too many", '{"image_embedding": [0.1' + ", 0.1" * 47 + '], "seeds": 65}', "invalid_input"),
    ("guidance out of range", '{"image_embedding": [0.1' + ", 0.1" * 47 + '], "guidance": 9}', "invalid_input"),
    ("too many tags", '{"image_embedding": [0.1' + ", 0.1" * 47 + '], "tags": [' +
     ", ".join(f'"t{i}"' for i in range(17)) + "]}", "too_many_tags"),
    ("tag too long", '{"image_embedding": [0.1' + ", 0.1" * 47 + '], "tags": ["' + "x" * 65 + '"]}', "tag_too_long"),
]


@pytest.mark.parametrize(("case", "body", "code"), EMBEDDING_CASES, ids=[c[0] for c in EMBEDDING_CASES])
def test_bad_json_requests_are_400_and_store_nothing(api, case, body, code):
    before = counts()
    error = assert_error(api.post(URL, body, content_type="application/json"), 400, code)
    if code == "invalid_embedding" and case == "wrong dimension":
        assert error["details"]["expected_dimension"] == 48
    assert counts() == before


def test_too_many_or_too_long_tags_in_a_form(api):
    before = counts()
    assert_error(upload(api, {"tags": ",".join(f"t{i}" for i in range(17))}), 400, "too_many_tags")
    assert_error(upload(api, {"tags": ["y" * 65]}), 400, "tag_too_long")
    assert counts() == before


def test_tokens_unknown_sessions_and_playlists(api):
    session_id, token, v1 = start(api, size=3)
    before = counts()
    for method, path, body in [
        ("post", f"/api/sessions/{session_id}/steer", {"tags": ["jazz"]}),
        ("post", f"/api/sessions/{session_id}/feedback", {"liked": [v1["items"][0]["track"]["id"]]}),
        ("get", f"/api/sessions/{session_id}", None),
        ("get", f"/api/playlists/{v1['id']}", None),
    ]:
        call = getattr(api, method)
        kwargs = {"format": "json"} if body is not None else {}
        assert_error(call(path, body, **kwargs), 403, "missing_token")
        assert_error(call(path, body, HTTP_X_SESSION_TOKEN=token[:-2] + "xx", **kwargs), 403, "invalid_token")
        other = path.replace(session_id, str(uuid.uuid4())).replace(f"/playlists/{v1['id']}", "/playlists/999999999")
        code = "playlist_not_found" if "/playlists/" in path else "session_not_found"
        assert_error(call(other, body, HTTP_X_SESSION_TOKEN=token, **kwargs), 404, code)
    assert_error(api.get("/api/sessions/not-a-uuid", HTTP_X_SESSION_TOKEN=token), 404, "session_not_found")
    assert counts() == before


def test_bad_steer_requests_store_nothing(api):
    session_id, token, _ = start(api, size=3)
    before = counts()
    assert_error(steer(api, session_id, token, tags=[f"t{i}" for i in range(17)]), 400, "too_many_tags")
    assert_error(steer(api, session_id, token, avoid=["z" * 65]), 400, "tag_too_long")
    assert_error(steer(api, session_id, token, tags=["jazz"], avoid=["Jazz"]), 400, "conflicting_tags")
    assert_error(api.post(f"/api/sessions/{session_id}/steer", "tags=jazz", content_type="text/plain",
                          HTTP_X_SESSION_TOKEN=token), 415, "unsupported_media_type")
    assert counts() == before
    assert Session.objects.get(pk=session_id).tags == []


def test_throttled_per_client(api, settings):
    from django.core.cache import cache

    cache.clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"from_image": "2/minute"}}
    body = {"image_embedding": list(np.full(48, 0.1)), "size": 2}
    assert api.post(URL, body, format="json").status_code == 201
    assert api.post(URL, body, format="json").status_code == 201
    assert_error(api.post(URL, body, format="json"), 429, "throttled")
    cache.clear()


def test_steer_is_throttled_per_client_and_stores_nothing(api, settings):
    from django.core.cache import cache

    cache.clear()
    session_id, token, _ = start(api, size=3)
    rates = {"from_image": "100/minute", "steer": "2/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    assert steer(api, session_id, token, tags=["jazz"]).status_code == 201
    assert steer(api, session_id, token, tags=["calm"]).status_code == 201
    before = counts()
    assert_error(steer(api, session_id, token, tags=["rock"]), 429, "throttled")
    assert counts() == before
    assert api.post(URL, {"image_embedding": list(np.full(48, 0.1)), "size": 2}, format="json").status_code == 201
    cache.clear()


def test_feedback_is_throttled_per_client_and_stores_nothing(api, settings):
    from django.core.cache import cache

    cache.clear()
    session_id, token, playlist = start(api, size=3)
    track = playlist["items"][0]["track"]["id"]
    rates = {"from_image": "100/minute", "feedback": "1/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    url = f"/api/sessions/{session_id}/feedback"
    assert api.post(url, {"liked": [track]}, format="json", HTTP_X_SESSION_TOKEN=token).status_code == 200
    before = counts()
    assert_error(api.post(url, {"skipped": [track]}, format="json", HTTP_X_SESSION_TOKEN=token), 429, "throttled")
    assert counts() == before and Session.objects.get(pk=session_id).liked == [track]
    cache.clear()


def test_no_prior_is_503_and_stores_nothing(api, settings, tmp_path):
    settings.PRIOR_CHECKPOINT = str(tmp_path / "missing")
    engine.reset()
    try:
        before = counts()
        assert_error(upload(api), 503, "prior_not_ready")
        assert counts() == before
    finally:
        engine.reset()  # the settings fixture restores PRIOR_CHECKPOINT; the next call reloads the tiny prior


def test_a_steer_without_a_prior_is_503_and_stores_nothing(api, settings, tmp_path):
    session_id, token, _ = start(api, size=3)
    settings.PRIOR_CHECKPOINT = str(tmp_path / "missing")
    engine.reset()
    try:
        before = counts()
        assert_error(steer(api, session_id, token, tags=["jazz"]), 503, "prior_not_ready")
        assert counts() == before and Session.objects.get(pk=session_id).tags == []
    finally:
        engine.reset()


def test_session_from_a_replaced_model_is_409(api):
    session_id, token, _ = start(api, size=3)
    Session.objects.filter(pk=session_id).update(cond_space="clip-vit-b-32")
    before = counts()
    error = assert_error(steer(api, session_id, token, tags=["jazz"]), 409, "session_outdated")
    assert error["details"] == {"session_space": "clip-vit-b-32", "current_space": "palette-v1"}
    assert counts() == before
