"""Projections, without a node: a recorded stretch of a small network's business (fixtures/ledger_events.json,
recorded from a real chain by fixtures/record_events.py) replayed through the pure projection functions
gives conserved stock, orders that went through their approvals, shipments followed from dispatch to
receipt and discrepancies settled; the database mirror gives the same rows as the pure replay; and the
rarer events each change exactly what they should."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from indexer.db import migrate, open_database
from indexer.projections import LedgerEvent, MirrorInconsistent, project
from indexer.schema import PROJECTIONS, primary_key
from indexer.store import BlockHeader, Mirror

RECORDED = Path(__file__).resolve().parent / "fixtures" / "ledger_events.json"


def recorded_events() -> list[LedgerEvent]:
    return [LedgerEvent(**record) for record in json.loads(RECORDED.read_text())]


class DictView:
    """The mirror as dictionaries: the smallest thing projections can run against."""

    def __init__(self):
        self.tables: dict[str, dict[tuple, dict]] = defaultdict(dict)

    def get(self, table, key):
        return self.tables[table].get(tuple(key))

    def apply(self, events):
        for event in events:
            for put in project(event, self):
                key = tuple(put.row[c] for c in primary_key(PROJECTIONS[put.table]))
                self.tables[put.table][key] = put.row
        return self


@pytest.fixture(scope="module")
def business():
    return DictView().apply(recorded_events())


def first(events, name, **args):
    return next(e for e in events if e.name == name and all(e.args[k] == v for k, v in args.items()))


def test_replaying_the_recorded_business_conserves_every_lot(business):
    held = defaultdict(int)
    for table in ("stock_balances", "stock_in_transit", "decommissions"):
        for row in business.tables[table].values():
            held[row["lot"]] += row["cases"]
    for row in business.tables["discrepancies"].values():
        if row["state"] == 1:
            held[row["lot"]] += row["shipped"] - row["received"]
    commissioned = {row["id"]: row["cases"] for row in business.tables["lots"].values()}
    assert len(commissioned) > 5
    assert held == commissioned
    assert all(row["cases"] >= 0 for row in business.tables["stock_balances"].values())


def test_a_delivered_order_records_each_approval_and_each_step_in_time(business):
    delivered = [o for o in business.tables["orders"].values() if o["state"] == 5]
    assert delivered
    for order in delivered:
        approvals = [a for (order_id, _), a in business.tables["order_approvals"].items() if order_id == order["id"]]
        assert order["approved_stages"] == order["required_stages"] == sum(a["stage"] for a in approvals)
        assert order["submitted_at"] <= order["approved_at"] <= order["first_dispatched_at"] <= order["delivered_at"]
        assert order["cases_dispatched"] == order["cases_ordered"]
        lines = [line for (order_id, _), line in business.tables["order_lines"].items() if order_id == order["id"]]
        assert order["amount"] == sum(line["cases"] * line["unit_price"] for line in lines)


def test_a_shipment_is_followed_from_dispatch_through_checkpoints_to_receipt(business):
    events = recorded_events()
    received = first(events, "ShipmentReceived")
    shipment_id = received.args["shipmentId"]
    dispatched = first(events, "ShipmentDispatched", shipmentId=shipment_id)
    checkpoints = [e for e in events if e.name == "ShipmentCheckpoint" and e.args["shipmentId"] == shipment_id]

    shipment = business.tables["shipments"][(shipment_id,)]
    assert (shipment["state"], shipment["dispatched_at"], shipment["received_at"]) == (2, dispatched.time, received.time)
    assert shipment["to_location"] == dispatched.args["to"] == received.args["to"]
    assert shipment["cases"] == sum(dispatched.args["cases"])
    lines = [business.tables["shipment_lines"][(shipment_id, i)] for i in range(len(dispatched.args["lots"]))]
    assert [line["received"] for line in lines] == list(received.args["received"])
    mirrored = [c for c in business.tables["shipment_checkpoints"].values() if c["shipment_id"] == shipment_id]
    assert [c["place"] for c in mirrored] == [e.args["place"] for e in checkpoints]


def test_a_short_receipt_opens_a_discrepancy_that_its_resolution_settles(business):
    events = recorded_events()
    resolved = first(events, "DiscrepancyResolved")
    opened = first(events, "DiscrepancyOpened", discrepancyId=resolved.args["discrepancyId"])
    row = business.tables["discrepancies"][(opened.args["discrepancyId"],)]
    assert (row["shipped"], row["received"]) == (opened.args["shipped"], opened.args["received"])
    assert row["state"] == resolved.args["outcome"] and row["resolved_at"] == resolved.time


@pytest.fixture
def mirror_of(database_url):
    def build(events):
        engine = open_database(database_url)
        migrate(engine)
        mirror = Mirror(engine, "fixture", 31337)
        genesis = BlockHeader(0, "0x" + "00" * 32, "0x" + "00" * 32, 0)
        mirror.start(genesis)
        last = BlockHeader(events[-1].block_number, "0x" + "11" * 32, "0x" + "00" * 32, events[-1].time)
        # Half the range journaled, half not, and in two transactions: the rows must not depend on either.
        middle = len(events) // 2
        mirror.apply(events[:middle], [], [], replace(last, number=events[middle - 1].block_number), None)
        mirror.apply(events[middle:], [], [], last, journal_from=events[middle].block_number)
        return engine
    return build


def test_the_database_mirror_holds_the_same_rows_as_the_pure_replay(business, mirror_of):
    engine = mirror_of(recorded_events())
    with engine.connect() as conn:
        for name, table in PROJECTIONS.items():
            stored = {tuple(r[c] for c in primary_key(table)): dict(r) for r in conn.execute(select(table)).mappings()}
            assert stored == business.tables.get(name, {}), name


# ---------------------------------------------------------------------------------------- rarer events


def event(event_name, block=1, /, **args):
    return LedgerEvent("Ledger", event_name, args, block, 0, "0x" + "ab" * 32, 1_780_000_000 + block)


def world():
    view = DictView()
    view.apply([
        event("OrganisationRegistered", org=2, kind=2, parent=1, priceTier=0, name="East", code="EAST"),
        event("OrganisationRegistered", org=3, kind=4, parent=2, priceTier=0, name="Dist", code="D1"),
        event("LocationRegistered", location=1, org=3, region=2, kind=4, name="Depot", gln="6901234000014"),
        event("AccountSet", account="0x" + "01" * 20, org=3, roles=256, name="purchaser"),
        event("SkuRegistered", sku=1, gtin=6901234567892, bottlesPerCase=6, name="Feitian", contentCid="bafk1"),
        event("CreditLimitSet", distributor=3, limit=10**12),
        event("OrderSubmitted", orderId=1, distributor=3, deliverTo=1, urgent=False, requiredStages=1, amount=900,
              lines=[[1, 1, 900]], submittedBy="0x" + "01" * 20),
        event("OrderApproved", orderId=1, stage=1, approver="0x" + "02" * 20, fullyApproved=True),
        event("CreditReserved", distributor=3, orderId=1, exposure=900),
    ])
    return view


def test_a_distributor_belongs_to_its_parent_region_and_an_order_carries_it():
    view = world()
    assert view.tables["organisations"][(3,)]["region"] == 2
    assert view.tables["organisations"][(2,)]["region"] == 2
    assert view.tables["orders"][(1,)]["region"] == 2


def test_cancelling_an_approved_order_closes_it_and_releases_its_credit():
    view = world().apply([
        event("CreditReleased", 2, distributor=3, orderId=1, exposure=0),
        event("OrderCancelled", 2, orderId=1, reasonCode=4, cancelledBy="0x" + "01" * 20),
    ])
    order = view.tables["orders"][(1,)]
    assert (order["state"], order["reason_code"], order["closed_at"]) == (7, 4, 1_780_000_002)
    assert view.tables["credits"][(3,)]["exposure"] == 0
    assert view.tables["credits"][(3,)]["credit_limit"] == 10**12


def test_a_rejection_records_the_stage_and_the_reason():
    view = world().apply([event("OrderRejected", 2, orderId=1, stage=2, reasonCode=9, rejectedBy="0x" + "03" * 20)])
    order = view.tables["orders"][(1,)]
    assert (order["state"], order["rejected_stage"], order["reason_code"], order["closed_by"]) == (6, 2, 9, "0x" + "03" * 20)


def test_membership_changes_update_their_rows():
    view = world().apply([
        event("AccountDeactivated", 2, account="0x" + "01" * 20, org=3),
        event("LocationActiveSet", 2, location=1, active=False),
        event("PriceTierSet", 2, org=3, priceTier=2),
    ])
    assert view.tables["accounts"][("0x" + "01" * 20,)]["active"] is False
    assert view.tables["locations"][(1,)]["active"] is False
    assert view.tables["organisations"][(3,)]["price_tier"] == 2


def test_catalog_and_policy_changes_update_their_rows():
    view = world().apply([
        event("SkuContentSet", 2, sku=1, contentCid="bafk2"),
        event("SkuActiveSet", 2, sku=1, active=False),
        event("PriceAlertThresholdSet", 2, bps=500),
        event("ApprovalPolicySet", 2, tiers=[[0, 1], [10**7, 3], [10**8, 7]]),
    ])
    assert view.tables["skus"][(1,)]["content_cid"] == "bafk2" and view.tables["skus"][(1,)]["active"] is False
    assert view.tables["skus"][(1,)]["gtin"] == "06901234567892"
    assert json.loads(view.tables["ledger_settings"][("price_alert_bps",)]["value"]) == 500
    assert json.loads(view.tables["ledger_settings"][("approval_policy",)]["value"])[1] == {
        "min_amount": "10000000", "stages": 3}


def test_a_rejected_transfer_and_a_recalled_lot():
    lot = (1 << 160) | 7
    view = world().apply([
        event("LotCommissioned", 2, lot=lot, sku=1, location=1, lotNumber="0x" + "07" * 20, cases=10, bottles=60,
              merkleRoot="0x" + "aa" * 32, documentCid="bafk3"),
        event("TransferRequested", 3, transferId=1, **{"from": 1, "to": 1}, lots=[lot], cases=[5],
              requestedBy="0x" + "04" * 20),
        event("TransferRejected", 4, transferId=1, reasonCode=2, rejectedBy="0x" + "05" * 20),
        event("LotRecalled", 5, lot=lot, reasonCode=3, recalledBy="0x" + "05" * 20),
    ])
    assert view.tables["transfers"][(1,)]["state"] == 5
    assert view.tables["lots"][(lot,)]["recalled"] is True
    assert view.tables["stock_balances"][(1, lot)]["cases"] == 10  # a recall alone moves no stock


def test_an_event_about_something_the_mirror_never_saw_is_refused():
    with pytest.raises(MirrorInconsistent, match="OrderApproved at block 9 .* orders \\(77,\\)"):
        world().apply([event("OrderApproved", 9, orderId=77, stage=1, approver="0x" + "02" * 20, fullyApproved=False)])
