"""The production CLAP text/music encoder and audio ingest, end to end on generated audio and a tiny ClapModel."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from prior.encoders import EncoderError, get_music_encoder, get_text_encoder
from prior.encoders.audio import (
    AudioInputError,
    embed_audio_files,
    find_audio_files,
    load_audio,
    resample,
    to_mono,
    windows,
)
from prior.encoders.clap import ClapEncoder
from tests.encoders.conftest import sine


@pytest.fixture(scope="module")
def clap(tiny_clap_dir) -> ClapEncoder:
    return ClapEncoder(model=str(tiny_clap_dir), device="cpu", batch_size=4)


def unit(x: np.ndarray) -> None:
    assert x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


def test_loads_by_path_through_the_registry(tiny_clap_dir):
    music = get_music_encoder("clap", model=str(tiny_clap_dir), device="cpu")
    text = get_text_encoder("clap", model=str(tiny_clap_dir), device="cpu")
    assert music is text  # one model serves both sides of the joint space
    assert music.sample_rate == 48_000 and music.space.name == "clap" and music.space.dim == 16
    assert music.accepts_audio


def test_tones_and_noise_shapes_normalised_distinct(clap):
    rate = 48_000
    rng = np.random.default_rng(0)
    audio = [sine(220, 1.5, rate), sine(3520, 1.5, rate), 0.3 * rng.standard_normal(rate).astype(np.float32)]
    vectors = clap.encode_audio(audio, rate)
    assert vectors.shape == (3, 16)
    unit(vectors)
    distance = 1.0 - vectors @ vectors.T
    resampled = clap.encode_audio([sine(220, 1.5, 22_050)], 22_050)
    same_tone = 1.0 - float(vectors[0] @ resampled[0])
    # a random tiny model maps everything near one point, so compare distances, not absolute cosines:
    # two different tones are further apart than one tone at two sample rates; tone vs noise much further
    assert distance[0, 1] > 3 * same_tone
    assert distance[0, 2] > 0.5 and distance[1, 2] > 0.5
    np.testing.assert_array_equal(vectors, clap.encode_audio(audio, rate))  # deterministic


def test_batch_and_single_agree(clap):
    rate = 48_000
    audio = [sine(f, 1.0, rate) for f in (110, 440, 1760, 5000, 8000)]
    batched = clap.encode_audio(audio, rate)
    singles = np.concatenate([clap.encode_audio([a], rate) for a in audio])
    np.testing.assert_allclose(batched, singles, atol=1e-5)


@pytest.mark.parametrize("rate", [22_050, 44_100, 16_000])
def test_resamples_other_rates(clap, rate):
    native = clap.encode_audio([sine(440, 1.5, 48_000)], 48_000)
    other = clap.encode_audio([sine(440, 1.5, rate)], rate)
    unit(other)
    assert float(native[0] @ other[0]) > 0.95  # the same tone at another rate lands near the same vector


def test_stereo_and_long_audio(clap):
    rate = 48_000
    tone = sine(330, 4.5, rate)  # longer than the tiny model's 2 s window: evenly spaced windows, averaged
    stereo = np.stack([tone, tone], axis=1)
    mono_vec = clap.encode_audio([tone], rate)
    np.testing.assert_allclose(clap.encode_audio([stereo], rate), mono_vec, atol=1e-5)
    np.testing.assert_allclose(clap.encode_audio([stereo.T], rate), mono_vec, atol=1e-5)
    np.testing.assert_array_equal(mono_vec, clap.encode_audio([tone], rate))  # long input: still deterministic


def test_bad_waveforms_are_clear_errors(clap):
    with pytest.raises(EncoderError, match="waveform 1"):
        clap.encode_audio([sine(440, 1, 48_000), np.zeros(0, np.float32)], 48_000)
    with pytest.raises(EncoderError, match="NaN"):
        clap.encode_audio([np.full(1000, np.nan, np.float32)], 48_000)
    assert clap.encode_audio([], 48_000).shape == (0, 16)


def test_text_side(clap):
    texts = ["sad piano ballad", "aggressive heavy metal with distorted guitars", ""]
    vectors = clap.encode_texts(texts)
    assert vectors.shape == (3, 16)
    unit(vectors)
    np.testing.assert_allclose(vectors, np.concatenate([clap.encode_texts([t]) for t in texts]), atol=1e-5)


def test_ingest_a_folder_of_audio_files(clap, tmp_path):
    rng = np.random.default_rng(3)
    soundfile.write(tmp_path / "a_low.wav", sine(220, 1.2, 22_050), 22_050)
    soundfile.write(tmp_path / "b_high.flac", np.stack([sine(2000, 1.0, 44_100)] * 2, axis=1), 44_100)
    (tmp_path / "sub").mkdir()
    soundfile.write(tmp_path / "sub" / "c_noise.ogg", 0.2 * rng.standard_normal(48_000).astype(np.float32), 48_000)
    (tmp_path / "d_broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    (tmp_path / "notes.txt").write_text("not audio")

    paths = find_audio_files(tmp_path)
    assert [p.name for p in paths] == ["a_low.wav", "b_high.flac", "d_broken.wav", "c_noise.ogg"]
    result = embed_audio_files(clap, paths, batch_size=2)
    assert [p.name for p in result.paths] == ["a_low.wav", "b_high.flac", "c_noise.ogg"]
    assert list(result.failed) == [tmp_path / "d_broken.wav"]
    assert "d_broken.wav" in result.failed[tmp_path / "d_broken.wav"]
    assert result.vectors.shape == (3, 16)
    unit(result.vectors)
    direct = clap.encode_audio([sine(220, 1.2, 22_050)], 22_050)
    np.testing.assert_allclose(result.vectors[0], direct[0], atol=3e-3)  # the WAV holds 16-bit PCM


def test_audio_helpers():
    x = sine(1000, 1.0, 22_050)
    y = resample(x, 22_050, 48_000)
    assert len(y) == 48_000 and y.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(int(np.argmax(spectrum)) - 1000) <= 1  # the tone is still at 1 kHz
    assert to_mono(np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]], np.float32)).tolist() == [0.5, 0.5, 0.5]
    assert abs(to_mono(np.array([16384, -16384], np.int16))[0] - 0.5) < 1e-3
    with pytest.raises(AudioInputError):
        to_mono(np.zeros((2, 2, 2)))
    assert len(windows(np.arange(10), 4, 3)) == 3 and len(windows(np.arange(3), 4, 3)) == 1
    with pytest.raises(AudioInputError):
        find_audio_files("/nonexistent-dir")


def test_load_audio_reads_the_start_only(tmp_path):
    soundfile.write(tmp_path / "t.wav", sine(440, 3.0, 16_000), 16_000)
    waveform, rate = load_audio(tmp_path / "t.wav", max_seconds=1.0)
    assert rate == 16_000 and len(waveform) == 16_000
    with pytest.raises(AudioInputError, match="x.wav"):
        (tmp_path / "x.wav").write_bytes(b"")
        load_audio(tmp_path / "x.wav")
