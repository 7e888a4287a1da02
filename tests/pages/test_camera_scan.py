"""The scan page's camera in real headless Chromium, whose fake camera films a QR code made here: pressing the
scan button decodes the code from video frames with jsQR (headless Chromium has no BarcodeDetector) and opens
the bottle's page, another site's Digital Link is opened here and says so, and anything else is shown and not
followed. The AR view lays the brand story over the live camera, or, with no camera, shows it plainly and says
why. Only the page router is served (no scan endpoint), so a bottle page opened from a scan shows its friendly
"could not check" answer; the AR tests stand in for the endpoint with a canned answer."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from playwright.sync_api import expect

from ledger_api import routes_pages
from tests.pages.browser import (bottle_path, fake_camera_video, launch, serving, stand_in_answer, stand_in_endpoint,
                                 wait_for)

DECODE_TIMEOUT = 15_000  # ms: jsQR needs a few frames once the fake camera runs


@pytest.fixture(scope="module")
def base_url():
    app = FastAPI()
    app.include_router(routes_pages.router)
    with serving(app, range(8840, 8850)) as url:
        yield url


@pytest.fixture(scope="module")
def camera_browser(playwright, base_url, tmp_path_factory):
    """A Chromium whose camera films the QR code of a bottle on this site."""
    video = fake_camera_video(base_url + bottle_path(), tmp_path_factory.mktemp("camera") / "bottle.y4m")
    browser = launch(playwright, camera_video=video)
    yield browser
    browser.close()


@pytest.fixture
def filming(playwright, tmp_path):
    """Launches a Chromium whose camera films a QR code of the given text (closed after the test)."""
    launched = []

    def launch_filming(text: str):
        launched.append(launch(playwright, camera_video=fake_camera_video(text, tmp_path / "code.y4m")))
        return launched[-1]

    yield launch_filming
    for browser in launched:
        browser.close()


def test_scanning_a_bottle_code_opens_that_bottles_page(pages, camera_browser, base_url):
    page = pages.new(camera=True, browser=camera_browser)
    page.goto(base_url + "/scan")
    expect(page.get_by_test_id("scan-title")).to_have_text("Check a bottle")
    page.get_by_test_id("scan-button").click()
    page.wait_for_url(base_url + bottle_path(), timeout=DECODE_TIMEOUT)
    # This small site has no scan endpoint: the bottle page must say so kindly and offer a way on.
    expect(page.get_by_test_id("verdict")).to_have_attribute("data-verdict", "error")
    expect(page.get_by_test_id("error")).to_have_text("We could not check this bottle right now. "
                                                      "Please try again in a moment.")
    expect(page.get_by_test_id("retry-button")).to_be_visible()
    expect(page.get_by_test_id("scan-button")).to_be_visible()


def test_the_scanner_films_the_back_camera_while_it_looks_for_a_code(pages, filming, base_url):
    page = pages.new(camera=True, browser=filming("a QR code that is no bottle code"))
    page.goto(base_url + "/scan")
    page.get_by_test_id("scan-button").click()
    video = page.get_by_test_id("scanner-video")
    expect(video).to_be_visible()
    wait_for(video, "v => v.videoWidth > 0")
    expect(page.get_by_test_id("scanner-status")).to_have_text(
        "This QR code is not a bottle code: a QR code that is no bottle code", timeout=DECODE_TIMEOUT)
    assert page.url == base_url + "/scan"
    page.get_by_test_id("scanner-close").click()
    expect(page.get_by_test_id("scanner")).to_have_count(0)


def test_another_sites_bottle_code_is_checked_here_and_says_so(pages, filming, base_url):
    foreign = "https://brand.example.cn" + bottle_path(serial="FOREIGN7K2MXQ4PB9WZ3")
    page = pages.new(locale="zh-CN", camera=True, browser=filming(foreign))
    page.goto(base_url + "/scan")
    page.get_by_test_id("scan-button").click()
    expect(page.get_by_test_id("scanner-status")).to_contain_text("brand.example.cn", timeout=DECODE_TIMEOUT)
    expect(page.get_by_test_id("scanner-status")).to_contain_text("将在本站查验")
    page.wait_for_url(base_url + bottle_path(serial="FOREIGN7K2MXQ4PB9WZ3"), timeout=DECODE_TIMEOUT)


def test_the_ar_view_lays_the_story_over_the_live_camera(pages, camera_browser, base_url):
    page = pages.new(camera=True, browser=camera_browser)
    stand_in_endpoint(page, stand_in_answer(base_url))
    page.goto(base_url + bottle_path())
    page.get_by_test_id("ar-button").click()
    expect(page.get_by_test_id("ar-view")).to_be_visible()
    expect(page.get_by_test_id("ar-status")).to_have_text("Point your camera at the bottle.")
    camera = page.get_by_test_id("ar-camera")
    wait_for(camera, "v => v.videoWidth > 0 && !v.paused && v.currentTime > 0")
    assert camera.evaluate("v => v.srcObject.getVideoTracks()[0].readyState") == "live"
    overlay = page.get_by_test_id("ar-overlay")
    expect(overlay).to_be_visible()
    expect(overlay.get_by_test_id("media")).to_be_visible()
    assert overlay.get_by_test_id("media").evaluate("img => img.complete && img.naturalWidth") == 320
    # The overlay sits over the camera picture, not below it.
    box, over = camera.bounding_box(), overlay.bounding_box()
    assert box["y"] <= over["y"] and over["y"] + over["height"] <= box["y"] + box["height"]


def test_without_a_camera_the_ar_view_shows_the_story_plainly_and_says_why(pages, base_url):
    page = pages.new()  # the plain browser: no camera device and no camera permission
    stand_in_endpoint(page, stand_in_answer(base_url))
    page.goto(base_url + bottle_path())
    page.get_by_test_id("ar-button").click()
    fallback = page.get_by_test_id("ar-fallback")
    expect(fallback).to_have_text(re.compile(r"^(The camera was not allowed|No camera is available), "
                                             r"so here is the story without AR\.$"))
    expect(page.get_by_test_id("ar-camera")).to_have_count(0)
    expect(page.get_by_test_id("ar-overlay").get_by_test_id("media")).to_be_visible()
    expect(page.get_by_test_id("ar-overlay")).to_contain_text("Brewed on the Chishui river")


def test_without_a_camera_the_scanner_says_it_cannot_film(pages, base_url):
    page = pages.new(locale="zh-CN")
    page.goto(base_url + "/scan")
    page.get_by_test_id("scan-button").click()
    expect(page.get_by_test_id("scanner-status")).to_have_text(
        re.compile(r"^(未获准使用摄像头|此设备没有可用的摄像头)"))
