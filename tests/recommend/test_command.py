"""``manage.py playlist_from_image`` prints the playlist as a table and starts a real session."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from recommend.models import Session
from tests.helpers.api import image_bytes


def test_prints_a_table_of_the_playlist(catalog, db, tmp_path):
    photo = tmp_path / "beach.jpg"
    photo.write_bytes(image_bytes((230, 200, 120), fmt="JPEG"))
    out = StringIO()
    call_command("playlist_from_image", str(photo), "--tags", "calm", "acoustic,guitar", "--size", "5", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:5] == ["rank", "score", "seed", "artist", "title"]
    rows = [line for line in lines[2:7]]
    assert [int(r.split()[0]) for r in rows] == [1, 2, 3, 4, 5]
    assert all("Artist" in r and "youtube.com" in r for r in rows)
    assert "text proxy" in out.getvalue()
    session = Session.objects.get()
    assert session.tags == ["calm", "acoustic", "guitar"]
    assert str(session.pk) in out.getvalue()


def test_bad_photo_is_a_clean_error(catalog, db, tmp_path):
    photo = tmp_path / "notes.png"
    photo.write_text("not a photo")
    with pytest.raises(CommandError, match="invalid_image"):
        call_command("playlist_from_image", str(photo), stdout=StringIO())
    with pytest.raises(CommandError, match="no such file"):
        call_command("playlist_from_image", str(tmp_path / "missing.png"), stdout=StringIO())
    assert not Session.objects.exists()
