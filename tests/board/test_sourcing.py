"""Smart sourcing on the brand's board, against figures worked out by hand: which warehouse should ship an
order (cover 0.6, lead time 0.25 and cost 0.15 of the score; a shipment costs 200 yuan, 5 a case and 0.5 a case
per hour on the road), and which warehouses should transfer how many cases so that a short region is covered
for 30 days again, from stock beyond what their own regions need. Each member sees the choices of the stock it
may see, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from indexer.db import migrate, open_database
from indexer.schema import (
    decommissions,
    locations,
    lots,
    order_lines,
    orders,
    organisations,
    shipment_lines,
    shipments,
    skus,
    stock_balances,
    stock_in_transit,
    transfer_lines,
    transfers,
)
from ledger_api import board, board_reads, sourcing
from ledger_api.board import Cases, CoverRules
from ledger_api.delays import DelayRules, Journey
from ledger_api.sourcing import FreeLot, LeadTimes, Names, OrderNeed, SourcingRules
from ledger_api.vocabulary import OrderState, OrgKind, ShipmentKind, ShipmentState, TransferState
from tests.board.mirror_rows import member, seal_mirror

H, DAY = 3_600, 86_400
NOW = 1_790_000_000
EAST, NORTH = 10, 11
SKU, OTHER_SKU = 7, 8
SHANGHAI, BEIJING, CHENGDU, WUHAN = 1, 2, 3, 4  # warehouses
EAST_DEPOT, NORTH_DEPOT = 100, 200
CARRIER, OTHER_CARRIER = 80, 81
RULES = SourcingRules()


def lot(n: int, sku: int = SKU) -> int:
    return sku << 160 | n


def free(location: int, *lots_: tuple[int, int]) -> list[FreeLot]:
    """(lot number, cases) oldest first."""
    return [FreeLot(location, SKU, lot(n), cases, (age, n)) for age, (n, cases) in enumerate(lots_)]


def deliveries(source: int, region: int, hours: int, carrier: int = CARRIER, count: int = 3) -> list[Journey]:
    return [Journey(source * 100 + i, carrier, source, 999, region, NOW - 10 * DAY, NOW, NOW - 10 * DAY + hours * H)
            for i in range(count)]


# ------------------------------------------------------------------------------------------------ an order


def test_the_warehouse_that_covers_the_order_wins_over_a_faster_cheaper_one_that_cannot():
    lead = LeadTimes(deliveries(SHANGHAI, EAST, 24) + deliveries(BEIJING, EAST, 48, OTHER_CARRIER), RULES)
    stock = {SHANGHAI: free(SHANGHAI, (1, 100), (2, 200)), BEIJING: free(BEIJING, (3, 250), (4, 350))}
    need = OrderNeed(42, EAST_DEPOT, EAST, {SKU: 500})
    best, second = sourcing.source_order(need, stock, lead, {BEIJING: "Beijing warehouse"}, NOW)
    # Beijing: all 500 cases, 48 h, 200 + 500 × (5 + 0.5 × 48) = 14,700 yuan, 29.40 a case.
    # Shanghai: 300 cases, 24 h, 200 + 300 × (5 + 12) = 5,300 yuan, 17.67 a case.
    # Beijing: 0.6 × 1 + 0.25 × 24/48 + 0.15 × 17.67/29.40 = 0.8151; Shanghai: 0.6 × 0.6 + 0.25 + 0.15 = 0.76.
    assert best == {
        "warehouse": BEIJING, "name": "Beijing warehouse", "available_cases": 500, "covers_order": True,
        "lead_time_hours": 48.0, "cost_yuan": 14_700.0, "score": 0.8151, "rank": 1,
        "reason": "Beijing warehouse can send all cases the order still needs from free stock, oldest lots first; "
                  "the fastest carrier's median over 3 deliveries on the lane: 48 h; shipping costs 14,700.00 yuan "
                  "(29.40 a case: 200 a shipment, 5 a case handled, 0.5 a case per hour on the road).",
        "dispatch": {"kind": "order", "ref": 42, "from_location": BEIJING, "to_location": EAST_DEPOT,
                     "carrier": OTHER_CARRIER, "eta": NOW + 48 * H,
                     "lines": [{"lot": str(lot(3)), "cases": 250}, {"lot": str(lot(4)), "cases": 250}]}}
    assert (second["warehouse"], second["name"], second["available_cases"], second["covers_order"],
            second["cost_yuan"], second["score"], second["rank"]) == (
        SHANGHAI, f"location {SHANGHAI}", 300, False, 5_300.0, 0.76, 2)
    assert second["dispatch"]["lines"] == [{"lot": str(lot(1)), "cases": 100}, {"lot": str(lot(2)), "cases": 200}]


def test_equal_warehouses_rank_by_location():
    lead = LeadTimes(deliveries(SHANGHAI, EAST, 24) + deliveries(BEIJING, EAST, 24), RULES)
    options = sourcing.source_order(OrderNeed(1, EAST_DEPOT, EAST, {SKU: 50}),
                                    {BEIJING: free(BEIJING, (3, 80)), SHANGHAI: free(SHANGHAI, (1, 80))}, lead, {}, NOW)
    assert [(o["warehouse"], o["score"], o["rank"]) for o in options] == [(SHANGHAI, 1.0, 1), (BEIJING, 1.0, 2)]


def test_an_order_with_nothing_in_stock_or_nothing_left_to_ship_has_no_options():
    lead = LeadTimes([], RULES)
    assert sourcing.source_order(OrderNeed(1, EAST_DEPOT, EAST, {OTHER_SKU: 5}), {SHANGHAI: free(SHANGHAI, (1, 9))},
                                 lead, {}, NOW) == []
    assert sourcing.source_order(OrderNeed(1, EAST_DEPOT, EAST, {}), {SHANGHAI: free(SHANGHAI, (1, 9))}, lead, {},
                                 NOW) == []


def test_the_lead_time_is_the_fastest_carrier_on_the_lane_else_the_warehouse_anywhere_else_assumed():
    lead = LeadTimes(deliveries(SHANGHAI, EAST, 30) + deliveries(SHANGHAI, EAST, 20, OTHER_CARRIER, count=1)
                     + deliveries(BEIJING, NORTH, 10, OTHER_CARRIER) + deliveries(BEIJING, NORTH, 40, count=2),
                     RULES, carriers=[OTHER_CARRIER, CARRIER])
    assert (lead.of((SHANGHAI, EAST, 0)).hours, lead.of((SHANGHAI, EAST, 0)).carrier) == (20.0, OTHER_CARRIER)
    # No delivery to East: the median of its five anywhere (10, 10, 10, 40, 40), by its most used carrier.
    assert (lead.of((BEIJING, EAST, 0)).hours, lead.of((BEIJING, EAST, 0)).carrier) == (10.0, OTHER_CARRIER)
    assert (lead.of((CHENGDU, EAST, 0)).hours, lead.of((CHENGDU, EAST, 0)).carrier) == (72.0, CARRIER)
    assert LeadTimes([], RULES).of((CHENGDU, EAST, 0)).carrier is None


def test_with_no_carrier_to_book_an_option_has_no_dispatch():
    [option] = sourcing.source_order(OrderNeed(1, EAST_DEPOT, EAST, {SKU: 5}), {SHANGHAI: free(SHANGHAI, (1, 9))},
                                     LeadTimes([], RULES), {}, NOW)
    assert (option["lead_time_hours"], option["dispatch"]) == (72.0, None)


def test_the_cost_model_and_the_weights_are_the_settings():
    rules = SourcingRules(shipment_yuan=0, handling_yuan_per_case=1, freight_yuan_per_case_hour=0,
                          weight_cover=0, weight_lead_time=0, weight_cost=1)
    assert sourcing.cost_yuan(10, 99, rules) == 10.0
    lead = LeadTimes(deliveries(SHANGHAI, EAST, 24) + deliveries(BEIJING, EAST, 96), rules)
    options = sourcing.source_order(OrderNeed(1, EAST_DEPOT, EAST, {SKU: 50}),
                                    {SHANGHAI: free(SHANGHAI, (1, 10)), BEIJING: free(BEIJING, (2, 50))}, lead, {},
                                    NOW, rules)
    assert [(o["warehouse"], o["score"]) for o in options] == [(SHANGHAI, 1.0), (BEIJING, 1.0)]  # a tie: faster
    free_of_charge = SourcingRules(shipment_yuan=0, handling_yuan_per_case=0, freight_yuan_per_case_hour=0)
    options = sourcing.source_order(OrderNeed(1, EAST_DEPOT, EAST, {SKU: 50}),
                                    {SHANGHAI: free(SHANGHAI, (1, 10)), BEIJING: free(BEIJING, (2, 50))}, lead, {},
                                    NOW, free_of_charge)
    # Cover 0.6 × 1 + lead time 0.25 × 24/96 + cost 0.15 = 0.8125 against 0.6 × 0.2 + 0.25 + 0.15 = 0.52.
    assert [(o["warehouse"], o["cost_yuan"], o["score"]) for o in options] == [(BEIJING, 0.0, 0.8125),
                                                                               (SHANGHAI, 0.0, 0.52)]


# ------------------------------------------------------------------------------------------------ transfers

# East's channel holds 6 cases and awaits 20, selling 2 a day: 13 days; 34 more bring it to 30 days. North holds
# 2,000 and sells 1 a day. Shanghai serves East and keeps 30 × 2 = 60 for it; Beijing serves North, keeping 30.
COVER = board.days_of_cover([Cases(EAST, SKU, 6), Cases(NORTH, SKU, 2_000)], [Cases(EAST, SKU, 20)],
                            [Cases(EAST, SKU, 56), Cases(NORTH, SKU, 28)])
SUPPLIED = {EAST: {SHANGHAI: 300}, NORTH: {BEIJING: 100}}
NAMES = Names({SHANGHAI: "Shanghai warehouse", BEIJING: "Beijing warehouse", CHENGDU: "Chengdu warehouse"},
              {EAST: "East China"}, {SKU: "Moutai-style 53%"})


def suggest(stock, coming=None, supplied=SUPPLIED, lead=None) -> list[dict]:
    lead = lead or LeadTimes(deliveries(BEIJING, NORTH, 24), RULES, carriers=[CARRIER])
    return sourcing.transfer_suggestions(COVER, 28, stock, coming or {}, supplied, lead, NAMES, RULES)


def test_a_short_region_is_covered_from_the_spare_stock_of_other_warehouses_best_first():
    suggestions = suggest({SHANGHAI: free(SHANGHAI, (1, 10)), BEIJING: free(BEIJING, (2, 15), (3, 25)),
                           CHENGDU: free(CHENGDU, (4, 20))})
    # Shanghai sends its own 10; 24 are lacking. Beijing spares 40 - 30 = 10, Chengdu all its 20 (it serves no
    # region). Chengdu: 20 cases, an assumed 72 h, 200 + 20 × 41 = 1,020 yuan (51 a case): 0.6 × 20/24 +
    # 0.25 × 24/72 + 0.15 × 37/51 = 0.6922. Beijing: 10 cases, 24 h (its deliveries anywhere), 370 yuan (37 a
    # case): 0.6 × 10/24 + 0.25 + 0.15 = 0.65. Chengdu first; Beijing then sends the 4 still lacking.
    first, second = suggestions
    assert first == {
        "id": f"{EAST}-{SKU}-{CHENGDU}-{SHANGHAI}", "sku": SKU, "sku_name": "Moutai-style 53%", "region": EAST,
        "region_name": "East China", "from_location": CHENGDU, "from_name": "Chengdu warehouse",
        "to_location": SHANGHAI, "to_name": "Shanghai warehouse", "cases": 20, "lead_time_hours": 72.0,
        "cost_yuan": 1_020.0, "score": 0.6922,
        "reason": "East China holds and awaits 26 cases of Moutai-style 53%, 13.0 days at 2.00 a day; 34 more bring "
                  "it to 30 days. Shanghai warehouse, its home warehouse, can send 10 itself; Chengdu warehouse has "
                  "20 beyond what its own regions need and sends 20; no delivery from it yet, so the assumed lead "
                  "time: 72 h; the transfer costs 1,020.00 yuan (51.00 a case: 200 a shipment, 5 a case handled, 0.5 "
                  "a case per hour on the road).",
        "cover_days_before": 13.0, "cover_days_after": 28.0,
        "request": {"from_location": CHENGDU, "to_location": SHANGHAI,
                    "lines": [{"lot": str(lot(4)), "cases": 20}]}}
    assert (second["from_location"], second["cases"], second["lead_time_hours"], second["cost_yuan"],
            second["score"], second["cover_days_after"], second["request"]["lines"]) == (
        BEIJING, 4, 24.0, 268.0, 0.65, 30.0, [{"lot": str(lot(2)), "cases": 4}])


def test_the_best_source_alone_when_it_covers_what_is_lacking():
    [only] = suggest({SHANGHAI: free(SHANGHAI, (1, 10)), BEIJING: free(BEIJING, (2, 40)),
                      CHENGDU: free(CHENGDU, (4, 50))})
    # Chengdu can send all 24: 0.6 + 0.25 × 24/72 + 0.15 × 37/49.33 = 0.7958; Beijing 10: 0.65.
    assert (only["from_location"], only["cases"], only["cost_yuan"], only["score"]) == (CHENGDU, 24, 1_184.0, 0.7958)


def test_no_transfer_when_the_home_warehouse_or_stock_on_its_way_covers_the_region():
    assert suggest({SHANGHAI: free(SHANGHAI, (1, 34)), CHENGDU: free(CHENGDU, (4, 50))}) == []
    assert suggest({SHANGHAI: free(SHANGHAI, (1, 10)), CHENGDU: free(CHENGDU, (4, 50))},
                   coming={(SHANGHAI, SKU): 24}) == []  # a transfer already asked for: not suggested twice


def test_no_transfer_without_spare_stock_or_a_warehouse_serving_the_region():
    assert suggest({SHANGHAI: free(SHANGHAI, (1, 10)), BEIJING: free(BEIJING, (2, 30))}) == []
    assert suggest({SHANGHAI: free(SHANGHAI, (1, 10)), CHENGDU: free(CHENGDU, (4, 50))},
                   supplied={NORTH: {BEIJING: 100}}) == []
    assert suggest({}) == []


def test_a_home_warehouse_short_for_its_other_regions_is_made_up_first_and_then_not_suggested_again():
    serving_both = {EAST: {SHANGHAI: 300}, NORTH: {SHANGHAI: 100}}
    stock = {SHANGHAI: free(SHANGHAI, (1, 10)), CHENGDU: free(CHENGDU, (4, 100))}
    [only] = suggest(stock, supplied=serving_both)
    # Shanghai keeps 60 for East and 30 for North but holds 10: 20 short of North's 30 before East's gap of 34.
    assert (only["from_location"], only["to_location"], only["cases"], only["cover_days_after"]) == (
        CHENGDU, SHANGHAI, 54, 30.0)
    assert "Shanghai warehouse, its home warehouse, has none to spare and lacks 20 for its other regions" in (
        only["reason"])
    assert suggest(stock, coming={(SHANGHAI, SKU): 54}, supplied=serving_both) == []


def test_stock_on_its_way_to_a_warehouse_is_spare_but_cannot_be_sent_on_yet():
    assert suggest({SHANGHAI: free(SHANGHAI, (1, 10))}, coming={(CHENGDU, SKU): 500}) == []


# ------------------------------------------------------------------------------------------ from the mirror

SITES = {SHANGHAI: (50, 0, OrgKind.warehouse, "Shanghai warehouse"),
         BEIJING: (51, 0, OrgKind.warehouse, "Beijing warehouse"),
         CHENGDU: (52, 0, OrgKind.warehouse, "Chengdu warehouse"), WUHAN: (53, 0, OrgKind.warehouse, "Wuhan warehouse"),
         EAST_DEPOT: (60, EAST, OrgKind.distributor, "Hangzhou depot"),
         NORTH_DEPOT: (70, NORTH, OrgKind.distributor, "Beijing depot")}
ORGS = {EAST: (OrgKind.region, "East China"), NORTH: (OrgKind.region, "North China"),
        CARRIER: (OrgKind.carrier, "Changjiang Express"), OTHER_CARRIER: (OrgKind.carrier, "Huabei Freight")}
ORDER, DISPATCHED_ORDER = 42, 43


@pytest.fixture
def mirror(database_url):
    engine = open_database(database_url)
    migrate(engine)
    log = iter(range(1, 1_000))
    ids = iter(range(1, 1_000))
    with engine.begin() as conn:
        for org, (kind, name) in ORGS.items():
            conn.execute(insert(organisations).values(id=org, kind=int(kind), parent=1, region=0, price_tier=0,
                                                      name=name, code=name[:8], registered_at=NOW - 90 * DAY))
        for loc, (org, region, kind, name) in SITES.items():
            conn.execute(insert(locations).values(id=loc, org=org, region=region, kind=int(kind), name=name,
                                                  gln=f"{loc:013d}", active=True))
        conn.execute(insert(skus).values(id=SKU, gtin="06901234567892", bottles_per_case=6, name="Moutai-style 53%",
                                         content_cid="", active=True))
        for n, age_days, recalled in ((1, 100, False), (2, 50, False), (3, 40, False), (4, 30, True)):
            conn.execute(insert(lots).values(
                id=lot(n), sku=SKU, lot_number=f"0x{n:040x}", location=SHANGHAI, cases=1_000, bottles=6_000,
                merkle_root="0x" + "00" * 32, document_cid="", recalled=recalled,
                commissioned_at=NOW - age_days * DAY, tx_hash="0x" + "04" * 32))
        # Shanghai 10; Beijing 15 + 25; Chengdu 30 of which 10 are promised to Wuhan, and 100 of a recalled lot.
        for loc, n, cases in ((SHANGHAI, 1, 10), (BEIJING, 1, 15), (BEIJING, 2, 25), (CHENGDU, 3, 30),
                              (CHENGDU, 4, 100), (EAST_DEPOT, 1, 6), (NORTH_DEPOT, 1, 2_000)):
            conn.execute(insert(stock_balances).values(location=loc, lot=lot(n), sku=SKU, cases=cases))
        conn.execute(insert(stock_in_transit).values(to_location=EAST_DEPOT, lot=lot(1), sku=SKU, cases=20))
        conn.execute(insert(transfers).values(id=1, from_location=CHENGDU, to_location=WUHAN,
                                              state=int(TransferState.requested), cases=10,
                                              requested_by="0x" + "05" * 20, requested_at=NOW - DAY))
        conn.execute(insert(transfer_lines).values(transfer_id=1, line_no=0, lot=lot(3), sku=SKU, cases=10))
        for location, cases, days_ago in ((EAST_DEPOT, 56, 3), (NORTH_DEPOT, 28, 5)):
            conn.execute(insert(decommissions).values(block_number=1, log_index=next(log), location=location,
                                                      lot=lot(1), sku=SKU, cases=cases, reason=0,
                                                      recorded_by="0x" + "01" * 20, time=NOW - days_ago * DAY))

        def shipment(source, to, cases, hours, carrier, kind=ShipmentKind.order, ref=0, state=ShipmentState.received):
            shipment_id = next(ids)
            start = NOW - 20 * DAY
            conn.execute(insert(shipments).values(
                id=shipment_id, kind=int(kind), ref=ref, from_location=source, to_location=to, carrier=carrier,
                eta=start + 100 * H, document_cid="", owner=1, state=int(state), cases=cases,
                dispatched_by="0x" + "01" * 20, dispatched_at=start, received_at=start + hours * H,
                tx_hash="0x" + "02" * 32))
            conn.execute(insert(shipment_lines).values(shipment_id=shipment_id, line_no=0, lot=lot(1), sku=SKU,
                                                       cases=cases))

        shipment(SHANGHAI, EAST_DEPOT, 300, 24, CARRIER, ref=ORDER)  # order 42's first 300 cases
        for cases in (34, 33, 33):
            shipment(BEIJING, NORTH_DEPOT, cases, 24, OTHER_CARRIER, ref=DISPATCHED_ORDER)
        for order_id, state, region, depot in ((ORDER, OrderState.partially_dispatched, EAST, EAST_DEPOT),
                                               (DISPATCHED_ORDER, OrderState.dispatched, NORTH, NORTH_DEPOT)):
            conn.execute(insert(orders).values(
                id=order_id, distributor=SITES[depot][0], region=region, deliver_to=depot, urgent=True,
                required_stages=7, approved_stages=7, amount=0, state=int(state), cases_ordered=500 if
                order_id == ORDER else 100, cases_dispatched=300 if order_id == ORDER else 100,
                submitted_by="0x" + "06" * 20, submitted_at=NOW - 21 * DAY, tx_hash="0x" + "07" * 32))
            conn.execute(insert(order_lines).values(order_id=order_id, line_no=0, sku=SKU,
                                                    cases=500 if order_id == ORDER else 100, unit_price=0))
        seal_mirror(conn, NOW)
    yield engine
    engine.dispose()


BRAND = member(OrgKind.brand, 1)


def suggestions(engine, caller, **filters) -> list[tuple]:
    with engine.connect() as conn:
        answer = board_reads.transfer_suggestions(conn, caller, CoverRules(), RULES, DelayRules(), **filters)
    assert answer["as_of"] == NOW
    assert answer["weights"] == {"cover": 0.6, "lead_time": 0.25, "cost": 0.15}
    return [(s["from_location"], s["to_location"], s["cases"], s["request"]["lines"]) for s in answer["suggestions"]]


def test_the_mirror_gives_the_hand_worked_transfers_from_free_stock_only(mirror):
    # As in the first hand-worked case: Chengdu's free stock is 20 (10 promised, the recalled lot never), and
    # Wuhan, awaiting those 10, has nothing it could send on.
    assert suggestions(mirror, BRAND) == [(CHENGDU, SHANGHAI, 20, [{"lot": str(lot(3)), "cases": 20}]),
                                          (BEIJING, SHANGHAI, 4, [{"lot": str(lot(1)), "cases": 4}])]
    with mirror.connect() as conn:
        [first, _] = board_reads.transfer_suggestions(conn, BRAND, CoverRules(), RULES, DelayRules())["suggestions"]
    assert (first["id"], first["sku_name"], first["region_name"], first["from_name"], first["to_name"],
            first["score"]) == ("10-7-3-1", "Moutai-style 53%", "East China", "Chengdu warehouse",
                                "Shanghai warehouse", 0.6922)


def test_transfer_suggestions_narrow_to_a_region_and_a_sku(mirror):
    auditor = member(OrgKind.auditor, 90)
    assert suggestions(mirror, auditor) == suggestions(mirror, BRAND)
    assert len(suggestions(mirror, auditor, region=EAST, sku=SKU)) == 2
    assert suggestions(mirror, auditor, region=NORTH) == []
    assert suggestions(mirror, auditor, sku=OTHER_SKU) == []


def test_transfer_suggestions_within_each_members_reach(mirror):
    assert len(suggestions(mirror, member(OrgKind.region, EAST, region=EAST))) == 2
    assert suggestions(mirror, member(OrgKind.region, NORTH, region=NORTH)) == []
    chengdu = member(OrgKind.warehouse, 52, locations_run=frozenset({CHENGDU}))
    assert [s[0] for s in suggestions(mirror, chengdu)] == [CHENGDU]
    shanghai = member(OrgKind.warehouse, 50, locations_run=frozenset({SHANGHAI}))
    assert len(suggestions(mirror, shanghai)) == 2
    for other in (member(OrgKind.distributor, 60, region=EAST, locations_run=frozenset({EAST_DEPOT})),
                  member(OrgKind.store, 61, region=EAST, locations_run=frozenset({101})),
                  member(OrgKind.carrier, CARRIER)):
        assert suggestions(mirror, other) == []


def sourcing_of(engine, caller, order_id: int = ORDER) -> dict | None:
    with engine.connect() as conn:
        return board_reads.order_sourcing(conn, caller, RULES, DelayRules(), order_id)


def test_the_mirror_sources_what_the_order_still_needs(mirror):
    answer = sourcing_of(mirror, BRAND)
    # 200 of the 500 cases are still to ship. Beijing: 40 cases, 24 h (its deliveries anywhere), 880 yuan (22 a
    # case): 0.6 × 40/200 + 0.25 + 0.15 = 0.52. Shanghai: 10 cases, 24 h on the lane, 370 yuan (37 a case):
    # 0.03 + 0.25 + 0.15 × 22/37 = 0.3692. Chengdu: 20 free cases, 72 h assumed, 1,020 yuan (51 a case):
    # 0.06 + 0.25 × 24/72 + 0.15 × 22/51 = 0.208.
    assert [(o["warehouse"], o["available_cases"], o["lead_time_hours"], o["cost_yuan"], o["score"], o["rank"])
            for o in answer["options"]] == [(BEIJING, 40, 24.0, 880.0, 0.52, 1), (SHANGHAI, 10, 24.0, 370.0, 0.3692, 2),
                                            (CHENGDU, 20, 72.0, 1_020.0, 0.208, 3)]
    assert (answer["order"], answer["recommended"]) == (ORDER, BEIJING)
    assert answer["options"][0]["dispatch"] == {
        "kind": "order", "ref": ORDER, "from_location": BEIJING, "to_location": EAST_DEPOT, "carrier": OTHER_CARRIER,
        "eta": NOW + 24 * H, "lines": [{"lot": str(lot(1)), "cases": 15}, {"lot": str(lot(2)), "cases": 25}]}
    assert answer["options"][2]["dispatch"]["carrier"] == CARRIER  # no history: the first carrier
    assert sourcing_of(mirror, BRAND, DISPATCHED_ORDER) == {"order": DISPATCHED_ORDER, "options": [],
                                                            "recommended": None}
    assert sourcing_of(mirror, BRAND, 999) is None


def test_order_sourcing_within_each_members_reach(mirror):
    assert sourcing_of(mirror, member(OrgKind.auditor, 90)) == sourcing_of(mirror, BRAND)
    assert sourcing_of(mirror, member(OrgKind.region, EAST, region=EAST)) == sourcing_of(mirror, BRAND)
    assert sourcing_of(mirror, member(OrgKind.region, NORTH, region=NORTH)) is None
    own = sourcing_of(mirror, member(OrgKind.distributor, 60, region=EAST, locations_run=frozenset({EAST_DEPOT})))
    assert own == {"order": ORDER, "options": [], "recommended": None}  # its order, not the brand's stock
    assert sourcing_of(mirror, member(OrgKind.distributor, 70, region=NORTH,
                                      locations_run=frozenset({NORTH_DEPOT}))) is None
    shanghai = sourcing_of(mirror, member(OrgKind.warehouse, 50, locations_run=frozenset({SHANGHAI})))
    assert ([o["warehouse"] for o in shanghai["options"]], shanghai["recommended"]) == ([SHANGHAI], None)
    assert sourcing_of(mirror, member(OrgKind.store, 61, region=EAST, locations_run=frozenset({101}))) is None
    assert sourcing_of(mirror, member(OrgKind.carrier, CARRIER)) is None
