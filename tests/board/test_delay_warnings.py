"""The delivery-delay warning on the brand's board, against figures worked out by hand: eight past deliveries
of a carrier on a lane, each given 60 hours to its ETA, took 40 to 56 hours (factors 0.67 to 0.93), except three
that reported "delayed" on the way and took 72, 78 and 90 (1.2, 1.3 and 1.5). A shipment given 50 hours is
usually on time (0.88 × 50 = 44 h); once its carrier reports it delayed it is compared with the delayed ones:
1.3 × 50 = 65 h, 15 late, and all three missed. The backtest replays the prediction at each shipment's dispatch
and checkpoints with only what was known then. Each member sees the warnings of the shipments it may see, on
SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from indexer.db import migrate, open_database
from indexer.schema import locations, organisations, shipment_checkpoints, shipments
from ledger_api import board_reads, delays
from ledger_api.delays import Checkpoint, DelayRules, History, Journey
from ledger_api.vocabulary import OrgKind, ShipmentKind, ShipmentState
from tests.board.mirror_rows import member, seal_mirror

H = 3_600
T0 = 1_790_000_000  # the history's first dispatch
D = T0 + 10 * 24 * H  # the shipments under test leave after the history arrived
CARRIER, OTHER_CARRIER = 80, 81
EAST, NORTH = 10, 11
WAREHOUSE, EAST_DEPOT, NORTH_DEPOT = 1, 100, 200
HUB, DELAYED = 2, 4  # the carrier's "at hub" and "delayed" checkpoints


def delivered(shipment: int, hours: int, *stops: tuple[int, int], start: int | None = None,
              carrier: int = CARRIER, to_region: int = EAST, eta_hours: int = 60) -> Journey:
    """A past delivery that took `hours` of the `eta_hours` it was given, reporting (status, hours out)."""
    start = T0 + (shipment - 1) * H if start is None else start
    return Journey(shipment, carrier, WAREHOUSE, EAST_DEPOT, to_region, start, start + eta_hours * H,
                   start + hours * H, tuple(Checkpoint(start + at * H, status, "Nanjing hub") for status, at in stops))


HISTORY = [delivered(1, 40, (HUB, 20)), delivered(2, 48, (HUB, 24)), delivered(3, 56, (HUB, 28)),
           delivered(4, 90, (HUB, 20), (DELAYED, 50)), delivered(5, 78, (HUB, 20), (DELAYED, 55)),
           delivered(6, 72, (DELAYED, 40)), delivered(7, 45, (HUB, 20)), delivered(8, 50, (HUB, 25))]


def on_road(shipment: int = 9, eta_hours: int = 50, *stops: tuple[int, int], carrier: int = CARRIER,
            to_region: int = EAST) -> Journey:
    return Journey(shipment, carrier, WAREHOUSE, EAST_DEPOT, to_region, D, D + eta_hours * H, None,
                   tuple(Checkpoint(D + at * H, status, "Nanjing hub") for status, at in stops))


def test_a_shipment_reported_delayed_is_compared_with_past_delays_and_flagged():
    p = delays.predict(on_road(9, 50, (HUB, 25), (DELAYED, 40)), History(HISTORY), D + 40 * H)
    # The three delayed deliveries took 1.2, 1.3 and 1.5 times their time: 60, 65 and 75 of this one's 50 hours.
    assert (p.predicted_arrival, p.hours_late, p.risk, p.late) == (D + 65 * H, 15.0, 1.0, True)
    assert p.reason == (
        "Deliveries by its carrier on this lane that also reported \"delayed\" took a median 1.3× the time to their "
        "ETA (3 deliveries), 65.0 h for this one; its latest checkpoint: \"delayed\" at Nanjing hub 40.0 h after "
        "dispatch; expected 65.0 h after dispatch against 50.0 h to its ETA; 3 of 3 comparable deliveries would "
        "miss it.")


def test_a_shipment_at_its_hub_is_compared_with_the_deliveries_that_reported_the_hub():
    p = delays.predict(on_road(9, 50, (HUB, 25)), History(HISTORY), D + 25 * H)
    # Seven reported the hub: 0.67, 0.75, 0.8, 0.83, 0.93, 1.3, 1.5; the median 0.83 gives 41.7 h of 50.
    assert (p.predicted_arrival, p.risk, p.late) == (D + 150_000, 0.2857, False)
    assert p.reason.startswith("Deliveries by its carrier on this lane that also reported \"at hub\" took a "
                               "median 0.83× the time to their ETA (7 deliveries), 41.7 h for this one")


def test_without_a_checkpoint_every_delivery_of_the_carrier_on_the_lane_counts():
    p = delays.predict(on_road(), History(HISTORY), D + 10 * H)
    # Eight factors, the middle two 0.83 and 0.93: 0.883 × 50 = 44.2 h; the three delays would miss the ETA.
    assert (p.predicted_arrival, p.risk, p.late) == (D + 159_000, 0.375, False)
    assert p.reason.startswith("Deliveries by its carrier on this lane took a median 0.88× the time to their ETA "
                               "(8 deliveries), 44.2 h for this one; expected 44.2 h")


def test_arriving_exactly_on_the_eta_is_not_late():
    punctual = History([delivered(1, 40, eta_hours=40), delivered(2, 48, eta_hours=48), delivered(3, 70)])
    p = delays.predict(on_road(), punctual, D + H)  # the median delivery took exactly its time
    assert (p.predicted_arrival, p.hours_late, p.late) == (D + 50 * H, 0.0, False)
    assert delays.at_risk([on_road()], punctual, D + H) == []


def test_a_shipment_past_its_eta_is_certain_to_be_late():
    p = delays.predict(on_road(), History(HISTORY), D + 60 * H)
    # No possible arrival is before now, 60 h out: 60 six times, then 65 and 75; the ETA was at 50.
    assert (p.predicted_arrival, p.hours_late, p.risk) == (D + 60 * H, 10.0, 1.0)
    assert "it is past its ETA by 10.0 h and not received" in p.reason


def test_with_no_history_nothing_is_predicted_until_the_eta_passes():
    assert delays.predict(on_road(), History([]), D + 30 * H) is None
    p = delays.predict(on_road(), History([]), D + 51 * H)
    assert (p.predicted_arrival, p.hours_late, p.risk) == (D + 51 * H, 1.0, 1.0)
    assert p.reason == ("It is past its ETA by 1.0 h and not received; no delivered shipment of its carrier or "
                        "lane to compare it with.")


def test_too_few_comparable_deliveries_look_wider():
    mixed = [HISTORY[0], delivered(2, 48, start=T0 + H, carrier=OTHER_CARRIER), HISTORY[2]]
    p = delays.predict(on_road(), History(mixed), D)
    assert p.reason.startswith("Deliveries by any carrier on this lane took a median 0.8× the time to their ETA")
    elsewhere = [delivered(i, 20 + i, to_region=NORTH) for i in (1, 2, 3)]
    p = delays.predict(on_road(), History(elsewhere), D)
    assert p.reason.startswith("Deliveries by its carrier on any lane took a median 0.37× the time to their ETA "
                               "(3 deliveries), 18.3 h for this one")
    assert delays.predict(on_road(), History(elsewhere), D, DelayRules(min_history=4)) is None
    # A delay no delivery of the lane or carrier reported: the delays of every carrier and lane.
    others = [delivered(i, 90, (DELAYED, 50), carrier=OTHER_CARRIER, to_region=NORTH) for i in (11, 12, 13)]
    p = delays.predict(on_road(9, 50, (DELAYED, 40)), History(HISTORY[:3] + others), D + 40 * H)
    assert p.reason.startswith("Deliveries by any carrier on any lane that also reported \"delayed\" took a median "
                               "1.5× the time to their ETA (3 deliveries), 75.0 h for this one")
    # A delay nobody reported before: the carrier's deliveries on the lane, whatever they reported.
    p = delays.predict(on_road(9, 50, (DELAYED, 40)), History(HISTORY[:3]), D + 40 * H)
    assert p.reason.startswith("Deliveries by its carrier on this lane took a median 0.8×")


def test_only_deliveries_received_by_the_moment_of_the_prediction_count():
    history = History(HISTORY[:3])  # received 40, 49 and 58 h after the first dispatch
    assert delays.predict(on_road(), history, T0 + 57 * H) is None
    assert delays.predict(on_road(), history, T0 + 58 * H) is not None


def test_the_most_recent_deliveries_are_the_ones_compared():
    p = delays.predict(on_road(), History(HISTORY), D, DelayRules(history=3))
    # The last three received, 77, 82 and 93 h after the first dispatch, were the delayed ones: 1.2, 1.3 and 1.5.
    assert p.reason.startswith("Deliveries by its carrier on this lane took a median 1.3× the time to their ETA "
                               "(3 deliveries)")


def test_the_warnings_come_highest_risk_first_then_latest_then_by_id():
    history = History([delivered(1, 54), *HISTORY[3:6]])  # factors 0.9, then the delays' 1.2, 1.3 and 1.5
    alike_a, alike_b = on_road(22), on_road(21)  # 45, 60, 65 and 75 of 50 hours: 62.5, 12.5 late, 3 in 4 miss
    sooner = on_road(23, 40)  # 36, 48, 52 and 60 of 40 hours: 50, 10 late
    delayed = on_road(24, 50, (DELAYED, 5))  # the delays alone: 65 h, 15 late, all miss
    flagged = delays.at_risk([alike_a, sooner, delayed, alike_b], history, D + 10 * H)
    assert [(p.shipment, p.risk, p.hours_late) for p in flagged] == [(24, 1.0, 15.0), (21, 0.75, 12.5),
                                                                      (22, 0.75, 12.5), (23, 0.75, 10.0)]


def received(shipment: int, arrived_hours: int, *stops: tuple[int, int], eta_hours: int = 50) -> Journey:
    return Journey(shipment, CARRIER, WAREHOUSE, EAST_DEPOT, EAST, D, D + eta_hours * H, D + arrived_hours * H,
                   tuple(Checkpoint(D + at * H, status, "Nanjing hub") for status, at in stops))


def test_the_hand_worked_backtest():
    sample = [
        received(11, 70, (DELAYED, 40)),  # flagged at its delay, 10 h before its ETA, and late: caught
        received(12, 45, (HUB, 25)),  # on course for 41.7 h and on time
        received(13, 55),  # late, but nothing warned of it
        received(14, 48, (DELAYED, 30)),  # flagged at its delay, yet it came in time
    ]
    result = delays.backtest(sample, History(HISTORY + sample))
    assert result == {"shipments": 4, "flagged": 2, "late": 2, "flagged_and_late": 1, "precision": 0.5,
                      "recall": 0.5, "median_warning_hours": 10.0, "method": delays.BACKTEST_METHOD}


def test_a_backtest_with_nothing_flagged_or_late_has_no_ratios():
    result = delays.backtest([received(12, 45, (HUB, 25))], History(HISTORY))
    assert (result["flagged"], result["late"], result["precision"], result["recall"],
            result["median_warning_hours"]) == (0, 0, None, None, None)
    assert delays.backtest([], History([]))["shipments"] == 0


# ------------------------------------------------------------------------------------------ from the mirror

NOW = D + 40 * H
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
        shipment(on_road(21, 50, (HUB, 25), (DELAYED, 40)), ref=7)  # reported delayed: flagged
        shipment(on_road(22, 50, (HUB, 25)), ref=8)  # on course
        north = on_road(23, 20, carrier=OTHER_CARRIER, to_region=NORTH)
        shipment(north, to=NORTH_DEPOT, kind=ShipmentKind.order, ref=9)  # past its ETA, no history of its own
        seal_mirror(conn, NOW)
    yield engine
    engine.dispose()


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
        "eta": D + 50 * H, "predicted_arrival": D + 65 * H, "hours_late_predicted": 15.0, "risk": 1.0,
        "reason": delays.predict(on_road(21, 50, (HUB, 25), (DELAYED, 40)), History(HISTORY), NOW).reason,
        "checkpoints": [{"time": D + 25 * H, "status": HUB, "status_name": "at hub", "place": "Nanjing hub"},
                        {"time": D + 40 * H, "status": DELAYED, "status_name": "delayed", "place": "Nanjing hub"}]}
    # Its carrier has no delivery to learn from, but 40 h on the road against an ETA of 20 is late for sure.
    assert (north["carrier_name"], north["region_name"], north["risk"], north["hours_late_predicted"]) == (
        "Huabei Freight", "North China", 1.0, 20.0)


def test_the_backtest_counts_the_shipments_received_in_the_window(mirror):
    backtest = warnings(mirror, member(OrgKind.brand, 1))["backtest"]
    # The history's three delays were late, but when they reported it no delay had been delivered yet, and the
    # punctual deliveries before them said they would come in time; shipment 11 reached the hub on course for
    # 41.7 h of its 50 and came 12 h late unwarned.
    assert {k: backtest[k] for k in ("shipments", "flagged", "late", "flagged_and_late", "precision", "recall",
                                     "median_warning_hours")} == {
        "shipments": 9, "flagged": 0, "late": 4, "flagged_and_late": 0, "precision": None, "recall": 0.0,
        "median_warning_hours": None}
    assert backtest["method"] == delays.BACKTEST_METHOD


def test_an_auditor_sees_what_the_brand_sees_and_a_region_narrows_it(mirror):
    assert warnings(mirror, member(OrgKind.auditor, 90)) == warnings(mirror, member(OrgKind.brand, 1))
    north = warnings(mirror, member(OrgKind.auditor, 90), region=NORTH)
    assert ([w["shipment"] for w in north["at_risk"]], north["backtest"]["shipments"]) == ([23], 0)
    assert warnings(mirror, member(OrgKind.brand, 1), region=99)["at_risk"] == []


def test_regional_staff_see_the_warnings_of_their_region_only(mirror):
    east = warnings(mirror, member(OrgKind.region, EAST, region=EAST))
    assert ([w["shipment"] for w in east["at_risk"]], east["backtest"]["shipments"]) == ([21], 9)
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
