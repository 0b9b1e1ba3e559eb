"""Liveness and readiness probes, and JSON 404/500 pages.

``/healthz`` says the process serves requests; ``/readyz`` says it can do its job: the database answers,
the broker answers when one is configured, and the prior checkpoint loads with spaces that match the catalog.
Each check is a small function returning ``(ok, detail)`` so a new dependency adds one function.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from config.errors import json_error


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            row = cursor.fetchone()
    except Exception as exc:  # any driver error means not ready
        return False, f"database unreachable: {exc.__class__.__name__}"
    return (True, f"pgvector {row[0]}") if row else (False, "pgvector extension missing (run migrate)")


def check_broker() -> tuple[bool, str]:
    if not settings.CELERY_BROKER_URL:
        return True, "no broker configured: tasks run in-process"
    try:
        from serving.sampling import celery_app

        with celery_app().connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return False, f"broker unreachable: {exc.__class__.__name__}"
    return True, "broker reachable"


def check_prior() -> tuple[bool, str]:
    try:
        from serving.runtime import readiness

        return readiness()
    except Exception as exc:
        return False, f"prior not ready: {exc}"


READINESS_CHECKS: dict[str, Callable[[], tuple[bool, str]]] = {
    "database": check_database,
    "broker": check_broker,
    "prior": check_prior,
}


def readyz(request: HttpRequest) -> JsonResponse:
    results = {name: check() for name, check in READINESS_CHECKS.items()}
    ready = all(ok for ok, _ in results.values())
    body = {
        "status": "ready" if ready else "not_ready",
        "checks": {k: {"ok": ok, "detail": d} for k, (ok, d) in results.items()},
    }
    return JsonResponse(body, status=200 if ready else 503)


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error("not_found", f"No such resource: {request.path}", 404)


def server_error(request: HttpRequest) -> JsonResponse:
    return json_error("server_error", "Internal error; it has been logged.", 500)
