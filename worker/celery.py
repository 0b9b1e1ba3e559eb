"""The Celery application. Without ``CELERY_BROKER_URL`` tasks run eagerly in-process (the embedded default).

Start a worker with ``celery -A worker worker -l info --concurrency 1`` (GPU is used when torch sees one; one
process per GPU, since each process holds its own copy of the models, see :mod:`serving.runtime`).
"""

import os

from celery import Celery, signals

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


@signals.worker_init.connect
def plan_warm_up(sender, **_: object) -> None:
    """Load the prior in the process that will run the tasks before the first one arrives, not during it.

    Without this the first task of every worker process (after a deploy, a scale-up, a recycled child) waits
    for the weights while the web request behind it waits for the task. Which process runs the tasks depends
    on the pool: prefork children and the solo pool announce themselves with ``worker_process_init`` (connected
    here, so it runs after Django's fixup has dropped the database connections a child inherits); the threads
    pool runs them in this process, which warms now.
    """
    from celery.concurrency import get_implementation
    from celery.concurrency.prefork import TaskPool as PreforkPool
    from celery.concurrency.solo import TaskPool as SoloPool

    if issubclass(get_implementation(sender.pool_cls), PreforkPool | SoloPool):
        signals.worker_process_init.connect(warm_up, weak=False)
    else:
        warm_up()


def warm_up(**_: object) -> None:
    """The prior only (tasks sample; encoding happens on the web side), then the freeze of serving.process."""
    from serving.process import prepare_serving_process

    prepare_serving_process(encoders=False, sampling_here=True)
