"""How the scan page is delivered and how it draws answers the real site cannot be made to give on demand: the
routes' cache and security headers and the 503 naming `./dev setup` while a vendored library is missing, then,
in headless Chromium with the scan endpoint stood in for by canned answers of its contract, the rate-limit
message, a reason code the page has no words for, a recalled lot's reason, a diverted bottle's seller in both
languages, the anonymous device id kept across visits, and the language choice kept across reloads."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import expect

from ledger_api import routes_pages
from tests.pages.browser import bottle_path, serving, stand_in_answer, stand_in_endpoint


def page_app() -> FastAPI:
    app = FastAPI()
    app.include_router(routes_pages.router)
    return app


@pytest.fixture(scope="module")
def base_url():
    with serving(page_app(), range(8840, 8850)) as url:
        yield url


@pytest.fixture
def client(base_url):
    with httpx.Client(base_url=base_url) as http:
        yield http


# ---------------------------------------------------------------- the routes


def test_a_bottles_digital_link_answers_the_page_and_is_never_cached(client):
    for path in (bottle_path(), bottle_path() + "?utm_source=label", "/scan"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"].startswith("text/html")
        assert answer.headers["cache-control"] == "no-store"
        assert "camera=(self)" in answer.headers["permissions-policy"]
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert f"/pages/{routes_pages.asset_version()}/scan.js" in answer.text


def test_the_page_loads_nothing_from_other_sites(client):
    page = client.get("/scan")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    # No absolute URL anywhere: no CDN, no web font (the SVG icon's XML namespace is a name, not a load).
    for name, text in [("scan.html", page.text)] + [(n, (routes_pages.PAGES / n).read_text()) for n in
                                                      routes_pages.OWN_ASSETS]:
        text = text.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, name


def test_assets_are_cached_for_a_year_under_their_version(client):
    version = routes_pages.asset_version()
    for name, media in [("scan.js", "text/javascript"), ("scan.css", "text/css"), ("jsQR.js", "text/javascript"),
                        ("sha3.js", "text/javascript")]:
        answer = client.get(f"/pages/{version}/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"].startswith(media)
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_an_asset_asked_for_under_an_old_version_is_served_but_not_kept(client):
    answer = client.get("/pages/0123456789ab/scan.js")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-cache"
    assert client.get(f"/pages/{routes_pages.asset_version()}/secrets.txt").status_code == 404


def test_a_missing_vendored_library_answers_503_naming_dev_setup(client, monkeypatch, tmp_path):
    monkeypatch.setitem(routes_pages.VENDORED, "jsQR.js", ("jsqr", tmp_path / "node_modules/jsqr/dist/jsQR.js"))
    answer = client.get(f"/pages/{routes_pages.asset_version()}/jsQR.js")
    assert answer.status_code == 503
    assert answer.json()["error"] == "AssetMissing"
    assert "./dev setup" in answer.json()["detail"]["message"]
    assert answer.headers["cache-control"] == "no-store"


# ---------------------------------------------------------------- answers the real site does not give on demand


def test_scanning_too_fast_asks_to_wait_in_the_readers_language(pages, base_url):
    for locale, text in [("en-US", "You are scanning too fast. Please wait 42 seconds and try again."),
                         ("zh-CN", "扫描过于频繁，请 42 秒后再试。")]:
        page = pages.new(locale=locale)
        stand_in_endpoint(page, status=429, body={"error": "RateLimited",
                                                   "detail": {"limit": "30 per 1 minute", "retry_after": 42}})
        page.goto(base_url + bottle_path())
        expect(page.get_by_test_id("error")).to_have_text(text)
        expect(page.get_by_test_id("verdict")).to_have_attribute("data-verdict", "error")
        expect(page.get_by_test_id("retry-button")).to_be_visible()


def test_a_reason_the_page_has_no_words_for_is_shown_in_the_endpoints_english(pages, base_url):
    page = pages.new(locale="zh-CN")
    stand_in_endpoint(page, stand_in_answer(base_url, verdict="suspicious", reason_code="scanned_by_a_robot",
                                            reason="This code was scanned by a robot."))
    page.goto(base_url + bottle_path())
    expect(page.get_by_test_id("verdict")).to_have_text("可疑瓶码")
    expect(page.get_by_test_id("verdict-reason")).to_have_text("This code was scanned by a robot.")


def test_a_recalled_bottle_shows_the_recall_reason(pages, base_url):
    page = pages.new()
    answer = stand_in_answer(base_url, verdict="recalled", reason_code="lot_recalled")
    answer["lot"] |= {"recalled": True, "recall_reason": "contamination"}
    stand_in_endpoint(page, answer)
    page.goto(base_url + bottle_path())
    expect(page.get_by_test_id("verdict")).to_have_text("Recalled: do not drink")
    expect(page.get_by_test_id("recall-reason")).to_have_text("Recall reason: contamination")
    expect(page.get_by_test_id("opened-button")).to_have_count(0)


def test_a_diverted_bottle_names_its_seller_in_both_languages(pages, base_url):
    page = pages.new()
    stand_in_endpoint(page, stand_in_answer(base_url, verdict="diverted", reason_code="outside_region"))
    page.goto(base_url + bottle_path())
    reason = page.get_by_test_id("verdict-reason")
    expect(reason).to_have_text("This bottle was shipped to Hangzhou West Lake Wines in East China and is being "
                                "sold outside that region.")
    page.get_by_test_id("lang-toggle").click()
    expect(reason).to_have_text("此瓶发往East China的Hangzhou West Lake Wines，现却在该区域以外销售。")


def test_the_phone_keeps_one_anonymous_device_id_across_visits(pages, base_url):
    page = pages.new()
    asked = stand_in_endpoint(page, stand_in_answer(base_url))
    page.goto(base_url + bottle_path())
    expect(page.get_by_test_id("verdict")).to_have_attribute("data-verdict", "genuine")
    page.reload()
    expect(page.get_by_test_id("verdict")).to_have_attribute("data-verdict", "genuine")
    assert len(asked) == 2 and asked[0]["device"] == asked[1]["device"]
    assert asked[0]["device"] == page.evaluate("localStorage.getItem('baijiu.device')")
    assert asked[0]["url"] == base_url + bottle_path()
    other = pages.new()
    asked_other = stand_in_endpoint(other, stand_in_answer(base_url))
    other.goto(base_url + bottle_path())
    expect(other.get_by_test_id("verdict")).to_have_attribute("data-verdict", "genuine")
    assert asked_other[0]["device"] != asked[0]["device"]


def test_the_language_chosen_is_kept_across_reloads(pages, base_url):
    page = pages.new(locale="en-US")
    stand_in_endpoint(page, stand_in_answer(base_url))
    page.goto(base_url + bottle_path())
    expect(page.get_by_test_id("story-title")).to_have_text("Brewed on the Chishui river")
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("story-title")).to_have_text("赤水河畔的酿造")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.reload()
    expect(page.get_by_test_id("verdict")).to_have_text("正品")
    expect(page.get_by_test_id("story-text")).to_have_text("九次蒸煮，八次发酵，七次取酒。")
    expect(page.get_by_test_id("lang-toggle")).to_have_text("English")


def test_the_proof_is_checked_in_the_browser_and_a_bent_one_is_caught(pages, base_url):
    page = pages.new()
    answer = stand_in_answer(base_url)
    answer["proof"]["siblings"][0] = "0x" + "00" * 32
    stand_in_endpoint(page, answer)
    page.goto(base_url + bottle_path())
    expect(page.get_by_test_id("proof-browser-check")).to_have_attribute("data-state", "failed")
    expect(page.get_by_test_id("proof-browser-check")).to_contain_text("Not verified in your browser ✗")
