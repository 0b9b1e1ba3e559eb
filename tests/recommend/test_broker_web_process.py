"""With a broker configured (docker-compose's ``web`` service) the web process never loads the prior's weights:
sampling runs on the Celery worker, and the web side reads the prior's spaces from the checkpoint's config.

Real parts: valkey-server as the broker, the project's Celery worker as a separate process (``-Q prior``), and a
from-image request through the API in this process.
"""

from __future__ import annotations

import pytest

from serving import engine, runtime
from tests.conftest import celery_worker_command, running_valkey, start_watched_process, worker_env
from tests.helpers.api import upload
from tests.worker.conftest import celery_broker


@pytest.mark.slow
def test_a_broker_configured_web_process_serves_from_image_without_loading_the_prior(api, catalog, settings):
    from django.conf import settings as live

    with running_valkey() as port:
        broker = f"redis://127.0.0.1:{port}/0"
        command = celery_worker_command("-Q", "prior", "--pool", "solo")
        process, lines, ready = start_watched_process(command, worker_env(broker),
                                                      lambda seen: " ready." in seen[-1])
        try:
            assert ready.wait(120), "".join(lines[-40:])
            with celery_broker(settings, broker):
                engine.reset()  # this process starts as a fresh web process: nothing loaded
                response = upload(api, {"size": 10, "tags": "calm"})
                ready = api.get("/readyz").json()["checks"]
                loaded = runtime.loaded_prior()
                cond, music = engine.cond_space(), engine.music_space()
        finally:
            process.terminate()
            process.wait(30)

    output = "".join(lines)
    assert response.status_code == 201, (response.json(), output[-4000:])
    assert len(response.json()["playlist"]["items"]) == 10
    assert "worker.sample_seeds" in output and "succeeded" in output, output[-4000:]  # the worker sampled
    assert loaded is None  # ... and this process never loaded the weights, not even for /readyz:
    assert ready["broker"] == {"ok": True, "detail": "broker reachable"}
    assert ready["prior"]["ok"] and "on Celery workers" in ready["prior"]["detail"], ready
    assert (cond.name, music.name) == ("palette-v1", live.CATALOG_SPACE)
