"""gunicorn settings of the web app: the Dockerfile, docker-compose.yml and bench/api.py all start from these.

    gunicorn -c config/gunicorn.conf.py config.wsgi:application

gthread workers: each process serves ``GUNICORN_THREADS`` requests at once, so concurrent sampling calls of a
process share batched passes of the prior (prior/batching.py) and the models are loaded once per process, not
once per request slot. Processes: ``WEB_CONCURRENCY`` (gunicorn's own variable), default one per CPU. The values
come from :mod:`config.web_server` (typed defaults, checked like every setting: a malformed one stops gunicorn with
one line naming it). Command-line flags override anything here.
"""

from django.core.exceptions import ImproperlyConfigured

from config.web_server import gunicorn_settings

try:
    _settings = gunicorn_settings()
except ImproperlyConfigured as exc:
    raise SystemExit(f"Configuration error: {exc}") from None  # SystemExit: gunicorn prints it, no traceback

bind = _settings["bind"]
workers = _settings["workers"]
worker_class = "gthread"
threads = _settings["threads"]
timeout = _settings["timeout"]


def post_worker_init(worker) -> None:
    """Load the models and freeze the loaded heap before this worker takes requests (serving/process.py)."""
    from serving.process import prepare_serving_process

    prepare_serving_process(worker.log)


def worker_exit(server, worker) -> None:
    """Log how many sampling queries this worker served in how many batched passes (serving/process.py)."""
    from serving.process import log_batching

    log_batching(worker.log)
