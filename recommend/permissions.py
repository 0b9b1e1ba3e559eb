"""Session tokens: who may read or steer a session.

Sessions are anonymous: the token returned once at creation is the only credential. It travels in the
``X-Session-Token`` header (not the URL, so it stays out of access logs and browser history) and is compared in
constant time against the stored SHA-256 (:meth:`recommend.models.Session.token_matches`).
"""

from __future__ import annotations

from rest_framework.request import Request

from core.errors import Forbidden
from recommend.models import Session

TOKEN_HEADER = "X-Session-Token"


def require_session_token(request: Request, session: Session) -> None:
    """Forbidden unless the request carries this session's token."""
    raw = request.headers.get(TOKEN_HEADER)
    if not raw:
        raise Forbidden(f"Send the session's token in the {TOKEN_HEADER} header.", code="missing_token")
    if not session.token_matches(raw):
        raise Forbidden("The session token is not valid for this session.", code="invalid_token")
