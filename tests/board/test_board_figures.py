"""The board's weekly cycle time, price alerts, distributor health and scan panels read from a small mirror and scan
log written row by row, on SQLite and PostgreSQL, against figures worked out by hand, as each member sees them:
the brand and auditors everything, regional staff their region, a distributor its own orders, tier and score,
and nothing of the brand's scan log."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from indexer.db import migrate, open_database
from indexer.schema import (credits, decommissions, ledger_settings, locations, orders, organisations,
                            payments, price_alerts, raw_events, shipments, skus, stock_balances)
from ledger_api import board_figures, registry
from ledger_api.errors import ApiError
from ledger_api.health import HealthRules
from ledger_api.vocabulary import OrderState, OrgKind, ShipmentKind, ShipmentState
from tests.board.mirror_rows import member, seal_mirror

HOUR, DAY, WEEK = 3_600, 86_400, 7 * 86_400
MONDAY = 1_780_272_000  # 2026-06-01 00:00 UTC, a Monday
W2, W3 = MONDAY + 7 * DAY, MONDAY + 14 * DAY
NOW = W3 + DAY + 12 * HOUR  # the mirror's newest block: Tuesday of the third week
WEEKS = 26
EAST, NORTH = 10, 11
BUSY, IDLE, NORTHERN, STORE = 60, 61, 70, 62  # distributors (and one store) of the regions
BUSY_SITE, IDLE_SITE, STORE_SITE, NORTH_SITE, WAREHOUSE = 100, 101, 102, 200, 1
SKU, OTHER_SKU = 7, 8
LOT = SKU << 160 | 1


@pytest.fixture
def mirror(database_url):
    engine = open_database(database_url)
    migrate(engine)
    log = iter(range(1, 1_000))
    with engine.begin() as conn:
        for org, kind, region, tier, name, code in (
                (1, OrgKind.brand, 0, 0, "the brand", "BRAND"), (EAST, OrgKind.region, EAST, 0, "East China", "EAST"),
                (NORTH, OrgKind.region, NORTH, 0, "North China", "NORTH"),
                (BUSY, OrgKind.distributor, EAST, 1, "Hangzhou Trading", "HZ"),
                (IDLE, OrgKind.distributor, EAST, 1, "Ningbo Trading", "NB"),
                (NORTHERN, OrgKind.distributor, NORTH, 0, "Beijing Trading", "BJ"),
                (STORE, OrgKind.store, EAST, 1, "West Lake store", "WL")):
            conn.execute(insert(organisations).values(id=org, kind=int(kind), parent=region, region=region,
                                                      price_tier=tier, name=name, code=code, registered_at=0))
        for loc, org, region, kind in ((WAREHOUSE, 50, 0, OrgKind.warehouse),
                                       (BUSY_SITE, BUSY, EAST, OrgKind.distributor),
                                       (IDLE_SITE, IDLE, EAST, OrgKind.distributor),
                                       (STORE_SITE, STORE, EAST, OrgKind.store),
                                       (NORTH_SITE, NORTHERN, NORTH, OrgKind.distributor)):
            conn.execute(insert(locations).values(id=loc, org=org, region=region, kind=int(kind), name=f"site {loc}",
                                                  gln=f"{loc:013d}", active=True))

        def order(id, distributor, region, submitted, state, cases, dispatched=0, approved=None, delivered=None,
                  urgent=False):
            conn.execute(insert(orders).values(
                id=id, distributor=distributor, region=region, deliver_to=0, urgent=urgent, required_stages=7,
                approved_stages=7 if approved else 0, amount=cases * 100_000, state=int(state), cases_ordered=cases,
                cases_dispatched=dispatched, submitted_by="0x" + "02" * 20, submitted_at=submitted,
                approved_at=None if approved is None else submitted + approved * HOUR,
                delivered_at=None if delivered is None else submitted + delivered * HOUR, tx_hash="0x" + "0f" * 32))

        order(1, BUSY, EAST, MONDAY + HOUR, OrderState.delivered, 10, 10, approved=4, delivered=49)
        order(2, BUSY, EAST, MONDAY + 2 * HOUR, OrderState.approved, 20, approved=10)
        order(3, BUSY, EAST, MONDAY + 3 * HOUR, OrderState.dispatched, 10, 10, approved=11, urgent=True)
        order(4, NORTHERN, NORTH, W3 + HOUR, OrderState.submitted, 5)  # waiting 35 h at NOW
        order(5, BUSY, EAST, NOW - 200 * DAY, OrderState.delivered, 50, 50, approved=1, delivered=30)  # long ago

        def shipment(id, kind, source, dest, dispatched, state, cases=10, eta=None):
            conn.execute(insert(shipments).values(
                id=id, kind=int(kind), ref=0, from_location=source, to_location=dest, carrier=80,
                eta=dispatched + 2 * DAY if eta is None else eta, document_cid="", owner=1, state=int(state),
                cases=cases, dispatched_by="0x" + "03" * 20, dispatched_at=dispatched, tx_hash="0x" + "0e" * 32,
                received_at=dispatched + DAY if state == ShipmentState.received else None))

        shipment(1, ShipmentKind.order, WAREHOUSE, BUSY_SITE, MONDAY + 20 * HOUR, ShipmentState.received)
        shipment(2, ShipmentKind.order, WAREHOUSE, BUSY_SITE, MONDAY + 30 * HOUR, ShipmentState.in_transit)  # late
        shipment(3, ShipmentKind.order, WAREHOUSE, BUSY_SITE, NOW - HOUR, ShipmentState.in_transit)  # not yet due
        shipment(4, ShipmentKind.order, WAREHOUSE, BUSY_SITE, NOW - 100 * DAY, ShipmentState.received)  # long ago
        shipment(5, ShipmentKind.delivery, BUSY_SITE, STORE_SITE, W2, ShipmentState.received, cases=6)
        for location, cases, at in ((BUSY_SITE, 4, W2), (BUSY_SITE, 10, NOW - 100 * DAY), (STORE_SITE, 9, W2)):
            conn.execute(insert(decommissions).values(block_number=1, log_index=next(log), location=location, lot=LOT,
                                                      sku=SKU, cases=cases, reason=0, recorded_by="0x" + "01" * 20,
                                                      time=at))
        conn.execute(insert(stock_balances).values(location=BUSY_SITE, lot=LOT, sku=SKU, cases=30))
        for distributor, limit, exposure in ((BUSY, 1_000_000, 400_000), (IDLE, 0, 0), (NORTHERN, 0, 50_000)):
            conn.execute(insert(credits).values(distributor=distributor, credit_limit=limit, exposure=exposure,
                                                updated_at=0))
        for amount, at in ((300_000, W2), (100_000, NOW - 100 * DAY)):
            conn.execute(insert(payments).values(block_number=1, log_index=next(log), distributor=BUSY, amount=amount,
                                                 exposure=0, time=at))

        for sku, name, gtin in ((SKU, "Sauce-aroma 53% 500 ml", "06901234567892"),
                                (OTHER_SKU, "Strong-aroma 52% 500 ml", "06901234567908")):
            conn.execute(insert(skus).values(id=sku, gtin=gtin, bottles_per_case=6, name=name, content_cid="",
                                             active=True))
        conn.execute(insert(ledger_settings).values(name="price_alert_bps", value="1000", updated_at=0))
        for block, index, tx, sku, tier, old, new, bps, at in (
                (5, 0, "0x" + "aa" * 32, SKU, 0, 100_000, 120_000, 2_000, NOW - 3 * DAY),
                (5, 2, "0x" + "aa" * 32, OTHER_SKU, 1, 50_000, 40_000, 2_000, NOW - 3 * DAY),
                (8, 1, "0x" + "bb" * 32, SKU, 1, 90_000, 99_010, 1_001, NOW - DAY),
                (2, 0, "0x" + "cc" * 32, OTHER_SKU, 0, 10_000, 20_000, 10_000, NOW - 200 * DAY)):
            conn.execute(insert(price_alerts).values(block_number=block, log_index=index, sku=sku, tier=tier,
                                                     old_price=old, new_price=new, change_bps=bps, time=at))
            conn.execute(insert(raw_events).values(block_number=block, log_index=index, tx_hash=tx,
                                                   address="0x" + "cc" * 20, contract="Catalog", name="PriceAlert",
                                                   topics=b"", data=b""))
        seal_mirror(conn, NOW)
    yield engine
    engine.dispose()


@pytest.fixture
def scan_log(database_url):
    engine = registry.open_registry(database_url)
    rows = [("EAST", "Hangzhou", "genuine", MONDAY + HOUR)] * 3 + [
        ("EAST", "Hangzhou", "unknown", MONDAY + 2 * HOUR), ("NORTH", "Beijing", "diverted", W3),
        ("NORTH", "Beijing", "diverted", W3 + HOUR), (None, None, "genuine", MONDAY + 5 * HOUR),
        ("EAST", "Hangzhou", "unknown", NOW - 200 * DAY)]  # before the board's 26 weeks
    with engine.begin() as conn:
        conn.execute(insert(registry.scans), [
            {"serial": f"S{n}", "gtin": "06901234567892", "device": f"d{n}", "place": city, "region": region, "at": at,
             "verdict": verdict} for n, (region, city, verdict, at) in enumerate(rows)])
    yield engine
    engine.dispose()


BRAND = member(OrgKind.brand, 1)
AUDITOR = member(OrgKind.auditor, 90)
EAST_STAFF = member(OrgKind.region, EAST, region=EAST)
NORTH_STAFF = member(OrgKind.region, NORTH, region=NORTH)
BUSY_DISTRIBUTOR = member(OrgKind.distributor, BUSY, region=EAST, tier=1, locations_run=frozenset({BUSY_SITE}))
CARRIER = member(OrgKind.carrier, 80)

# ---------------------------------------------------------------------------------------------- cycle time

EMPTY_WEEK = {"orders": 0, "urgent_orders": 0, "approval_median_hours": None, "approval_p90_hours": None,
              "urgent_approval_median_hours": None, "delivery_median_hours": None, "delivery_p90_hours": None,
              "within_target_share": None}
FIRST_WEEK = {"week_start": MONDAY, "orders": 3, "urgent_orders": 1, "approval_median_hours": 10.0,
              "approval_p90_hours": 10.8, "urgent_approval_median_hours": 11.0, "delivery_median_hours": 49.0,
              "delivery_p90_hours": 49.0, "within_target_share": 0.6667}  # 4 and 11 (urgent) h of 4, 10 and 11
THIRD_WEEK = {**EMPTY_WEEK, "week_start": W3, "orders": 1, "within_target_share": 0.0}  # waiting 35 h


def weekly(engine, caller, **filters) -> list[dict]:
    with engine.connect() as conn:
        answer = board_figures.weekly_cycle_times(conn, caller, weeks=WEEKS, **filters)
    assert answer["as_of"] == NOW and answer["target_hours"] == {"normal": 8, "urgent": 12}
    return answer["weeks"]


def test_the_brand_sees_the_hand_worked_weeks_of_every_region(mirror):
    assert weekly(mirror, BRAND) == [FIRST_WEEK, {**EMPTY_WEEK, "week_start": W2}, THIRD_WEEK]
    assert weekly(mirror, AUDITOR) == weekly(mirror, BRAND)
    assert weekly(mirror, BRAND, region=NORTH) == [THIRD_WEEK]
    assert weekly(mirror, BRAND, region=999) == []


def test_regional_staff_and_a_distributor_see_the_weeks_of_their_own_orders(mirror):
    east = [FIRST_WEEK, {**EMPTY_WEEK, "week_start": W2}, {**EMPTY_WEEK, "week_start": W3}]
    assert weekly(mirror, EAST_STAFF) == east
    assert weekly(mirror, EAST_STAFF, region=NORTH) == []
    assert weekly(mirror, NORTH_STAFF) == [THIRD_WEEK]
    assert weekly(mirror, BUSY_DISTRIBUTOR) == east
    assert weekly(mirror, CARRIER) == []


# ---------------------------------------------------------------------------------------------- price alerts


def alerts(engine, caller, **filters) -> dict:
    with engine.connect() as conn:
        answer = board_figures.price_alerts(conn, caller, weeks=WEEKS, **filters)
    assert answer["as_of"] == NOW and answer["threshold_bps"] == 1_000
    return answer


def test_the_brand_sees_every_alert_of_the_window_newest_first_with_its_revision(mirror):
    answer = alerts(mirror, BRAND)
    assert [(a["tx_hash"][:4], a["sku"], a["tier"], a["change_bps"]) for a in answer["alerts"]] == [
        ("0xbb", SKU, 1, 1_001), ("0xaa", OTHER_SKU, 1, -2_000), ("0xaa", SKU, 0, 2_000)]  # a cut below 0
    assert answer["alerts"][0] == {"time": NOW - DAY, "tx_hash": "0x" + "bb" * 32, "sku": SKU,
                                   "sku_name": "Sauce-aroma 53% 500 ml", "gtin": "06901234567892", "tier": 1,
                                   "old_price_yuan": 900.0, "new_price_yuan": 990.1, "change_bps": 1_001}
    assert answer["revisions"] == [
        {"time": NOW - DAY, "tx_hash": "0x" + "bb" * 32, "skus": [SKU], "max_change_bps": 1_001},
        {"time": NOW - 3 * DAY, "tx_hash": "0x" + "aa" * 32, "skus": [SKU, OTHER_SKU], "max_change_bps": 2_000}]


def test_since_moves_the_start_of_the_alerts(mirror):
    assert [a["change_bps"] for a in alerts(mirror, BRAND, since=NOW - 2 * DAY)["alerts"]] == [1_001]
    assert [a["change_bps"] for a in alerts(mirror, BRAND, since=0)["alerts"]] == [1_001, -2_000, 2_000, 10_000]


def test_a_distributor_sees_the_alerts_of_its_own_tier_and_a_carrier_none(mirror):
    answer = alerts(mirror, BUSY_DISTRIBUTOR)
    assert [(a["sku"], a["tier"]) for a in answer["alerts"]] == [(SKU, 1), (OTHER_SKU, 1)]
    assert [r["skus"] for r in answer["revisions"]] == [[SKU], [OTHER_SKU]]
    assert alerts(mirror, CARRIER) == {"as_of": NOW, "threshold_bps": 1_000, "alerts": [], "revisions": []}


# ---------------------------------------------------------------------------------------------- distributor health


def scores(engine, caller, **filters) -> list[tuple]:
    with engine.connect() as conn:
        answer = board_figures.distributor_health(conn, caller, HealthRules(), **filters)
    assert (answer["as_of"], answer["window_days"]) == (NOW, 90)
    assert answer["formula"]["weights"] == {"purchase_frequency": 0.25, "fulfilment": 0.2,
                                            "receipt_confirmation": 0.15, "payment": 0.2, "sell_through": 0.2}
    return [(d["distributor"], d["score"], d["rank"], d["top"]) for d in answer["distributors"]]


def test_the_hand_worked_health_of_a_trading_distributor(mirror):
    with mirror.connect() as conn:
        [busy] = board_figures.distributor_health(conn, BUSY_DISTRIBUTOR, HealthRules())["distributors"]
    assert (busy["name"], busy["region"], busy["region_name"]) == ("Hangzhou Trading", EAST, "East China")
    assert busy["figures"] == {
        "orders": 3, "orders_expected": 12.86,  # the order of 200 days ago is outside the 90
        "cases_ordered": 40, "cases_dispatched": 20,  # orders 1-3 approved, 10 + 10 of 40 cases dispatched
        "shipments_confirmed": 1, "shipments_unconfirmed": 1,  # one in transit past its ETA; one not yet due
        "credit_limit_yuan": 10_000.0, "exposure_yuan": 4_000.0, "paid_yuan": 3_000.0,
        "cases_sold": 10, "cases_on_hand": 30}  # 6 delivered to its store and 4 sold itself, 30 held
    assert busy["components"] == {"purchase_frequency": 0.2333, "fulfilment": 0.5, "receipt_confirmation": 0.5,
                                  "payment": 0.6, "sell_through": 0.25}
    # 100 × (0.25 × 3/12.857 + 0.2 × 0.5 + 0.15 × 0.5 + 0.2 × 0.6 + 0.2 × 0.25) = 5.83 + 10 + 7.5 + 12 + 5
    assert (busy["score"], busy["rank"], busy["top"]) == (40.3, 1, True)


def test_the_brand_ranks_every_distributor_and_marks_the_top_twenty_percent(mirror):
    assert scores(mirror, BRAND) == [
        (BUSY, 40.3, 1, True),
        (IDLE, 20.0, 2, False),  # no orders and no credit: only the payment component, owing nothing
        (NORTHERN, 1.9, 3, False),  # one order of 12.86, owing 500 yuan with no credit limit
    ]
    assert scores(mirror, AUDITOR) == scores(mirror, BRAND)
    assert scores(mirror, BRAND, region=NORTH) == [(NORTHERN, 1.9, 1, True)]
    assert scores(mirror, BRAND, region=999) == []


def test_each_member_sees_the_health_of_the_distributors_in_its_reach(mirror):
    assert scores(mirror, EAST_STAFF) == [(BUSY, 40.3, 1, True), (IDLE, 20.0, 2, False)]
    assert scores(mirror, EAST_STAFF, region=NORTH) == []
    assert scores(mirror, BUSY_DISTRIBUTOR) == [(BUSY, 40.3, 1, True)]
    assert scores(mirror, member(OrgKind.store, STORE, region=EAST, tier=1, locations_run=frozenset({STORE_SITE}))) == []
    assert scores(mirror, CARRIER) == []


# ---------------------------------------------------------------------------------------------- consumer scans

ZERO = dict.fromkeys(("genuine", "opened", "suspicious", "diverted", "recalled", "unknown"), 0)


def scan_figures(mirror, scan_log, caller, **filters) -> dict:
    with mirror.connect() as conn, scan_log.connect() as brand:
        answer = board_figures.scan_intelligence(conn, brand, caller, weeks=WEEKS, **filters)
    assert answer["as_of"] == NOW
    return answer


def test_the_brand_sees_the_hand_worked_scan_intelligence_of_every_region(mirror, scan_log):
    answer = scan_figures(mirror, scan_log, BRAND)
    assert answer["weeks"] == [{"week_start": MONDAY, "counts": {**ZERO, "genuine": 4, "unknown": 1}},
                               {"week_start": W2, "counts": ZERO},
                               {"week_start": W3, "counts": {**ZERO, "diverted": 2}}]
    assert [(r["region"], r["total"], r["risk_share"]) for r in answer["regions"]] == [
        ("NORTH", 2, 1.0), ("EAST", 4, 0.25), (None, 1, 0.0)]
    assert answer["hot_spots"] == [
        {"region": "NORTH", "city": "Beijing", "verdict": "diverted", "count": 2, "share": 1.0},
        {"region": "EAST", "city": "Hangzhou", "verdict": "unknown", "count": 1, "share": 0.25}]
    assert scan_figures(mirror, scan_log, AUDITOR) == answer
    assert [r["region"] for r in scan_figures(mirror, scan_log, BRAND, region=NORTH)["regions"]] == ["NORTH"]


def test_regional_staff_see_the_scans_placed_in_their_region(mirror, scan_log):
    east = scan_figures(mirror, scan_log, EAST_STAFF)
    assert [w["counts"] for w in east["weeks"]] == [{**ZERO, "genuine": 3, "unknown": 1}, ZERO, ZERO]
    assert [r["region"] for r in east["regions"]] == ["EAST"]
    assert [(s["region"], s["verdict"]) for s in east["hot_spots"]] == [("EAST", "unknown")]
    assert scan_figures(mirror, scan_log, EAST_STAFF, region=NORTH)["weeks"] == []


def test_an_unknown_region_or_an_empty_log_gives_empty_lists(mirror, database_url):
    empty = registry.open_registry(database_url)
    try:
        for answer in (scan_figures(mirror, empty, BRAND), scan_figures(mirror, empty, BRAND, region=999)):
            assert (answer["weeks"], answer["regions"], answer["hot_spots"]) == ([], [], [])
    finally:
        empty.dispose()


@pytest.mark.parametrize("caller", [BUSY_DISTRIBUTOR, CARRIER, member(OrgKind.warehouse, 50, locations_run=frozenset({1}))])
def test_members_outside_the_brand_and_its_regions_may_not_read_the_scan_log(mirror, scan_log, caller):
    with pytest.raises(ApiError) as refused:
        scan_figures(mirror, scan_log, caller)
    assert (refused.value.status, refused.value.error) == (403, "ScansOutOfReach")


def log_scans(engine, *rows) -> None:
    with engine.begin() as conn:
        conn.execute(insert(registry.scans), [
            {"serial": "S", "gtin": "0", "device": "d", "place": city, "region": region, "at": at, "verdict": verdict}
            for region, city, verdict, at in rows])


@pytest.mark.parametrize("margin", [0, 1, 10_000])
def test_the_kept_tallies_take_in_every_scan_logged_since_the_last_read(mirror, scan_log, margin):
    tallies = board_figures.ScanTallies(margin)

    def read(now=NOW):
        with mirror.connect() as conn, scan_log.connect() as brand:
            return board_figures.scan_intelligence(conn, brand, BRAND, weeks=WEEKS, now=now, tallies=tallies)

    read()
    log_scans(scan_log, ("EAST", "Hangzhou", "opened", NOW), ("EAST", "Hangzhou", "genuine", MONDAY + DAY))
    answer = read()
    assert [w["counts"] for w in answer["weeks"]] == [{**ZERO, "genuine": 5, "unknown": 1}, ZERO,
                                                      {**ZERO, "diverted": 2, "opened": 1}]
    with mirror.connect() as conn, scan_log.connect() as brand:  # counted afresh from the whole log
        assert answer == board_figures.scan_intelligence(conn, brand, BRAND, weeks=WEEKS, now=NOW,
                                                         tallies=board_figures.ScanTallies(margin))
    # 24 weeks on, the board's 26 weeks begin with the second: the first week's scans drop out.
    later = read(NOW + 24 * WEEK)
    assert (later["weeks"][0]["week_start"], len(later["weeks"])) == (W3, 25)
    assert sum(r["total"] for r in later["regions"]) == 3
