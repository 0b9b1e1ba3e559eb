"""``manage.py demo`` on a machine where everything is already built: it reuses it all and only checks and loads."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.conftest import TinyPriorRecipe
from tests.worker.conftest import MUSIC_SPACE


@pytest.fixture
def built_demo(served_prior, settings, tmp_path):
    """A catalog with a track in the prior's space, the prior trained, VAR_DIR in a temp dir."""
    from catalog.models import EmbeddingSpace, Track, TrackEmbedding

    settings.VAR_DIR = tmp_path
    settings.IMAGE_ENCODER, settings.TEXT_ENCODER = "palette", "minilm"
    track = Track.objects.create(source="test", external_id="t1", title="A track")
    vector = np.ones(MUSIC_SPACE.dim, np.float32) / np.sqrt(MUSIC_SPACE.dim)
    TrackEmbedding.objects.create(track=track, space=EmbeddingSpace.objects.get(name=MUSIC_SPACE.name), vector=vector)
    return tmp_path


def test_second_run_reuses_everything(built_demo):
    out = io.StringIO()
    steps = TinyPriorRecipe().steps  # what the served tiny prior was trained for
    call_command("demo", "--no-serve", "--no-progress", "--steps", str(steps), stdout=out)
    text = out.getvalue()
    assert "not needed: the prior is already trained" in text
    assert "1 tracks in space minilm-l6-v2 (reused)" in text
    assert f"{steps} steps, reused" in text
    assert "palette-v1 -> minilm-l6-v2" in text
    for name in ("dark-cold", "bright-warm"):
        assert (built_demo / "demo" / f"{name}.png").is_file()


def test_a_reused_demo_prior_gets_the_demos_current_steering(built_demo, settings, tiny_prior, tmp_path):
    import json
    import shutil

    from demo.steering import DEMO_STEERING
    from prior.config import config_to_dict
    from prior.data.npz import file_fingerprint

    pairs = built_demo / "demo-pairs"
    pairs.mkdir()
    (pairs / "train.npz").write_bytes(b"the demo pairs")  # only its fingerprint is read
    config_path = {}
    for name, fingerprint in (("demo", file_fingerprint(pairs / "train.npz")), ("other", "sha256:other-data")):
        prior = tmp_path / name
        shutil.copytree(tiny_prior, prior)
        config = json.loads((prior / "config.json").read_text())
        config["data_fingerprint"], config["steering"] = fingerprint, {**config["steering"], "tag_k": 0.123}
        (prior / "config.json").write_text(json.dumps(config))
        config_path[name] = prior / "config.json"
        settings.PRIOR_CHECKPOINT = str(prior)
        out = io.StringIO()
        call_command("demo", "--no-serve", "--no-progress", "--steps", str(TinyPriorRecipe().steps), stdout=out)
        refreshed = "recorded the demo's current steering" in out.getvalue()
        assert refreshed == (name == "demo")
    assert json.loads(config_path["demo"].read_text())["steering"] == config_to_dict(DEMO_STEERING)
    assert json.loads(config_path["other"].read_text())["steering"]["tag_k"] == 0.123, "another prior keeps its own"


def test_bad_port_is_a_clear_error(built_demo):
    with pytest.raises(CommandError, match="--port"):
        call_command("demo", "--port", "70000", stdout=io.StringIO())


def test_other_empty_catalog_space_is_not_built(served_prior, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.CATALOG_SPACE = "clap-v1"
    with pytest.raises(CommandError, match="ingest your catalog first"):
        call_command("demo", "--no-serve", "--no-progress", "--steps", "50", stdout=io.StringIO())


def test_host_and_port_come_from_the_environment_and_the_flags_win(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from demo.management.commands.demo import Command

    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("PORT", "8123")
    options = Command().create_parser("manage.py", "demo").parse_args([])
    assert (options.host, options.port) == ("0.0.0.0", 8123)
    options = Command().create_parser("manage.py", "demo").parse_args(["--port", "9000", "--host", "::1"])
    assert (options.host, options.port) == ("::1", 9000)
    monkeypatch.delenv("HOST")
    monkeypatch.delenv("PORT")
    assert Command().create_parser("manage.py", "demo").parse_args([]).port == 8000
    monkeypatch.setenv("PORT", "eighty")
    with pytest.raises(ImproperlyConfigured, match="PORT='eighty' is not a valid int"):
        Command().create_parser("manage.py", "demo")


def test_a_malformed_musiccaps_row_stops_the_demo_in_one_line(db, settings, tmp_path, monkeypatch):
    """The demo reads MusicCaps through the one reader: a bad row is its file, line and why, not a traceback (and
    not a row silently left out of the demo pairs)."""
    from tests.data_files import MUSICCAPS_ROW, write_musiccaps_csv

    no_caption = {**MUSICCAPS_ROW, "ytid": "x", "caption": " "}
    write_musiccaps_csv(tmp_path / "data" / "musiccaps" / "musiccaps-public.csv", [MUSICCAPS_ROW, no_caption])
    monkeypatch.setenv("SHARED_DATA_DIR", str(tmp_path / "data"))
    settings.VAR_DIR = tmp_path / "var"
    settings.PRIOR_CHECKPOINT = str(tmp_path / "no-prior-yet")
    with pytest.raises(CommandError, match=r"readable MusicCaps CSV: .*musiccaps-public.csv:3: empty caption"):
        call_command("demo", "--no-serve", "--no-progress", "--steps", "50", stdout=io.StringIO())
