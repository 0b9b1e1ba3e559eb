"""The listener page in a real browser: photo -> playlist, steer with tags (more of / less of), like, errors,
export, on a desktop and a phone-sized screen, with every request to another host blocked."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree as ET

import pytest
import xmlschema
from django.test import override_settings
from playwright.sync_api import expect

from catalog.models import Track
from tests.helpers.api import image_bytes
from tests.helpers.export import NS, XSD, parse_m3u8
from tests.web.conftest import screenshot

# django_db: so the test database is set up; the pages are served from committed data (the catalog fixture)
pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "sunset.png"
    path.write_bytes(image_bytes((230, 120, 60), size=96))
    return path


def track_ids(page) -> list[int]:
    return [int(x) for x in page.locator("#tracks li.track").evaluate_all("els => els.map(e => e.dataset.trackId)")]


def wait_for_version(page, version: int) -> None:
    """Locator assertions (no page-side eval: the page's Content-Security-Policy forbids it, and stays on)."""
    expect(page.locator("#playlist-title")).to_have_text(re.compile(rf"^Playlist — version {version}\b"))
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bbusy\b"))


def start(page, live_url, photo) -> list[int]:
    page.goto(live_url + "/")
    page.set_input_files("#photo", str(photo))
    wait_for_version(page, 1)
    return track_ids(page)


def test_photo_to_playlist_then_steer_avoid_like_and_export(offline_page, live_url, photo):
    page, blocked = offline_page
    first = start(page, live_url, photo)
    assert len(first) == 20 and len(set(first)) == 20
    first_item = page.locator("#tracks li.track").first
    # the title links to the track's own page (a MusicCaps clip's YouTube URL, or an imported track's URL)
    assert first_item.locator(".title a").get_attribute("href") == Track.objects.get(pk=first[0]).url
    assert Track.objects.get(pk=first[0]).url.startswith("https://")
    assert re.search(r"found by seed \d+", first_item.locator(".why").inner_text())
    assert page.locator("#map svg circle.seed-dot").count() == 16
    assert page.locator("#map svg circle.track-dot").count() == 20
    assert page.locator("#versions li").count() == 1
    screenshot(page, "1-playlist-from-photo")

    # more of a tag: a new version whose tracks differ, each saying which tag pulled it
    page.fill("#tag-input", "Calm Piano")
    page.click("#add-more")
    assert page.locator("#chips-tags li.pending").inner_text().startswith("calm piano")
    page.click("#resteer")
    wait_for_version(page, 2)
    second = track_ids(page)
    assert len(second) == 20 and not set(second) & set(first)
    assert page.locator("#chips-tags li.sent").all_inner_texts() == ["calm piano"]
    assert page.locator("#tracks .why strong").first.inner_text() == "“calm piano”"
    screenshot(page, "2-steered-calm-piano")

    # like a track: it stays in the next version
    liked = second[3]
    page.click(f'#tracks li[data-track-id="{liked}"] button.like')
    page.wait_for_selector(f'#tracks li[data-track-id="{liked}"] button.like[aria-pressed="true"]')

    # less of a tag, with the keyboard only: type, Tab to "Less of this", Enter; then the steer button, Enter
    page.focus("#tag-input")
    page.keyboard.type("vocals")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "add-less"
    page.keyboard.press("Enter")
    assert page.locator("#chips-avoid li.pending").inner_text().startswith("vocals")
    page.focus("#resteer")
    page.keyboard.press("Enter")
    wait_for_version(page, 3)
    third = track_ids(page)
    assert liked in third
    assert "kept: you liked it" in page.locator(f'#tracks li[data-track-id="{liked}"] .why').inner_text()
    assert not (set(third) - {liked}) & (set(first) | set(second))
    assert page.locator("#chips-avoid li.sent").all_inner_texts() == ["vocals"]
    assert "less: vocals" in page.locator("#versions li").nth(2).inner_text()
    screenshot(page, "3-liked-kept-and-avoid-vocals")
    page.set_viewport_size({"width": 1280, "height": 1700})
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "page", full_page=False)  # the one in the README (docs/screenshots/page.png)

    # an earlier version can be shown again
    page.locator("#versions button").first.click()
    expect(page.locator("#playlist-title")).to_contain_text("(earlier)")
    assert track_ids(page) == first
    page.locator("#versions button").nth(2).click()
    wait_for_version(page, 3)

    # export: the download parses (XSPF valid against the schema, M3U8 parsed back)
    with page.expect_download() as download:
        page.click("#export")
    xspf = download.value
    assert xspf.suggested_filename.endswith("-v3.xspf")
    text = open(xspf.path(), encoding="utf-8").read()
    xmlschema.XMLSchema(XSD).validate(text)
    tracks = ET.fromstring(text).findall("x:trackList/x:track", NS)
    locations = [t.findtext("x:location", namespaces=NS) for t in tracks]
    assert len(locations) == 20
    page.select_option("#export-format", "m3u8")
    with page.expect_download() as download:
        page.click("#export")
    assert [url for _, _, url in parse_m3u8(open(download.value.path(), encoding="utf-8").read())] == locations
    page.select_option("#export-format", "jspf")
    with page.expect_download() as download:
        page.click("#export")
    jspf = json.load(open(download.value.path(), encoding="utf-8"))
    assert [t["location"][0] for t in jspf["playlist"]["track"]] == locations

    assert blocked == [] and page.console_errors == []


def test_bad_file_and_too_large_photo_show_clear_messages(offline_page, live_url, tmp_path, photo):
    page, blocked = offline_page
    page.goto(live_url + "/")
    bad = tmp_path / "holiday.jpg"
    bad.write_bytes(b"this is a text file, not a photo\n" * 20)
    page.set_input_files("#photo", str(bad))
    page.wait_for_selector("#error:not([hidden])")
    assert page.get_attribute("#error", "data-code") == "invalid_image"
    assert "not a picture we can read" in page.inner_text("#error")
    assert page.locator("#tracks li").count() == 0
    screenshot(page, "4-bad-file")

    with override_settings(IMAGE_MAX_BYTES=2000):  # the live server runs in this process: the limit applies there
        page.set_input_files("#photo", str(photo))
        expect(page.locator("#error")).to_have_attribute("data-code", "payload_too_large")
    assert "That photo is too large: the limit is 2 KB." in page.inner_text("#error")
    screenshot(page, "5-too-large")
    assert blocked == []


def test_phone_sized_screen_has_no_sideways_scroll(browser, live_url, photo):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    try:
        page.goto(live_url + "/")
        assert page.get_attribute("#camera", "capture") == "environment"  # "Take a photo" opens the camera
        assert page.inner_text("#guidance-value") == "model's default"
        page.focus("#guidance")
        page.keyboard.press("ArrowRight")  # 2 -> 2.5, by keyboard
        assert page.inner_text("#guidance-value") == "w = 2.5"
        page.set_input_files("#photo", str(photo))
        wait_for_version(page, 1)
        assert page.inner_text("#versions li") == "Version 1 · w = 2.5"  # the session was sampled with it
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        box = page.locator("#tracks li.track button.like").first.bounding_box()
        assert box["width"] >= 40 and box["height"] >= 40  # a finger can hit it
        screenshot(page, "6-phone-playlist", full_page=False)
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, "6-phone-top", full_page=False)
    finally:
        context.close()
