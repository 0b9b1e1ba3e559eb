"""Settings, all from environment variables (see README "Configuration").

With ``DATABASE_URL`` unset the project starts an embedded Postgres with pgvector under ``./var/``
(docs/operations.md), so ``make demo`` and ``make test`` need no database server of their own.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import dj_database_url
from corsheaders.defaults import default_headers
from django.core.exceptions import ImproperlyConfigured

from catalog.subsonic import AUTH_MODES
from config.env import cache_config, env_bool, env_choice, env_list, env_memory, env_origins, env_rate, env_value
from config.web_server import check_environment as check_web_server_environment

# gunicorn reads its own settings (config/gunicorn.conf.py), but they are checked here with every other one, so any
# process of the project refuses a malformed GUNICORN_* or WEB_CONCURRENCY at start, naming it.
check_web_server_environment()

# Idle OpenMP threads must sleep, not spin: on shared CPU cores spinning made one prior query 10x slower
# (docs/prior-model.md). Set before anything imports torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or ("insecure-dev-key" if DEBUG or "DATABASE_URL" not in os.environ else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL points at a production database")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

# Behind a reverse proxy (TLS terminated in front of gunicorn): how many proxies to trust for the client's address
# (X-Forwarded-For; the per-client throttles would otherwise count every client as the proxy), whether to trust its
# X-Forwarded-Proto for https, and the https origins the admin's login form is posted from.
# 0, not DRF's None: with None DRF takes the WHOLE X-Forwarded-For as the client, which any client can rewrite at will.
NUM_PROXIES = env_value("NUM_PROXIES", 0)
if NUM_PROXIES < 0:
    raise ImproperlyConfigured(f"NUM_PROXIES must be 0 or more, got {NUM_PROXIES}")
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env_origins("CSRF_TRUSTED_ORIGINS")

# Served over https only (HTTPS_ONLY=1): plain http is redirected (but not the health probes, which a load balancer
# or an orchestrator sends over plain http inside the network), cookies are sent over https only, and browsers may
# be told to insist on https for SECURE_HSTS_SECONDS. `manage.py check --deploy` is then clean.
if env_bool("HTTPS_ONLY", False):
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_value("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)  # the domain owner's decisions
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from here, not from a CDN
    "catalog",
    "recommend",
    "serving",
    "web",
    "demo",  # manage.py demo: builds and serves the offline demo; nothing imports it
]

MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",  # first: its headers must reach every response, errors included
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files from any server: gunicorn, the demo's, tests'
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Front-end apps served from other origins call the API from the browser: those origins get CORS headers on
# /api/ (preflights included, and X-Session-Token allowed). None by default: same-origin only.
CORS_ALLOWED_ORIGINS = env_origins("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = (*default_headers, "x-session-token")

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------
# pgvector's iterative scan (so filtered ANN queries still return k rows) is set per connection at start-up;
# hnsw.ef_search is set by the ANN selector itself on every call (HNSW_EF_SEARCH unless the caller asks for
# another, see catalog.selectors.resolve_ef_search), in the same round trip as the query.
HNSW_EF_SEARCH = env_value("HNSW_EF_SEARCH", 100)
# Memory for building a space's HNSW index (Postgres maintenance_work_mem, during the build only). The graph must
# fit, or pgvector finishes the build on disk, far slower: ~1.1 kB a track (halfvec, m = 8, 384-d), so 512MB holds
# ~450k tracks and a 1M-track catalog wants 2GB (docs/scaling.md).
HNSW_MAINTENANCE_WORK_MEM = env_memory("HNSW_MAINTENANCE_WORK_MEM", "512MB")
PG_OPTIONS = "-c hnsw.iterative_scan=relaxed_order"

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
else:
    from config.embedded_db import start_embedded_postgres

    DATABASES = {
        "default": start_embedded_postgres(
            Path(os.environ.get("EMBEDDED_PG_DIR", VAR_DIR / "pgdata")),
            os.environ.get("EMBEDDED_PG_DATABASE", "diff4steer"),
            delete_on_exit=env_bool("EMBEDDED_PG_DELETE_ON_EXIT", False),
        )
    }
DATABASES["default"].setdefault("OPTIONS", {})["options"] = PG_OPTIONS
# A database host that does not answer (network partition, failover in progress) fails a request's connect after
# this many seconds (a 503 database_unavailable, config/errors.py) instead of the OS's TCP timeout of minutes.
DATABASES["default"]["OPTIONS"]["connect_timeout"] = env_value("DB_CONNECT_TIMEOUT", 5)
# Keep connections between requests: a new Postgres backend per request costs several ms of CPU.
DATABASES["default"]["CONN_MAX_AGE"] = env_value("CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# Read replicas: Postgres streaming replicas of `default`, comma-separated URLs. Catalog reads (the ANN of every
# playlist) go to them, sessions and writes to the primary (config/db_router.py).
DATABASE_REPLICA_URLS = env_list("DATABASE_REPLICA_URLS", "")
for _i, _url in enumerate(DATABASE_REPLICA_URLS):
    DATABASES[f"replica{_i}"] = {
        **dj_database_url.parse(_url),
        "OPTIONS": dict(DATABASES["default"]["OPTIONS"]),
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = ["config.db_router.ReplicaRouter"] if DATABASE_REPLICA_URLS else []

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files (the admin's, Swagger UI's and ReDoc's from drf-spectacular-sidecar, the listener page's) are served
# by WhiteNoise inside the Django app, so every server serves them: gunicorn in production (the Docker image runs
# `collectstatic` into STATIC_ROOT, compressed), the demo's threaded WSGI server and the tests' live server (found
# in the apps' static/ folders, WHITENOISE_USE_FINDERS, when nothing was collected).
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", not (STATIC_ROOT / "admin").is_dir())
if WHITENOISE_USE_FINDERS:  # nothing collected yet (demo, tests): that STATIC_ROOT is absent is expected
    warnings.filterwarnings("ignore", message=r"No directory at: .*staticfiles", category=UserWarning)

# Uploads: the image cap is enforced by the API (413); Django's own limits guard everything else.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_value("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE

# --- REST API -------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    "NUM_PROXIES": NUM_PROXIES,  # 0: REMOTE_ADDR is the client, X-Forwarded-For is ignored
    "DEFAULT_THROTTLE_RATES": {  # per client IP, counted in the default cache (below)
        "from_image": env_rate("THROTTLE_FROM_IMAGE", "120/minute"),
        "steer": env_rate("THROTTLE_STEER", "120/minute"),
        "feedback": env_rate("THROTTLE_FEEDBACK", "300/minute"),  # cheap, but each call stores an event
    },
}

# The throttles count in the default cache: shared by every process and container when CACHE_URL names a Redis
# (docker-compose does); this process's memory otherwise (each gunicorn worker then counts on its own).
CACHES = {"default": cache_config(os.environ.get("CACHE_URL", ""))}

SPECTACULAR_SETTINGS = {
    "TITLE": "Diff4Steer music recommender API",
    "DESCRIPTION": "Diversified playlists from images, steerable by text tags (Diff4Steer, arXiv 2412.04746).",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",  # self-hosted (drf-spectacular-sidecar): /api/docs/ works offline
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Playlists (recommend/) ---------------------------------------------------------------------------
# IMAGE_MAX_*, RECOMMEND_*: read from the environment by recommend/conf.py, which holds every default and its
# meaning (docs/api.md "Configuration"). Set one here only to pin it whatever the environment says.

# --- Celery (worker/) -----------------------------------------------------------------------------------
# No broker configured: tasks run in-process (the embedded default). Set CELERY_BROKER_URL for real workers.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", CELERY_BROKER_URL or None)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = env_value("CELERY_TASK_TIME_LIMIT", 30)
# A worker that dies mid-task must not lose it: a task is acknowledged only once it has run (acks_late), and a task
# whose prefork child was killed (OOM, SIGKILL) goes back on the queue for another worker (reject_on_worker_lost).
# Sampling is idempotent (no side effects; its seed is in its arguments), so running it twice is harmless. A whole
# worker process that dies (threads pool, lost node) leaves its task unacknowledged in Redis; the broker hands it
# to another worker once CELERY_VISIBILITY_TIMEOUT seconds have passed (checked every second), soon enough for the
# web request that waits up to CELERY_TASK_TIME_LIMIT. Keep it above the longest sampling task, or it runs twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_VISIBILITY_TIMEOUT = env_value("CELERY_VISIBILITY_TIMEOUT", 10)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
# Sampling (milliseconds, a web request waiting on it) has its own queue, `prior`, so nothing slow queued later
# (the default queue, `celery`) ever sits in front of it; workers fetch one task at a time per process/thread,
# so a busy worker does not hoard tasks an idle one could run. A worker started without `-Q` serves both queues;
# the sampling (GPU) workers are started with `-Q prior` (docker-compose.yml).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = {"celery": {}, "prior": {}}
CELERY_TASK_ROUTES = {"worker.sample_seeds": {"queue": "prior"}, "worker.condition_affinity": {"queue": "prior"}}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The Celery app the serving layer sends sampling tasks through (by name, serving/sampling.py): named here, the
# composition root, because the worker package that defines it imports serving.
SERVING_CELERY_APP = "worker.celery.app"
# A prefork child loads the prior before it reports for duty (worker/celery.py); weights onto a GPU can take tens of
# seconds, and Celery's default 4 s would have the child killed and replaced, over and over.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = env_value("CELERY_WORKER_PROC_ALIVE_TIMEOUT", 120.0)

# --- Models and encoders --------------------------------------------------------------------------------
PRIOR_CHECKPOINT = os.environ.get("PRIOR_CHECKPOINT", str(VAR_DIR / "models" / "demo-prior"))
IMAGE_ENCODER = os.environ.get("IMAGE_ENCODER", "palette")
TEXT_ENCODER = os.environ.get("TEXT_ENCODER", "minilm")
MUSIC_ENCODER = os.environ.get("MUSIC_ENCODER", "minilm")
CATALOG_SPACE = os.environ.get("CATALOG_SPACE", "minilm-l6-v2")
# Load the models when a serving process starts (gunicorn worker, Celery worker), not at its first request.
PRIOR_WARM_UP = env_bool("PRIOR_WARM_UP", True)

# --- Subsonic-API music server: where POST /api/playlists/{id}/push writes playlists (unset: push is off) ---------
SUBSONIC_URL = os.environ.get("SUBSONIC_URL", "")
SUBSONIC_USER = os.environ.get("SUBSONIC_USER", "")
SUBSONIC_PASSWORD = os.environ.get("SUBSONIC_PASSWORD", "")
SUBSONIC_AUTH = env_choice("SUBSONIC_AUTH", "auto", AUTH_MODES)  # token: API 1.13+; password: hex, older servers
SUBSONIC_SOURCE = os.environ.get("SUBSONIC_SOURCE", "")  # catalog source of its songs; default subsonic:<host:port>
SUBSONIC_TIMEOUT = env_value("SUBSONIC_TIMEOUT", 30.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}
