"""Django admin: the import page runs the ingest service and shows its report; track list search and filters."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Track
from catalog.services.spaces import ensure_space
from tests.catalog.conftest import track_rows, write_csv

pytestmark = pytest.mark.django_db
URL = "/admin/catalog/track/import/"


@pytest.fixture
def admin_client_(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def upload(tmp_path, rows, vectors, name="tracks.csv"):
    path = write_csv(tmp_path / name, rows, vectors)
    return SimpleUploadedFile(name, path.read_bytes(), content_type="text/csv")


def test_upload_imports_and_shows_the_report(admin_client_, tmp_path):
    assert admin_client_.get(URL).status_code == 200
    rows, vectors = track_rows(6, 8)
    response = admin_client_.post(URL, {"file": upload(tmp_path, rows, vectors), "space": "adm8", "dimension": 8,
                                        "source": "upload"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="created">6<' in html and 'id="rejected">0<' in html
    assert Track.objects.filter(source="upload").count() == 6
    again = admin_client_.post(URL, {"file": upload(tmp_path, rows, vectors), "space": "adm8", "source": "upload"})
    assert 'id="unchanged">6<' in again.content.decode()


def test_bad_file_shows_every_bad_row_and_writes_nothing(admin_client_, tmp_path):
    ensure_space("adm8", 8)
    rows, vectors = track_rows(5, 8)
    vectors[1] = 0.0
    rows[3]["external_id"] = ""
    response = admin_client_.post(URL, {"file": upload(tmp_path, rows, vectors), "space": "adm8", "source": "s"})
    html = response.content.decode()
    assert "nothing was imported" in html
    assert "embedding is a zero vector" in html and "missing external_id" in html
    assert "<td>3</td>" in html and "<td>5</td>" in html  # CSV line numbers (header is line 1)
    assert not Track.objects.exists()
    skipped = admin_client_.post(URL, {"file": upload(tmp_path, rows, vectors), "space": "adm8", "source": "s",
                                       "skip_invalid": "on"})
    assert 'id="created">3<' in skipped.content.decode()
    assert Track.objects.count() == 3


def test_unknown_space_and_wrong_extension(admin_client_, tmp_path):
    rows, vectors = track_rows(2, 8)
    response = admin_client_.post(URL, {"file": upload(tmp_path, rows, vectors), "space": "nope", "source": "s"})
    assert "unknown embedding space" in response.content.decode()
    bad = SimpleUploadedFile("tracks.txt", b"hello")
    response = admin_client_.post(URL, {"file": bad, "space": "nope", "source": "s"})
    assert "Use a .csv" in response.content.decode()
    assert not Track.objects.exists()


def test_changelist_search_and_filters(admin_client_, tmp_path):
    rows, vectors = track_rows(6, 8)
    admin_client_.post(URL, {"file": upload(tmp_path, rows, vectors), "space": "adm8", "dimension": 8, "source": "s"})
    base = "/admin/catalog/track/"
    page = admin_client_.get(base)
    assert page.status_code == 200 and "Import tracks" in page.content.decode()
    for params in [{"q": "Track 2"}, {"artist": "Artist 1"}, {"tag": "tag0"}, {"space": "adm8"}, {"source": "s"}]:
        response = admin_client_.get(base, params)
        assert response.status_code == 200, params
    assert admin_client_.get(base, {"tag": "tag0"}).context["cl"].result_count == 3
    assert admin_client_.get(base, {"artist": "Artist 1"}).context["cl"].result_count == 2
    assert admin_client_.get("/admin/catalog/embeddingspace/").status_code == 200


def test_non_staff_cannot_import(client, django_user_model):
    user = django_user_model.objects.create_user("joe", password="pw")
    client.force_login(user)
    assert client.get(URL).status_code == 302  # to the admin login
