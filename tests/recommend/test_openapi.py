"""The OpenAPI schema validates and documents the playlist API, including the multipart image upload."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema_is_valid_openapi(schema):
    validate(schema)
    assert schema["openapi"].startswith("3.")


def test_from_image_documents_multipart_upload_and_json_embedding(schema):
    operation = schema["paths"]["/api/playlists/from-image"]["post"]
    content = operation["requestBody"]["content"]
    multipart = resolve(schema, content["multipart/form-data"]["schema"])
    assert multipart["properties"]["image"] == {**multipart["properties"]["image"], "type": "string",
                                                "format": "binary"}
    assert "image_embedding" not in multipart["properties"]
    json_body = resolve(schema, content["application/json"]["schema"])
    assert json_body["properties"]["image_embedding"]["type"] == "array"
    assert "image" not in json_body["properties"]
    tags = json_body["properties"]["tags"]
    assert tags["maxItems"] == 16 and tags["items"]["maxLength"] == 64
    assert {"201", "400", "413", "415", "429", "503"} <= set(operation["responses"])
    created = resolve(schema, operation["responses"]["201"]["content"]["application/json"]["schema"])
    assert set(created["properties"]) == {"session", "playlist"}


def test_session_endpoints_document_the_token_header(schema):
    for path, method in [("/api/sessions/{session_id}/steer", "post"), ("/api/sessions/{session_id}/feedback", "post"),
                         ("/api/sessions/{session_id}", "get"), ("/api/playlists/{playlist_id}", "get")]:
        operation = schema["paths"][path][method]
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        assert "X-Session-Token" in headers, path
        assert {"403", "404"} <= set(operation["responses"]), path


def test_docs_page_is_served(db):
    assert APIClient().get("/api/docs/").status_code == 200


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["components"]["schemas"][name]
    return node


def test_export_and_the_explain_fields_are_documented(schema):
    op = schema["paths"]["/api/playlists/{playlist_id}/export"]["get"]
    fmt = next(p for p in op["parameters"] if p["name"] == "format")
    assert fmt["required"] and sorted(fmt["schema"]["enum"]) == ["jspf", "m3u8", "xspf"]
    assert set(op["responses"]["200"]["content"]) == {"application/jspf+json", "application/xspf+xml",
                                                       "audio/x-mpegurl"}
    assert {"400", "403", "404"} <= set(op["responses"])
    item = schema["components"]["schemas"]["PlaylistItemOutput"]["properties"]
    assert {"tag", "point"} <= set(item)
    assert "seed_points" in schema["components"]["schemas"]["PlaylistOutput"]["properties"]
