"""The one exception handler: each kind of application error leaves the API with its kind's status and the JSON
error shape, DRF's own exceptions and database outages keep theirs, and a bug is still a clean JSON 500.

The errors are raised by a real DRF view behind the project's own settings (``EXCEPTION_HANDLER``, renderers,
``handler500``), requested through Django's test client, so what is checked is the response a client gets.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.test import Client
from django.urls import path
from rest_framework import exceptions
from rest_framework.views import APIView

from config import urls as project_urls
from core import errors
from serving.errors import BrokerUnavailable, PriorNotReady, SamplingUnavailable, WorkerTimeout

pytestmark = pytest.mark.urls(__name__)

RAISED: dict[str, Exception] = {}  # what the view below raises, by the name in its URL


class RaisingApi(APIView):
    authentication_classes = ()
    permission_classes = ()

    def get(self, request, name: str):
        raise RAISED[name]


urlpatterns = [path("raise/<str:name>", RaisingApi.as_view())]
handler404 = project_urls.handler404
handler500 = project_urls.handler500


def answer(exc: Exception, client: Client | None = None):
    RAISED["it"] = exc
    return (client or Client()).get("/raise/it")


def error_of(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]


KINDS = [
    (errors.InvalidInput, 400, "invalid_input"),
    (errors.Forbidden, 403, "forbidden"),
    (errors.NotFound, 404, "not_found"),
    (errors.Conflict, 409, "conflict"),
    (errors.TooLarge, 413, "payload_too_large"),
    (errors.UnsupportedMedia, 415, "unsupported_media_type"),
    (errors.UpstreamFailed, 502, "upstream_failed"),
    (errors.Unavailable, 503, "unavailable"),
]


@pytest.mark.parametrize(("kind", "status", "default_code"), KINDS, ids=[k[0].__name__ for k in KINDS])
def test_each_kind_answers_with_its_status_and_the_error_shape(kind, status, default_code):
    response = answer(kind("Something specific went wrong.", code="specific_code", details={"field": "size"}))
    assert response.status_code == status
    assert error_of(response) == {"code": "specific_code", "message": "Something specific went wrong.",
                                  "details": {"field": "size"}}
    assert "Retry-After" not in response

    plain = answer(kind("No code given."))
    assert plain.status_code == status
    assert error_of(plain) == {"code": default_code, "message": "No code given.", "details": {}}


def test_every_kind_is_listed_here():
    """A new kind needs a status and a row above (and one in docs/api.md if clients can see it)."""
    kinds = {cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.ApplicationError)
             and cls is not errors.ApplicationError}
    assert kinds == {kind for kind, _, _ in KINDS}
    assert len({status for _, status, _ in KINDS}) == len(KINDS)  # one status per kind


def test_unavailable_says_when_to_retry_if_it_knows():
    response = answer(errors.Unavailable("Warming up.", code="warming_up", retry_after=7))
    assert (response.status_code, response["Retry-After"]) == (503, "7")
    assert error_of(response)["code"] == "warming_up"


@pytest.mark.parametrize(("cls", "code"), [(SamplingUnavailable, "sampling_unavailable"),
                                           (PriorNotReady, "prior_not_ready"),
                                           (BrokerUnavailable, "broker_unavailable"),
                                           (WorkerTimeout, "worker_timeout")])
def test_sampling_errors_are_503_with_their_own_code_wherever_they_are_raised(cls, code):
    exc = cls("no prior checkpoint at /nowhere")
    assert isinstance(exc, errors.Unavailable)
    response = answer(exc)
    assert response.status_code == 503
    assert error_of(response) == {"code": code, "message": "no prior checkpoint at /nowhere", "details": {}}
    # Celery re-creates a worker's exception from its type and args: the same error comes out
    again = type(exc)(*exc.args)
    assert (type(again), again.code, str(again)) == (cls, code, str(exc))


def test_drf_exceptions_keep_their_status_and_code():
    invalid = answer(exceptions.ValidationError({"size": ["Ensure this value is less than or equal to 100."]}))
    assert invalid.status_code == 400
    assert error_of(invalid) == {"code": "invalid_input", "message": "The request has invalid fields; see details.",
                                 "details": {"size": ["Ensure this value is less than or equal to 100."]}}
    throttled = answer(exceptions.Throttled(wait=12))
    assert (throttled.status_code, throttled["Retry-After"], error_of(throttled)["code"]) == (429, "12", "throttled")
    assert error_of(answer(exceptions.ParseError()))["code"] == "malformed_request"


def test_a_database_outage_is_503_database_unavailable_with_retry_after():
    response = answer(OperationalError("server closed the connection unexpectedly"))
    assert (response.status_code, response["Retry-After"]) == (503, "5")
    assert error_of(response)["code"] == "database_unavailable"
    assert "server closed" not in error_of(response)["message"]  # the driver's words stay in the log


def test_an_unknown_exception_is_a_clean_json_500():
    response = answer(KeyError("a bug"), Client(raise_request_exception=False))
    assert response.status_code == 500
    assert error_of(response) == {"code": "server_error", "message": "Internal error; it has been logged.",
                                  "details": {}}
    assert b"Traceback" not in response.content and b"KeyError" not in response.content


def test_commands_print_an_application_error_as_one_line(db, monkeypatch):
    monkeypatch.setenv("SUBSONIC_PASSWORD", "secret")
    with pytest.raises(CommandError, match=r"^No playlist with that id\.$"):
        call_command("push_playlist", "999999", "--url", "http://127.0.0.1:9", "--user", "me", stdout=StringIO())
