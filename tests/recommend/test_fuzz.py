"""Schemathesis over the whole OpenAPI schema, against the real app served over HTTP (the demo's server, real
Postgres, the tiny real prior): every operation in ``/api/schema/`` (whatever it lists, so endpoints added later are
fuzzed too), a fixed budget per operation and a fixed seed (derandomised), as staff (the catalog API needs it;
the session API ignores it), throttles raised.

Operations with a ``session_id`` or ``playlist_id`` in their path get a real session's ids (and, where the case
sends one, its ``X-Session-Token``) for three cases out of four; the rest keep what was generated (unknown ids,
wrong tokens), so steering, feedback and reads run past the 404 / 403 gate.

Checks: no 5xx; status, headers, content type and body conform to the schema; every status returned is documented;
a missing required header or an unsupported method is refused. Not checked: schemathesis's "valid data accepted"
and "invalid data rejected", which hold the schema to constraints it cannot carry (an embedding must have the
running prior's dimension; feedback must name tracks of the session) or to JSON types that DRF coerces on purpose
(a string field takes the number 0 as "0").
"""

from __future__ import annotations

import json
import threading
from itertools import count

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from demo.management.commands.demo import demo_server
from recommend.permissions import TOKEN_HEADER

EXAMPLES = 25  # per operation
REAL_IDS = {"session_id", "playlist_id"}
STAFF_TOKEN = "fuzz" + "0" * 36  # the staff user's DRF token (40 characters), made by the `live` fixture


def committed(work):
    """``work()`` on a connection of its own, committed at once (this test's own connection is in a transaction
    that the server's threads cannot see)."""
    from django.db import connections

    out: list = []

    def run() -> None:
        try:
            out.append(work())
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    return out[0] if out else None


@pytest.fixture
def live(catalog, settings):
    """The demo's server on a free port; a real session, and a staff token. Everything made is deleted after."""
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from catalog.models import Track
    from recommend.models import Session
    from tests.helpers.api import upload

    settings.ALLOWED_HOSTS = ["127.0.0.1", "testserver"]
    rates = {"from_image": "1000000/minute", "steer": "1000000/minute", "feedback": "1000000/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    # A Subsonic server configured but never reached: push answers for itself (409 nothing_to_push for these
    # MusicCaps tracks) rather than 503 push_not_configured, the one 5xx a deployment without a server gives.
    settings.SUBSONIC_URL, settings.SUBSONIC_USER, settings.SUBSONIC_PASSWORD = "http://127.0.0.1:9", "u", "p"

    def make() -> tuple:
        created = upload(APIClient(), {"size": 10}).json()
        staff = User.objects.create_user("fuzz-staff", is_staff=True)
        Token.objects.create(user=staff, key=STAFF_TOKEN)
        return created, STAFF_TOKEN, set(Track.objects.values_list("pk", flat=True))

    created, token, tracks_before = committed(make)
    httpd = demo_server("127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"base": f"http://127.0.0.1:{httpd.server_address[1]}", "staff_token": token,
               "session_id": created["session"]["id"], "playlist_id": created["playlist"]["id"],
               "session_token": created["session"]["token"]}
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)
        committed(lambda: (Session.objects.all().delete(), Track.objects.exclude(pk__in=tracks_before).delete(),
                           User.objects.filter(username="fuzz-staff").delete()))


def served_schema() -> dict:
    """The schema exactly as ``/api/schema/`` serves it (drf-spectacular's generator and JSON renderer)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


schema = schemathesis.openapi.from_dict(served_schema())
calls = count()


@schema.auth()
class StaffToken:
    """Every case as staff (the catalog API needs it); schemathesis's "ignored auth" check still sends some
    without it or with a made-up one, which must get a 401."""

    def get(self, case, context) -> str:
        return STAFF_TOKEN

    def set(self, case, token: str, context) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Token {token}"}


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, live):
    path_parameters = case.path_parameters or {}
    if REAL_IDS & set(path_parameters) and next(calls) % 4 != 3:
        for name in REAL_IDS & set(path_parameters):
            path_parameters[name] = live[name]
        if TOKEN_HEADER in (case.headers or {}):  # left out on purpose when the case tests a missing header
            case.headers[TOKEN_HEADER] = live["session_token"]
    case.call_and_validate(base_url=live["base"], excluded_checks=[positive_data_acceptance, negative_data_rejection],
                           timeout=60)
