"""``ingest_tracks FILE --audio-dir DIR``: vectors computed from generated audio by a tiny CLAP, end to end."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import EmbeddingSpace, Track
from catalog.selectors import nearest_tracks, vectors_for
from prior.encoders import get_music_encoder
from tests.encoders.conftest import sine, tiny_clap_dir  # noqa: F401 - the session fixture, shared

pytestmark = pytest.mark.django_db


@pytest.fixture
def audio_catalog(tmp_path):
    audio = tmp_path / "audio"
    (audio / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    soundfile.write(audio / "low.wav", sine(220, 1.5, 22_050), 22_050)
    soundfile.write(audio / "sub" / "high.flac", np.stack([sine(3000, 1.0, 44_100)] * 2, axis=1), 44_100)
    soundfile.write(audio / "noise.wav", 0.3 * rng.standard_normal(16_000).astype(np.float32), 16_000)
    csv = tmp_path / "tracks.csv"
    csv.write_text("external_id,title,audio\nlow,Low tone,\nhigh,High tone,sub/high.flac\nnoise,Noise,\n")
    return csv, audio


def run(csv, audio, model_dir, **opts):
    call_command("ingest_tracks", str(csv), audio_dir=str(audio), music_encoder="clap", music_model=str(model_dir),
                 no_progress=True, **opts)


def test_audio_rows_are_embedded_with_the_music_encoder(audio_catalog, tiny_clap_dir, capsys):  # noqa: F811
    csv, audio = audio_catalog
    run(csv, audio, tiny_clap_dir)
    assert "clap: created 3, updated 0, unchanged 0, rejected 0" in capsys.readouterr().out
    encoder = get_music_encoder("clap", model=str(tiny_clap_dir))
    space = EmbeddingSpace.objects.get(name="clap")
    assert (space.dimension, space.version) == (16, encoder.space.version)
    low = Track.objects.get(external_id="low")
    stored = vectors_for("clap", [low.pk])[0]
    direct = encoder.encode_audio([sine(220, 1.5, 22_050)], 22_050)[0]  # resampled 22.05 -> 48 kHz inside
    np.testing.assert_allclose(stored, direct, atol=3e-3)  # the WAV holds 16-bit PCM
    assert np.linalg.norm(stored) == pytest.approx(1.0, abs=1e-5)
    assert nearest_tracks("clap", direct, 1, exact=True)[0][0].track_id == low.pk
    vectors = vectors_for("clap", list(Track.objects.order_by("id").values_list("id", flat=True)))
    assert np.abs(vectors @ vectors.T - np.eye(3)).max() > 1e-3  # three different sounds, three vectors
    run(csv, audio, tiny_clap_dir)
    assert "created 0, updated 0, unchanged 3" in capsys.readouterr().out


def test_missing_or_broken_audio_rejects_the_file(audio_catalog, tiny_clap_dir, capsys):  # noqa: F811
    csv, audio = audio_catalog
    (audio / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    csv.write_text(csv.read_text() + "gone,Missing,\nbroken,Broken,broken.wav\nescape,Bad,../tracks.csv\n")
    with pytest.raises(CommandError, match="3 invalid row"):
        run(csv, audio, tiny_clap_dir)
    err = capsys.readouterr().err
    assert "line 5: audio file gone.wav not found" in err
    assert "line 6: broken.wav: not a readable audio file" in err
    assert "line 7: audio path '../tracks.csv' points outside the audio directory" in err
    assert not Track.objects.exists()
    run(csv, audio, tiny_clap_dir, skip_invalid=True)
    assert Track.objects.count() == 3


class TextProxy:
    """Stands in for the offline MiniLM music encoder, which embeds descriptions and takes no audio."""

    from prior.spaces import MINILM as space

    sample_rate = 0


def test_text_proxy_encoder_cannot_ingest_audio(audio_catalog, monkeypatch):
    import prior.encoders

    monkeypatch.setattr(prior.encoders, "get_music_encoder", lambda name="minilm", **_: TextProxy())
    csv, audio = audio_catalog
    with pytest.raises(CommandError, match="encoder: the minilm-l6-v2 music encoder takes no audio"):
        call_command("ingest_tracks", str(csv), audio_dir=str(audio), no_progress=True)
    assert not Track.objects.exists()
