"""The board's delay warnings, transfer suggestions and order sourcing, read from the mirror: the queries that
feed the pure models of `ledger_api.delays` and `ledger_api.sourcing`, and the caller's reach applied to what
they answer.

A model learns from the whole ledger, as the brand sees it: a carrier's record on a lane, and the sales and
stock of every region a warehouse serves, are what make a prediction or a choice right, and an answer shows
only aggregates of them. What is answered is within the caller's reach: shipments through `reads`' shipment
scope, an order through its order scope; the warehouse stock behind a suggestion or a sourcing option is shown
to the brand and auditors, to the staff of the region it serves, and to the staff of the warehouses concerned;
a distributor, a store or a carrier gets none.

What the models learn from the whole ledger (the delivery history, its backtest, the lead times and the
transfers it suggests) is the same for every member and every request until the mirror moves, so `LEARNED`
works it out once per mirror checkpoint and shares it; each request then reads only its own narrower part.
"""

from __future__ import annotations

import threading
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy import Connection, Engine, or_, select

from indexer.schema import (
    blocks,
    lots,
    locations,
    order_lines,
    orders,
    organisations,
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
from ledger_api import board, delays, reads, sourcing
from ledger_api.caller import Caller, Reach
from ledger_api.delays import DelayRules, History, Journey
from ledger_api.sourcing import FreeLot, LeadTimes, SourcingRules
from ledger_api.vocabulary import BRAND_ORG, OrderState, OrgKind, Role, ShipmentKind, ShipmentState, TransferState

# The board's models read the ledger as the brand does (see the module's docstring); answers are then narrowed
# to the caller.
WHOLE_LEDGER = Caller(address="0x" + "00" * 20, name="the board", org=BRAND_ORG, org_kind=OrgKind.brand,
                      org_name="the brand", region=0, roles=Role(0), price_tier=0, locations=frozenset())
OPEN_TRANSFERS = (int(TransferState.requested), int(TransferState.approved))  # promised, not yet dispatched
ORDERS_TO_SHIP = (int(OrderState.submitted), int(OrderState.approved), int(OrderState.partially_dispatched))


def _names(conn: Connection, table, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    return dict(conn.execute(select(table.c.id, table.c.name).where(table.c.id.in_(wanted))).all())


def _journeys(conn: Connection, *where, with_checkpoints: bool = True) -> list[Journey]:
    """The shipments matching `where`, with their checkpoints in the order they were reported (or none)."""
    to_site = locations.alias("to_site")
    query = (select(shipments.c.id, shipments.c.carrier, shipments.c.from_location, shipments.c.to_location,
                    to_site.c.region, shipments.c.dispatched_at, shipments.c.eta, shipments.c.received_at)
             .join(to_site, to_site.c.id == shipments.c.to_location).where(*where))
    rows = conn.execute(query.order_by(shipments.c.id)).all()
    checkpoints: dict[int, list[delays.Checkpoint]] = defaultdict(list)
    if with_checkpoints:
        reported = (select(shipment_checkpoints)
                    .where(shipment_checkpoints.c.shipment_id.in_(query.with_only_columns(shipments.c.id)))
                    .order_by(shipment_checkpoints.c.block_number, shipment_checkpoints.c.log_index))
        for cp in conn.execute(reported).mappings():
            checkpoints[cp["shipment_id"]].append(delays.Checkpoint(cp["time"], cp["status"], cp["place"]))
    return [Journey(r.id, r.carrier, r.from_location, r.to_location, r.region, r.dispatched_at, r.eta, r.received_at,
                    tuple(checkpoints[r.id])) for r in rows]


def _delivered(now: int, rules: DelayRules) -> list:
    return [shipments.c.state == int(ShipmentState.received),
            shipments.c.received_at >= now - rules.lookback_days * delays.DAY, shipments.c.received_at <= now]


def _touching(region: int | None) -> list:
    if region is None:
        return []
    sites = select(locations.c.id).where(locations.c.region == region)
    return [or_(shipments.c.from_location.in_(sites), shipments.c.to_location.in_(sites))]


# ------------------------------------------------------------------------------------------ kept per checkpoint

T = TypeVar("T")
_CHECKPOINT = select(sync_state.c.block_number, sync_state.c.block_hash, blocks.c.time).select_from(
    sync_state.outerjoin(blocks, blocks.c.number == sync_state.c.block_number)).where(sync_state.c.id == 1)


def _checkpoint(conn: Connection) -> tuple | None:
    """(block number, block hash) the mirror is at, or None while it holds no block (then "now" is the wall
    clock, and nothing worked out stays true)."""
    row = conn.execute(_CHECKPOINT).first()
    return None if row is None or row.time is None else (row.block_number, row.block_hash)


class _Entry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = False
        self.value = None


class Learned:
    """What the board's models worked out over the whole ledger, kept per mirror for the checkpoint it was read
    at and shared by every request and member until the mirror moves.

    Each read looks at the mirror's checkpoint first. Another block, or the same number with another hash (a
    reorg replaced it), drops everything kept for that mirror. A result is kept only if the checkpoint is still
    the same once it is worked out, so nothing is kept under a checkpoint it was not read at. Requests run in
    several threads: the first to ask for something works it out while the others asking for the same wait for
    it, and different things are worked out side by side."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mirrors: weakref.WeakKeyDictionary[Engine, tuple[tuple, dict[tuple, _Entry]]] = (
            weakref.WeakKeyDictionary())

    def get(self, conn: Connection, what: tuple, work: Callable[[], T]) -> T:
        """`work()`'s answer for `what` at the mirror's checkpoint, worked out once per checkpoint."""
        checkpoint = _checkpoint(conn)
        if checkpoint is None:
            return work()
        with self._lock:
            kept = self._mirrors.get(conn.engine)
            if kept is None or kept[0] != checkpoint:
                kept = self._mirrors[conn.engine] = (checkpoint, {})
            entry = kept[1].setdefault(what, _Entry())
        with entry.lock:
            if entry.done:
                return entry.value
            value = work()
            if _checkpoint(conn) == checkpoint:  # not moved while it was worked out
                entry.value, entry.done = value, True
            return value

    def clear(self) -> None:
        """Drops everything kept (what every read did before any was kept)."""
        with self._lock:
            self._mirrors.clear()


LEARNED = Learned()


# ------------------------------------------------------------------------------------------ delay warnings


def delay_warnings(conn: Connection, caller: Caller, rules: DelayRules, *, region: int | None = None,
                   now: int | None = None) -> dict:
    """The caller's shipments on the road predicted to miss their ETA as of `now` (the mirror's newest block),
    highest risk first, and the backtest over the caller's shipments received in the lookback window. `region`
    keeps the shipments from or to a site of that region."""
    now = reads.mirror_time(conn) if now is None else now
    delivered, history, warned = LEARNED.get(conn, ("delays", now, rules), lambda: _delay_history(conn, now, rules))
    reach = [reads._shipment_scope(caller), *_touching(region)]
    on_road = _journeys(conn, shipments.c.state == int(ShipmentState.in_transit), shipments.c.dispatched_at <= now,
                        *reach)
    mine = set(conn.execute(select(shipments.c.id).where(*_delivered(now, rules), *reach)).scalars())
    predictions = delays.at_risk(on_road, history, now, rules)
    journeys = {j.shipment: j for j in on_road}
    details = {r["id"]: r for r in conn.execute(
        select(shipments.c.id, shipments.c.kind, shipments.c.ref)
        .where(shipments.c.id.in_([p.shipment for p in predictions]))).mappings()}
    flagged = [journeys[p.shipment] for p in predictions]
    places = _names(conn, locations, [x for j in flagged for x in (j.from_location, j.to_location)])
    orgs = _names(conn, organisations, [x for j in flagged for x in (j.carrier, j.to_region)])
    at_risk = []
    for p in predictions:
        j, shipment = journeys[p.shipment], details[p.shipment]
        at_risk.append({
            "shipment": j.shipment, "order": shipment["ref"] if shipment["kind"] == ShipmentKind.order else None,
            "kind": reads._label(ShipmentKind, shipment["kind"]), "carrier": j.carrier,
            "carrier_name": orgs.get(j.carrier), "from_location": j.from_location,
            "from_name": places.get(j.from_location), "to_location": j.to_location,
            "to_name": places.get(j.to_location), "region": j.to_region, "region_name": orgs.get(j.to_region),
            "dispatched_at": j.dispatched_at, "eta": j.eta, "predicted_arrival": p.predicted_arrival,
            "hours_late_predicted": p.hours_late, "risk": p.risk, "reason": p.reason,
            "checkpoints": [{"time": c.time, "status": c.status,
                             "status_name": delays.CHECKPOINT_STATUS.get(c.status), "place": c.place}
                            for c in j.checkpoints]})
    return {"as_of": now, "at_risk": at_risk,
            "backtest": delays.backtest([j for j in delivered if j.shipment in mine], history, rules, warned)}


def _delay_history(conn: Connection, now: int, rules: DelayRules) -> tuple[list[Journey], History, dict]:
    """The deliveries of the lookback window, the history they make, and each one's first warning in the
    backtest: the whole ledger's, whoever asks."""
    delivered = _journeys(conn, *_delivered(now, rules))
    history = History(delivered)
    return delivered, history, {j.shipment: delays.first_warning(j, history, rules) for j in delivered}


# ------------------------------------------------------------------------------------------ stock to source


def _warehouse_free_lots(conn: Connection, sku_ids: Iterable[int] | None = None) -> dict[int, list[FreeLot]]:
    """Each warehouse's lots free to ship: what it holds of lots not recalled, less what transfers it was asked
    for and has not dispatched yet have promised."""
    promised = dict(((loc, lot), n) for loc, lot, n in conn.execute(
        select(transfers.c.from_location, transfer_lines.c.lot, reads._sum(transfer_lines.c.cases))
        .join(transfer_lines, transfer_lines.c.transfer_id == transfers.c.id)
        .where(transfers.c.state.in_(OPEN_TRANSFERS))
        .group_by(transfers.c.from_location, transfer_lines.c.lot)))
    query = (select(stock_balances.c.location, stock_balances.c.sku, stock_balances.c.lot, stock_balances.c.cases,
                    lots.c.commissioned_at, lots.c.lot_number)
             .join(locations, locations.c.id == stock_balances.c.location)
             .join(lots, lots.c.id == stock_balances.c.lot)
             .where(locations.c.kind == int(OrgKind.warehouse), locations.c.active, stock_balances.c.cases > 0,
                    ~lots.c.recalled))
    if sku_ids is not None:
        query = query.where(stock_balances.c.sku.in_(sorted(sku_ids)))
    free: dict[int, list[FreeLot]] = defaultdict(list)
    for r in conn.execute(query):
        cases = r.cases - promised.get((r.location, r.lot), 0)
        if cases > 0:
            free[r.location].append(FreeLot(r.location, r.sku, r.lot, cases, (r.commissioned_at, r.lot_number)))
    return dict(free)


def _lead_times(conn: Connection, now: int, rules: SourcingRules, delay_rules: DelayRules) -> LeadTimes:
    def work() -> LeadTimes:
        carriers = conn.execute(select(organisations.c.id).where(organisations.c.kind == int(OrgKind.carrier)))
        return LeadTimes(_journeys(conn, *_delivered(now, delay_rules), with_checkpoints=False), rules,
                         list(carriers.scalars()))

    return LEARNED.get(conn, ("lead_times", now, rules, delay_rules), work)


def _warehouse_sees(caller: Caller, location: int, region: int) -> bool:
    """Whether the caller may see the stock of warehouse `location` as it serves `region` (module docstring)."""
    if caller.reach is Reach.ledger:
        return True
    if caller.reach is Reach.region:
        return region == caller.region
    return caller.org_kind is OrgKind.warehouse and location in caller.locations


# ------------------------------------------------------------------------------------------ transfer suggestions


def transfer_suggestions(conn: Connection, caller: Caller, cover_rules: board.CoverRules, rules: SourcingRules,
                         delay_rules: DelayRules, *, region: int | None = None, sku: int | None = None,
                         now: int | None = None) -> dict:
    """Transfers between the brand's warehouses that would bring the regions short of cover to the target
    (`sourcing.transfer_suggestions`), worked out over the whole ledger and then narrowed to the region and SKU
    asked and to the caller's reach; each with the body of `POST /v1/transfers` that requests it."""
    now = reads.mirror_time(conn) if now is None else now
    every = LEARNED.get(conn, ("transfers", now, cover_rules, rules, delay_rules),
                        lambda: _every_transfer_suggestion(conn, cover_rules, rules, delay_rules, now))
    return {"as_of": now, "weights": rules.weights, "suggestions": [
        s for s in every
        if (region is None or s["region"] == region) and (sku is None or s["sku"] == sku)
        and (_warehouse_sees(caller, s["from_location"], s["region"])
             or _warehouse_sees(caller, s["to_location"], s["region"]))]}


def _every_transfer_suggestion(conn: Connection, cover_rules: board.CoverRules, rules: SourcingRules,
                               delay_rules: DelayRules, now: int) -> list[dict]:
    """`sourcing.transfer_suggestions` over the whole ledger as of `now`."""
    cover = reads.stock_cover(conn, WHOLE_LEDGER, cover_rules, now=now)["rows"]
    warehouse = select(locations.c.id).where(locations.c.kind == int(OrgKind.warehouse))
    coming: dict[tuple[int, int], int] = defaultdict(int)
    for loc, sku_id, cases in conn.execute(
            select(stock_in_transit.c.to_location, stock_in_transit.c.sku, stock_in_transit.c.cases)
            .where(stock_in_transit.c.to_location.in_(warehouse))):
        coming[(loc, sku_id)] += cases
    for loc, sku_id, cases in conn.execute(
            select(transfers.c.to_location, transfer_lines.c.sku, transfer_lines.c.cases)
            .join(transfer_lines, transfer_lines.c.transfer_id == transfers.c.id)
            .where(transfers.c.state.in_(OPEN_TRANSFERS), transfers.c.to_location.in_(warehouse))):
        coming[(loc, sku_id)] += cases
    to_site = locations.alias("to_site")
    supplied: dict[int, dict[int, int]] = defaultdict(dict)
    for to_region, source, cases in conn.execute(
            select(to_site.c.region, shipments.c.from_location, reads._sum(shipments.c.cases))
            .join(to_site, to_site.c.id == shipments.c.to_location)
            .where(shipments.c.from_location.in_(warehouse), to_site.c.region != 0, shipments.c.dispatched_at <= now)
            .group_by(to_site.c.region, shipments.c.from_location)):
        supplied[to_region][source] = cases
    free = _warehouse_free_lots(conn)
    sites = {*free, *(w for served in supplied.values() for w in served)}
    names = sourcing.Names(_names(conn, locations, sites), _names(conn, organisations, [r["region"] for r in cover]),
                           _names(conn, skus, [r["sku"] for r in cover]))
    return sourcing.transfer_suggestions(cover, cover_rules.window_days, free, coming, supplied,
                                         _lead_times(conn, now, rules, delay_rules), names, rules)


# ------------------------------------------------------------------------------------------ order sourcing


def order_sourcing(conn: Connection, caller: Caller, rules: SourcingRules, delay_rules: DelayRules, order_id: int,
                   *, now: int | None = None) -> dict | None:
    """The warehouses that could ship what the order still needs, ranked (`sourcing.source_order`), as far as
    the caller may see their stock; None when the order is outside the caller's reach or does not exist."""
    order = conn.execute(select(orders).where(orders.c.id == order_id, reads._order_scope(caller))).mappings().first()
    if order is None:
        return None
    now = reads.mirror_time(conn) if now is None else now
    remaining: dict[int, int] = defaultdict(int)
    if order["state"] in ORDERS_TO_SHIP:
        for sku_id, cases in conn.execute(select(order_lines.c.sku, order_lines.c.cases)
                                          .where(order_lines.c.order_id == order_id)):
            remaining[sku_id] += cases
        for sku_id, cases in conn.execute(
                select(shipment_lines.c.sku, reads._sum(shipment_lines.c.cases))
                .join(shipments, shipments.c.id == shipment_lines.c.shipment_id)
                .where(shipments.c.kind == int(ShipmentKind.order), shipments.c.ref == order_id)
                .group_by(shipment_lines.c.sku)):
            remaining[sku_id] -= cases
    need = sourcing.OrderNeed(order_id, order["deliver_to"], order["region"],
                              {s: n for s, n in remaining.items() if n > 0})
    free = _warehouse_free_lots(conn, need.lines) if need.lines else {}
    options = sourcing.source_order(need, free, _lead_times(conn, now, rules, delay_rules),
                                    _names(conn, locations, free), now, rules)
    visible = [o for o in options if _warehouse_sees(caller, o["warehouse"], order["region"])]
    best = options[0]["warehouse"] if options else None
    return {"order": order_id, "options": visible,
            "recommended": best if any(o["warehouse"] == best for o in visible) else None}

