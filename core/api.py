"""The API's one error shape, ``{"error": {"code", "message", "details"}}`` (docs/api.md), for the exception handler
that renders it (``config/errors.py``) and for the OpenAPI schema of every app's views.

Clients branch on ``code``, which is stable; ``message`` is for people; ``details`` says which field failed.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


def error_body(code: str, message: str, details: Any = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


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
