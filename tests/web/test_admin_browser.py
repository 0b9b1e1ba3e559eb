"""The admin and the API docs in a real browser, with every request to another host blocked: the admin's login and
Import pages get their styles (computed styles, not only a 200), a metadata CSV import shows its report, and
Swagger UI renders the operations from this host alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.web.conftest import ADMIN_IMPORT_SOURCE, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.django_db]  # django_db: the test database is set up
EXAMPLE = Path(settings.BASE_DIR) / "docs" / "examples" / "tracks-metadata.csv"


def assert_admin_styled(page) -> None:
    """base.css loaded and applied: the body loses the browser's 8px margin, the header gets its colour."""
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"
    header = page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor")
    assert header not in ("rgba(0, 0, 0, 0)", "transparent"), header
    assert page.evaluate("[...document.styleSheets].some(s => (s.href || '').endsWith('/static/admin/css/base.css')"
                         " && s.cssRules.length > 50)")


def test_admin_login_and_metadata_import_are_styled_and_report(offline_page, live_url, admin_user):
    page, blocked = offline_page
    page.goto(live_url + "/admin/login/?next=/admin/catalog/track/import/")
    assert_admin_styled(page)
    screenshot(page, "admin-1-login", full_page=False)
    page.fill("#id_username", admin_user[0])
    page.fill("#id_password", admin_user[1])
    page.click("input[type=submit]")
    expect(page.locator("h1")).to_have_text("Import tracks")
    assert_admin_styled(page)
    assert page.input_value("#id_space") == settings.CATALOG_SPACE  # the served space is offered

    page.set_input_files("#id_file", str(EXAMPLE))
    page.fill("#id_source", ADMIN_IMPORT_SOURCE)
    page.click("input[type=submit][value=Import]")
    expect(page.locator("#import-report")).to_be_visible()
    assert page.inner_text("#created") == "4" and page.inner_text("#rejected") == "0"
    assert "Imported tracks-metadata.csv" in page.inner_text(".messagelist")
    screenshot(page, "admin-import-report", full_page=False)  # the one in the README
    assert blocked == [] and page.console_errors == []


def test_api_docs_render_the_operations_offline(offline_page, live_url):
    page, blocked = offline_page
    page.goto(live_url + "/api/docs/")
    expect(page.locator(".opblock").first).to_be_visible()
    operations = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/playlists/from-image" in operations and "/api/playlists/{playlist_id}/export" in operations
    screenshot(page, "docs-swagger", full_page=False)
    assert page.console_errors == []  # Swagger UI runs under its strict Content-Security-Policy without a refusal
    page.goto(live_url + "/api/redoc/")
    expect(page.get_by_role("heading", name="Start a session: a diversified playlist from an image")).to_be_visible()
    screenshot(page, "docs-redoc", full_page=False)
    assert blocked == []
