"""manage.py ingest_subsonic against a real Supysonic server: the walk, idempotent re-runs, changed and deleted
songs, and the one-line errors (wrong password, unreachable server, a server that goes away mid-walk)."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from catalog.models import Track, TrackEmbedding
from catalog.services.ingest import IngestError
from catalog.services.subsonic import default_source, describe, ingest_subsonic
from catalog.subsonic import SubsonicAuthError, SubsonicClient
from tests.encoders.conftest import tiny_clap_dir  # noqa: F401 - the session fixture, shared
from tests.subsonic_server import LIBRARY, PASSWORD, USER, Song, write_song

pytestmark = pytest.mark.django_db


def client_for(server, password: str = PASSWORD) -> SubsonicClient:
    return SubsonicClient(server.url, USER, password, timeout=10)


def test_walk_stores_every_song_with_its_metadata_and_a_rerun_changes_nothing(supysonic, minilm):
    client = client_for(supysonic)
    first = ingest_subsonic(client, encoder=minilm)
    assert client.auth == "password", "Supysonic speaks API 1.12: the hex password, not a token"
    source = default_source(supysonic.url)
    assert (first.report.created, first.songs, first.removed, first.source) == (len(LIBRARY), len(LIBRARY), 0, source)
    tracks = {t.title: t for t in Track.objects.filter(source=source)}
    assert set(tracks) == {song.title for song in LIBRARY}
    for song in LIBRARY:
        track = tracks[song.title]
        assert (track.artist, track.album, track.genre, track.year) == (song.artist, song.album, song.genre,
                                                                        song.year)
        assert track.duration_s == pytest.approx(song.seconds, abs=1)
        assert track.tags == [song.genre.lower()]
        assert track.external_id and track.url == ""  # a stream URL would need the password
    # the vector is the text encoder's embedding of the metadata sentence (a text proxy, said so in the report)
    nightcall = tracks["Nightcall"]
    stored = np.asarray(TrackEmbedding.objects.get(track=nightcall).vector, dtype=np.float32)
    expected = minilm.encode_texts([describe({"title": "Nightcall", "artist": "Neon Arcade", "album": "Midnight Drive",
                                              "genre": "Synthwave", "year": 1984})])[0]
    assert float(stored @ expected) == pytest.approx(1.0, abs=1e-3)
    assert first.embedding.startswith("metadata text through")

    again = ingest_subsonic(client_for(supysonic), encoder=minilm)
    assert (again.report.created, again.report.updated, again.report.unchanged, again.removed) == (
        0, 0, len(LIBRARY), 0)


def test_changed_and_deleted_songs_are_updated_and_removed(supysonic, minilm):
    ingest_subsonic(client_for(supysonic), encoder=minilm)
    source = default_source(supysonic.url)
    (supysonic.music / "d3.flac").unlink()  # "Lantern" leaves the library
    write_song(supysonic.music, Song("d2.flac", "River Song", "Hollow Pines", "Wood and Wire", "Americana", 1972, 3))
    supysonic.scan()
    result = ingest_subsonic(client_for(supysonic), encoder=minilm)
    assert (result.removed, result.report.updated, result.report.created) == (1, 1, 0)
    assert not Track.objects.filter(source=source, title="Lantern").exists()
    assert Track.objects.get(source=source, title="River Song").genre == "Americana"
    assert Track.objects.filter(source=source).count() == len(LIBRARY) - 1


def test_a_server_going_away_mid_walk_writes_and_deletes_nothing(supysonic, minilm):
    ingest_subsonic(client_for(supysonic), encoder=minilm)
    source = default_source(supysonic.url)
    (supysonic.music / "a1.flac").unlink()
    supysonic.scan()  # the next complete walk would remove a song ...

    def stop_server(total: int) -> None:  # ... but the server stops once the album list is read
        assert total == len(LIBRARY) - 1
        supysonic.stop()

    with pytest.raises(IngestError) as caught:
        ingest_subsonic(client_for(supysonic), encoder=minilm, on_total=stop_server)
    assert caught.value.code == "subsonic_unreachable"
    assert "server unreachable" in str(caught.value) and "nothing was imported" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert Track.objects.filter(source=source).count() == len(LIBRARY), "a failed walk deletes nothing"


def test_wrong_password_is_a_one_line_command_error(supysonic, monkeypatch):
    monkeypatch.setenv("SUBSONIC_PASSWORD", "not the password")
    with pytest.raises(CommandError) as caught:
        call_command("ingest_subsonic", "--url", supysonic.url, "--user", USER, "--no-progress")
    message = str(caught.value)
    assert "Subsonic error 40" in message and "\n" not in message
    with pytest.raises(SubsonicAuthError):
        client_for(supysonic, "wrong").ping()
    assert not Track.objects.filter(source=default_source(supysonic.url)).exists()


def test_unreachable_server_and_missing_password_are_one_line_errors(monkeypatch):
    monkeypatch.setenv("SUBSONIC_PASSWORD", "x")
    with pytest.raises(CommandError, match=r"server unreachable \(.*refused"):
        call_command("ingest_subsonic", "--url", "http://127.0.0.1:9", "--user", USER, "--no-progress")
    monkeypatch.delenv("SUBSONIC_PASSWORD")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(CommandError, match="no password"):
        call_command("ingest_subsonic", "--url", "http://127.0.0.1:9", "--user", USER)


def test_the_command_says_how_it_embeds_and_prints_the_summary(supysonic, monkeypatch, capsys):
    monkeypatch.setenv("SUBSONIC_PASSWORD", PASSWORD)
    call_command("ingest_subsonic", "--url", supysonic.url, "--user", USER)
    out, err = capsys.readouterr()
    assert "Subsonic API 1.12.0 (password authentication)" in out
    assert "embedding the metadata text (a text proxy, not audio)" in out and "MUSIC_ENCODER=minilm" in out
    assert f"created {len(LIBRARY)}, updated 0, unchanged 0, rejected 0, removed 0" in out
    assert f"{len(LIBRARY)}.0/{len(LIBRARY)}.0" in err  # the progress bar knew the total from the album list


def test_with_an_audio_encoder_the_streamed_audio_is_embedded(supysonic, tiny_clap_dir):  # noqa: F811
    from prior.encoders import get_music_encoder
    from prior.encoders.audio import load_audio

    encoder = get_music_encoder("clap", model=str(tiny_clap_dir))
    result = ingest_subsonic(client_for(supysonic), encoder=encoder, audio=True)
    assert result.report.created == len(LIBRARY) and result.embedding.startswith("audio (stream) through")
    track = Track.objects.get(source=default_source(supysonic.url), title="Blue Smoke")
    stored = np.asarray(TrackEmbedding.objects.get(track=track, space__name=encoder.space.name).vector)
    waveform, rate = load_audio(supysonic.music / "c1.flac")  # the file the server streamed
    direct = encoder.encode_audio([waveform], rate)[0]
    np.testing.assert_allclose(stored, direct, atol=3e-3)
    with pytest.raises(IngestError, match="takes no audio"):
        ingest_subsonic(client_for(supysonic), encoder=_TextOnly(), audio=True)


class _TextOnly:
    """An encoder without a sample rate (like the offline MiniLM): audio ingest must refuse it."""

    sample_rate = 0

    class space:  # noqa: N801
        name = "text-only"


def test_the_admin_imports_from_a_server_and_shows_errors_in_one_line(supysonic, client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("admin", "a@example.com", "pw"))
    url = "/admin/catalog/track/import-subsonic/"
    assert "Import from a Subsonic server" in client.get("/admin/catalog/track/").content.decode()
    form = {"url": supysonic.url, "user": USER, "password": PASSWORD, "auth": "auto", "embed": "text"}
    page = client.post(url, form).content.decode()
    assert f'<td id="created">{len(LIBRARY)}</td>' in page and 'id="embedding">metadata text through' in page
    assert PASSWORD not in page, "the password is never rendered back"
    assert Track.objects.filter(source=default_source(supysonic.url)).count() == len(LIBRARY)
    wrong = client.post(url, {**form, "password": "nope"}).content.decode()
    assert 'id="subsonic-error"' in wrong and "Subsonic error 40" in wrong
