"""A malformed environment variable stops a process at start with one line naming it (config/env.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("HNSW_EF_SEARCH", "abc", "HNSW_EF_SEARCH='abc' is not a valid int (default 100)"),  # read by config/settings.py
    ("RECOMMEND_MMR_LAMBDA", "high", "RECOMMEND_MMR_LAMBDA='high' is not a valid float (default 0.7)"),  # recommend
])
def test_manage_py_names_the_bad_variable_in_one_line(variable, value, message):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DJANGO_SETTINGS_MODULE": "config.settings",
           "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "SECRET_KEY": "test", variable: value}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"Configuration error: {message}; fix or unset it"]


def test_a_valid_value_is_used(monkeypatch):
    from config.env import env_value

    monkeypatch.setenv("SOME_LIMIT", " 42 ")
    assert env_value("SOME_LIMIT", 7) == 42
    monkeypatch.setenv("SOME_LIMIT", "")
    assert env_value("SOME_LIMIT", 7) == 7
    monkeypatch.setenv("SOME_SECONDS", "2")
    assert env_value("SOME_SECONDS", 1.5) == 2.0 and isinstance(env_value("SOME_SECONDS", 1.5), float)


def test_flags_and_none_defaults_need_the_right_parser():
    from config.env import env_value

    with pytest.raises(TypeError, match="env_bool"):
        env_value("SOME_FLAG", False)  # bool("0") would be True
    with pytest.raises(TypeError, match="pass kind"):
        env_value("SOME_SEED", None)
    assert env_value("SOME_UNSET_SEED", None, int) is None


@pytest.mark.parametrize("value", ["app.example.com", "https://app.example.com/", "https://app.example.com/path",
                                   "ftp://app.example.com"])
def test_a_cors_origin_must_be_scheme_and_host(monkeypatch, value):
    from django.core.exceptions import ImproperlyConfigured

    from config.env import env_origins

    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", f"http://localhost:3000, {value}")
    with pytest.raises(ImproperlyConfigured, match=r"CORS_ALLOWED_ORIGINS: .* is not an origin; write scheme://host"):
        env_origins("CORS_ALLOWED_ORIGINS")


def test_cors_origins_are_a_trimmed_list(monkeypatch):
    from config.env import env_origins

    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", " https://app.example.com ,http://localhost:3000,")
    assert env_origins("CORS_ALLOWED_ORIGINS") == ["https://app.example.com", "http://localhost:3000"]
    monkeypatch.delenv("CORS_ALLOWED_ORIGINS")
    assert env_origins("CORS_ALLOWED_ORIGINS") == []


def test_cache_url_picks_the_cache_the_throttles_count_in():
    from django.core.exceptions import ImproperlyConfigured

    from config.env import cache_config

    assert cache_config("")["BACKEND"].endswith("LocMemCache")
    assert cache_config(" redis://redis:6379/1 ") == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://redis:6379/1"}
    with pytest.raises(ImproperlyConfigured, match="CACHE_URL='memcached://m:11211' is not a Redis URL"):
        cache_config("memcached://m:11211")


def settings_in_subprocess(env: dict[str, str], expression: str) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "SECRET_KEY": "test"}
    code = f"from django.conf import settings; print({expression})"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**base, **env}, capture_output=True,
                          text=True, timeout=120)


def test_reverse_proxy_settings_come_from_the_environment():
    result = settings_in_subprocess(
        {"NUM_PROXIES": "1", "TRUST_X_FORWARDED_PROTO": "1", "CSRF_TRUSTED_ORIGINS": "https://admin.example.com"},
        "settings.REST_FRAMEWORK['NUM_PROXIES'], settings.SECURE_PROXY_SSL_HEADER, settings.CSRF_TRUSTED_ORIGINS")
    assert result.stdout.strip() == "1 ('HTTP_X_FORWARDED_PROTO', 'https') ['https://admin.example.com']"
    result = settings_in_subprocess({}, "settings.REST_FRAMEWORK['NUM_PROXIES'], settings.SECURE_PROXY_SSL_HEADER")
    assert result.stdout.strip() == "0 None"  # not DRF's None, which trusts any X-Forwarded-For


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("NUM_PROXIES", "-1", "NUM_PROXIES must be 0 or more, got -1"),
    ("NUM_PROXIES", "one", "NUM_PROXIES='one' is not a valid int"),
    ("CSRF_TRUSTED_ORIGINS", "admin.example.com", "CSRF_TRUSTED_ORIGINS: 'admin.example.com' is not an origin"),
])
def test_bad_reverse_proxy_settings_stop_the_process(variable, value, message):
    result = settings_in_subprocess({variable: value}, "settings.DEBUG")
    assert result.returncode != 0 and message in result.stderr


def test_https_only_makes_the_deploy_checks_clean():
    env = {"HTTPS_ONLY": "1", "SECURE_HSTS_SECONDS": "31536000", "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
           "SECURE_HSTS_PRELOAD": "1", "SECRET_KEY": "k" * 60 + "-Zq8$x"}
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                            env={**base, **env}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "no issues" in result.stdout
    without = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                             env={**base, "SECRET_KEY": env["SECRET_KEY"]}, capture_output=True, text=True, timeout=120)
    assert without.returncode != 0 and "SESSION_COOKIE_SECURE" in without.stderr


# One malformed value for every setting a serving process reads from the environment where a typo is possible: each
# stops `manage.py` (and so gunicorn's and Celery's Django set-up, which run the same app checks) at start, naming
# the variable, instead of passing boot and /readyz and failing requests later.
MALFORMED = {
    "PRIOR_BATCH_MAX": "eight",  # serving/conf.py
    "PRIOR_BATCH_WAIT_MS": "-5",
    "PRIOR_CPU_THREADS": "two",
    "PRIOR_DEVICE": "gpu",
    "PRIOR_DTYPE": "fp8",
    "PRIOR_CUDA_GRAPHS": "maybe",
    "SUBSONIC_TIMEOUT": "soon",  # config/settings.py
    "SUBSONIC_AUTH": "md5",
    "THROTTLE_FROM_IMAGE": "fast",
    "THROTTLE_STEER": "120",
    "THROTTLE_FEEDBACK": "300/fortnight",
    "HNSW_MAINTENANCE_WORK_MEM": "2 gigs",
    "GUNICORN_BIND": "8000",  # config/web_server.py (gunicorn's settings)
    "GUNICORN_THREADS": "many",
    "GUNICORN_TIMEOUT": "0",
    "WEB_CONCURRENCY": "-2",
}


def test_every_worker_and_web_server_setting_has_a_malformed_case():
    from config import web_server
    from serving import conf

    assert set(conf.DEFAULTS) | set(web_server.DEFAULTS) <= set(MALFORMED)


@pytest.mark.parametrize(("variable", "value"), MALFORMED.items())
def test_a_malformed_setting_stops_the_boot_naming_it(variable, value):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DJANGO_SETTINGS_MODULE": "config.settings",
           "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "SECRET_KEY": "test", variable: value}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"Configuration error: {variable}") and repr(value) in line and line.endswith(
        "; fix or unset it"), line
