"""The Celery application. Without ``CELERY_BROKER_URL`` tasks run eagerly in-process (the embedded default).

Start a worker with ``celery -A worker worker -l info --concurrency 1`` (GPU is used when torch sees one; one
process per GPU, since each process holds its own copy of the models, see :mod:`worker.runtime`).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("diff4steer")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Fail fast when Redis is down: the web side turns that into a 503 instead of hanging on a connect.
app.conf.broker_transport_options = {"socket_connect_timeout": 2, **(app.conf.broker_transport_options or {})}
app.conf.redis_socket_connect_timeout = app.conf.redis_socket_connect_timeout or 2
# The result backend (Redis pub/sub) would otherwise retry a lost connection 20 times, a second apart.
app.conf.result_backend_transport_options = {
    "retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
    **(app.conf.result_backend_transport_options or {}),
}
app.conf.broker_connection_retry_on_startup = True
app.autodiscover_tasks(["worker"])
