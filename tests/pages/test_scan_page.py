"""The scan page against the real consumer site (`scan_site`: a chain with the demo network, the indexer and the
API process), in headless Chromium with nothing intercepted: each kind of bottle reads its verdict and reason
in English and Chinese, counts a second scan, and says where it was first scanned; a genuine bottle shows its
journey, its proof (checked in the browser) with the way to verify it oneself, and can be marked opened by
the consumer; a diverted one names the seller it was shipped to; an unknown code warns of a counterfeit and
shows no journey. Every test scans bottles of its own (`scan_site.fresh`), since each scan is logged."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

EXPECTED = {  # kind: (verdict in English, in Chinese, a phrase of the reason in English, in Chinese)
    "genuine": ("Genuine bottle", "正品", "This bottle is genuine", "此瓶为正品"),
    "opened": ("This bottle has been opened", "此瓶已开封", "A store has marked this bottle as sold opened",
               "门店已将此瓶标记为开封售出"),
    "suspicious": ("Suspicious code", "可疑瓶码", "it may have been copied onto fake bottles",
                   "可能已被复制到假酒瓶上"),
    "diverted": ("Sold outside its region", "跨区销售（窜货）", "is being sold outside that region",
                 "现却在该区域以外销售"),
    "recalled": ("Recalled: do not drink", "已召回，请勿饮用", "The brand has recalled this bottle's lot",
                 "品牌商已召回此瓶所属批次"),
    "unknown": ("Warning: not a genuine code", "警告：非正品瓶码", "The brand never issued this code",
                "品牌商从未发行过此码"),
}
SLOW = 20_000  # ms: a scan reads two databases and the proof; the first ones warm the API's caches


def open_bottle(pages, scan_site, kind: str, locale: str = "en-US", url: str | None = None):
    page = pages.new(locale=locale, headers=scan_site.region_headers[kind])
    page.goto(url or scan_site.fresh(kind))
    expect(page.get_by_test_id("verdict")).to_have_attribute("data-verdict", kind, timeout=SLOW)
    return page


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_each_verdict_reads_in_both_languages_and_counts_a_second_scan(pages, scan_site, kind):
    en_title, zh_title, en_reason, zh_reason = EXPECTED[kind]
    page = open_bottle(pages, scan_site, kind)
    expect(page.get_by_test_id("verdict")).to_have_text(en_title)
    expect(page.get_by_test_id("verdict-reason")).to_contain_text(en_reason)
    first_count = int(page.get_by_test_id("scan-count").get_attribute("data-count"))
    # The copiers of a suspicious code scanned it before this phone did; every other bottle is fresh.
    assert first_count > 1 if kind == "suspicious" else first_count == 1
    city = scan_site.region_headers[kind]["x-scan-city"]
    expect(page.get_by_test_id("first-scan")).to_contain_text(f"in {city}")

    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("verdict")).to_have_text(zh_title)
    expect(page.get_by_test_id("verdict-reason")).to_contain_text(zh_reason)
    expect(page.get_by_test_id("first-scan")).to_contain_text(city)

    page.reload()  # the same phone scans again: the language chosen stays, the count grows by one
    expect(page.get_by_test_id("verdict")).to_have_text(zh_title, timeout=SLOW)
    expect(page.get_by_test_id("scan-count")).to_have_attribute("data-count", str(first_count + 1))
    expect(page.get_by_test_id("scan-count")).to_have_text(f"此码已被扫描 {first_count + 1} 次（含本次）。")


def test_a_genuine_bottle_shows_its_product_and_journey_from_warehouse_to_seller(pages, scan_site):
    page = open_bottle(pages, scan_site, "genuine")
    expect(page.get_by_test_id("scan-count")).to_have_text("This is the first scan of this code.")
    expect(page.get_by_test_id("product-name")).not_to_be_empty()
    gtin, lot = re.search(r"/01/(\d{14})/10/([^/]+)/21/", page.url).groups()
    expect(page.get_by_test_id("product-gtin")).to_have_text(gtin)
    expect(page.get_by_test_id("product-lot")).to_have_text(lot)
    steps = page.get_by_test_id("journey-step")
    order = [steps.nth(i).get_attribute("data-step") for i in range(steps.count())]
    assert order[0] == "commissioned" and "dispatched" in order and order[-1] in ("received", "sold"), order
    assert order.index("dispatched") < len(order) - 1 - order[::-1].index("received"), order
    expect(steps.first).to_contain_text("Bottled and registered")
    dispatched = page.locator("[data-testid=journey-step][data-step=dispatched]").first
    expect(dispatched).to_contain_text("Dispatched")
    expect(dispatched).to_contain_text(re.compile(r"to \S"))
    expect(page.locator("[data-testid=journey-step][data-step=received]").last).to_contain_text("Received")
    page.get_by_test_id("lang-toggle").click()
    expect(steps.first).to_contain_text("灌装登记")
    expect(page.get_by_test_id("journey-section")).to_contain_text("流通轨迹")


def test_a_genuine_bottles_proof_verifies_in_the_browser_and_says_how_to_check_the_chain(pages, scan_site):
    page = open_bottle(pages, scan_site, "genuine")
    proof = page.get_by_test_id("proof")
    expect(proof).to_be_visible()
    expect(page.get_by_test_id("proof-root")).to_have_text(re.compile(r"^0x[0-9a-f]{64}$"))
    expect(page.get_by_test_id("proof-leaf")).to_have_text(re.compile(r"^0x[0-9a-f]{64}$"))
    expect(page.get_by_test_id("proof-contract")).to_have_text(re.compile(r"^0x[0-9a-fA-F]{40}$"))
    expect(page.get_by_test_id("proof-chain")).to_have_text(re.compile(r"^\d+$"))
    expect(page.get_by_test_id("proof-siblings")).to_have_text(re.compile(r"^[1-9]\d*$"))
    expect(page.get_by_test_id("proof-tx")).to_have_text(re.compile(r"^0x[0-9a-f]{64}$"))
    lot_id = page.get_by_test_id("proof-lot").inner_text()
    # The page rebuilt the root from the serial, the case and the siblings with its own keccak256.
    expect(page.get_by_test_id("proof-browser-check")).to_have_attribute("data-state", "verified", timeout=SLOW)
    expect(page.get_by_test_id("proof-browser-check")).to_contain_text("Verified in your browser ✓")
    explain = page.get_by_test_id("verify-explain")
    expect(explain).to_contain_text("keccak256(keccak256(abi.encode(serial, case)))")
    expect(explain).to_contain_text("sorted pairs")
    expect(explain).to_contain_text(f"Inventory.lotRoot({lot_id})")
    expect(explain).to_contain_text(f"Inventory.verifyBottle({lot_id}, serial, case")
    expect(page.get_by_test_id("verify-command")).to_have_text(f"./dev ledger-api verify-scan '{page.url}'")
    page.get_by_test_id("lang-toggle").click()
    expect(explain).to_contain_text("自行验证")
    expect(explain).to_contain_text("排序后成对哈希")
    expect(page.get_by_test_id("proof-browser-check")).to_contain_text("已在您的浏览器中验证 ✓")


def test_the_consumer_marks_a_genuine_bottle_opened_and_the_next_scan_says_so(pages, scan_site):
    url = scan_site.fresh("genuine")
    page = open_bottle(pages, scan_site, "genuine", url=url)
    page.get_by_test_id("opened-button").click()
    expect(page.get_by_test_id("verdict")).to_have_attribute("data-verdict", "opened", timeout=SLOW)
    expect(page.get_by_test_id("verdict")).to_have_text("This bottle has been opened")
    expect(page.get_by_test_id("verdict-reason")).to_contain_text("A consumer has marked this bottle as opened")
    expect(page.get_by_test_id("opened-button")).to_have_count(0)
    # Anyone scanning it afterwards, on another phone, is told it was opened.
    later = open_bottle(pages, scan_site, "opened", locale="zh-CN", url=url)
    expect(later.get_by_test_id("verdict-reason")).to_contain_text("已有消费者将此瓶标记为开封")


def test_a_diverted_bottle_says_where_it_was_meant_to_be_sold(pages, scan_site):
    page = open_bottle(pages, scan_site, "diverted")
    reason = page.get_by_test_id("verdict-reason")
    expect(reason).to_have_text(re.compile(r"^This bottle was shipped to .+ in .+ and is being sold outside"))
    seller, region = re.match(r"This bottle was shipped to (.+) in (.+) and is being sold",
                              reason.inner_text()).groups()
    # The seller named is the one the journey ends at, and this scan's region is not its region.
    expect(page.locator("[data-testid=journey-step][data-step=received]").last).to_contain_text(seller)
    expect(page.get_by_test_id("this-scan")).not_to_contain_text(region)
    expect(page.get_by_test_id("this-scan")).to_contain_text(scan_site.region_headers["diverted"]["x-scan-city"])
    page.get_by_test_id("lang-toggle").click()
    expect(reason).to_have_text(f"此瓶发往{region}的{seller}，现却在该区域以外销售。")


def test_an_unknown_code_warns_of_a_counterfeit_and_shows_no_journey(pages, scan_site):
    page = open_bottle(pages, scan_site, "unknown", locale="zh-CN")
    expect(page.get_by_test_id("verdict")).to_have_text("警告：非正品瓶码")
    expect(page.get_by_test_id("verdict-reason")).to_have_text("品牌商从未发行过此码。此瓶极可能是假冒产品：请勿购买或饮用。")
    for absent in ("journey", "journey-step", "product", "proof", "opened-button", "ar-button"):
        expect(page.get_by_test_id(absent)).to_have_count(0)
    expect(page.get_by_test_id("scan-button")).to_be_visible()
    expect(page.locator("#verdict")).to_have_attribute("aria-live", "polite")


def test_a_code_with_a_bad_check_digit_is_refused_kindly(pages, scan_site):
    url = scan_site.fresh("genuine")
    gtin = re.search(r"/01/(\d{14})/", url).group(1)
    bent = url.replace(f"/01/{gtin}/", f"/01/{gtin[:-1]}{(int(gtin[-1]) + 1) % 10}/")
    page = pages.new(headers=scan_site.region_headers["genuine"])
    page.goto(bent)
    expect(page.get_by_test_id("verdict")).to_have_attribute("data-verdict", "error", timeout=SLOW)
    expect(page.get_by_test_id("error")).to_have_attribute("data-error", "InvalidCode")
    expect(page.get_by_test_id("error")).to_contain_text("This is not a valid bottle code")
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("error")).to_have_text("这不是有效的瓶码。请确认扫描的是瓶身上的二维码。")
