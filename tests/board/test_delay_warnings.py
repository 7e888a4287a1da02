"""The delivery-delay warning on the brand's board, against figures worked out by hand: three past deliveries
of a carrier on a lane took 40, 48 and 56 hours and reported reaching a hub halfway; a shipment that reaches
the hub 30 hours out is on course for 60 hours and misses an ETA 50 hours out, with two chances in three. The
backtest replays the prediction at each shipment's dispatch and checkpoints with only what was known then.
Each member sees the warnings of the shipments it may see, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from indexer.db import migrate, open_database
from indexer.schema import blocks, locations, organisations, shipment_checkpoints, shipments, sync_state
from ledger_api import board_reads, delays
from ledger_api.caller import Caller
from ledger_api.delays import Checkpoint, DelayRules, History, Journey
from ledger_api.vocabulary import OrgKind, Role, ShipmentKind, ShipmentState

H = 3_600
T0 = 1_790_000_000  # the history's first dispatch
D = T0 + 10 * 24 * H  # the shipments under test leave after the history arrived
CARRIER, OTHER_CARRIER = 80, 81
EAST, NORTH = 10, 11
WAREHOUSE, EAST_DEPOT, NORTH_DEPOT = 1, 100, 200
HUB = 2  # the carrier's "at hub" checkpoint


def delivered(shipment: int, hours: int, start: int = T0, carrier: int = CARRIER, to_region: int = EAST,
              hub_share: float | None = 0.5, eta_hours: int = 60) -> Journey:
    """A past delivery that took `hours`, reporting the hub `hub_share` of the way."""
    stops = () if hub_share is None else (Checkpoint(start + int(hours * hub_share * H), HUB, "Nanjing hub"),)
    return Journey(shipment, carrier, WAREHOUSE, EAST_DEPOT, to_region, start, start + eta_hours * H,
                   start + hours * H, stops)


HISTORY = [delivered(1, 40), delivered(2, 48, T0 + H), delivered(3, 56, T0 + 2 * H)]


def on_road(shipment: int = 9, eta_hours: int = 50, hub_at: int | None = 30, carrier: int = CARRIER,
            to_region: int = EAST) -> Journey:
    stops = () if hub_at is None else (Checkpoint(D + hub_at * H, HUB, "Nanjing hub"),)
    return Journey(shipment, carrier, WAREHOUSE, EAST_DEPOT, to_region, D, D + eta_hours * H, None, stops)


def test_a_shipment_reaching_the_hub_late_is_predicted_to_miss_its_eta():
    p = delays.predict(on_road(), History(HISTORY), D + 30 * H)
    # Past deliveries reached the hub halfway; 30 h to the hub means 60 h in all, 1.25 times the usual 48:
    # 40, 48 and 56 become 50, 60 and 70 hours; the median 60 is 10 h past the ETA, and 60 and 70 miss it.
    assert (p.predicted_arrival, p.hours_late, p.risk, p.late) == (D + 60 * H, 10.0, 0.6667, True)
    assert p.reason == (
        "Deliveries by its carrier on this lane took a median 48.0 h (3 deliveries); it reported \"at hub\" at "
        "Nanjing hub 30.0 h after dispatch, where past deliveries reported it 50% of the way, so it runs at 1.25× "
        "the usual time; expected 60.0 h after dispatch against 50.0 h to its ETA; 2 of 3 comparable deliveries "
        "at this pace would miss it.")


def test_without_a_checkpoint_the_usual_journey_decides():
    p = delays.predict(on_road(hub_at=None), History(HISTORY), D + 30 * H)
    assert (p.predicted_arrival, p.risk, p.late) == (D + 48 * H, 0.3333, False)


def test_arriving_exactly_on_the_eta_is_not_late():
    p = delays.predict(on_road(eta_hours=48, hub_at=None), History(HISTORY), D + H)
    assert (p.predicted_arrival, p.hours_late, p.late) == (D + 48 * H, 0.0, False)
    assert delays.at_risk([on_road(eta_hours=48, hub_at=None)], History(HISTORY), D + H) == []


def test_a_shipment_past_its_eta_is_certain_to_be_late():
    p = delays.predict(on_road(hub_at=None), History(HISTORY), D + 60 * H)
    # Every possible arrival is at least now, 60 h out, past the ETA at 50.
    assert (p.predicted_arrival, p.hours_late, p.risk) == (D + 60 * H, 10.0, 1.0)
    assert "past its ETA by 10.0 h and not received" in p.reason


def test_with_no_history_nothing_is_predicted_until_the_eta_passes():
    assert delays.predict(on_road(), History([]), D + 30 * H) is None
    p = delays.predict(on_road(), History([]), D + 51 * H)
    assert (p.predicted_arrival, p.hours_late, p.risk) == (D + 51 * H, 1.0, 1.0)
    assert p.reason == ("It is past its ETA by 1.0 h and not received; no delivered shipment of its carrier or "
                        "lane to compare it with.")


def test_too_few_deliveries_of_the_carrier_on_the_lane_fall_back_to_the_lane_then_the_carrier():
    mixed = [HISTORY[0], delivered(2, 48, T0 + H, carrier=OTHER_CARRIER), delivered(3, 56, T0 + 2 * H)]
    p = delays.predict(on_road(hub_at=None), History(mixed), D)
    assert p.reason.startswith("Deliveries by any carrier on this lane took a median 48.0 h (3 deliveries)")
    elsewhere = [delivered(i, 20 + i, to_region=NORTH) for i in (1, 2, 3)]
    p = delays.predict(on_road(hub_at=None), History(elsewhere), D)
    assert p.reason.startswith("Deliveries by its carrier on any lane took a median 22.0 h (3 deliveries)")
    assert delays.predict(on_road(hub_at=None), History(elsewhere), D, DelayRules(min_history=4)) is None


def test_only_deliveries_received_by_the_moment_of_the_prediction_count():
    history = History(HISTORY)
    assert delays.predict(on_road(hub_at=None), history, T0 + 56 * H) is None  # the third not received yet
    assert delays.predict(on_road(hub_at=None), history, T0 + 58 * H) is not None


def test_the_warnings_come_highest_risk_first_then_latest_then_by_id():
    history = History(HISTORY)
    late_a, late_b = on_road(shipment=5), on_road(shipment=4)  # the same risk and lateness: by id
    later = on_road(shipment=6, eta_hours=45)  # 60 h against 45: 15 h late, and all three miss it
    fine = on_road(shipment=7, hub_at=20)  # on course for 40 h
    flagged = delays.at_risk([late_a, fine, later, late_b], history, D + 30 * H)
    assert [(p.shipment, p.risk, p.hours_late) for p in flagged] == [(6, 1.0, 15.0), (4, 0.6667, 10.0),
                                                                      (5, 0.6667, 10.0)]


def received(shipment: int, eta_hours: int, arrived_hours: int, hub_at: int | None = None) -> Journey:
    stops = () if hub_at is None else (Checkpoint(D + hub_at * H, HUB, "Nanjing hub"),)
    return Journey(shipment, CARRIER, WAREHOUSE, EAST_DEPOT, EAST, D, D + eta_hours * H, D + arrived_hours * H, stops)


def test_the_hand_worked_backtest():
    sample = [
        received(11, 50, 62, hub_at=30),  # flagged at the hub, 20 h before its ETA, and late: caught
        received(12, 50, 45, hub_at=22),  # on course for 44 h and on time
        received(13, 50, 55),  # late, but nothing warned of it
        received(14, 45, 44),  # the usual 48 h passes an ETA of 45 from dispatch on, yet it came in time
    ]
    result = delays.backtest(sample, History(HISTORY + sample))
    assert result == {"shipments": 4, "flagged": 2, "late": 2, "flagged_and_late": 1, "precision": 0.5,
                      "recall": 0.5, "median_warning_hours": 20.0, "method": delays.BACKTEST_METHOD}


def test_a_backtest_with_nothing_flagged_or_late_has_no_ratios():
    result = delays.backtest([received(12, 50, 45, hub_at=22)], History(HISTORY))
    assert (result["flagged"], result["late"], result["precision"], result["recall"],
            result["median_warning_hours"]) == (0, 0, None, None, None)
    assert delays.backtest([], History([]))["shipments"] == 0


# ------------------------------------------------------------------------------------------ from the mirror

NOW = D + 30 * H
SITES = {WAREHOUSE: (50, 0, OrgKind.warehouse, "Shanghai warehouse"),
         EAST_DEPOT: (60, EAST, OrgKind.distributor, "Hangzhou depot"),
         NORTH_DEPOT: (70, NORTH, OrgKind.distributor, "Beijing depot")}
ORGS = {EAST: (OrgKind.region, "East China"), NORTH: (OrgKind.region, "North China"),
        CARRIER: (OrgKind.carrier, "Changjiang Express"), OTHER_CARRIER: (OrgKind.carrier, "Huabei Freight")}


@pytest.fixture
def mirror(database_url):
    engine = open_database(database_url)
    migrate(engine)
    log = iter(range(1, 1_000))
    with engine.begin() as conn:
        for org, (kind, name) in ORGS.items():
            conn.execute(insert(organisations).values(id=org, kind=int(kind), parent=1, region=0, price_tier=0,
                                                      name=name, code=name[:8], registered_at=T0 - 86_400))
        for loc, (org, region, kind, name) in SITES.items():
            conn.execute(insert(locations).values(id=loc, org=org, region=region, kind=int(kind), name=name,
                                                  gln=f"{loc:013d}", active=True))

        def shipment(j: Journey, to: int = EAST_DEPOT, kind=ShipmentKind.order, ref: int = 0):
            conn.execute(insert(shipments).values(
                id=j.shipment, kind=int(kind), ref=ref, from_location=j.from_location, to_location=to,
                carrier=j.carrier, eta=j.eta, document_cid="", owner=1, cases=10, dispatched_by="0x" + "01" * 20,
                dispatched_at=j.dispatched_at, tx_hash="0x" + "02" * 32, received_at=j.received_at,
                state=int(ShipmentState.received if j.received_at else ShipmentState.in_transit)))
            for cp in j.checkpoints:
                conn.execute(insert(shipment_checkpoints).values(
                    block_number=1, log_index=next(log), shipment_id=j.shipment, carrier=j.carrier,
                    status=cp.status, place=cp.place, reported_by="0x" + "03" * 20, time=cp.time))

        for j in HISTORY:
            shipment(j)
        # Received before now, by another carrier: in the backtest, not in the carrier's history of shipment 21.
        start = D - 100 * H
        shipment(Journey(11, OTHER_CARRIER, WAREHOUSE, EAST_DEPOT, EAST, start, start + 50 * H, start + 62 * H,
                         (Checkpoint(start + 10 * H, HUB, "Nanjing hub"),)))
        shipment(on_road(shipment=21), ref=7)  # at the hub 30 h out: flagged
        shipment(on_road(shipment=22, hub_at=20), ref=8)  # on course
        north = on_road(shipment=23, eta_hours=20, hub_at=None, carrier=OTHER_CARRIER, to_region=NORTH)
        shipment(north, to=NORTH_DEPOT, kind=ShipmentKind.order, ref=9)  # past its ETA, no history of its own
        conn.execute(insert(blocks).values(number=9, hash="0x" + "ab" * 32, parent_hash="0x" + "aa" * 32, time=NOW))
        conn.execute(insert(sync_state).values(id=1, network="test", chain_id=1, block_number=9,
                                               block_hash="0x" + "ab" * 32, undecoded=0, updated_at=NOW))
    yield engine
    engine.dispose()


def member(kind: OrgKind, org: int, region: int = 0, locations_run: frozenset[int] = frozenset()) -> Caller:
    return Caller("0x" + "00" * 20, "someone", org, kind, "an organisation", region, Role.admin, 0, locations_run)


def warnings(engine, caller, **filters) -> dict:
    with engine.connect() as conn:
        answer = board_reads.delay_warnings(conn, caller, DelayRules(), **filters)
    assert answer["as_of"] == NOW  # the mirror's newest block, not the wall clock
    return answer


def test_the_brand_sees_every_warning_with_its_names_and_checkpoints(mirror):
    answer = warnings(mirror, member(OrgKind.brand, 1))
    assert [w["shipment"] for w in answer["at_risk"]] == [23, 21]
    north, east = answer["at_risk"]
    assert east == {
        "shipment": 21, "order": 7, "kind": "order", "carrier": CARRIER, "carrier_name": "Changjiang Express",
        "from_location": WAREHOUSE, "from_name": "Shanghai warehouse", "to_location": EAST_DEPOT,
        "to_name": "Hangzhou depot", "region": EAST, "region_name": "East China", "dispatched_at": D,
        "eta": D + 50 * H, "predicted_arrival": D + 60 * H, "hours_late_predicted": 10.0, "risk": 0.6667,
        "reason": delays.predict(on_road(), History(HISTORY), NOW).reason,
        "checkpoints": [{"time": D + 30 * H, "status": HUB, "status_name": "at hub", "place": "Nanjing hub"}]}
    # Its carrier has no delivery to learn from, but 30 h on the road against an ETA of 20 is late for sure.
    assert (north["carrier_name"], north["region_name"], north["risk"], north["hours_late_predicted"]) == (
        "Huabei Freight", "North China", 1.0, 10.0)


def test_the_backtest_counts_the_shipments_received_in_the_window(mirror):
    backtest = warnings(mirror, member(OrgKind.brand, 1))["backtest"]
    # The three deliveries of the history had nothing before them to learn from; shipment 11 reached the hub
    # 10 h out, on course for 20 h, and came 12 h late unwarned.
    assert {k: backtest[k] for k in ("shipments", "flagged", "late", "flagged_and_late", "precision", "recall",
                                     "median_warning_hours")} == {
        "shipments": 4, "flagged": 0, "late": 1, "flagged_and_late": 0, "precision": None, "recall": 0.0,
        "median_warning_hours": None}
    assert backtest["method"] == delays.BACKTEST_METHOD


def test_an_auditor_sees_what_the_brand_sees_and_a_region_narrows_it(mirror):
    assert warnings(mirror, member(OrgKind.auditor, 90)) == warnings(mirror, member(OrgKind.brand, 1))
    north = warnings(mirror, member(OrgKind.auditor, 90), region=NORTH)
    assert ([w["shipment"] for w in north["at_risk"]], north["backtest"]["shipments"]) == ([23], 0)
    assert warnings(mirror, member(OrgKind.brand, 1), region=99)["at_risk"] == []


def test_regional_staff_see_the_warnings_of_their_region_only(mirror):
    east = warnings(mirror, member(OrgKind.region, EAST, region=EAST))
    assert ([w["shipment"] for w in east["at_risk"]], east["backtest"]["shipments"]) == ([21], 4)
    north = warnings(mirror, member(OrgKind.region, NORTH, region=NORTH))
    assert ([w["shipment"] for w in north["at_risk"]], north["backtest"]["shipments"]) == ([23], 0)


def test_a_distributor_sees_the_warnings_of_its_own_shipments(mirror):
    depot = member(OrgKind.distributor, 70, region=NORTH, locations_run=frozenset({NORTH_DEPOT}))
    assert [w["shipment"] for w in warnings(mirror, depot)["at_risk"]] == [23]


def test_a_carrier_sees_the_warnings_of_what_it_carries(mirror):
    assert [w["shipment"] for w in warnings(mirror, member(OrgKind.carrier, CARRIER))["at_risk"]] == [21]
    assert warnings(mirror, member(OrgKind.carrier, 82))["at_risk"] == []


def test_a_store_sees_no_warnings(mirror):
    store = warnings(mirror, member(OrgKind.store, 61, region=EAST, locations_run=frozenset({101})))
    assert (store["at_risk"], store["backtest"]["shipments"]) == ([], 0)
