"""The one exception handler (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``): every error leaves the API in the shape of
:mod:`core.api`, ``{"error": {"code", "message", "details"}}``, with the status of its kind.

- an application error (:mod:`core.errors`): its kind's status, its code, message and details, and ``Retry-After``
  when an :class:`~core.errors.Unavailable` says when to retry;
- DRF's own exceptions (validation, parse, auth, throttling): their status, with a stable code each;
- a database that cannot serve the request (``OperationalError``/``InterfaceError``): 503 ``database_unavailable``
  with ``Retry-After``;
- anything else is a bug: left to Django, whose 500 handler answers in the same shape (``config/health.py``).
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from core.api import error_body
from core.errors import ApplicationError, Unavailable

log = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_S = 5

_DEFAULT_CODES = {
    exceptions.ValidationError: "invalid_input",
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, OperationalError | InterfaceError):
        return database_unavailable(exc)
    if isinstance(exc, ApplicationError):
        return application_error(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = error_body("invalid_input", "The request has invalid fields; see details.", exc.detail)
    else:
        code = next((c for cls, c in _DEFAULT_CODES.items() if isinstance(exc, cls)), "error")
        detail = getattr(exc, "detail", str(exc))
        body = error_body(code, str(detail))
    response.data = body
    return response


def application_error(exc: ApplicationError) -> Response:
    """The response of an application error: the status of its kind; nothing the request wrote is kept."""
    set_rollback()
    headers = {}
    if isinstance(exc, Unavailable) and exc.retry_after is not None:
        headers["Retry-After"] = str(int(exc.retry_after))
    return Response(error_body(exc.code, str(exc), exc.details), status=exc.status, headers=headers)


def database_unavailable(exc: Exception) -> Response:
    """503, not 500: the database is down, restarting, or gave up on this request (lock or statement timeout,
    deadlock). The request is fine and may be retried; nothing it wrote is kept (its transaction rolls back)."""
    log.warning("database unavailable: %s: %s", type(exc).__name__, " ".join(str(exc).split())[:300])
    return application_error(Unavailable("The database cannot serve this request right now; try again shortly.",
                                         code="database_unavailable", retry_after=DATABASE_RETRY_AFTER_S))


def json_error(code: str, message: str, status_code: int) -> JsonResponse:
    """The same shape for plain Django views (404/500 handlers, health checks)."""
    return JsonResponse(error_body(code, message), status=status_code)
