"""The playlist API as its tests call it: a real image upload, a session steered, the JSON error shape checked."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

URL = "/api/playlists/from-image"
TAG = "heavy metal, distorted electric guitar, aggressive"  # a steering tag far from most of the catalog


def image_bytes(color: tuple[int, int, int] = (200, 120, 40), fmt: str = "PNG", size: int = 64) -> bytes:
    """A small real image: a colour gradient, so the palette encoder sees light and texture."""
    x = np.linspace(0, 1, size)[None, :, None]
    y = np.linspace(0, 1, size)[:, None, None]
    arr = np.clip(np.array(color)[None, None, :] * (0.6 + 0.4 * x) * (0.7 + 0.3 * y), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, format=fmt)
    return buf.getvalue()


def image_file(content: bytes, name: str = "photo.png"):
    """``content`` as an uploaded PNG file of a multipart request."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="image/png")


def upload(api, data=None, **extra):
    """POST an image (and ``data``) to the from-image endpoint."""
    return api.post(URL, {"image": image_file(image_bytes()), **(data or {})}, format="multipart", **extra)


def start(api, size=20):
    """A new session from an uploaded image: (session id, token, first playlist)."""
    body = upload(api, {"size": size}).json()
    return body["session"]["id"], body["session"]["token"], body["playlist"]


def steer(api, session_id, token, **body):
    return api.post(f"/api/sessions/{session_id}/steer", body, format="json", HTTP_X_SESSION_TOKEN=token)


def served(playlist: dict) -> set[int]:
    """The track ids a playlist version served."""
    return {i["track"]["id"] for i in playlist["items"]}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    return body["error"]
