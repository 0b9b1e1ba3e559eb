"""config/gunicorn.conf.py: what the Dockerfile, docker-compose and bench/api.py serve with."""

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parent.parent / "config" / "gunicorn.conf.py"


def test_threaded_workers_with_env_overrides(monkeypatch):
    for name in ("WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_BIND", "GUNICORN_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    conf = runpy.run_path(str(CONF))
    assert conf["worker_class"] == "gthread" and conf["threads"] == 4 and conf["workers"] >= 1
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("GUNICORN_THREADS", "2")
    conf = runpy.run_path(str(CONF))
    assert (conf["workers"], conf["threads"]) == (3, 2)


def test_dockerfile_and_compose_use_it():
    root = CONF.parent.parent
    assert "config/gunicorn.conf.py" in (root / "Dockerfile").read_text()
    assert "config/gunicorn.conf.py" in (root / "docker-compose.yml").read_text()


def test_settings_are_typed_and_a_bind_is_checked(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from config.web_server import gunicorn_settings

    monkeypatch.setenv("GUNICORN_BIND", "[::1]:8080")
    monkeypatch.setenv("GUNICORN_TIMEOUT", " 30 ")
    assert (gunicorn_settings()["bind"], gunicorn_settings()["timeout"]) == ("[::1]:8080", 30)
    monkeypatch.setenv("GUNICORN_BIND", "unix:/run/app.sock")
    assert gunicorn_settings()["bind"] == "unix:/run/app.sock"
    for bad in ("localhost", "0.0.0.0:99999", "host:port"):
        monkeypatch.setenv("GUNICORN_BIND", bad)
        with pytest.raises(ImproperlyConfigured, match=f"GUNICORN_BIND='{bad}' is not HOST:PORT"):
            gunicorn_settings()


def test_gunicorn_refuses_a_malformed_setting_in_one_line():
    """A real gunicorn start: the config file stops it before any worker, naming the variable, no traceback."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GUNICORN_THREADS": "many",
           "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
           "SECRET_KEY": "test"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    result = subprocess.run([str(gunicorn), "-c", str(CONF), "config.wsgi:application"], cwd=CONF.parent.parent,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Configuration error: GUNICORN_THREADS='many' is not a whole number >= 1 (default 4); fix or unset it"]
