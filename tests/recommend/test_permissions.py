"""Who may call what: every endpoint x {anonymous, the session's owner, another session's owner, staff,
an authenticated non-staff user} -> the status expected, in one table and one parametrised test.

Sessions are anonymous: their token (``X-Session-Token``) is the only credential, and staff rights do not replace it.
The catalog API (``/api/tracks/``) is for staff only (token or session auth). The admin is for staff. The rest is
public. A route that the OpenAPI schema lists but this table does not fails the last test: a new endpoint must
state who may call it.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

ROLES = ("anonymous", "owner", "other_owner", "staff", "user")


def _row(anonymous: int, owner: int, other_owner: int, staff: int, user: int) -> dict[str, int]:
    return dict(zip(ROLES, (anonymous, owner, other_owner, staff, user), strict=True))


# (method, path template) -> expected status per role. 401: no credentials for an authenticated API (token auth
# says how, WWW-Authenticate); 403: credentials that are not enough (or a session token that is not this session's).
MATRIX: dict[tuple[str, str], dict[str, int]] = {
    ("POST", "/api/playlists/from-image"): _row(201, 201, 201, 201, 201),
    ("GET", "/api/playlists/{playlist_id}"): _row(403, 200, 403, 403, 403),
    ("GET", "/api/sessions/{session_id}"): _row(403, 200, 403, 403, 403),
    ("GET", "/api/playlists/{playlist_id}/export"): _row(403, 200, 403, 403, 403),
    # Staff may push any playlist, a listener their session's; 409: none of these tracks came from the server.
    ("POST", "/api/playlists/{playlist_id}/push"): _row(403, 409, 403, 409, 403),
    ("POST", "/api/sessions/{session_id}/steer"): _row(403, 201, 403, 403, 403),
    ("POST", "/api/sessions/{session_id}/feedback"): _row(403, 200, 403, 403, 403),
    ("GET", "/api/tracks/"): _row(401, 401, 401, 200, 403),
    ("POST", "/api/tracks/"): _row(401, 401, 401, 201, 403),
    ("GET", "/api/schema/"): _row(200, 200, 200, 200, 200),
    ("GET", "/api/docs/"): _row(200, 200, 200, 200, 200),
    ("GET", "/healthz"): _row(200, 200, 200, 200, 200),
    ("GET", "/readyz"): _row(200, 200, 200, 200, 200),
    ("GET", "/admin/"): _row(302, 302, 302, 200, 302),  # 302: to the admin's login page
}


def _session(api: APIClient) -> dict:
    from tests.helpers.api import upload

    response = upload(api, {"size": 5})
    assert response.status_code == 201, response.json()
    return response.json()


def _client(role: str, session: dict, other: dict) -> APIClient:
    client = APIClient()
    if role in ("owner", "other_owner"):
        client.credentials(HTTP_X_SESSION_TOKEN=(session if role == "owner" else other)["session"]["token"])
    elif role in ("staff", "user"):
        person = User.objects.create_user(role, password="pw-not-used", is_staff=role == "staff")
        client.force_login(person)  # the admin's session login ...
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=person).key}")  # ... the API's token
    return client


def _call(client: APIClient, method: str, template: str, session: dict, catalog: dict):
    from django.conf import settings

    from tests.helpers.api import image_bytes, image_file

    playlist = session["playlist"]
    path = template.format(session_id=session["session"]["id"], playlist_id=playlist["id"])
    if (method, template) == ("POST", "/api/playlists/from-image"):
        return client.post(path, {"image": image_file(image_bytes()), "size": 5}, format="multipart")
    if template.endswith("/export"):
        return client.get(path, {"format": "m3u8"})
    if template.endswith("/push"):
        from django.test import override_settings

        # A configured server that is never reached: the permission and the 409 come before any request to it.
        with override_settings(SUBSONIC_URL="http://127.0.0.1:9", SUBSONIC_USER="u", SUBSONIC_PASSWORD="p"):
            return client.post(path, {}, format="json")
    if template.endswith("/steer"):
        return client.post(path, {"tags": ["calm piano"]}, format="json")
    if template.endswith("/feedback"):
        return client.post(path, {"liked": [playlist["items"][0]["track"]["id"]]}, format="json")
    if (method, template) == ("POST", "/api/tracks/"):
        vector = next(iter(catalog["vectors"].values())).tolist()
        body = {"space": settings.CATALOG_SPACE,
                "tracks": [{"source": "permissions", "external_id": "p1", "title": "P", "embedding": vector}]}
        return client.post(path, body, format="json")
    return client.generic(method, path)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", list(MATRIX), ids=[f"{m} {p}" for m, p in MATRIX])
def test_permissions(endpoint, role, api, catalog):
    session, other = _session(api), _session(api)
    response = _call(_client(role, session, other), *endpoint, session, catalog)
    assert response.status_code == MATRIX[endpoint][role], getattr(response, "content", b"")[:300]
    if response.status_code in (401, 403) and endpoint[1].startswith("/api/"):
        assert response.json()["error"]["code"] in {"missing_token", "invalid_token", "not_authenticated",
                                                    "forbidden"}


def test_every_operation_in_the_schema_is_in_the_table(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    operations = {(method.upper(), path) for path, item in schema["paths"].items() for method in item
                  if method in {"get", "post", "put", "patch", "delete"}}
    missing = operations - set(MATRIX)
    assert not missing, f"add these to MATRIX (who may call them?): {sorted(missing)}"
