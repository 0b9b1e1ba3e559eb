"""Every stored playlist version is logged once, after its transaction commits, with where its time went."""

import logging

from tests.helpers.api import start, steer

STAGES = ("encode_tags_ms=", "sample_ms=", "ann_ms=", "merge_ms=")


def test_created_and_steered_versions_are_logged_after_commit(api, catalog, caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.INFO, logger="recommend.playlists")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        session_id, token, playlist = start(api, size=10)
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks(execute=True):
        steered = steer(api, session_id, token, tags=["jazz"]).json()["playlist"]
    lines = [r.getMessage() for r in caplog.records if r.name == "recommend.playlists"]
    assert len(lines) == 2
    for line, version, stored in zip(lines, (1, 2), (playlist, steered), strict=True):
        assert f"playlist={stored['id']} session={session_id} version={version} tracks=10 seeds=16" in line
        assert all(stage in line for stage in STAGES), line


def test_nothing_is_logged_when_the_transaction_rolls_back(api, catalog, caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.INFO, logger="recommend.playlists")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post("/api/playlists/from-image", {"image_embedding": [0.0] * 48}, format="json")
    assert response.status_code == 400  # a zero embedding: refused before anything is stored
    assert callbacks == [] and not [r for r in caplog.records if r.name == "recommend.playlists"]
