"""gunicorn settings of the web app: the Dockerfile, docker-compose.yml and bench/api.py all start from these.

    gunicorn -c config/gunicorn.conf.py config.wsgi:application

gthread workers: each process serves ``GUNICORN_THREADS`` requests at once, so concurrent sampling calls of a
process share batched passes of the prior (prior/batching.py) and the models are loaded once per process, not
once per request slot. Processes: ``WEB_CONCURRENCY`` (gunicorn's own variable), default one per CPU. Command-line
flags override anything here.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 2)
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))


def post_worker_init(worker) -> None:
    """Load the models and freeze the loaded heap before this worker takes requests (serving/process.py)."""
    from serving.process import prepare_serving_process

    prepare_serving_process(worker.log)


def worker_exit(server, worker) -> None:
    """Log how many sampling queries this worker served in how many batched passes (serving/process.py)."""
    from serving.process import log_batching

    log_batching(worker.log)
