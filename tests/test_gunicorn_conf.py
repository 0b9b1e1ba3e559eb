"""config/gunicorn.conf.py: what the Dockerfile, docker-compose and bench/api.py serve with."""

import runpy
from pathlib import Path

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
