"""Fixtures for the scan page suites: one headless Chromium per session, `pages` to open phone pages that are
screenshotted when the test ends. `scan_site`, the real consumer site (chain, indexer, API) the verdict tests
scan bottles on, comes from the suites' shared conftest (tests/scan_site.py)."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from tests.pages.browser import Pages, launch


@pytest.fixture(scope="session")
def playwright():
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def chromium(playwright):
    browser = launch(playwright)
    yield browser
    browser.close()


@pytest.fixture
def pages(chromium, request):
    opened = Pages(chromium, request.node.name)
    yield opened
    opened.finish()
