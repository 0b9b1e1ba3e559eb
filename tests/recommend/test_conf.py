"""Recommendation settings: one default each (recommend/conf.py), overridable by Django settings or the environment."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from recommend import conf


@pytest.fixture(autouse=True)
def no_pinned_settings(settings):
    """The test settings pin some names (e.g. RECOMMEND_RNG_SEED); these tests look at what lies below them."""
    for name in conf.DEFAULTS:
        if hasattr(settings, name):
            delattr(settings, name)


def test_unset_gives_the_default(monkeypatch):
    monkeypatch.delenv("RECOMMEND_POOL_FACTOR", raising=False)
    monkeypatch.setenv("RECOMMEND_MERGE", "  ")
    assert conf.get("RECOMMEND_POOL_FACTOR") == conf.DEFAULTS["RECOMMEND_POOL_FACTOR"]
    assert conf.get("RECOMMEND_MERGE") == "round_robin"


@pytest.mark.parametrize(("name", "raw", "expected"), [
    ("RECOMMEND_POOL_FACTOR", "5", 5),
    ("RECOMMEND_MMR_LAMBDA", "0.25", 0.25),
    ("RECOMMEND_MERGE", "rrf", "rrf"),
    ("RECOMMEND_RNG_SEED", "42", 42),
    ("IMAGE_MAX_PIXELS", "1000", 1000),
])
def test_environment_value_is_parsed_as_the_default_type(monkeypatch, name, raw, expected):
    monkeypatch.setenv(name, raw)
    value = conf.get(name)
    assert value == expected and type(value) is type(expected)


def test_django_setting_wins_over_the_environment(monkeypatch, settings):
    monkeypatch.setenv("RECOMMEND_EF_SEARCH", "64")
    settings.RECOMMEND_EF_SEARCH = 48
    assert conf.get("RECOMMEND_EF_SEARCH") == 48


def test_malformed_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("RECOMMEND_MAX_PER_ARTIST", "two")
    with pytest.raises(ImproperlyConfigured, match="RECOMMEND_MAX_PER_ARTIST='two' is not a valid int"):
        conf.get("RECOMMEND_MAX_PER_ARTIST")
    with pytest.raises(ImproperlyConfigured, match="RECOMMEND_MAX_PER_ARTIST"):
        conf.check_environment()


@pytest.mark.parametrize(("name", "raw"), [("RECOMMEND_STEER_TAG_K", "-1"), ("RECOMMEND_STEER_SCHEDULE", "linear"),
                                           ("RECOMMEND_STEER_FADE", "0")])
def test_an_out_of_range_steering_value_stops_the_boot(monkeypatch, name, raw):
    monkeypatch.setenv(name, raw)
    with pytest.raises(ImproperlyConfigured, match=name):
        conf.check_environment()


def test_steering_values_from_the_environment(monkeypatch):
    monkeypatch.setenv("RECOMMEND_STEER_CONDITION_WEIGHT", "0.3")
    monkeypatch.setenv("RECOMMEND_STEER_SCHEDULE", "sigma2")
    conf.check_environment()
    assert conf.get("RECOMMEND_STEER_CONDITION_WEIGHT") == 0.3 and conf.get("RECOMMEND_STEER_SCHEDULE") == "sigma2"
    monkeypatch.delenv("RECOMMEND_STEER_CONDITION_WEIGHT")
    assert conf.get("RECOMMEND_STEER_CONDITION_WEIGHT") is None, "unset: the checkpoint's value"
