"""Projections: what each ledger event means for the mirror's tables, as pure functions.

Each function takes one decoded `LedgerEvent` and a `View` of the mirror as it stands before the event,
and returns the rows the event writes (`Put`: a whole row, identified by its table's primary key). A row
that changes is read through the view, changed and put back, so a function never needs more than the
event and the rows it names. Nothing here touches a database or a node: `indexer.store` applies the puts
(and keeps the view current within a batch), and the tests feed recorded events to these functions with a
dictionary for a view.

Follow one shipment: `ShipmentDispatched` puts the shipment, its lines and the in-transit stock and takes
the cases off the sender's balance; `ShipmentCheckpoint` appends a checkpoint; `ShipmentReceived` marks the
lines received, moves in-transit stock onto the receiver's balance and completes a transfer;
`DiscrepancyOpened` and `DiscrepancyResolved` track the shortfall until the brand settles it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Protocol

# Mirrors of the contracts' enums (contracts/lib/LedgerTypes.sol, Orders.sol, Inventory.sol).
KIND_REGION, KIND_DISTRIBUTOR, KIND_STORE = 2, 4, 5
ORDER_SUBMITTED, ORDER_APPROVED, ORDER_DELIVERED, ORDER_REJECTED, ORDER_CANCELLED = 1, 2, 5, 6, 7
SHIPMENT_ORDER, SHIPMENT_TRANSFER = 0, 1
SHIPMENT_IN_TRANSIT, SHIPMENT_RECEIVED = 1, 2
TRANSFER_REQUESTED, TRANSFER_APPROVED, TRANSFER_DISPATCHED, TRANSFER_COMPLETED, TRANSFER_REJECTED = 1, 2, 3, 4, 5
DISCREPANCY_OPEN = 1
LOT_SKU_SHIFT = 160


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    """One decoded log: which contract said what, where in the chain."""

    contract: str
    name: str
    args: dict[str, Any]
    block_number: int
    log_index: int
    tx_hash: str
    time: int


@dataclass(frozen=True, slots=True)
class Put:
    """Write `row` (complete, primary key included) into `table`, replacing any row with the same key."""

    table: str
    row: dict[str, Any]


class View(Protocol):
    def get(self, table: str, key: tuple) -> dict[str, Any] | None: ...


class MirrorInconsistent(Exception):
    """An event refers to something the mirror never saw: the mirror is missing events."""


def sku_of(lot: int) -> int:
    return lot >> LOT_SKU_SHIFT


def _need(view: View, table: str, key: tuple, event: LedgerEvent) -> dict[str, Any]:
    row = view.get(table, key)
    if row is None:
        raise MirrorInconsistent(
            f"{event.name} at block {event.block_number} log {event.log_index} refers to {table} {key}, "
            "which the mirror does not have"
        )
    return row


def _log_key(e: LedgerEvent) -> dict[str, int]:
    return {"block_number": e.block_number, "log_index": e.log_index}


def _add_stock(view: View, table: str, place_column: str, place: int, lot: int, cases: int) -> Put:
    current = view.get(table, (place, lot))
    held = current["cases"] if current else 0
    return Put(table, {place_column: place, "lot": lot, "sku": sku_of(lot), "cases": held + cases})


# ------------------------------------------------------------------------------------------ membership


def organisation_registered(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    kind, parent = a["kind"], a["parent"]
    region = a["org"] if kind == KIND_REGION else parent if kind in (KIND_DISTRIBUTOR, KIND_STORE) else 0
    return [Put("organisations", {
        "id": a["org"], "kind": kind, "parent": parent, "region": region, "price_tier": a["priceTier"],
        "name": a["name"], "code": a["code"], "registered_at": e.time,
    })]


def price_tier_set(e: LedgerEvent, view: View) -> list[Put]:
    org = _need(view, "organisations", (e.args["org"],), e)
    return [Put("organisations", {**org, "price_tier": e.args["priceTier"]})]


def location_registered(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    return [Put("locations", {
        "id": a["location"], "org": a["org"], "region": a["region"], "kind": a["kind"], "name": a["name"],
        "gln": a["gln"], "active": True,
    })]


def location_active_set(e: LedgerEvent, view: View) -> list[Put]:
    location = _need(view, "locations", (e.args["location"],), e)
    return [Put("locations", {**location, "active": e.args["active"]})]


def account_set(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    return [Put("accounts", {
        "address": a["account"], "org": a["org"], "roles": a["roles"], "name": a["name"], "active": True,
        "updated_at": e.time,
    })]


def account_deactivated(e: LedgerEvent, view: View) -> list[Put]:
    account = _need(view, "accounts", (e.args["account"],), e)
    return [Put("accounts", {**account, "active": False, "updated_at": e.time})]


# ------------------------------------------------------------------------------------------ catalog


def sku_registered(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    return [Put("skus", {
        "id": a["sku"], "gtin": f"{a['gtin']:014d}", "bottles_per_case": a["bottlesPerCase"], "name": a["name"],
        "content_cid": a["contentCid"], "active": True,
    })]


def sku_content_set(e: LedgerEvent, view: View) -> list[Put]:
    sku = _need(view, "skus", (e.args["sku"],), e)
    return [Put("skus", {**sku, "content_cid": e.args["contentCid"]})]


def sku_active_set(e: LedgerEvent, view: View) -> list[Put]:
    sku = _need(view, "skus", (e.args["sku"],), e)
    return [Put("skus", {**sku, "active": e.args["active"]})]


def price_set(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    return [
        Put("prices", {"sku": a["sku"], "tier": a["tier"], "price": a["newPrice"], "updated_at": e.time}),
        Put("price_changes", {
            **_log_key(e), "sku": a["sku"], "tier": a["tier"], "old_price": a["oldPrice"],
            "new_price": a["newPrice"], "set_by": a["setBy"], "time": e.time,
        }),
    ]


def price_alert(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    return [Put("price_alerts", {
        **_log_key(e), "sku": a["sku"], "tier": a["tier"], "old_price": a["oldPrice"], "new_price": a["newPrice"],
        "change_bps": a["changeBps"], "time": e.time,
    })]


def _setting(e: LedgerEvent, name: str, value: Any) -> list[Put]:
    return [Put("ledger_settings", {"name": name, "value": json.dumps(value), "updated_at": e.time})]


def price_alert_threshold_set(e: LedgerEvent, view: View) -> list[Put]:
    return _setting(e, "price_alert_bps", e.args["bps"])


# ------------------------------------------------------------------------------------------ orders


def order_submitted(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    distributor = _need(view, "organisations", (a["distributor"],), e)
    lines = a["lines"]  # (sku, cases, unitPrice) tuples
    puts = [Put("orders", {
        "id": a["orderId"], "distributor": a["distributor"], "region": distributor["region"],
        "deliver_to": a["deliverTo"], "urgent": a["urgent"], "required_stages": a["requiredStages"],
        "approved_stages": 0, "amount": a["amount"], "state": ORDER_SUBMITTED,
        "cases_ordered": sum(line[1] for line in lines), "cases_dispatched": 0, "submitted_by": a["submittedBy"],
        "submitted_at": e.time, "approved_at": None, "first_dispatched_at": None, "delivered_at": None,
        "closed_at": None, "closed_by": None, "reason_code": None, "rejected_stage": None, "tx_hash": e.tx_hash,
    })]
    for line_no, (sku, cases, unit_price) in enumerate(lines):
        puts.append(Put("order_lines", {
            "order_id": a["orderId"], "line_no": line_no, "sku": sku, "cases": cases, "unit_price": unit_price,
        }))
    return puts


def order_approved(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    order = _need(view, "orders", (a["orderId"],), e)
    changed = {**order, "approved_stages": order["approved_stages"] | a["stage"]}
    if a["fullyApproved"]:
        changed.update(state=ORDER_APPROVED, approved_at=e.time)
    return [
        Put("orders", changed),
        Put("order_approvals", {
            "order_id": a["orderId"], "stage": a["stage"], "approver": a["approver"], "approved_at": e.time,
            "block_number": e.block_number,
        }),
    ]


def order_rejected(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    order = _need(view, "orders", (a["orderId"],), e)
    return [Put("orders", {
        **order, "state": ORDER_REJECTED, "closed_at": e.time, "closed_by": a["rejectedBy"],
        "reason_code": a["reasonCode"], "rejected_stage": a["stage"],
    })]


def order_cancelled(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    order = _need(view, "orders", (a["orderId"],), e)
    return [Put("orders", {
        **order, "state": ORDER_CANCELLED, "closed_at": e.time, "closed_by": a["cancelledBy"],
        "reason_code": a["reasonCode"],
    })]


def order_dispatched(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    order = _need(view, "orders", (a["orderId"],), e)
    return [Put("orders", {
        **order, "state": a["state"], "cases_dispatched": order["cases_dispatched"] + a["cases"],
        "first_dispatched_at": order["first_dispatched_at"] or e.time,
    })]


def order_delivered(e: LedgerEvent, view: View) -> list[Put]:
    order = _need(view, "orders", (e.args["orderId"],), e)
    return [Put("orders", {**order, "state": ORDER_DELIVERED, "delivered_at": e.time})]


def _credit(view: View, distributor: int, e: LedgerEvent, **changes: Any) -> Put:
    current = view.get("credits", (distributor,)) or {"distributor": distributor, "credit_limit": 0, "exposure": 0}
    return Put("credits", {**current, **changes, "updated_at": e.time})


def credit_limit_set(e: LedgerEvent, view: View) -> list[Put]:
    return [_credit(view, e.args["distributor"], e, credit_limit=e.args["limit"])]


def credit_exposure_changed(e: LedgerEvent, view: View) -> list[Put]:
    """CreditReserved and CreditReleased both carry the exposure after the change."""
    return [_credit(view, e.args["distributor"], e, exposure=e.args["exposure"])]


def payment_recorded(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    return [
        _credit(view, a["distributor"], e, exposure=a["exposure"]),
        Put("payments", {
            **_log_key(e), "distributor": a["distributor"], "amount": a["amount"], "exposure": a["exposure"],
            "time": e.time,
        }),
    ]


def approval_policy_set(e: LedgerEvent, view: View) -> list[Put]:
    tiers = [{"min_amount": str(min_amount), "stages": stages} for min_amount, stages in e.args["tiers"]]
    return _setting(e, "approval_policy", tiers)


def inventory_set(e: LedgerEvent, view: View) -> list[Put]:
    return _setting(e, "inventory", e.args["inventory"])


# ------------------------------------------------------------------------------------------ inventory


def lot_commissioned(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    return [
        Put("lots", {
            "id": a["lot"], "sku": a["sku"], "lot_number": a["lotNumber"], "location": a["location"],
            "cases": a["cases"], "bottles": a["bottles"], "merkle_root": a["merkleRoot"],
            "document_cid": a["documentCid"], "recalled": False, "recall_reason": None, "recalled_at": None,
            "commissioned_at": e.time, "tx_hash": e.tx_hash,
        }),
        _add_stock(view, "stock_balances", "location", a["location"], a["lot"], a["cases"]),
    ]


def lot_recalled(e: LedgerEvent, view: View) -> list[Put]:
    lot = _need(view, "lots", (e.args["lot"],), e)
    return [Put("lots", {**lot, "recalled": True, "recall_reason": e.args["reasonCode"], "recalled_at": e.time})]


def transfer_requested(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    puts = [Put("transfers", {
        "id": a["transferId"], "from_location": a["from"], "to_location": a["to"], "state": TRANSFER_REQUESTED,
        "cases": sum(a["cases"]), "requested_by": a["requestedBy"], "requested_at": e.time, "approved_by": None,
        "approved_at": None, "rejected_by": None, "rejected_at": None, "reason_code": None, "shipment_id": None,
        "completed_at": None,
    })]
    for line_no, (lot, cases) in enumerate(zip(a["lots"], a["cases"])):
        puts.append(Put("transfer_lines", {
            "transfer_id": a["transferId"], "line_no": line_no, "lot": lot, "sku": sku_of(lot), "cases": cases,
        }))
    return puts


def transfer_approved(e: LedgerEvent, view: View) -> list[Put]:
    transfer = _need(view, "transfers", (e.args["transferId"],), e)
    return [Put("transfers", {
        **transfer, "state": TRANSFER_APPROVED, "approved_by": e.args["approvedBy"], "approved_at": e.time,
    })]


def transfer_rejected(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    transfer = _need(view, "transfers", (a["transferId"],), e)
    return [Put("transfers", {
        **transfer, "state": TRANSFER_REJECTED, "rejected_by": a["rejectedBy"], "rejected_at": e.time,
        "reason_code": a["reasonCode"],
    })]


def shipment_dispatched(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    kind, ref, source, dest, carrier, eta, document_cid = a["consignment"]
    shipment_id = a["shipmentId"]
    puts = [Put("shipments", {
        "id": shipment_id, "kind": kind, "ref": ref, "from_location": source, "to_location": dest,
        "carrier": carrier, "eta": eta, "document_cid": document_cid, "owner": a["owner"],
        "state": SHIPMENT_IN_TRANSIT, "cases": sum(a["cases"]), "dispatched_by": a["dispatchedBy"],
        "dispatched_at": e.time, "received_by": None, "received_at": None, "received_owner": None,
        "shortfall": None, "tx_hash": e.tx_hash, "dispatched_block": e.block_number, "dispatched_log": e.log_index,
        "received_block": None, "received_log": None, "received_tx_hash": None,
    })]
    # Two lines of one lot in a shipment must add up on the same balance row, so keep a running view.
    moved: dict[tuple[str, int, int], Put] = {}
    for line_no, (lot, cases) in enumerate(zip(a["lots"], a["cases"])):
        puts.append(Put("shipment_lines", {
            "shipment_id": shipment_id, "line_no": line_no, "lot": lot, "sku": sku_of(lot), "cases": cases,
            "received": None,
        }))
        for table, column, place, delta in (("stock_balances", "location", source, -cases),
                                            ("stock_in_transit", "to_location", dest, cases)):
            earlier = moved.get((table, place, lot))
            held = earlier.row["cases"] if earlier else (view.get(table, (place, lot)) or {"cases": 0})["cases"]
            moved[(table, place, lot)] = Put(table, {column: place, "lot": lot, "sku": sku_of(lot),
                                                     "cases": held + delta})
    puts.extend(moved.values())
    if kind == SHIPMENT_TRANSFER:
        transfer = _need(view, "transfers", (ref,), e)
        puts.append(Put("transfers", {**transfer, "state": TRANSFER_DISPATCHED, "shipment_id": shipment_id}))
    return puts


def shipment_checkpoint(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    return [Put("shipment_checkpoints", {
        **_log_key(e), "shipment_id": a["shipmentId"], "carrier": a["carrier"], "status": a["status"],
        "place": a["place"], "reported_by": a["reportedBy"], "time": e.time,
    })]


def shipment_received(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    shipment = _need(view, "shipments", (a["shipmentId"],), e)
    dest = a["to"]
    puts = [Put("shipments", {
        **shipment, "state": SHIPMENT_RECEIVED, "received_by": a["receivedBy"], "received_at": e.time,
        "received_owner": a["owner"], "shortfall": a["shortfall"], "received_block": e.block_number,
        "received_log": e.log_index, "received_tx_hash": e.tx_hash,
    })]
    moved: dict[tuple[str, int], Put] = {}
    for line_no, received in enumerate(a["received"]):
        line = _need(view, "shipment_lines", (a["shipmentId"], line_no), e)
        lot = line["lot"]
        puts.append(Put("shipment_lines", {**line, "received": received}))
        # The whole line leaves transit; what arrived is credited; the rest is a discrepancy.
        for table, column, delta in (("stock_in_transit", "to_location", -line["cases"]),
                                     ("stock_balances", "location", received)):
            earlier = moved.get((table, lot))
            held = earlier.row["cases"] if earlier else (view.get(table, (dest, lot)) or {"cases": 0})["cases"]
            moved[(table, lot)] = Put(table, {column: dest, "lot": lot, "sku": sku_of(lot), "cases": held + delta})
    puts.extend(moved.values())
    if shipment["kind"] == SHIPMENT_TRANSFER:
        transfer = _need(view, "transfers", (shipment["ref"],), e)
        puts.append(Put("transfers", {**transfer, "state": TRANSFER_COMPLETED, "completed_at": e.time}))
    return puts


def discrepancy_opened(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    return [Put("discrepancies", {
        "id": a["discrepancyId"], "shipment_id": a["shipmentId"], "lot": a["lot"], "shipped": a["shipped"],
        "received": a["received"], "state": DISCREPANCY_OPEN, "credited_location": None, "opened_at": e.time,
        "resolved_at": None, "resolved_by": None,
    })]


def discrepancy_resolved(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    discrepancy = _need(view, "discrepancies", (a["discrepancyId"],), e)
    credited = a["creditedLocation"]
    puts = [Put("discrepancies", {
        **discrepancy, "state": a["outcome"], "credited_location": credited or None, "resolved_at": e.time,
        "resolved_by": a["resolvedBy"],
    })]
    if credited:
        missing = discrepancy["shipped"] - discrepancy["received"]
        puts.append(_add_stock(view, "stock_balances", "location", credited, discrepancy["lot"], missing))
    return puts


def stock_decommissioned(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    location, lot, cases = a["location"], a["lot"], a["cases"]
    puts = [Put("decommissions", {
        **_log_key(e), "location": location, "lot": lot, "sku": sku_of(lot), "cases": cases, "reason": a["reason"],
        "recorded_by": a["recordedBy"], "time": e.time,
    })]
    if location:  # location 0: a written-off discrepancy, stock that was never credited anywhere
        puts.append(_add_stock(view, "stock_balances", "location", location, lot, -cases))
    return puts


# ------------------------------------------------------------------------------------------ anchors


def anchored(e: LedgerEvent, view: View) -> list[Put]:
    a = e.args
    return [Put("anchors", {
        "id": a["anchorId"], "kind": a["kind"], "merkle_root": a["merkleRoot"], "period_start": a["periodStart"],
        "period_end": a["periodEnd"], "entry_count": a["entryCount"], "content_cid": a["contentCid"],
        "anchored_by": a["anchoredBy"], "anchored_at": e.time, "tx_hash": e.tx_hash,
    })]


Projection = Callable[[LedgerEvent, View], list[Put]]

PROJECTION_BY_EVENT: dict[str, Projection] = {
    "OrganisationRegistered": organisation_registered,
    "PriceTierSet": price_tier_set,
    "LocationRegistered": location_registered,
    "LocationActiveSet": location_active_set,
    "AccountSet": account_set,
    "AccountDeactivated": account_deactivated,
    "SkuRegistered": sku_registered,
    "SkuContentSet": sku_content_set,
    "SkuActiveSet": sku_active_set,
    "PriceSet": price_set,
    "PriceAlert": price_alert,
    "PriceAlertThresholdSet": price_alert_threshold_set,
    "OrderSubmitted": order_submitted,
    "OrderApproved": order_approved,
    "OrderRejected": order_rejected,
    "OrderCancelled": order_cancelled,
    "OrderDispatched": order_dispatched,
    "OrderDelivered": order_delivered,
    "CreditLimitSet": credit_limit_set,
    "CreditReserved": credit_exposure_changed,
    "CreditReleased": credit_exposure_changed,
    "PaymentRecorded": payment_recorded,
    "ApprovalPolicySet": approval_policy_set,
    "InventorySet": inventory_set,
    "LotCommissioned": lot_commissioned,
    "LotRecalled": lot_recalled,
    "TransferRequested": transfer_requested,
    "TransferApproved": transfer_approved,
    "TransferRejected": transfer_rejected,
    "ShipmentDispatched": shipment_dispatched,
    "ShipmentCheckpoint": shipment_checkpoint,
    "ShipmentReceived": shipment_received,
    "DiscrepancyOpened": discrepancy_opened,
    "DiscrepancyResolved": discrepancy_resolved,
    "StockDecommissioned": stock_decommissioned,
    "Anchored": anchored,
}


def project(event: LedgerEvent, view: View) -> list[Put]:
    """The rows `event` writes. Events the mirror has no table for write nothing (they stay in raw_events)."""
    projection = PROJECTION_BY_EVENT.get(event.name)
    return projection(event, view) if projection else []
