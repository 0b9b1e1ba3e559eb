"""Importing metadata without vectors: rows with text are embedded by the space's text encoder (file, command,
admin page), with the same validation report as any other import."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from catalog.ingest.embed import metadata_text
from catalog.ingest.records import parse_record
from catalog.models import Track, TrackEmbedding
from catalog.services.ingest import IngestRejected, ingest_file
from catalog.services.spaces import ensure_space, space_from_prior
from catalog.vector_index import register_vector_type
from prior.spaces import MINILM

pytestmark = pytest.mark.django_db
EXAMPLE = Path(settings.BASE_DIR) / "docs" / "examples" / "tracks-metadata.csv"


@pytest.fixture
def minilm_space(minilm, settings):
    settings.TEXT_ENCODER = "minilm"
    return space_from_prior(MINILM)


def stored_vectors(space) -> dict[str, np.ndarray]:
    register_vector_type()
    rows = TrackEmbedding.objects.filter(space=space).values_list("track__external_id", "vector")
    return {external_id: np.asarray(vector, dtype=np.float32) for external_id, vector in rows}


def test_metadata_text_joins_description_tags_title_and_artist():
    record = parse_record({"external_id": "a", "title": "Night Song", "artist": "Ann Lee", "tags": "calm|piano",
                           "description": "A slow piano ballad"}, 2, default_source="s")
    assert metadata_text(record) == "A slow piano ballad. calm, piano. Night Song by Ann Lee"
    own = parse_record({"external_id": "b", "title": "x", "text": "my own words"}, 3, default_source="s")
    assert metadata_text(own) == "my own words"


def test_example_file_is_embedded_with_the_text_encoder(minilm_space, minilm):
    report = ingest_file(EXAMPLE, space=MINILM.name, source="example")
    assert (report.created, report.rejected) == (4, 0)
    vectors = stored_vectors(minilm_space)
    night = Track.objects.get(source="example", external_id="night-01")
    assert night.tags == ["calm", "piano", "ballad"] and night.metadata["description"].startswith("A slow")
    expected = minilm.encode_texts(["A slow solo piano ballad with a soft melody. calm, piano, ballad. "
                                    "Night Song by Ann Lee"])[0]
    assert float(vectors["night-01"] @ (expected / np.linalg.norm(expected))) > 0.999
    # a text query finds the matching track first: the vectors mean what the rows say
    query = minilm.encode_texts(["samba with percussion"])[0]
    assert max(vectors, key=lambda k: float(vectors[k] @ query)) == "samba-03"
    again = ingest_file(EXAMPLE, space=MINILM.name, source="example")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)


def test_rows_with_nothing_to_embed_are_reported_and_nothing_is_written(minilm_space, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("external_id,title,artist,tags\nok,Song,Band,rock\nempty,,,\nalso,Other,,\n")
    with pytest.raises(IngestRejected) as caught:
        ingest_file(path, space=MINILM.name)
    assert [(e.row, e.reason) for e in caught.value.report.errors] == [
        (3, "missing embedding, and no title, artist, tags, description or text to embed")]
    assert not Track.objects.exists()
    report = ingest_file(path, space=MINILM.name, skip_invalid=True)
    assert (report.created, report.rejected) == (2, 1)


def test_a_space_the_text_encoder_does_not_embed_into_reports_each_row(minilm_space, tmp_path):
    ensure_space("other8", 8)
    path = tmp_path / "t.csv"
    path.write_text('external_id,title,embedding\nwith,Song,"[1,2,3,4,5,6,7,8]"\nwithout,Song,\n')
    with pytest.raises(IngestRejected) as caught:
        ingest_file(path, space="other8")
    assert [(e.row, e.reason) for e in caught.value.report.errors] == [
        (3, "missing embedding (the text encoder embeds into 'minilm-l6-v2', not 'other8')")]


def test_ingest_tracks_command_imports_metadata(minilm_space, capsys):
    call_command("ingest_tracks", str(EXAMPLE), "--space", MINILM.name, "--source", "cli", "--no-progress")
    assert "created 4" in capsys.readouterr().out
    assert Track.objects.filter(source="cli").count() == 4


def test_ingest_tracks_command_rejects_rows_without_text(minilm_space, tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("external_id,title\nempty,\n")
    with pytest.raises(CommandError, match="1 invalid row"):
        call_command("ingest_tracks", str(path), "--space", MINILM.name, "--no-progress")
    assert "line 2: missing embedding, and no title" in capsys.readouterr().err


def test_admin_import_of_metadata_shows_the_report(minilm_space, client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    page = client.get("/admin/catalog/track/import/").content.decode()
    assert f'value="{settings.CATALOG_SPACE}"' in page  # the served space is offered
    upload = SimpleUploadedFile("tracks-metadata.csv", EXAMPLE.read_bytes(), content_type="text/csv")
    html = client.post("/admin/catalog/track/import/", {"file": upload, "space": MINILM.name, "source": "adm"}
                       ).content.decode()
    assert 'id="created">4<' in html and 'id="rejected">0<' in html
    assert set(stored_vectors(minilm_space)) >= {"night-01", "storm-02", "samba-03", "dust-04"}
