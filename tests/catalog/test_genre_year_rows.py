"""The genre and year columns every ingest path now carries: parsed, validated, upserted."""

from __future__ import annotations

import pytest

from catalog.ingest.records import RowInvalid, parse_record
from catalog.models import Track
from catalog.services.ingest import ingest_payload
from catalog.services.spaces import ensure_space


def test_genre_and_year_are_parsed_and_checked():
    record = parse_record({"external_id": "a", "genre": " Jazz ", "year": "1959"}, 1, default_source="t")
    assert (record.genre, record.year) == ("Jazz", 1959)
    assert parse_record({"external_id": "a", "year": 1959.0}, 1, default_source="t").year == 1959
    for bad in ("19.5", "0", "10000", "soon"):
        with pytest.raises(RowInvalid, match="year"):
            parse_record({"external_id": "a", "year": bad}, 1, default_source="t")
    with pytest.raises(RowInvalid, match="genre is longer"):
        parse_record({"external_id": "a", "genre": "x" * 101}, 1, default_source="t")


@pytest.mark.django_db
def test_genre_and_year_are_upserted_and_kept_when_a_row_leaves_them_out():
    ensure_space("gy4", 4, "test")
    row = {"external_id": "a", "title": "A", "genre": "Jazz", "year": 1959, "embedding": [1, 0, 0, 0]}
    assert ingest_payload("gy4", [row]).created == 1
    assert ingest_payload("gy4", [{**row, "genre": "Bebop"}]).updated == 1
    assert ingest_payload("gy4", [{"external_id": "a", "embedding": [1, 0, 0, 0]}]).unchanged == 1
    track = Track.objects.get(external_id="a")
    assert (track.genre, track.year, track.title) == ("Bebop", 1959, "A")
