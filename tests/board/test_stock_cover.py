"""Days of cover on the brand's board, against figures worked out by hand: a region's channel (distributors
and stores) holds so many cases and sold so many in the last 28 days; below 7 days of cover it is short, above
60 (or holding what it does not sell) it has a surplus. Warehouse stock, sales before the window and
write-offs do not count. Each member sees the cover of what it may see of the stock, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from indexer.db import migrate, open_database
from indexer.schema import decommissions, locations, stock_balances, stock_in_transit
from ledger_api import board, reads
from ledger_api.board import Cases, CoverRules
from ledger_api.vocabulary import OrgKind
from tests.board.mirror_rows import member, seal_mirror

DAY = 86_400
NOW = 1_790_000_000
EAST, NORTH = 10, 11
SKU, OTHER_SKU = 7, 8


def test_the_hand_worked_cover_of_a_short_and_a_surplus_region():
    rows = board.days_of_cover(
        on_hand=[Cases(EAST, SKU, 6), Cases(NORTH, SKU, 1_500), Cases(NORTH, SKU, 500)],
        in_transit=[Cases(EAST, SKU, 20)],
        sold=[Cases(EAST, SKU, 50), Cases(EAST, SKU, 6), Cases(NORTH, SKU, 28)])
    assert rows == [
        # East: 56 cases in 28 days is 2 a day; 6 cases last 3 days, 26 with those in transit 13.
        {"region": EAST, "sku": SKU, "on_hand": 6, "in_transit": 20, "sold": 56, "daily_sales": 2.0,
         "days_of_cover": 3.0, "days_of_cover_with_transit": 13.0, "flag": "shortage",
         "reason": "below_shortage_days"},
        # North: 1 a day against 2,000 cases.
        {"region": NORTH, "sku": SKU, "on_hand": 2_000, "in_transit": 0, "sold": 28, "daily_sales": 1.0,
         "days_of_cover": 2_000.0, "days_of_cover_with_transit": 2_000.0, "flag": "surplus",
         "reason": "above_surplus_days"},
    ]


@pytest.mark.parametrize("on_hand, sold, cover, flag", [
    (14, 56, 7.0, None),  # exactly the shortage bound is not short
    (13, 56, 6.5, "shortage"),
    (120, 56, 60.0, None),  # exactly the surplus bound is no surplus
    (121, 56, 60.5, "surplus"),
    (0, 56, 0.0, "shortage"),  # sold out
    (5, 0, None, "surplus"),  # holds what does not sell
])
def test_the_flags_at_their_bounds(on_hand, sold, cover, flag):
    [row] = board.days_of_cover([Cases(EAST, SKU, on_hand)], [], [Cases(EAST, SKU, sold)] if sold else [])
    assert (row["days_of_cover"], row["flag"]) == (cover, flag)


def test_a_region_that_neither_holds_nor_sells_has_no_flag():
    [row] = board.days_of_cover([], [Cases(EAST, SKU, 10)], [])
    assert (row["on_hand"], row["days_of_cover"], row["flag"]) == (0, None, None)


def test_the_rules_are_the_settings():
    rule = CoverRules(window_days=7, shortage_days=2, surplus_days=10)
    [row] = board.days_of_cover([Cases(EAST, SKU, 3)], [], [Cases(EAST, SKU, 14)], rule)
    assert (row["daily_sales"], row["days_of_cover"], row["flag"]) == (2.0, 1.5, "shortage")


# ------------------------------------------------------------------------------------------ from the mirror

WAREHOUSE, EAST_DISTRIBUTOR, EAST_STORE, NORTH_DISTRIBUTOR, NORTH_STORE = 1, 100, 101, 200, 201
SITES = {WAREHOUSE: (50, EAST, OrgKind.warehouse), EAST_DISTRIBUTOR: (60, EAST, OrgKind.distributor),
         EAST_STORE: (61, EAST, OrgKind.store), NORTH_DISTRIBUTOR: (70, NORTH, OrgKind.distributor),
         NORTH_STORE: (71, NORTH, OrgKind.store)}
LOT = SKU << 160 | 1


@pytest.fixture
def mirror(database_url):
    engine = open_database(database_url)
    migrate(engine)
    log = iter(range(1, 1_000))
    with engine.begin() as conn:
        for loc, (org, region, kind) in SITES.items():
            conn.execute(insert(locations).values(id=loc, org=org, region=region, kind=int(kind), name=f"site {loc}",
                                                  gln=f"{loc:013d}", active=True))
        for loc, cases in ((WAREHOUSE, 5_000), (EAST_STORE, 6), (NORTH_DISTRIBUTOR, 1_500), (NORTH_STORE, 500)):
            conn.execute(insert(stock_balances).values(location=loc, lot=LOT, sku=SKU, cases=cases))
        conn.execute(insert(stock_in_transit).values(to_location=EAST_STORE, lot=LOT, sku=SKU, cases=20))

        def decommission(location, cases, days_ago, reason=0):
            conn.execute(insert(decommissions).values(block_number=1, log_index=next(log), location=location,
                                                      lot=LOT, sku=SKU, cases=cases, reason=reason,
                                                      recorded_by="0x" + "01" * 20, time=NOW - int(days_ago * DAY)))

        decommission(EAST_STORE, 50, 1)
        decommission(EAST_DISTRIBUTOR, 6, 27.9)
        decommission(EAST_STORE, 300, 28.1)  # before the window
        decommission(EAST_STORE, 40, 2, reason=1)  # damaged: written off, not sold
        decommission(WAREHOUSE, 99, 3)  # the brand's own sale at a warehouse is not the region's channel
        decommission(NORTH_STORE, 28, 10)
        seal_mirror(conn, NOW)
    yield engine
    engine.dispose()


def cover(engine, caller, **filters) -> list[tuple]:
    with engine.connect() as conn:
        answer = reads.stock_cover(conn, caller, CoverRules(), **filters)
    assert answer["as_of"] == NOW  # the mirror's newest block, not the wall clock
    return [(r["region"], r["on_hand"], r["in_transit"], r["sold"], r["days_of_cover"], r["flag"])
            for r in answer["rows"]]


def test_the_brand_sees_the_hand_worked_cover_of_every_region(mirror):
    assert cover(mirror, member(OrgKind.brand, 1)) == [
        (EAST, 6, 20, 56, 3.0, "shortage"),
        (NORTH, 2_000, 0, 28, 2_000.0, "surplus"),
    ]


def test_an_auditor_sees_what_the_brand_sees_and_a_filter_narrows_it(mirror):
    auditor = member(OrgKind.auditor, 90)
    assert cover(mirror, auditor) == cover(mirror, member(OrgKind.brand, 1))
    assert cover(mirror, auditor, region=NORTH) == [(NORTH, 2_000, 0, 28, 2_000.0, "surplus")]
    assert cover(mirror, auditor, sku=OTHER_SKU) == []


def test_regional_staff_see_only_their_region(mirror):
    assert cover(mirror, member(OrgKind.region, EAST, region=EAST)) == [(EAST, 6, 20, 56, 3.0, "shortage")]
    assert cover(mirror, member(OrgKind.region, EAST, region=EAST), region=NORTH) == []


def test_a_store_sees_only_the_cover_of_its_own_shelves(mirror):
    store = member(OrgKind.store, 61, region=EAST, locations_run=frozenset({EAST_STORE}))
    # Its own 6 cases and 20 on their way, against its own 50 sold (the distributor's 6 are not its sales).
    assert cover(mirror, store) == [(EAST, 6, 20, 50, 3.4, "shortage")]


def test_a_carrier_sees_no_stock_cover(mirror):
    assert cover(mirror, member(OrgKind.carrier, 80)) == []
