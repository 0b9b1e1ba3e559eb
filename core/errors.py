"""Application errors: what went wrong, by kind, raised by services and selectors without any HTTP in sight.

Each error has a stable ``code`` (clients branch on it), a ``message`` for people and ``details`` (which field, which
limit). Its **kind** (the class it derives from) says whose fault it is, and the kind alone fixes the HTTP status
the one exception handler answers with (``config/errors.py``), so a service never picks a number:

    InvalidInput      400  the request is wrong (a field, a value, a combination)
    Forbidden         403  the caller may not do this (a missing or wrong token)
    NotFound          404  no such thing
    Conflict          409  the request is fine, the state of what it acts on is not
    TooLarge          413  the input is over a size limit
    UnsupportedMedia  415  the input's format is not one we take
    UpstreamFailed    502  a server we call failed (the music server of a push)
    Unavailable       503  we cannot do it now, through no fault of the request; may say when to retry

A domain may subclass a kind with its own default ``code`` (``SamplingUnavailable(Unavailable)``, code
``sampling_unavailable``) and raise it with just a message. ``args`` stays ``(message,)``, so an error re-created
from its type and args (Celery sends a worker's exception to the caller that way) is the same error. Plain Python:
no Django, no DRF, so any layer may raise these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ApplicationError(Exception):
    """The base of every error the application raises on purpose. Raise a kind below, not this class."""

    status: int = 500
    code: str = "application_error"

    def __init__(self, message: str, *, code: str | None = None, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = dict(details or {})


class InvalidInput(ApplicationError):
    """The request itself is wrong; sending it again unchanged fails again."""

    status = 400
    code = "invalid_input"


class Forbidden(ApplicationError):
    """The caller may not do this (no credential, or not the right one)."""

    status = 403
    code = "forbidden"


class NotFound(ApplicationError):
    """What the request names does not exist (or no longer does)."""

    status = 404
    code = "not_found"


class Conflict(ApplicationError):
    """The request is well formed, but the current state of what it acts on does not allow it."""

    status = 409
    code = "conflict"


class TooLarge(ApplicationError):
    """The input is over a size limit (``details`` says which)."""

    status = 413
    code = "payload_too_large"


class UnsupportedMedia(ApplicationError):
    """The input is in a format we do not take."""

    status = 415
    code = "unsupported_media_type"


class UpstreamFailed(ApplicationError):
    """A server this one calls failed or refused us: not the caller's fault, and not ours to fix here."""

    status = 502
    code = "upstream_failed"


class Unavailable(ApplicationError):
    """We cannot do it now, through no fault of the request (a model not loaded, a broker or database down).

    ``retry_after`` (seconds), when known, tells the client when trying again makes sense.
    """

    status = 503
    code = "unavailable"

    def __init__(self, message: str, *, code: str | None = None, details: Mapping[str, Any] | None = None,
                 retry_after: int | None = None) -> None:
        super().__init__(message, code=code, details=details)
        self.retry_after = retry_after
