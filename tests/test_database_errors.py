"""A database that cannot serve a request is a 503 with the JSON error shape and Retry-After, not a 500: here a
real Postgres lock timeout (another connection holds the table, as a migration would)."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from tests.conftest import held_in_another_transaction


def test_a_lock_timeout_is_a_503_database_unavailable(db):
    def migration_holding_the_table() -> None:
        with connections["default"].cursor() as cursor:
            cursor.execute("LOCK TABLE recommend_session IN ACCESS EXCLUSIVE MODE")

    with held_in_another_transaction(migration_holding_the_table):
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        response = APIClient().get(f"/api/sessions/{uuid.uuid4()}", HTTP_X_SESSION_TOKEN="token")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "database_unavailable"


def test_other_database_errors_are_not_hidden(db):
    from django.db import IntegrityError

    from config.errors import api_exception_handler

    assert api_exception_handler(IntegrityError("duplicate key"), {}) is None  # DRF leaves it: a real bug, a 500


@pytest.mark.parametrize("name", ["OperationalError", "InterfaceError"])
def test_connection_errors_map_to_503(db, name):
    import django.db

    from config.errors import api_exception_handler

    response = api_exception_handler(getattr(django.db, name)("server closed the connection unexpectedly"), {})
    assert response.status_code == 503 and response.data["error"]["code"] == "database_unavailable"
