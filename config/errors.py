"""One JSON error shape for the whole API: ``{"error": {"code", "message", "details"}}`` (docs/api.md).

Clients branch on ``code``, which is stable; ``message`` is for people; ``details`` says which field failed.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

log = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_S = 5


class ApiError(exceptions.APIException):
    """An error with a stable code, raised by views and services and rendered by the handler below."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"

    def __init__(self, message: str, code: str | None = None, status_code: int | None = None, details: Any = None):
        super().__init__(detail=message, code=code or self.default_code)
        self.error_code = code or self.default_code
        if status_code is not None:
            self.status_code = status_code
        self.details = details or {}


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


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.JSONField()


class ErrorSerializer(serializers.Serializer):
    """The error shape, for the OpenAPI schema."""

    error = ErrorDetailSerializer()


def error_responses(*codes: int) -> dict:
    """``extend_schema(responses=...)`` entries: these statuses answer with the error shape."""
    from drf_spectacular.utils import OpenApiResponse

    return {code: OpenApiResponse(ErrorSerializer, description="Error; `error.code` is stable.") for code in codes}


def error_body(code: str, message: str, details: Any = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, OperationalError | InterfaceError):
        return database_unavailable(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        body = error_body(exc.error_code, str(exc.detail), exc.details)
    elif isinstance(exc, exceptions.ValidationError):
        body = error_body("invalid_input", "The request has invalid fields; see details.", exc.detail)
    else:
        code = next((c for cls, c in _DEFAULT_CODES.items() if isinstance(exc, cls)), "error")
        detail = getattr(exc, "detail", str(exc))
        body = error_body(code, str(detail))
    response.data = body
    return response


def database_unavailable(exc: Exception) -> Response:
    """503, not 500: the database is down, restarting, or gave up on this request (lock or statement timeout,
    deadlock). The request is fine and may be retried; nothing it wrote is kept (its transaction rolls back)."""
    set_rollback()
    log.warning("database unavailable: %s: %s", type(exc).__name__, " ".join(str(exc).split())[:300])
    body = error_body("database_unavailable", "The database cannot serve this request right now; try again shortly.")
    return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE,
                    headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)})


def json_error(code: str, message: str, status_code: int) -> JsonResponse:
    """The same shape for plain Django views (404/500 handlers, health checks)."""
    return JsonResponse(error_body(code, message), status=status_code)
