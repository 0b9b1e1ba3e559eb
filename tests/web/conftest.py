"""Browser tests: Debian's chromium driven by Playwright against a real threaded WSGI server (the same stack as the
demo and gunicorn: Django app, WhiteNoise for static files) over the test database with the tiny catalog and prior.

Every request to another host is aborted and recorded: the tests assert that no page asks for one. Screenshots of
each state go to ``var/test-artifacts/browser/`` (git-ignored).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.recommend.conftest import catalog, catalog_rows, minilm  # noqa: F401  (the same fixtures)

CHROMIUM = "/usr/bin/chromium"
ADMIN_IMPORT_SOURCE = "admin-browser-test"
ARTIFACTS = Path(settings.BASE_DIR) / "var" / "test-artifacts" / "browser"


@pytest.fixture(scope="package")
def fresh_statistics(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Forget the catalog tables' planner statistics once this package's committed rows are gone (torn down after
    ``catalog``), as if it had never run.

    The admin import in these tests commits an ANALYZE through the live server; its statistics (one space holding
    every row) outlive the rows (ANALYZE of an empty table keeps them), and would have the planner read a later
    test's small new space by its B-tree instead of its HNSW index."""
    yield
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        if connection.pg_version < 180000:  # the pg_clear_* functions are Postgres 18's (the embedded server)
            return
        for table in ("catalog_track", "catalog_trackembedding"):
            cursor.execute("SELECT pg_clear_relation_stats('public', %s)", [table])
            cursor.execute(
                "SELECT pg_clear_attribute_stats('public', %s, attname::text, inherited) FROM pg_stats "
                "WHERE schemaname = 'public' AND tablename = %s", [table, table])


@pytest.fixture(scope="package")
def live_url(fresh_statistics, catalog) -> Iterator[str]:  # noqa: F811
    """The Django app served over HTTP by a threaded WSGI server on a free loopback port."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args) -> None:
            pass

    httpd = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=False)
    httpd.set_app(WSGIHandler())
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(10)


@pytest.fixture(scope="package")
def admin_user(catalog, django_db_blocker) -> Iterator[tuple[str, str]]:  # noqa: F811
    """A superuser (username, password), committed for the package."""
    from django.contrib.auth import get_user_model

    with django_db_blocker.unblock():
        get_user_model().objects.create_superuser("catalog-admin", "admin@example.com", "not-a-real-secret-1")
    yield "catalog-admin", "not-a-real-secret-1"
    from catalog.models import Track

    with django_db_blocker.unblock():
        get_user_model().objects.filter(username="catalog-admin").delete()
        Track.objects.filter(source=ADMIN_IMPORT_SOURCE).delete()  # what the admin test imported


@pytest.fixture(scope="package")
def browser(live_url, admin_user) -> Iterator[object]:
    """Headless Debian chromium (.ci/run installs it; Playwright's own browser downloads are not available here).

    Started after everything that writes to the database from this thread: while Playwright's sync API runs its
    event loop here, Django would give this thread's code other (context-local) connections."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make here are synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        yield browser
        browser.close()
        from django.db import connections

        connections.close_all()  # the connections this thread opened while Playwright's loop ran are its own


class OtherHosts(list):
    """The URLs of requests to any host but the live server's (each was aborted)."""


@pytest.fixture
def offline_page(browser, live_url) -> Iterator[tuple[object, OtherHosts]]:
    """A fresh browser context whose requests to other hosts are aborted and recorded; console errors recorded too."""
    context = browser.new_context(viewport={"width": 1100, "height": 900}, accept_downloads=True)
    blocked = OtherHosts()

    def route(route) -> None:
        if route.request.url.startswith(live_url + "/") or route.request.url.startswith(("blob:", "data:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.console_errors = []
    page.on("console", lambda msg: page.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    yield page, blocked
    context.close()


def screenshot(page, name: str, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
