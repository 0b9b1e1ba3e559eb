"""Playlist export: JSPF, XSPF (valid against the XSPF schema) and M3U8 (parsed back), with the tracks' links,
behind the same token as reading the playlist; bad formats are JSON errors."""

from __future__ import annotations

import json
import re

import pytest
import xmlschema
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.helpers.api import image_bytes
from tests.helpers.export import NS, XSD, parse_m3u8


@pytest.fixture
def served(api):
    """A steered playlist (tags in force) and its token; the tracks it holds, in order, as the API lists them."""
    created = api.post("/api/playlists/from-image",
                       {"image": SimpleUploadedFile("p.png", image_bytes(), "image/png"), "size": 8},
                       format="multipart").json()
    session, token = created["session"]["id"], created["session"]["token"]
    steered = api.post(f"/api/sessions/{session}/steer", {"tags": ["piano"]}, format="json",
                       HTTP_X_SESSION_TOKEN=token).json()["playlist"]
    return steered, token


def export(api, playlist_id, fmt, token):
    headers = {"HTTP_X_SESSION_TOKEN": token} if token else {}
    return api.get(f"/api/playlists/{playlist_id}/export", {"format": fmt}, **headers)


def test_xspf_is_valid_against_the_schema_with_every_track_and_link(api, served):
    playlist, token = served
    response = export(api, playlist["id"], "xspf", token)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xspf+xml")
    assert response["Content-Disposition"] == (
        f'attachment; filename="diff4steer-playlist-{playlist["id"]}-v{playlist["version"]}.xspf"')
    schema = xmlschema.XMLSchema(XSD)
    schema.validate(response.content.decode())  # raises with the reason if invalid
    from xml.etree import ElementTree as ET

    root = ET.fromstring(response.content)
    tracks = root.findall("x:trackList/x:track", NS)
    assert [t.findtext("x:location", namespaces=NS) for t in tracks] == [i["track"]["url"] for i in playlist["items"]]
    assert [t.findtext("x:creator", namespaces=NS) for t in tracks] == [i["track"]["artist"] for i in playlist["items"]]
    assert "piano" in root.findtext("x:title", namespaces=NS)


def test_the_schema_rejects_what_the_spec_forbids():
    """The schema is not a rubber stamp: no trackList, or a negative duration, is invalid."""
    schema = xmlschema.XMLSchema(XSD)
    assert not schema.is_valid('<playlist version="1" xmlns="http://xspf.org/ns/0/"><title>t</title></playlist>')
    assert not schema.is_valid('<playlist version="1" xmlns="http://xspf.org/ns/0/"><trackList><track>'
                               "<duration>-5</duration></track></trackList></playlist>")
    assert schema.is_valid('<playlist version="1" xmlns="http://xspf.org/ns/0/"><trackList/></playlist>')


def test_jspf_has_the_required_fields(api, served):
    playlist, token = served
    response = export(api, playlist["id"], "jspf", token)
    assert response.status_code == 200
    body = json.loads(response.content)
    assert set(body) == {"playlist"}
    jspf = body["playlist"]
    assert isinstance(jspf["title"], str) and jspf["title"] and jspf["creator"] == "Diff4Steer"
    assert re.match(r"\d{4}-\d\d-\d\dT", jspf["date"])
    assert len(jspf["track"]) == len(playlist["items"])
    for entry, item in zip(jspf["track"], playlist["items"], strict=True):
        assert entry["title"] == item["track"]["title"]
        assert entry["creator"] == item["track"]["artist"]
        assert entry["location"] == [item["track"]["url"]]  # JSPF: location and identifier are lists of URIs
        assert isinstance(entry["identifier"], list)


def test_m3u8_parses_back_to_the_playlist(api, served):
    playlist, token = served
    response = export(api, playlist["id"], "m3u8", token)
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/x-mpegurl; charset=utf-8"
    entries = parse_m3u8(response.content.decode("utf-8"))
    assert [url for _, _, url in entries] == [i["track"]["url"] for i in playlist["items"]]
    assert [name for _, name, _ in entries] == [f"{i['track']['artist']} - {i['track']['title']}"
                                               for i in playlist["items"]]


@pytest.mark.parametrize("query", [{"format": "mp3"}, {}, {"format": ""}])
def test_unknown_or_missing_format_is_a_json_400(api, served, query):
    playlist, token = served
    response = api.get(f"/api/playlists/{playlist['id']}/export", query, HTTP_X_SESSION_TOKEN=token)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert "format" in response.json()["error"]["details"]


def test_export_needs_the_sessions_token(api, served):
    playlist, _ = served
    assert export(api, playlist["id"], "xspf", None).json()["error"]["code"] == "missing_token"
    wrong = export(api, playlist["id"], "xspf", "not-the-token")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (403, "invalid_token")
    missing = export(api, 10**9, "xspf", "x")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "playlist_not_found")
