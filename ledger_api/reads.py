"""The API's read side: what a member may see of the mirror, as plain JSON-ready answers. Every function takes a
database connection and the `Caller` asking, and ANDs the caller's scope onto whatever it is asked, so a row
outside the caller's reach is never returned: a single object it may not see is `None`, exactly as one that does
not exist, and a list simply leaves it out. Each scope is one where-clause builder per table (`_order_scope`,
`_shipment_scope`, ...), shared by the list and the single-object reads. Answers follow one convention: lot ids
(over 2^53) as decimal strings, states and kinds as the vocabulary's lower-case names, role and stage bitsets as
lists of names, addresses in EIP-55 form, times as the Unix seconds the mirror stores, lists as pages
(`{"items", "total", "limit", "offset"}`) with orders, shipments and transfers newest first.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from enum import Enum, IntEnum
from typing import Any, TypedDict, TypeVar

from eth_utils import to_checksum_address
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Select,
    and_,
    cast,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
    union_all,
)

from indexer.schema import (
    accounts,
    blocks,
    credits,
    decommissions,
    discrepancies,
    locations,
    lots,
    order_approvals,
    order_lines,
    orders,
    organisations,
    price_changes,
    prices,
    shipment_checkpoints,
    shipment_lines,
    shipments,
    skus,
    stock_balances,
    stock_in_transit,
    sync_state,
    transfer_lines,
    transfers,
)
from ledger_api import board
from ledger_api.caller import Caller, Reach
from ledger_api.vocabulary import (
    BRAND_ORG,
    Decommission,
    DiscrepancyState,
    OrderState,
    OrgKind,
    Role,
    ShipmentKind,
    ShipmentState,
    Stage,
    TransferState,
    role_names,
    stage_names,
)

MAX_LIMIT = 1_000
# The approval targets of the business (shared/DOMAIN.md): an order answered within 8 hours, an urgent one 12.
TARGET_HOURS = {"normal": 8, "urgent": 12}
# Who may approve a stage besides the region's own manager: the brand's head office, by role.
HEAD_OFFICE_STAGES = ((Stage.sales_director, Role.sales_director), (Stage.finance, Role.finance))
# Members whose reach is their own locations: what those locations let them see of shipments and stock.
SITE_KINDS = (OrgKind.warehouse, OrgKind.distributor, OrgKind.store)

E = TypeVar("E", bound=Enum)


class Page(TypedDict):
    items: list[dict]
    total: int  # rows matching the query, on every page
    limit: int
    offset: int


class InvalidQuery(ValueError):
    """A filter or page bound that cannot be answered; the message says what to send instead."""


# ---------------------------------------------------------------------------------------------- the caller


def load_caller(conn: Connection, address: str) -> Caller | None:
    """The member signed in as `address` (any case), as the mirrored registry has it now; None when the address
    is no account, a deactivated one, or one of an organisation the mirror does not know."""
    row = conn.execute(
        select(accounts, organisations.c.kind, organisations.c.name.label("org_name"),
               organisations.c.region, organisations.c.price_tier)
        .join(organisations, organisations.c.id == accounts.c.org)
        .where(accounts.c.address == address.strip().lower())
    ).mappings().first()
    if row is None or not row["active"]:
        return None
    try:
        kind = OrgKind(row["kind"])
    except ValueError:  # a kind this API does not know how to scope: better no reads than wrong ones
        return None
    if kind is OrgKind.region:
        region = row["org"]
    elif kind in (OrgKind.distributor, OrgKind.store):
        region = row["region"]
    else:
        region = 0
    sites = conn.execute(select(locations.c.id).where(locations.c.org == row["org"])).scalars()
    return Caller(
        address=to_checksum_address(row["address"]), name=row["name"], org=row["org"], org_kind=kind,
        org_name=row["org_name"], region=region, roles=Role(row["roles"]), price_tier=row["price_tier"],
        locations=frozenset(sites),
    )


# ---------------------------------------------------------------------------------------------- scopes


def _region_sites(region: int):
    return select(locations.c.id).where(locations.c.region == region)


def _at(column, sites: frozenset[int]) -> ColumnElement[bool]:
    return column.in_(sorted(sites)) if sites else false()


def _order_scope(caller: Caller) -> ColumnElement[bool]:
    if caller.reach is Reach.ledger:
        return true()
    if caller.reach is Reach.region:
        return orders.c.region == caller.region
    if caller.org_kind is OrgKind.warehouse:  # a national warehouse fulfils approved orders of any region
        return true()
    if caller.org_kind is OrgKind.distributor:
        return orders.c.distributor == caller.org
    return false()


def _movement_scope(caller: Caller, table, site_kinds: tuple[OrgKind, ...]) -> ColumnElement[bool]:
    """Shipments and transfers: those from or to a location of the caller's region, or of its own when its
    organisation is one of `site_kinds`."""
    source, dest = table.c.from_location, table.c.to_location
    if caller.reach is Reach.ledger:
        return true()
    if caller.reach is Reach.region:
        return or_(source.in_(_region_sites(caller.region)), dest.in_(_region_sites(caller.region)))
    if caller.org_kind in site_kinds:
        return or_(_at(source, caller.locations), _at(dest, caller.locations))
    return false()


def _shipment_scope(caller: Caller) -> ColumnElement[bool]:
    if caller.org_kind is OrgKind.carrier:  # runs no locations: it sees what it was given to carry
        return shipments.c.carrier == caller.org
    return _movement_scope(caller, shipments, SITE_KINDS)


def _transfer_scope(caller: Caller) -> ColumnElement[bool]:
    # Transfers rebalance the brand's own stock: distributors, stores and carriers have no part in them.
    return _movement_scope(caller, transfers, (OrgKind.warehouse,))


def _stock_scope(caller: Caller, location) -> ColumnElement[bool]:
    if caller.reach is Reach.ledger:
        return true()
    if caller.reach is Reach.region:
        return location.in_(_region_sites(caller.region))
    if caller.org_kind in SITE_KINDS:
        return _at(location, caller.locations)
    return false()


def _price_scope(caller: Caller, tier) -> ColumnElement[bool]:
    if caller.reach is not Reach.own or caller.org_kind is OrgKind.warehouse:  # the brand's own staff and auditors
        return true()
    if caller.org_kind in (OrgKind.distributor, OrgKind.store):  # a trade customer: what it is charged
        return tier == caller.price_tier
    return false()  # carriers move goods and have no business with their price


def _credit_scope(caller: Caller) -> ColumnElement[bool]:
    if caller.reach is Reach.ledger:
        return true()
    if caller.reach is Reach.region:
        return credits.c.distributor.in_(select(organisations.c.id).where(
            organisations.c.region == caller.region, organisations.c.kind == int(OrgKind.distributor)))
    if caller.org_kind is OrgKind.distributor:
        return credits.c.distributor == caller.org
    return false()


def _organisation_scope(caller: Caller, org) -> ColumnElement[bool]:
    return true() if caller.reach is Reach.ledger else org == caller.org


def _listed_organisations(caller: Caller) -> ColumnElement[bool]:
    # Carriers are the network's public partners: whoever dispatches stock names one.
    return or_(_organisation_scope(caller, organisations.c.id), organisations.c.kind == int(OrgKind.carrier))


def _listed_locations(caller: Caller) -> ColumnElement[bool]:
    scope = _organisation_scope(caller, locations.c.org)
    if caller.org_kind is OrgKind.distributor:  # it delivers to the stores of its region (Inventory.dispatch)
        return or_(scope, and_(locations.c.kind == int(OrgKind.store), locations.c.region == caller.region))
    return scope


# ---------------------------------------------------------------------------------------------- plumbing


def _code(enum: type[IntEnum], value: str, what: str) -> int:
    """The number of a vocabulary name the caller sent."""
    try:
        return int(enum[value])
    except KeyError:
        raise InvalidQuery(f"unknown {what} {value!r}: one of {', '.join(e.name for e in enum)}") from None


def _label(enum: type[E], value: int | None) -> str | None:
    if value is None:
        return None
    try:
        return enum(value).name
    except ValueError:
        return str(value)  # a code newer than this API: shown, not hidden


def _address(value: str | None) -> str | None:
    return None if value is None else to_checksum_address(value)


def _lot(value: int | None) -> str | None:
    return None if value is None else str(value)


def _check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be 1-{MAX_LIMIT}, not {limit}")
    if offset < 0:
        raise InvalidQuery(f"offset must be 0 or more, not {offset}")


def _page(conn: Connection, query: Select, order_by: Iterable, limit: int, offset: int,
          item: Callable[[Mapping], dict]) -> Page:
    """One page of `query` in `order_by` order, with the count of everything the query matches."""
    _check_page(limit, offset)
    total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = conn.execute(query.order_by(*order_by).limit(limit).offset(offset)).mappings()
    return Page(items=[item(r) for r in rows], total=total, limit=limit, offset=offset)


def _between(column, start: int | None, end: int | None) -> list[ColumnElement[bool]]:
    """`start <= column < end`, either bound optional."""
    return ([column >= start] if start is not None else []) + ([column < end] if end is not None else [])


def _equal(pairs: Iterable[tuple[Any, Any]]) -> list[ColumnElement[bool]]:
    return [column == value for column, value in pairs if value is not None]


# ---------------------------------------------------------------------------------------------- orders


def _pending(row: Mapping) -> int:
    if row["state"] != OrderState.submitted:
        return 0
    return row["required_stages"] & ~row["approved_stages"]


# Whoever may see an order may see the names of the parties and the site it names: the relation itself is
# visible to it, so the names come by join in the same query, whatever the caller's reach over those rows.
_order_distributor = organisations.alias("order_distributor")
_order_region = organisations.alias("order_region")
_order_site = locations.alias("order_site")


def _named_orders() -> Select:
    """Orders with the names of their distributor, region and delivery location (NULL for one not mirrored)."""
    return select(orders, _order_distributor.c.name.label("distributor_name"),
                  _order_region.c.name.label("region_name"), _order_site.c.name.label("deliver_to_name")).select_from(
        orders.outerjoin(_order_distributor, _order_distributor.c.id == orders.c.distributor)
        .outerjoin(_order_region, _order_region.c.id == orders.c.region)
        .outerjoin(_order_site, _order_site.c.id == orders.c.deliver_to))


def _order_json(row: Mapping) -> dict:
    return {
        "id": row["id"], "distributor": row["distributor"], "distributor_name": row["distributor_name"],
        "region": row["region"], "region_name": row["region_name"],
        "deliver_to": row["deliver_to"], "deliver_to_name": row["deliver_to_name"],
        "urgent": row["urgent"], "state": _label(OrderState, row["state"]),
        "required_stages": stage_names(row["required_stages"]), "approved_stages": stage_names(row["approved_stages"]),
        "pending_stages": stage_names(_pending(row)), "amount": row["amount"],
        "cases_ordered": row["cases_ordered"], "cases_dispatched": row["cases_dispatched"],
        "submitted_by": _address(row["submitted_by"]), "submitted_at": row["submitted_at"],
        "approved_at": row["approved_at"], "first_dispatched_at": row["first_dispatched_at"],
        "delivered_at": row["delivered_at"], "closed_at": row["closed_at"], "closed_by": _address(row["closed_by"]),
        "reason_code": row["reason_code"], "rejected_stage": _label(Stage, row["rejected_stage"]),
        "tx_hash": row["tx_hash"],
    }


def _stage_open(stage: Stage) -> ColumnElement[bool]:
    return and_(orders.c.required_stages.bitwise_and(int(stage)) != 0,
                orders.c.approved_stages.bitwise_and(int(stage)) == 0)


def _approvable_now(stage: Stage) -> ColumnElement[bool]:
    """`stage` is pending and the contract would take its approval now: an urgent order collects its stages in
    any order, any other only once every earlier required stage is approved."""
    earlier = [_stage_open(s) for s in Stage if s < stage]
    in_sequence = and_(*[~e for e in earlier]) if earlier else true()
    return and_(_stage_open(stage), or_(orders.c.urgent, in_sequence))


def _awaiting(caller: Caller) -> ColumnElement[bool]:
    """Submitted orders this caller may approve now, as `Orders._authoriseStage` decides who may."""
    mine = []
    if caller.has(Role.region_manager):  # the manager of the distributor's own region only
        mine.append(and_(orders.c.region == caller.org, _approvable_now(Stage.region_manager)))
    if caller.org == BRAND_ORG:
        mine += [_approvable_now(stage) for stage, role in HEAD_OFFICE_STAGES if caller.has(role)]
    if not mine:
        return false()
    return and_(orders.c.state == int(OrderState.submitted), or_(*mine))


def list_orders(conn: Connection, caller: Caller, *, states: list[str] | None = None, region: int | None = None,
                distributor: int | None = None, submitted_from: int | None = None, submitted_to: int | None = None,
                urgent: bool | None = None, pending_for_me: bool = False, limit: int = 50, offset: int = 0) -> Page:
    """A page of the orders the caller may see, newest first. `submitted_from`/`submitted_to` bound the submission
    time as [from, to); `pending_for_me` keeps the submitted orders awaiting an approval the caller may give now."""
    where = [_order_scope(caller), *_equal([(orders.c.region, region), (orders.c.distributor, distributor),
                                            (orders.c.urgent, urgent)]),
             *_between(orders.c.submitted_at, submitted_from, submitted_to)]
    if states is not None:
        where.append(orders.c.state.in_([_code(OrderState, s, "order state") for s in states]))
    if pending_for_me:
        where.append(_awaiting(caller))
    return _page(conn, _named_orders().where(*where), [orders.c.id.desc()], limit, offset, _order_json)


def get_order(conn: Connection, caller: Caller, order_id: int) -> dict | None:
    """One order with its lines, approvals, pending stages and the shipments (the caller may see) against it."""
    row = conn.execute(_named_orders().where(orders.c.id == order_id, _order_scope(caller))).mappings().first()
    if row is None:
        return None
    lines = conn.execute(select(order_lines).where(order_lines.c.order_id == order_id)
                         .order_by(order_lines.c.line_no)).mappings()
    approvals = conn.execute(select(order_approvals).where(order_approvals.c.order_id == order_id)
                             .order_by(order_approvals.c.approved_at, order_approvals.c.stage)).mappings()
    dispatched = conn.execute(select(shipments.c.id).where(
        shipments.c.kind == int(ShipmentKind.order), shipments.c.ref == order_id, _shipment_scope(caller))
        .order_by(shipments.c.id)).scalars()
    return {
        **_order_json(row),
        "lines": [{"line_no": r["line_no"], "sku": r["sku"], "cases": r["cases"], "unit_price": r["unit_price"]}
                  for r in lines],
        "approvals": [{"stage": _label(Stage, r["stage"]), "approver": _address(r["approver"]),
                       "approved_at": r["approved_at"]} for r in approvals],
        "shipments": list(dispatched),
    }


# ---------------------------------------------------------------------------------------------- cycle times


def _spread(values: list[int]) -> dict:
    if not values:
        return {"count": 0, "median_seconds": None, "p90_seconds": None, "median_hours": None, "p90_hours": None}
    median = statistics.median(values)
    p90 = values[0] if len(values) == 1 else statistics.quantiles(values, n=10, method="inclusive")[8]
    return {"count": len(values), "median_seconds": median, "p90_seconds": p90,
            "median_hours": round(median / 3600, 1), "p90_hours": round(p90 / 3600, 1)}


def _cycle(rows: list[Mapping]) -> dict:
    to_approval = [r["approved_at"] - r["submitted_at"] for r in rows if r["approved_at"] is not None]
    to_delivery = [r["delivered_at"] - r["approved_at"] for r in rows
                   if r["delivered_at"] is not None and r["approved_at"] is not None]
    whole = [r["delivered_at"] - r["submitted_at"] for r in rows if r["delivered_at"] is not None]
    within = sum(1 for r in rows if r["approved_at"] is not None
                 and r["approved_at"] - r["submitted_at"] <= 3600 * TARGET_HOURS["urgent" if r["urgent"] else "normal"])
    return {
        "orders": len(rows),
        "submit_to_approved": _spread(to_approval),
        "approved_to_delivered": _spread(to_delivery),
        "submit_to_delivered": _spread(whole),
        "within_target": {"count": within, "share": round(within / len(to_approval), 4) if to_approval else None},
    }


def cycle_times(conn: Connection, caller: Caller, *, region: int | None = None, submitted_from: int | None = None,
                submitted_to: int | None = None, urgent: bool | None = None) -> dict:
    """How long the caller's orders took: submission to full approval, approval to delivery and submission to
    delivery (count, median and p90, each over the orders that reached that point), per region and for all.
    `within_target` counts the approved orders approved within their target (`target_hours`, urgent or not)
    and their share of the approved ones. Computed here, not in SQL, so every database gives the same figures."""
    rows = conn.execute(
        select(orders.c.region, orders.c.urgent, orders.c.submitted_at, orders.c.approved_at, orders.c.delivered_at)
        .where(_order_scope(caller), *_equal([(orders.c.region, region), (orders.c.urgent, urgent)]),
               *_between(orders.c.submitted_at, submitted_from, submitted_to))
    ).mappings().all()
    by_region: dict[int, list[Mapping]] = defaultdict(list)
    for r in rows:
        by_region[r["region"]].append(r)
    return {
        "target_hours": dict(TARGET_HOURS),
        "regions": [{"region": key, **_cycle(by_region[key])} for key in sorted(by_region)],
        "all": _cycle(rows),
    }


# ---------------------------------------------------------------------------------------------- shipments


def _overdue(now: int) -> ColumnElement[bool]:
    return or_(and_(shipments.c.state == int(ShipmentState.in_transit), shipments.c.eta < now),
               and_(shipments.c.state == int(ShipmentState.received), shipments.c.received_at > shipments.c.eta))


def _on_time(now: int) -> ColumnElement[bool]:
    # Spelled out rather than NOT(_overdue): received_at is NULL in transit, and NOT of NULL is NULL.
    return or_(and_(shipments.c.state == int(ShipmentState.in_transit), shipments.c.eta >= now),
               and_(shipments.c.state == int(ShipmentState.received), shipments.c.received_at <= shipments.c.eta))


# As for orders: whoever may see a shipment may see the names of the sites and the carrier it names.
_shipment_from = locations.alias("shipment_from")
_shipment_to = locations.alias("shipment_to")
_shipment_carrier = organisations.alias("shipment_carrier")


def _named_shipments() -> Select:
    """Shipments with the names of their sending and receiving locations and their carrier."""
    return select(shipments, _shipment_from.c.name.label("from_name"), _shipment_to.c.name.label("to_name"),
                  _shipment_carrier.c.name.label("carrier_name")).select_from(
        shipments.outerjoin(_shipment_from, _shipment_from.c.id == shipments.c.from_location)
        .outerjoin(_shipment_to, _shipment_to.c.id == shipments.c.to_location)
        .outerjoin(_shipment_carrier, _shipment_carrier.c.id == shipments.c.carrier))


def _shipment_json(row: Mapping, now: int) -> dict:
    late = row["state"] == ShipmentState.received and row["received_at"] > row["eta"]
    return {
        "id": row["id"], "kind": _label(ShipmentKind, row["kind"]), "ref": row["ref"],
        "from_location": row["from_location"], "from_name": row["from_name"],
        "to_location": row["to_location"], "to_name": row["to_name"],
        "carrier": row["carrier"], "carrier_name": row["carrier_name"],
        "eta": row["eta"], "document_cid": row["document_cid"], "owner": row["owner"],
        "state": _label(ShipmentState, row["state"]), "cases": row["cases"],
        "dispatched_by": _address(row["dispatched_by"]), "dispatched_at": row["dispatched_at"],
        "received_by": _address(row["received_by"]), "received_at": row["received_at"],
        "received_owner": row["received_owner"], "shortfall": row["shortfall"], "tx_hash": row["tx_hash"],
        "overdue": late or (row["state"] == ShipmentState.in_transit and row["eta"] < now), "late": late,
    }


def list_shipments(conn: Connection, caller: Caller, *, state: str | None = None, kind: str | None = None,
                   overdue: bool | None = None, from_location: int | None = None, to_location: int | None = None,
                   carrier: int | None = None, now: int, limit: int = 50, offset: int = 0) -> Page:
    """A page of the shipments the caller may see, newest first. A shipment is overdue when it is still in transit
    after its eta (`eta < now`) or was received after it (`received_at > eta`, also flagged `late`)."""
    where = [_shipment_scope(caller), *_equal([(shipments.c.from_location, from_location),
                                               (shipments.c.to_location, to_location), (shipments.c.carrier, carrier)])]
    if state is not None:
        where.append(shipments.c.state == _code(ShipmentState, state, "shipment state"))
    if kind is not None:
        where.append(shipments.c.kind == _code(ShipmentKind, kind, "shipment kind"))
    if overdue is not None:
        where.append(_overdue(now) if overdue else _on_time(now))
    return _page(conn, _named_shipments().where(*where), [shipments.c.id.desc()], limit, offset,
                 lambda row: _shipment_json(row, now))


def get_shipment(conn: Connection, caller: Caller, shipment_id: int, *, now: int) -> dict | None:
    """One shipment with its lines, the carrier's checkpoints in time order and the discrepancies it opened."""
    row = conn.execute(_named_shipments().where(shipments.c.id == shipment_id, _shipment_scope(caller))
                       ).mappings().first()
    if row is None:
        return None
    lines = conn.execute(select(shipment_lines).where(shipment_lines.c.shipment_id == shipment_id)
                         .order_by(shipment_lines.c.line_no)).mappings()
    checkpoints = conn.execute(select(shipment_checkpoints).where(shipment_checkpoints.c.shipment_id == shipment_id)
                               .order_by(shipment_checkpoints.c.block_number, shipment_checkpoints.c.log_index)
                               ).mappings()
    shortfalls = conn.execute(select(discrepancies).where(discrepancies.c.shipment_id == shipment_id)
                              .order_by(discrepancies.c.id)).mappings()
    return {
        **_shipment_json(row, now),
        "lines": [{"line_no": r["line_no"], "lot": _lot(r["lot"]), "sku": r["sku"], "cases": r["cases"],
                   "received": r["received"]} for r in lines],
        "checkpoints": [{"carrier": r["carrier"], "status": r["status"], "place": r["place"],
                         "reported_by": _address(r["reported_by"]), "time": r["time"]} for r in checkpoints],
        "discrepancies": [{
            "id": r["id"], "lot": _lot(r["lot"]), "shipped": r["shipped"], "received": r["received"],
            "state": _label(DiscrepancyState, r["state"]), "credited_location": r["credited_location"],
            "opened_at": r["opened_at"], "resolved_at": r["resolved_at"], "resolved_by": _address(r["resolved_by"]),
        } for r in shortfalls],
    }


# ---------------------------------------------------------------------------------------------- transfers


def _transfer_json(row: Mapping) -> dict:
    return {
        "id": row["id"], "from_location": row["from_location"], "to_location": row["to_location"],
        "state": _label(TransferState, row["state"]), "cases": row["cases"],
        "requested_by": _address(row["requested_by"]), "requested_at": row["requested_at"],
        "approved_by": _address(row["approved_by"]), "approved_at": row["approved_at"],
        "rejected_by": _address(row["rejected_by"]), "rejected_at": row["rejected_at"],
        "reason_code": row["reason_code"], "shipment_id": row["shipment_id"], "completed_at": row["completed_at"],
    }


def list_transfers(conn: Connection, caller: Caller, *, state: str | None = None, limit: int = 50,
                   offset: int = 0) -> Page:
    """A page of the transfers (stock rebalancing) the caller may see, newest first."""
    where = [_transfer_scope(caller)]
    if state is not None:
        where.append(transfers.c.state == _code(TransferState, state, "transfer state"))
    return _page(conn, select(transfers).where(*where), [transfers.c.id.desc()], limit, offset, _transfer_json)


def get_transfer(conn: Connection, caller: Caller, transfer_id: int) -> dict | None:
    row = conn.execute(select(transfers).where(transfers.c.id == transfer_id, _transfer_scope(caller))
                       ).mappings().first()
    if row is None:
        return None
    lines = conn.execute(select(transfer_lines).where(transfer_lines.c.transfer_id == transfer_id)
                         .order_by(transfer_lines.c.line_no)).mappings()
    return {**_transfer_json(row),
            "lines": [{"line_no": r["line_no"], "lot": _lot(r["lot"]), "sku": r["sku"], "cases": r["cases"]}
                      for r in lines]}


# ---------------------------------------------------------------------------------------------- stock

STOCK_GROUPS = ("location", "region", "sku")


def _sum(column):
    # PostgreSQL sums BIGINT as NUMERIC, which would come back as Decimal.
    return cast(func.sum(column), BigInteger)


def _stock_held(caller: Caller, *, location: int | None, region: int | None, sku: int | None,
                include_in_transit: bool):
    """Per location and lot, the cases on hand and (optionally) on their way there, without empty rows: a
    subquery with columns location, region, sku, lot, lot_number, on_hand, in_transit."""
    zero = literal_column("0", BigInteger)
    parts = [select(stock_balances.c.location, stock_balances.c.lot, stock_balances.c.sku,
                    stock_balances.c.cases.label("on_hand"), zero.label("in_transit"))
             .where(_stock_scope(caller, stock_balances.c.location), stock_balances.c.cases != 0)]
    if include_in_transit:
        parts.append(select(stock_in_transit.c.to_location, stock_in_transit.c.lot, stock_in_transit.c.sku, zero,
                            stock_in_transit.c.cases)
                     .where(_stock_scope(caller, stock_in_transit.c.to_location), stock_in_transit.c.cases != 0))
    held = union_all(*parts).subquery()
    return (
        select(held.c.location, locations.c.region, held.c.sku, held.c.lot, lots.c.lot_number,
               _sum(held.c.on_hand).label("on_hand"), _sum(held.c.in_transit).label("in_transit"))
        .join(locations, locations.c.id == held.c.location)
        .join(lots, lots.c.id == held.c.lot)
        .where(*_equal([(held.c.location, location), (locations.c.region, region), (held.c.sku, sku)]))
        .group_by(held.c.location, locations.c.region, held.c.sku, held.c.lot, lots.c.lot_number)
        .subquery()
    )


def stock(conn: Connection, caller: Caller, *, location: int | None = None, region: int | None = None,
          sku: int | None = None, include_in_transit: bool = True, limit: int = 500, offset: int = 0) -> Page:
    """A page of stock rows by location and lot, in that order: cases on hand, and cases in transit to the
    location (None when `include_in_transit` is off). A location's region is 0 for national warehouses."""
    held = _stock_held(caller, location=location, region=region, sku=sku, include_in_transit=include_in_transit)

    def row_json(r: Mapping) -> dict:
        return {"location": r["location"], "region": r["region"], "sku": r["sku"], "lot": _lot(r["lot"]),
                "on_hand": r["on_hand"], "in_transit": r["in_transit"] if include_in_transit else None}

    # lot_number orders a SKU's lots as their ids do (the id is the SKU above the lot number's 160 bits), and
    # unlike the id it sorts the same as text on SQLite as it does as a number on PostgreSQL.
    return _page(conn, select(held), [held.c.location, held.c.sku, held.c.lot_number], limit, offset, row_json)


def stock_summary(conn: Connection, caller: Caller, *, group_by: str, location: int | None = None,
                  region: int | None = None, sku: int | None = None) -> list[dict]:
    """The caller's stock added up by location, region or SKU: [{key, on_hand, in_transit}], by key."""
    if group_by not in STOCK_GROUPS:
        raise InvalidQuery(f"cannot group stock by {group_by!r}: one of {', '.join(STOCK_GROUPS)}")
    held = _stock_held(caller, location=location, region=region, sku=sku, include_in_transit=True)
    key = held.c[group_by]
    rows = conn.execute(select(key, _sum(held.c.on_hand), _sum(held.c.in_transit)).group_by(key).order_by(key)).all()
    return [{"key": k, "on_hand": on_hand, "in_transit": in_transit} for k, on_hand, in_transit in rows]


CHANNEL_KINDS = (int(OrgKind.distributor), int(OrgKind.store))


def mirror_time(conn: Connection) -> int:
    """The time of the newest block the mirror holds: "now" for figures over the ledger's recent past, which
    a replayed or demo chain keeps apart from the wall clock. The wall clock when the mirror has no block."""
    at = conn.execute(select(blocks.c.time).where(
        blocks.c.number == select(sync_state.c.block_number).where(sync_state.c.id == 1).scalar_subquery())).scalar()
    return int(at) if at is not None else int(time.time())


def stock_cover(conn: Connection, caller: Caller, rules: board.CoverRules, *, region: int | None = None,
                sku: int | None = None, now: int | None = None) -> dict:
    """Days of cover per region and SKU in the caller's reach (`board.days_of_cover`): what the distributors
    and stores of each region hold and await, against what they sold in the `rules.window_days` before `now`
    (default: the mirror's newest block)."""
    now = mirror_time(conn) if now is None else now
    since = now - rules.window_days * board.DAY
    channel = locations.c.kind.in_(CHANNEL_KINDS)
    filters = _equal([(locations.c.region, region)])

    def cases(table, location, amount, *where) -> list[board.Cases]:
        query = (select(locations.c.region, table.c.sku, _sum(amount))
                 .join(locations, locations.c.id == location)
                 .where(channel, _stock_scope(caller, location), *filters,
                        *_equal([(table.c.sku, sku)]), *where)
                 .group_by(locations.c.region, table.c.sku))
        return [board.Cases(r, k, n) for r, k, n in conn.execute(query)]

    rows = board.days_of_cover(
        cases(stock_balances, stock_balances.c.location, stock_balances.c.cases),
        cases(stock_in_transit, stock_in_transit.c.to_location, stock_in_transit.c.cases),
        cases(decommissions, decommissions.c.location, decommissions.c.cases,
              decommissions.c.reason == int(Decommission.sold), decommissions.c.time >= since,
              decommissions.c.time < now),
        rules)
    return {"as_of": now, "window_days": rules.window_days, "shortage_days": rules.shortage_days,
            "surplus_days": rules.surplus_days, "rows": rows}


# ---------------------------------------------------------------------------------------------- catalog and lots


def _sku_json(row: Mapping) -> dict:
    return {"id": row["id"], "gtin": row["gtin"], "name": row["name"], "bottles_per_case": row["bottles_per_case"],
            "content_cid": row["content_cid"], "active": row["active"]}


def _lot_json(row: Mapping) -> dict:
    return {
        "lot": _lot(row["id"]), "sku": row["sku"], "lot_number": row["lot_number"], "location": row["location"],
        "cases": row["cases"], "bottles": row["bottles"], "merkle_root": row["merkle_root"],
        "document_cid": row["document_cid"], "recalled": row["recalled"], "recall_reason": row["recall_reason"],
        "recalled_at": row["recalled_at"], "commissioned_at": row["commissioned_at"], "tx_hash": row["tx_hash"],
    }


# The catalog and its lots are what every member (and every bottle's consumer) may know: no scope.

def list_skus(conn: Connection, caller: Caller) -> list[dict]:
    return [_sku_json(r) for r in conn.execute(select(skus).order_by(skus.c.id)).mappings()]


def get_sku(conn: Connection, caller: Caller, sku_id: int) -> dict | None:
    row = conn.execute(select(skus).where(skus.c.id == sku_id)).mappings().first()
    return None if row is None else _sku_json(row)


def list_lots(conn: Connection, caller: Caller, *, sku: int | None = None, limit: int = 100,
              offset: int = 0) -> Page:
    """A page of lots, newest commissioned first."""
    query = select(lots).where(*_equal([(lots.c.sku, sku)]))
    return _page(conn, query, [lots.c.commissioned_at.desc(), lots.c.sku.desc(), lots.c.lot_number.desc()],
                 limit, offset, _lot_json)


def get_lot(conn: Connection, caller: Caller, lot: int) -> dict | None:
    row = conn.execute(select(lots).where(lots.c.id == lot)).mappings().first()
    return None if row is None else _lot_json(row)


# ---------------------------------------------------------------------------------------------- prices


def price_history(conn: Connection, caller: Caller, *, sku: int | None = None, tier: int | None = None,
                  changed_from: int | None = None, changed_to: int | None = None, limit: int = 100,
                  offset: int = 0) -> Page:
    """A page of price changes of the tiers the caller may see, newest first; [changed_from, changed_to)."""
    query = select(price_changes).where(
        _price_scope(caller, price_changes.c.tier),
        *_equal([(price_changes.c.sku, sku), (price_changes.c.tier, tier)]),
        *_between(price_changes.c.time, changed_from, changed_to))

    def change_json(r: Mapping) -> dict:
        return {"sku": r["sku"], "tier": r["tier"], "old_price": r["old_price"], "new_price": r["new_price"],
                "set_by": _address(r["set_by"]), "time": r["time"], "block_number": r["block_number"],
                "log_index": r["log_index"]}

    return _page(conn, query, [price_changes.c.block_number.desc(), price_changes.c.log_index.desc()], limit,
                 offset, change_json)


def current_prices(conn: Connection, caller: Caller, *, sku: int | None = None, tier: int | None = None) -> list[dict]:
    """Today's price (fen per case) of each SKU in each tier the caller may see, by SKU and tier."""
    rows = conn.execute(select(prices).where(_price_scope(caller, prices.c.tier),
                                             *_equal([(prices.c.sku, sku), (prices.c.tier, tier)]))
                        .order_by(prices.c.sku, prices.c.tier)).mappings()
    return [{"sku": r["sku"], "tier": r["tier"], "price": r["price"], "updated_at": r["updated_at"]} for r in rows]


# ---------------------------------------------------------------------------------------------- members and credit


def list_organisations(conn: Connection, caller: Caller, *, kind: str | None = None) -> list[dict]:
    """The organisations the caller may see (its own and the carriers, or all for the brand and auditors), by id."""
    where = [_listed_organisations(caller)]
    if kind is not None:
        where.append(organisations.c.kind == _code(OrgKind, kind, "organisation kind"))
    rows = conn.execute(select(organisations).where(*where).order_by(organisations.c.id)).mappings()
    return [_organisation_json(r) for r in rows]


def get_organisation(conn: Connection, caller: Caller, org: int) -> dict | None:
    row = conn.execute(select(organisations).where(organisations.c.id == org, _listed_organisations(caller))
                       ).mappings().first()
    return None if row is None else _organisation_json(row)


def _organisation_json(r: Mapping) -> dict:
    return {"id": r["id"], "kind": _label(OrgKind, r["kind"]), "parent": r["parent"], "region": r["region"],
            "price_tier": r["price_tier"], "name": r["name"], "code": r["code"], "registered_at": r["registered_at"]}


def _location_json(row: Mapping) -> dict:
    return {"id": row["id"], "org": row["org"], "region": row["region"], "kind": _label(OrgKind, row["kind"]),
            "name": row["name"], "gln": row["gln"], "active": row["active"]}


def list_locations(conn: Connection, caller: Caller, *, org: int | None = None) -> list[dict]:
    """The locations the caller may see (its own organisation's, a distributor's also the stores of its region,
    or all for the brand and auditors), by id."""
    where = [_listed_locations(caller), *_equal([(locations.c.org, org)])]
    rows = conn.execute(select(locations).where(*where).order_by(locations.c.id)).mappings()
    return [_location_json(r) for r in rows]


def get_location(conn: Connection, caller: Caller, location: int) -> dict | None:
    row = conn.execute(select(locations).where(locations.c.id == location, _listed_locations(caller))
                       ).mappings().first()
    return None if row is None else _location_json(row)


def list_accounts(conn: Connection, caller: Caller) -> list[dict]:
    """The accounts the caller may see (its own organisation's, or all for the brand and auditors)."""
    rows = conn.execute(select(accounts).where(_organisation_scope(caller, accounts.c.org))
                        .order_by(accounts.c.org, accounts.c.address)).mappings()
    return [_account_json(r) for r in rows]


def get_account(conn: Connection, caller: Caller, address: str) -> dict | None:
    row = conn.execute(select(accounts).where(accounts.c.address == address.lower(),
                                              _organisation_scope(caller, accounts.c.org))).mappings().first()
    return None if row is None else _account_json(row)


def _account_json(r: Mapping) -> dict:
    return {"address": _address(r["address"]), "org": r["org"], "roles": role_names(r["roles"]), "name": r["name"],
            "active": r["active"], "updated_at": r["updated_at"]}


def credit(conn: Connection, caller: Caller, distributor: int) -> dict | None:
    """A distributor's credit limit, exposure and what is left (fen), if the caller may see it."""
    row = conn.execute(select(credits).where(credits.c.distributor == distributor, _credit_scope(caller))
                       ).mappings().first()
    if row is None:
        return None
    return {"distributor": row["distributor"], "credit_limit": row["credit_limit"], "exposure": row["exposure"],
            "available": max(0, row["credit_limit"] - row["exposure"]), "updated_at": row["updated_at"]}
