"""The member console in Chromium against the whole stack (`console_site`: chain, indexer, `ledger-api serve`
holding no member's key), nothing intercepted. Members sign in with their keystore files, decrypted in the
browser (a wrong password, a file that is no keystore, an account the ledger does not know and a deactivated
one are each named), or with a browser wallet; then one urgent order goes its whole way through the console,
every step signed in the browser and shown with its transaction hash and resulting state: the distributor
places it, the regional manager, the sales director (with a browser wallet) and finance approve it against its
SLA clock, a warehouse dispatches it beside the board's sourcing, the carrier reports a checkpoint, the
distributor confirms receipt with a shortfall, sees the discrepancy and tracks the order. A regional manager
rejects another order with a reason; the distributor delivers on to one of its stores (chosen by name, as the
carrier is), which confirms the delivery and records a sale, and a sale beyond its stock is refused by name
before anything is signed; an auditor opens provenance and downloads the EPCIS export. Every page draws, with
its reads, within a second (printed at the end).

The tests of the order's way build on each other in file order, as the members' work does.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from ledger_api.vocabulary import OrgKind
from tests.pages.console_site import SLOW, console_site, stranger_keystore  # noqa: F401 - the fixture

DESK = {"width": 1280, "height": 900}
THREE_STAGES_FEN = 100_000_000  # a million yuan and more: regional manager, sales director and finance approve
TX_HASH = re.compile(r"^0x[0-9a-f]{64}$")


def desk(pages):
    """A desktop-sized page (the console's members work at a desk), screenshotted with the test's others."""
    context = pages.browser.new_context(viewport=DESK, locale="en-US", accept_downloads=True)
    pages.contexts.append(context)
    page = context.new_page()
    page.on("pageerror", lambda error: pages.uncaught.append(f"{page.url}: {error}"))
    pages.pages.append(page)
    return page


def mirrored(page) -> tuple[str, object]:
    """The newest transaction card once the ledger has the transaction: its hash and the card."""
    card = page.get_by_test_id("tx").first
    expect(card).to_have_attribute("data-status", "mirrored", timeout=SLOW)
    tx_hash = card.get_by_test_id("tx-hash").text_content()
    assert TX_HASH.match(tx_hash), tx_hash
    return tx_hash, card


@dataclass
class Journey:
    """The urgent order the tests move along, and who handles it."""

    distributor: str
    deliver_to: int
    region_manager: str
    sku: int
    cases: int
    warehouse: str
    warehouse_location: int
    carrier: int
    order: int = 0
    shipment: int = 0


@pytest.fixture(scope="module")
def journey(console_site):  # noqa: F811
    """An order big enough for all three approval stages, of a SKU a warehouse holds enough of, within the
    distributor's credit."""
    network = console_site.network
    orgs = {o.id: o for o in network.organisations}
    for label, member in network.members.items():
        if orgs.get(member.org) is None or orgs[member.org].kind != OrgKind.distributor or "purchaser" not in label:
            continue
        place = next(p.id for p in network.places if p.org == member.org)
        prices = {p["sku"]: p["price"] for p in console_site.get(label, "/v1/prices")}
        credit = console_site.get(label, f"/v1/credits/{member.org}")["available"]
        for location in network.warehouse_places:
            stock: dict[int, int] = {}
            for row in console_site.get(network.sender_at[location], "/v1/stock", location=location,
                                        include_in_transit=False)["items"]:
                stock[row["sku"]] = stock.get(row["sku"], 0) + row["on_hand"]
            for sku, price in sorted(prices.items(), key=lambda item: -item[1]):
                cases = math.ceil(THREE_STAGES_FEN / price)
                if stock.get(sku, 0) >= cases and cases * price <= credit:
                    return Journey(label, place, network.region_manager[orgs[member.org].parent], sku, cases,
                                   network.sender_at[location], location, network.carrier_orgs[0])
    pytest.fail("no distributor can order a million yuan of a SKU a warehouse holds")


def org_name(console_site, org: int) -> str:  # noqa: F811
    return next(o.name for o in console_site.network.organisations if o.id == org)


def place_name(console_site, place: int) -> str:  # noqa: F811
    return next(p.name for p in console_site.network.places if p.id == place)


# ------------------------------------------------------------------------------------------------ sign-in


def test_a_member_signs_in_with_its_keystore_and_sees_the_pages_of_its_roles(pages, console_site, journey):
    page = desk(pages)
    console_site.open_console(page)
    expect(page.get_by_test_id("wallet-signin")).to_have_count(0)  # no browser wallet in this browser
    console_site.sign_in_with_keystore(page, journey.distributor)
    console_site.page_drawn(page, "orders", journey.distributor)
    expect(page.get_by_test_id("tabs").locator("a")).to_have_text(["Orders", "Deliver", "Receive"])
    member = console_site.member(journey.distributor)
    expect(page.get_by_test_id("signed-in-as")).to_contain_text(member.address[:10])
    session = page.evaluate("() => JSON.parse(sessionStorage.getItem('ledger.session'))")
    assert session["address"] == member.address and session["token"] and session["expires_at"] > time.time()
    assert member.key.hex() not in json.dumps(session).lower(), "the key is never kept in the session"


@pytest.mark.parametrize("case", ["wrong password", "not a keystore", "unknown account", "deactivated account"])
def test_sign_in_names_what_is_wrong(pages, console_site, journey, case, tmp_path):
    page = desk(pages)
    if case == "deactivated account":
        network = console_site.network
        leaving = network.sender_at[network.stores_of_distributor[journey.deliver_to][-1]]
        console_site.send("brand.admin", f"/v1/accounts/{console_site.member(leaving).address}/deactivate", {})
        console_site.sign_in_with_keystore(page, leaving)
        expected, said = "NotAMember", "unknown or deactivated"
    elif case == "wrong password":
        console_site.sign_in_with_keystore(page, journey.distributor, password="not the password")
        expected, said = "WrongPassword", "The password does not open this keystore."
    elif case == "not a keystore":
        other = tmp_path / "order.json"
        other.write_text(json.dumps({"deliver_to": 3, "lines": []}))
        console_site.sign_in_with_keystore(page, journey.distributor, keystore=other)
        expected, said = "NotAKeystore", "not an encrypted keystore"
    else:
        console_site.sign_in_with_keystore(page, journey.distributor, keystore=stranger_keystore(tmp_path))
        expected, said = "NotAMember", "unknown or deactivated"
    error = page.get_by_test_id("signin-error")
    expect(error).to_have_attribute("data-error", expected, timeout=10_000)
    expect(error).to_contain_text(said)
    expect(page.get_by_test_id("tabs")).to_be_hidden()
    assert page.evaluate("() => sessionStorage.getItem('ledger.session')") is None


def test_sign_in_goes_on_to_a_page_of_this_site_and_never_to_another_site(pages, console_site, journey):
    page = desk(pages)
    console_site.sign_in_with_keystore(page, journey.distributor, query="?next=%2Fhealth%3Ffrom%3Dconsole")
    page.wait_for_url(f"{console_site.base_url}/health?from=console", timeout=10_000)
    page.goto(f"{console_site.base_url}/console?next=/health%3Fagain")  # signed in already: straight on
    page.wait_for_url(f"{console_site.base_url}/health?again", timeout=10_000)
    for elsewhere in ("https://elsewhere.example/", "//elsewhere.example/x", "/\\elsewhere.example"):
        page = desk(pages)
        console_site.sign_in_with_keystore(page, journey.distributor, query=f"?next={elsewhere}")
        console_site.page_drawn(page, "orders", journey.distributor)
        assert page.url.startswith(f"{console_site.base_url}/console"), page.url


def test_the_approval_clock_runs_8_hours_or_12_for_an_urgent_order_from_submission(pages, console_site):
    page = desk(pages)
    console_site.open_console(page)
    stylesheet = page.locator("link[rel=stylesheet][href$='console.css']").get_attribute("href")
    module = stylesheet.replace("console.css", "console-ui.js")
    clocks = page.evaluate("""async (module) => {
      const { slaClock } = await import(module);
      const at = (order, now) => { const c = slaClock(order, now); return [c.targetHours, c.left, c.overdue]; };
      const normal = { urgent: false, submitted_at: 1000 }, urgent = { urgent: true, submitted_at: 1000 };
      return [at(normal, 1000), at(normal, 1000 + 8 * 3600), at(normal, 1001 + 8 * 3600),
              at(urgent, 1000 + 8 * 3600 + 1), at(urgent, 1000 + 12 * 3600), at(urgent, 1001 + 12 * 3600)];
    }""", module)
    assert clocks == [[8, 28_800, False], [8, 0, False], [8, -1, True],
                      [12, 14_399, False], [12, 0, False], [12, -1, True]]


# ------------------------------------------------------------------------------------------ the order's way


def test_a_distributor_places_an_urgent_order_and_sees_it_with_its_approval_clock(pages, console_site, journey):
    page = desk(pages)
    console_site.sign_in_with_keystore(page, journey.distributor)
    console_site.page_drawn(page, "orders", journey.distributor)
    page.get_by_test_id("order-sku").select_option(str(journey.sku))
    page.get_by_test_id("order-cases-input").fill(str(journey.cases))
    page.get_by_test_id("order-urgent").check()
    page.get_by_test_id("place-order").click()
    tx_hash, card = mirrored(page)
    order = card.get_by_test_id("order")
    expect(order).to_have_attribute("data-state", "submitted")
    journey.order = int(order.get_attribute("data-order"))

    on_ledger = console_site.get(journey.distributor, f"/v1/orders/{journey.order}")
    assert on_ledger["tx_hash"] == tx_hash and on_ledger["urgent"] is True
    assert on_ledger["cases_ordered"] == journey.cases
    assert on_ledger["pending_stages"] == ["region_manager", "sales_director", "finance"]
    row = page.locator(f"[data-testid=order-row][data-order='{journey.order}']")
    expect(row.get_by_test_id("sla")).to_have_attribute("data-target-hours", "12")
    expect(row.get_by_test_id("sla")).to_have_attribute("data-overdue", "false")
    expect(row.get_by_test_id("sla")).to_contain_text(re.compile(r"1[01] h \d+ min left"))


def test_the_regional_manager_sees_the_order_in_its_queue_with_its_sla_and_approves_it(pages, console_site, journey):
    page = desk(pages)
    console_site.sign_in_with_keystore(page, journey.region_manager)
    console_site.page_drawn(page, "approvals", journey.region_manager)
    row = page.locator(f"[data-testid=queue-row][data-order='{journey.order}']")
    expect(row).to_contain_text("regional manager, sales director, finance")
    expect(row).to_contain_text(org_name(console_site, console_site.member(journey.distributor).org))
    expect(row.get_by_test_id("sla")).to_have_attribute("data-target-hours", "12")
    expect(row.get_by_test_id("sla")).to_have_attribute("data-overdue", "false")
    row.get_by_test_id("approve").click()
    _, card = mirrored(page)
    expect(card.get_by_test_id("order-approvals")).to_contain_text("regional manager")
    expect(row).to_have_count(0)  # the queue is read again: the order no longer waits for this member


def test_the_regional_manager_rejects_an_order_with_a_reason_code(pages, console_site, journey):
    tx_hash = console_site.send(journey.distributor, "/v1/orders", {
        "deliver_to": journey.deliver_to, "lines": [{"sku": journey.sku, "cases": 1}]})
    order = next(o["id"] for o in console_site.get(journey.distributor, "/v1/orders")["items"]
                 if o["tx_hash"] == tx_hash)
    page = desk(pages)
    console_site.sign_in_with_keystore(page, journey.region_manager)
    console_site.page_drawn(page, "approvals", journey.region_manager)
    row = page.locator(f"[data-testid=queue-row][data-order='{order}']")
    expect(row.get_by_test_id("sla")).to_have_attribute("data-target-hours", "8")
    row.get_by_test_id("reject-reason").fill("7")
    row.get_by_test_id("reject").click()
    _, card = mirrored(page)
    expect(card.get_by_test_id("order")).to_have_attribute("data-state", "rejected")
    expect(card.get_by_test_id("rejection")).to_have_text("by the regional manager, reason 7")


def test_the_sales_director_signs_in_with_a_browser_wallet_and_approves_through_it(pages, console_site, journey):
    page = desk(pages)
    console_site.browser_wallet(page, "brand.sales_director")
    console_site.open_console(page)
    page.get_by_test_id("wallet-signin").click()
    console_site.page_drawn(page, "approvals", "brand.sales_director (wallet)")
    row = page.locator(f"[data-testid=queue-row][data-order='{journey.order}']")
    row.get_by_test_id("approve").click()
    tx_hash, card = mirrored(page)
    expect(card.get_by_test_id("order-approvals")).to_contain_text("regional manager, sales director")
    asked = page.evaluate("() => window.ethereum.requests")
    assert {"eth_requestAccounts", "personal_sign", "eth_sendTransaction"} <= set(asked), asked
    sent = console_site.rpc.call("eth_getTransactionByHash", tx_hash)
    assert sent["from"].lower() == console_site.member("brand.sales_director").address.lower()

    page.reload()  # the wallet is still there: the console opens signed in, no sign-in asked
    console_site.page_drawn(page, "approvals", "brand.sales_director (wallet, reloaded)")
    main = page.locator("main#console")
    assert int(main.get_attribute("data-ready-ms")) < 1_000, "a signed-in page loads within a second"


def test_finance_approves_the_last_stage_and_the_order_is_approved(pages, console_site, journey):
    page = desk(pages)
    console_site.sign_in_with_keystore(page, "brand.finance")
    console_site.page_drawn(page, "approvals", "brand.finance")
    page.locator(f"[data-testid=queue-row][data-order='{journey.order}']").get_by_test_id("approve").click()
    _, card = mirrored(page)
    expect(card.get_by_test_id("order")).to_have_attribute("data-state", "approved")


def test_a_warehouse_dispatches_the_approved_order(pages, console_site, journey):
    page = desk(pages)
    console_site.sign_in_with_keystore(page, journey.warehouse)
    console_site.page_drawn(page, "dispatch", journey.warehouse)
    approved = page.locator(f"[data-testid=approved-row][data-order='{journey.order}']")
    expect(approved).to_contain_text(place_name(console_site, journey.deliver_to))  # a site outside its reach
    approved.get_by_test_id("prepare-dispatch").click()
    form = page.get_by_test_id("dispatch-form")
    expect(form).to_have_attribute("data-order", str(journey.order))
    picked = [int(v) for v in form.get_by_test_id("dispatch-cases").evaluate_all("els => els.map(e => e.value)")]
    assert sum(picked) == journey.cases, picked  # the whole order, oldest lots first
    expect(form.get_by_test_id("sourcing")).to_be_visible()  # the board's ranking of the warehouses
    form.get_by_test_id("dispatch-carrier").select_option(str(journey.carrier))  # a carrier chosen by name
    form.get_by_test_id("dispatch-submit").click()
    tx_hash, card = mirrored(page)
    shipment = card.get_by_test_id("shipment")
    expect(shipment).to_have_attribute("data-state", "in_transit")
    expect(card.get_by_test_id("order")).to_have_attribute("data-state", "dispatched")
    journey.shipment = int(shipment.get_attribute("data-shipment"))
    assert console_site.get(journey.warehouse, f"/v1/shipments/{journey.shipment}")["tx_hash"] == tx_hash


def test_the_carrier_reports_a_checkpoint(pages, console_site, journey):
    carrier = console_site.network.carrier_sender[journey.carrier]
    page = desk(pages)
    console_site.sign_in_with_keystore(page, carrier)
    console_site.page_drawn(page, "checkpoints", carrier)
    row = page.locator(f"[data-testid=carried-row][data-shipment='{journey.shipment}']")
    expect(row).to_contain_text(f"{place_name(console_site, journey.warehouse_location)} → "
                                f"{place_name(console_site, journey.deliver_to)}")
    row.get_by_test_id("checkpoint-status").select_option("2")
    row.get_by_test_id("checkpoint-place").fill("Changsha hub")
    row.get_by_test_id("checkpoint-submit").click()
    _, card = mirrored(page)
    expect(card.get_by_test_id("checkpoint").last).to_contain_text("at hub · Changsha hub")


def test_the_distributor_confirms_receipt_with_a_shortfall_sees_the_discrepancy_and_tracks_the_order(
        pages, console_site, journey):
    page = desk(pages)
    console_site.sign_in_with_keystore(page, journey.distributor)
    console_site.page_drawn(page, "orders", journey.distributor)
    page.get_by_test_id("tab-receive").click()
    console_site.page_drawn(page, "receive", journey.distributor)
    incoming = page.locator(f"[data-testid=incoming-row][data-shipment='{journey.shipment}']")
    incoming.get_by_test_id("open-receipt").click()
    counted = page.get_by_test_id("received-cases").first
    shipped = int(counted.input_value())
    counted.fill(str(shipped - 2))
    page.get_by_test_id("receipt-submit").click()
    _, card = mirrored(page)
    expect(card.get_by_test_id("shipment")).to_have_attribute("data-state", "received")
    expect(card.get_by_test_id("shortfall")).to_have_text("2 cases")
    discrepancy = card.get_by_test_id("discrepancy")
    expect(discrepancy).to_have_attribute("data-shipped", str(shipped))
    expect(discrepancy).to_have_attribute("data-received", str(shipped - 2))
    expect(discrepancy).to_contain_text("2 short (open)")

    page.get_by_test_id("tab-orders").click()
    console_site.page_drawn(page, "orders", journey.distributor)
    page.locator(f"[data-testid=order-row][data-order='{journey.order}']").get_by_test_id("track-order").click()
    tracked = page.get_by_test_id("tracked-order")
    expect(tracked.get_by_test_id("order")).to_have_attribute("data-state", "delivered")
    expect(tracked.get_by_test_id("provenance-shipment")).to_contain_text("at hub · Changsha hub")


def test_the_distributor_delivers_to_its_store_which_confirms_it_and_records_a_sale(pages, console_site, journey):
    network = console_site.network
    store_location = network.stores_of_distributor[journey.deliver_to][0]
    store = network.sender_at[store_location]
    received = console_site.get(journey.distributor, f"/v1/shipments/{journey.shipment}")["lines"][0]
    page = desk(pages)
    console_site.sign_in_with_keystore(page, journey.distributor)
    console_site.page_drawn(page, "orders", journey.distributor)
    page.get_by_test_id("tab-deliver").click()
    console_site.page_drawn(page, "deliver", journey.distributor)
    page.get_by_test_id("delivery-store").select_option(str(store_location))  # its stores, by name
    page.get_by_test_id("dispatch-carrier").select_option(str(journey.carrier))
    page.locator(f"[data-testid=delivery-row][data-lot='{received['lot']}']").get_by_test_id("delivery-cases").fill("3")
    page.get_by_test_id("delivery-submit").click()
    _, card = mirrored(page)
    delivery = card.get_by_test_id("shipment")
    expect(delivery).to_have_attribute("data-state", "in_transit")
    delivery_id = int(delivery.get_attribute("data-shipment"))
    assert console_site.get(journey.distributor, f"/v1/shipments/{delivery_id}")["kind"] == "delivery"

    page = desk(pages)
    console_site.sign_in_with_keystore(page, store)
    console_site.page_drawn(page, "receive", store)
    expect(page.get_by_test_id("tabs").locator("a")).to_have_text(["Receive", "Sales"])
    page.locator(f"[data-testid=incoming-row][data-shipment='{delivery_id}']").get_by_test_id("open-receipt").click()
    page.get_by_test_id("receipt-submit").click()
    _, card = mirrored(page)
    expect(card.get_by_test_id("shipment")).to_have_attribute("data-state", "received")
    expect(card.get_by_test_id("shortfall")).to_have_text("0 cases")

    page.get_by_test_id("tab-sales").click()
    console_site.page_drawn(page, "sales", store)
    row = page.locator(f"[data-testid=stock-row][data-lot='{received['lot']}']")
    on_hand = int(row.get_attribute("data-on-hand"))
    assert on_hand >= 3
    row.get_by_test_id("sale-cases").fill("2")
    row.get_by_test_id("sale-submit").click()
    _, card = mirrored(page)
    expect(card.get_by_test_id("sale-result")).to_have_attribute("data-on-hand", str(on_hand - 2))
    stock = console_site.get(store, "/v1/stock", location=store_location, include_in_transit=False)["items"]
    assert next(r["on_hand"] for r in stock if r["lot"] == received["lot"]) == on_hand - 2


def test_a_refusal_is_shown_by_its_name_and_nothing_is_signed(pages, console_site, journey):
    network = console_site.network
    store_location = network.stores_of_distributor[journey.deliver_to][0]
    store = network.sender_at[store_location]
    page = desk(pages)
    console_site.sign_in_with_keystore(page, store)
    console_site.page_drawn(page, "receive", store)
    page.get_by_test_id("tab-sales").click()
    console_site.page_drawn(page, "sales", store)
    row = page.get_by_test_id("stock-row").first
    on_hand = int(row.get_attribute("data-on-hand"))
    # The browser's own check stops a number above the stock; a member editing the page past it meets the ledger's.
    row.get_by_test_id("sale-cases").evaluate("(input, n) => { input.max = ''; input.value = n; }", str(on_hand + 5))
    before = console_site.rpc.call("eth_getTransactionCount", console_site.member(store).address, "pending")
    row.get_by_test_id("sale-submit").click()
    card = page.get_by_test_id("tx").first
    expect(card).to_have_attribute("data-status", "refused", timeout=SLOW)
    expect(card.get_by_test_id("tx-error")).to_have_attribute("data-error", "InsufficientStock")
    expect(card.get_by_test_id("tx-hash")).to_be_empty()
    assert console_site.rpc.call("eth_getTransactionCount", console_site.member(store).address, "pending") == before


def test_an_auditor_opens_provenance_and_downloads_the_epcis_export(pages, console_site, journey):
    page = desk(pages)
    console_site.sign_in_with_keystore(page, "auditor.1")
    console_site.page_drawn(page, "provenance", "auditor.1")
    expect(page.get_by_test_id("tabs").locator("a")).to_have_text(["Provenance"])
    page.get_by_test_id("provenance-order-id").fill(str(journey.order))
    page.get_by_test_id("open-order").click()
    view = page.get_by_test_id("provenance")
    expect(view.get_by_test_id("order")).to_have_attribute("data-order", str(journey.order))
    expect(view.get_by_test_id("provenance-shipment")).to_have_count(1)
    expect(view.get_by_test_id("provenance-shipment")).to_contain_text(f"#{journey.shipment}")

    page.get_by_test_id("lot-row").first.get_by_test_id("open-lot").click()
    expect(page.get_by_test_id("provenance")).to_have_attribute("data-kind", "lot")
    expect(page.get_by_test_id("merkle-root")).to_have_text(re.compile(r"^0x[0-9a-f]{64}$"))

    with page.expect_download(timeout=SLOW) as download:
        page.get_by_test_id("epcis-export").click()
    assert download.value.suggested_filename == "ledger-epcis.jsonld"
    document = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert document["type"] == "EPCISDocument"
    events = document["epcisBody"]["eventList"]
    assert any(e.get("bizStep") in ("shipping", "receiving") for e in events)
    expect(page.get_by_test_id("epcis-done")).to_be_visible()


def test_every_console_page_drew_within_a_second(console_site, capsys):
    assert console_site.load_times, "no page was measured"
    with capsys.disabled():
        print(f"\nconsole pages: {len(console_site.load_times)} drawn, budget 1000 ms")
        for what, since_navigation, draw in console_site.load_times:
            print(f"  {what:<48} drawn in {draw:4d} ms  ({since_navigation:5d} ms since navigation)")
    assert max(draw for _, _, draw in console_site.load_times) < 1_000
