"""The seed story, acted out end to end in Chromium by the story's people through the pages only, on the small
story network the demo generates (`story_site`: the demo's generator on an anvil of its own, the real indexer,
`ledger-api serve` holding no member's key): the Zhejiang distributor signs in with its keystore file and places
an urgent 500-case order of the flagship before the festival; the regional manager, the sales director and
finance each approve it against its SLA clock; the Shanghai warehouse's dispatcher sees the board's sourcing
recommend its own warehouse (Beijing's is told it is not the recommendation) and dispatches the order from it
with a carrier chosen by name; the carrier reports the shipment held up and the board's delay early warning
lists it before its ETA, as the brand's and the distributor's consoles do; the distributor confirms receipt
with a shortfall; the discrepancy shows on the distributor's side, on the warehouse's and on the brand's; a
consumer in Zhejiang scans a bottle of a lot of that shipment and reads a genuine verdict whose journey reaches
the distributor. Each step is screenshotted (`tests/artifacts/screenshots/seed-story-<n>-<step>.png`), and
every page drawn is timed (under a second each, printed at the end)."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from ledger_api.demo_story import FLAGSHIP, URGENT_CASES
from tests.api.stack import PASSWORD
from tests.pages.browser import PHONE, SCREENSHOTS, screenshot
from tests.pages.story_site import SCAN_REGION, StorySite, story_site

DESK = {"width": 1280, "height": 900}
PAGE_BUDGET_MS = 1_000
SLOW = 30_000  # ms: a transaction is estimated, signed, mined and mirrored before the page shows it
SHORT_CASES = 12  # cases the distributor counts missing on receipt
TX_HASH = re.compile(r"^0x[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    yield from story_site(tmp_path_factory.mktemp("seed-story"))


class Stage:
    """The story's browser: a desk-sized context for each person, a screenshot for each step, every page's
    load time recorded."""

    def __init__(self, chromium, site: StorySite):
        self.chromium, self.site = chromium, site
        self.contexts, self.uncaught = [], []
        self.load_times: list[tuple[str, int]] = []
        self.step = 0

    def person(self, viewport=DESK, **options) -> Page:
        context = self.chromium.new_context(viewport=viewport, locale="en-US", **options)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.uncaught.append(f"{page.url}: {error}"))
        return page

    def timed(self, what: str, ms: int) -> None:
        self.load_times.append((what, ms))
        assert ms < PAGE_BUDGET_MS, f"{what} took {ms} ms"

    def sign_in(self, role: str, page_id: str) -> Page:
        """`role` (`StorySite.label`) opens the console, signs in with its keystore file and waits for `page_id`."""
        page = self.person()
        page.goto(self.site.base_url + "/console")
        signin = page.locator("main#console[data-ready=true]")
        expect(signin).to_be_visible(timeout=10_000)
        self.timed(f"{role}: sign-in", int(signin.get_attribute("data-ready-ms")))
        page.get_by_test_id("keystore-file").set_input_files(str(self.site.keystore(role)))
        page.get_by_test_id("keystore-password").fill(PASSWORD)
        page.get_by_test_id("keystore-signin").click()
        expect(page.locator("main#console[data-page][data-ready=true]")).to_be_visible(timeout=10_000)
        return self.show(page, role, page_id)

    def show(self, page: Page, role: str, page_id: str) -> Page:
        """Opens the console's `page_id` tab (when it is not the one drawn) and waits for it to draw."""
        if page.locator("main#console").get_attribute("data-page") != page_id:
            page.get_by_test_id(f"tab-{page_id}").click()
        drawn = page.locator(f"main#console[data-page={page_id}][data-ready=true]")
        expect(drawn).to_be_visible(timeout=10_000)
        self.timed(f"{role}: {page_id}", int(drawn.get_attribute("data-draw-ms")))
        return page

    def shot(self, page: Page, name: str) -> None:
        """The whole page as the step left it."""
        self.step += 1
        screenshot(page, f"seed-story-{self.step}-{name}")

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def mirrored(page: Page):
    """The newest transaction card once the ledger has the transaction."""
    card = page.get_by_test_id("tx").first
    expect(card).to_have_attribute("data-status", "mirrored", timeout=SLOW)
    assert TX_HASH.match(card.get_by_test_id("tx-hash").text_content())
    return card


def test_a_person_acts_out_the_seed_story_end_to_end_in_the_browser(chromium, story, capsys):
    stage = Stage(chromium, story)
    began = time.monotonic()
    cast = story.cast
    distributor_site = cast.distributor_place
    carrier_org = story.members[cast.carrier].org
    try:
        # 1. The Zhejiang distributor's urgent 500-case order of the flagship, before the festival.
        page = stage.sign_in("distributor", "orders")
        page.get_by_test_id("order-sku").select_option(str(FLAGSHIP))
        page.get_by_test_id("order-cases-input").fill(str(URGENT_CASES))
        page.get_by_test_id("order-urgent").check()
        page.get_by_test_id("order-deliver-to").select_option(str(distributor_site))
        page.get_by_test_id("place-order").click()
        card = mirrored(page)
        placed = card.get_by_test_id("order")
        expect(placed).to_have_attribute("data-state", "submitted")
        expect(placed.get_by_test_id("order-cases")).to_contain_text(f"{URGENT_CASES} ordered")
        expect(placed.get_by_test_id("sla")).to_have_attribute("data-target-hours", "12")
        order = int(placed.get_attribute("data-order"))
        stage.shot(page, "urgent-order")

        # 2-4. Three approvals, each against the order's SLA clock.
        for role, state in (("east_manager", "submitted"), ("sales_director", "submitted"), ("finance", "approved")):
            page = stage.sign_in(role, "approvals")
            row = page.locator(f"[data-testid=queue-row][data-order='{order}']")
            sla = row.get_by_test_id("sla")
            expect(sla).to_have_attribute("data-overdue", "false")
            assert 11 * 3600 < int(sla.get_attribute("data-left")) <= 12 * 3600
            row.get_by_test_id("approve").click()
            expect(mirrored(page).get_by_test_id("order")).to_have_attribute("data-state", state)
            stage.shot(page, f"approval-{role.replace('_', '-')}")

        # 5. Sourcing: the board's ranking recommends the Shanghai warehouse, East China's best source; Beijing's
        # dispatcher is told the order is better shipped from elsewhere, Shanghai's that it is its own.
        sourcing = story.get("admin", "/v1/analytics/sourcing", order=order)
        assert sourcing["recommended"] == cast.east_warehouse
        page = stage.sign_in("warehouse:Beijing", "dispatch")
        page.locator(f"[data-testid=approved-row][data-order='{order}']").get_by_test_id("prepare-dispatch").click()
        expect(page.get_by_test_id("sourcing-verdict")).to_have_attribute("data-verdict", "elsewhere")
        page = stage.sign_in("east_dispatcher", "dispatch")
        page.locator(f"[data-testid=approved-row][data-order='{order}']").get_by_test_id("prepare-dispatch").click()
        form = page.get_by_test_id("dispatch-form")
        expect(form).to_have_attribute("data-from", str(cast.east_warehouse))
        expect(form.get_by_test_id("sourcing")).to_have_attribute("data-recommended", str(cast.east_warehouse))
        expect(form.get_by_test_id("sourcing-verdict")).to_have_attribute("data-verdict", "here")
        expect(form.get_by_test_id("sourcing-verdict")).to_contain_text("Shanghai")
        picked = form.get_by_test_id("dispatch-cases").evaluate_all("els => els.map(e => Number(e.value))")
        assert sum(picked) == URGENT_CASES
        best = next(o for o in sourcing["options"] if o["warehouse"] == cast.east_warehouse)
        assert picked == [line["cases"] for line in best["dispatch"]["lines"]]  # first in, first out
        stage.shot(page, "sourcing")

        # 6. Dispatch from Shanghai with a carrier chosen by name.
        carrier = form.get_by_test_id("dispatch-carrier")
        options = carrier.locator("option").evaluate_all("os => os.map(o => [Number(o.value), o.textContent])")
        carrier_name = dict(options)[carrier_org]
        carrier.select_option(label=carrier_name)
        form.get_by_test_id("dispatch-submit").click()
        card = mirrored(page)
        shipment_view = card.get_by_test_id("shipment")
        expect(shipment_view).to_have_attribute("data-state", "in_transit")
        expect(shipment_view).to_contain_text(carrier_name)
        expect(card.get_by_test_id("order")).to_have_attribute("data-state", "dispatched")
        shipment = int(shipment_view.get_attribute("data-shipment"))
        stage.shot(page, "dispatch")
        on_time = story.get("admin", "/v1/analytics/delay-warnings")["at_risk"]
        assert shipment not in [w["shipment"] for w in on_time]  # nothing says it will be late, yet

        # 7. The carrier reports the shipment held up; the board's early warning lists it before its ETA.
        page = stage.sign_in("carrier", "checkpoints")
        row = page.locator(f"[data-testid=carried-row][data-shipment='{shipment}']")
        row.get_by_test_id("checkpoint-status").select_option("4")
        row.get_by_test_id("checkpoint-place").fill("Hangzhou ring road")
        row.get_by_test_id("checkpoint-submit").click()
        expect(mirrored(page).get_by_test_id("checkpoint").last).to_contain_text("delayed · Hangzhou ring road")
        stage.shot(page, "delay-checkpoint")

        # The brand's console lists the shipment with the warning; its board's early warning panel too.
        board = stage.sign_in("admin", "provenance")
        on_road = board.locator(f"[data-testid=shipment-row][data-shipment='{shipment}']")
        expect(on_road.get_by_test_id("delay-warning")).to_be_visible()
        board.goto(story.base_url + "/board")
        expect(board.locator("main")).to_have_attribute("data-ready", "true", timeout=10_000)
        stage.timed("admin: board", int(board.locator("main").get_attribute("data-ready-ms")))
        flagged = board.locator(f"[data-testid=at-risk][data-shipment='{shipment}']")
        expect(flagged).to_be_visible()
        warnings = story.get("admin", "/v1/analytics/delay-warnings")
        warning = next(w for w in warnings["at_risk"] if w["shipment"] == shipment)
        assert warning["eta"] > warnings["as_of"]  # warned before its ETA
        assert 'latest checkpoint: "delayed" at Hangzhou ring road' in warning["reason"]
        stage.shot(board, "delay-warning")

        # 8. The distributor sees the warning on its shipment, then confirms receipt with a shortfall.
        page = stage.sign_in("distributor", "orders")
        stage.show(page, "distributor", "receive")
        mine = page.locator(f"[data-testid=shipment-row][data-shipment='{shipment}']")
        expect(mine.get_by_test_id("delay-warning")).to_be_visible()
        page.locator(f"[data-testid=incoming-row][data-shipment='{shipment}']").get_by_test_id("open-receipt").click()
        counted = page.get_by_test_id("received-cases").first
        shipped = int(counted.input_value())
        counted.fill(str(shipped - SHORT_CASES))
        page.get_by_test_id("receipt-submit").click()
        card = mirrored(page)
        expect(card.get_by_test_id("shipment")).to_have_attribute("data-state", "received")
        expect(card.get_by_test_id("shortfall")).to_have_text(f"{SHORT_CASES} cases")
        stage.shot(page, "receipt-with-shortfall")

        # 9. The discrepancy, visible to both sides: the distributor's, the warehouse's and the brand's pages.
        short = f"{shipped} shipped, {shipped - SHORT_CASES} received, {SHORT_CASES} short (open)"
        expect(mine.get_by_test_id("discrepancy")).to_contain_text(short)
        page = stage.sign_in("east_dispatcher", "dispatch")
        sent = page.locator(f"[data-testid=sent-table] [data-testid=shipment-row][data-shipment='{shipment}']")
        expect(sent.get_by_test_id("discrepancy")).to_contain_text(short)
        destination = next(p.name for p in story.network.places if p.id == distributor_site)
        expect(sent).to_contain_text(f"→ {destination}")  # the distributor's site by name, though not the warehouse's

        stage.shot(page, "discrepancy-warehouse")
        page = stage.sign_in("admin", "provenance")
        brand_row = page.locator(f"[data-testid=shipment-row][data-shipment='{shipment}']")
        expect(brand_row.get_by_test_id("discrepancy")).to_contain_text(short)
        stage.shot(page, "discrepancy-brand")
        assert story.get("east_dispatcher", f"/v1/shipments/{shipment}")["discrepancies"][0]["received"] == \
            shipped - SHORT_CASES

        # 10. A consumer in Zhejiang scans a bottle of a lot of that shipment: genuine, its journey reaching the
        # distributor.
        site_name = next(loc["name"] for loc in story.get("distributor", "/v1/locations")
                         if loc["id"] == distributor_site)
        phone = stage.person(viewport=PHONE, is_mobile=True, has_touch=True,
                             extra_http_headers={"x-scan-region": SCAN_REGION})
        phone.goto(story.bottle_url(shipment))
        verdict = phone.get_by_test_id("verdict")
        expect(verdict).to_have_attribute("data-verdict", "genuine", timeout=10_000)
        stage.timed("consumer: scan page", round(phone.evaluate("performance.now()")))
        expect(phone.locator("[data-testid=journey-step][data-step=received]").last).to_contain_text(site_name)
        stage.shot(phone, "consumer-scan")
    finally:
        stage.close()
    with capsys.disabled():
        print(f"\nseed story: {len(stage.load_times)} pages in {time.monotonic() - began:.0f} s of browser "
              f"(screenshots in {SCREENSHOTS})")
        for what, ms in stage.load_times:
            print(f"  {what:<36} {ms:>4} ms")
    assert not stage.uncaught, "a page threw: " + "; ".join(stage.uncaught)
