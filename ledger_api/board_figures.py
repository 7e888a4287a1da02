"""The reads behind the board's weekly cycle time, price alerts, distributor health and scan panels: each takes the
caller and answers only within its reach (through `ledger_api.reads`' scopes), gathers plain rows from the
mirror (and, for consumer scans, from the brand's registry) and hands them to the pure figures of
`ledger_api.board_signals` and `ledger_api.health`. "Now" is the mirror's newest block.

Reach of each panel: cycle times follow the orders the caller may see; price alerts the price tiers it may see;
distributor health shows credit, so it follows the reach of credit (the brand and auditors every distributor,
regional staff their region's, a distributor itself, anyone else nobody). Consumer scans are the brand's own log,
not the ledger's: the brand and auditors see every scan, regional staff the scans the geo proxy placed in their
region (the scan log names a region by its organisation's code), and other members none (403).
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import Counter, defaultdict

from sqlalchemy import ColumnElement, Connection, Engine, and_, case, false, func, select, true
from sqlalchemy.orm import aliased

from indexer import schema
from indexer.schema import (
    credits,
    decommissions,
    ledger_settings,
    locations,
    orders,
    organisations,
    payments,
    raw_events,
    shipments,
    skus,
    stock_balances,
)
from ledger_api import board_signals, health, reads, registry
from ledger_api.board_signals import WEEK, OrderTimes, PlaceTally, WeekTally
from ledger_api.caller import Caller, Reach
from ledger_api.errors import ApiError
from ledger_api.vocabulary import Decommission, OrderState, OrgKind, ShipmentKind, ShipmentState

# Catalog.priceAlertBps before any PriceAlertThresholdSet: 10%.
DEFAULT_PRICE_ALERT_BPS = 1_000


def window_start(now: int, weeks: int) -> int:
    """Monday 00:00 UTC of the first of the `weeks` weeks that end with the week of `now`."""
    return board_signals.week_of(now) - (weeks - 1) * WEEK


def _number_where(condition: ColumnElement[bool]):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# ---------------------------------------------------------------------------------------------- cycle time


def weekly_cycle_times(conn: Connection, caller: Caller, *, weeks: int, region: int | None = None,
                       now: int | None = None) -> dict:
    """`board_signals.weekly_cycle_times` over the orders the caller may see that were submitted in the last
    `weeks` weeks (the week of `now` included)."""
    now = reads.mirror_time(conn) if now is None else now
    rows = conn.execute(
        select(orders.c.submitted_at, orders.c.approved_at, orders.c.delivered_at, orders.c.urgent, orders.c.state)
        .where(reads._order_scope(caller), orders.c.submitted_at >= window_start(now, weeks),
               *reads._equal([(orders.c.region, region)]))
    ).all()
    times = [OrderTimes(s, a, d, bool(u), state == OrderState.submitted) for s, a, d, u, state in rows]
    return {"as_of": now, "target_hours": dict(board_signals.TARGET_HOURS),
            "weeks": board_signals.weekly_cycle_times(times, now)}


# ---------------------------------------------------------------------------------------------- price alerts


def alert_threshold(conn: Connection) -> int:
    """The basis points beyond which the Catalog raises a price alert, as the ledger has it now."""
    value = conn.execute(select(ledger_settings.c.value).where(ledger_settings.c.name == "price_alert_bps")).scalar()
    return DEFAULT_PRICE_ALERT_BPS if value is None else int(json.loads(value))


def price_alerts(conn: Connection, caller: Caller, *, since: int | None = None, weeks: int,
                 now: int | None = None) -> dict:
    """The chain's price alerts (changes beyond the threshold) of the tiers the caller may see, raised at or after
    `since` (default: the start of the board's `weeks` weeks), newest first, with the revisions that raised them.
    A cut's `change_bps` is negative; the chain reports the change's size."""
    now = reads.mirror_time(conn) if now is None else now
    since = window_start(now, weeks) if since is None else since
    rows = conn.execute(
        select(schema.price_alerts, raw_events.c.tx_hash, skus.c.name, skus.c.gtin)
        .outerjoin(raw_events, and_(raw_events.c.block_number == schema.price_alerts.c.block_number,
                                    raw_events.c.log_index == schema.price_alerts.c.log_index))
        .outerjoin(skus, skus.c.id == schema.price_alerts.c.sku)
        .where(reads._price_scope(caller, schema.price_alerts.c.tier), schema.price_alerts.c.time >= since)
        .order_by(schema.price_alerts.c.block_number.desc(), schema.price_alerts.c.log_index.desc())
    ).mappings().all()
    alerts = [{"time": r["time"], "tx_hash": r["tx_hash"], "sku": r["sku"], "sku_name": r["name"],
               "gtin": r["gtin"], "tier": r["tier"], "old_price_yuan": r["old_price"] / 100,
               "new_price_yuan": r["new_price"] / 100,
               "change_bps": board_signals.signed_change(r["old_price"], r["new_price"], r["change_bps"])}
              for r in rows]
    return {"as_of": now, "threshold_bps": alert_threshold(conn), "alerts": alerts,
            "revisions": board_signals.price_revisions(rows)}


# ---------------------------------------------------------------------------------------------- distributor health


def _distributor_scope(caller: Caller) -> ColumnElement[bool]:
    """The distributors whose health the caller may see: the reach of `reads._credit_scope`, since the score
    shows credit."""
    if caller.reach is Reach.ledger:
        return true()
    if caller.reach is Reach.region:
        return organisations.c.region == caller.region
    if caller.org_kind is OrgKind.distributor:
        return organisations.c.id == caller.org
    return false()


def distributor_health(conn: Connection, caller: Caller, rules: health.HealthRules, *, region: int | None = None,
                       now: int | None = None) -> dict:
    """`health.distributor_health` of the distributors the caller may see (of one region, if asked), over the
    `rules.window_days` before `now`, by rank, each with its name and region."""
    now = reads.mirror_time(conn) if now is None else now
    since = now - rules.window_days * board_signals.DAY
    listed = [organisations.c.kind == int(OrgKind.distributor), _distributor_scope(caller),
              *reads._equal([(organisations.c.region, region)])]
    region_org = aliased(organisations)
    names = {d: (name, r, region_name) for d, name, r, region_name in conn.execute(
        select(organisations.c.id, organisations.c.name, organisations.c.region, region_org.c.name)
        .outerjoin(region_org, region_org.c.id == organisations.c.region).where(*listed))}
    if not names:
        return {"as_of": now, "window_days": rules.window_days, "formula": health.formula(rules), "distributors": []}
    ids = select(organisations.c.id).where(*listed)  # a subquery: a thousand distributors are no list of literals
    trade: dict[int, dict] = defaultdict(dict)

    def collect(query, *fields: str) -> None:
        for key, *values in conn.execute(query):
            for name, value in zip(fields, values):
                trade[key][name] = trade[key].get(name, 0) + int(value or 0)

    mine = orders.c.distributor.in_(ids)
    recent = orders.c.submitted_at >= since
    collect(select(orders.c.distributor, func.count()).where(mine, recent).group_by(orders.c.distributor), "orders")
    collect(select(orders.c.distributor, reads._sum(orders.c.cases_ordered), reads._sum(orders.c.cases_dispatched))
            .where(mine, recent, orders.c.approved_at.is_not(None)).group_by(orders.c.distributor),
            "cases_ordered", "cases_dispatched")

    receiver = locations.c.org
    collect(select(receiver, _number_where(shipments.c.state == int(ShipmentState.received)),
                   _number_where(and_(shipments.c.state == int(ShipmentState.in_transit), shipments.c.eta < now)))
            .join(locations, locations.c.id == shipments.c.to_location)
            .where(receiver.in_(ids), shipments.c.dispatched_at >= since).group_by(receiver),
            "shipments_confirmed", "shipments_unconfirmed")
    collect(select(locations.c.org, reads._sum(shipments.c.cases))
            .join(locations, locations.c.id == shipments.c.from_location)
            .where(locations.c.org.in_(ids), shipments.c.kind == int(ShipmentKind.delivery),
                   shipments.c.dispatched_at >= since).group_by(locations.c.org), "cases_sold")
    collect(select(locations.c.org, reads._sum(decommissions.c.cases))
            .join(locations, locations.c.id == decommissions.c.location)
            .where(locations.c.org.in_(ids), decommissions.c.reason == int(Decommission.sold),
                   decommissions.c.time >= since).group_by(locations.c.org), "cases_sold")
    collect(select(locations.c.org, reads._sum(stock_balances.c.cases))
            .join(locations, locations.c.id == stock_balances.c.location)
            .where(locations.c.org.in_(ids)).group_by(locations.c.org), "cases_on_hand")
    # Amounts in fen are exact 256-bit numbers (text on SQLite): added up here rather than by the database.
    for d, limit, exposure in conn.execute(select(credits.c.distributor, credits.c.credit_limit, credits.c.exposure)
                                           .where(credits.c.distributor.in_(ids))):
        trade[d].update(credit_limit=limit, exposure=exposure)
    for d, amount in conn.execute(select(payments.c.distributor, payments.c.amount)
                                  .where(payments.c.distributor.in_(ids), payments.c.time >= since)):
        trade[d]["paid"] = trade[d].get("paid", 0) + amount

    scored = health.distributor_health([health.Trade(d, **trade[d]) for d in sorted(names)], rules)
    for row in scored:
        name, region_id, region_name = names[row["distributor"]]
        row.update(name=name, region=region_id, region_name=region_name)
    return {"as_of": now, "window_days": rules.window_days, "formula": health.formula(rules),
            "distributors": [{key: row[key] for key in ("distributor", "name", "region", "region_name", "score",
                                                         "rank", "top", "components", "figures")} for row in scored]}


# ---------------------------------------------------------------------------------------------- consumer scans


def _region_code(conn: Connection, region: int) -> str | None:
    return conn.execute(select(organisations.c.code).where(organisations.c.id == region,
                                                           organisations.c.kind == int(OrgKind.region))).scalar()


def _scan_labels(conn: Connection, caller: Caller, region: int | None) -> list[str] | None:
    """The region labels of the scans the caller may see (None: every scan, labelled or not)."""
    if caller.reach is Reach.own:
        raise ApiError(403, "ScansOutOfReach", {
            "account": caller.address,
            "problem": "consumer scans are the brand's log: the brand, auditors and regional staff see them"})
    if caller.reach is Reach.region and region is not None and region != caller.region:
        return []
    asked = caller.region if caller.reach is Reach.region else region
    if asked is None:
        return None
    code = _region_code(conn, asked)
    return [] if code is None else [code]


class ScanTallies:
    """The scan log counted per week, region, city and verdict, kept by the process and brought up to date on each
    read: the log only grows, by ascending ids, so a read counts the scans logged since the last one rather than
    the log's whole window again (tens of millions of scans a year). The newest `margin` ids are counted afresh
    on every read and never kept, because on PostgreSQL a concurrent writer may commit a lower id after a higher
    one; weeks that fall out of the board's window are dropped."""

    def __init__(self, margin: int = 10_000):
        self.margin = margin
        self._lock = threading.Lock()
        self._settled: Counter = Counter()  # (week, region, city, verdict) -> scans, of ids up to `_settled_id`
        self._settled_id = -1  # -1: nothing counted yet
        self._start = 0  # the first week counted

    @staticmethod
    def _count(conn: Connection, *where) -> Counter:
        scans = registry.scans
        week = (scans.c.at + board_signals.EPOCH_TO_MONDAY) // WEEK
        rows = conn.execute(select(week, scans.c.region, scans.c.place, scans.c.verdict, func.count())
                            .where(*where).group_by(week, scans.c.region, scans.c.place, scans.c.verdict))
        return Counter({(int(w) * WEEK - board_signals.EPOCH_TO_MONDAY, region, city, verdict): n
                        for w, region, city, verdict, n in rows})

    def read(self, conn: Connection, start: int) -> Counter:
        """The tallies of every scan at or after `start` (a week's start)."""
        scans = registry.scans
        with self._lock:
            newest = conn.execute(select(func.max(scans.c.id))).scalar() or 0
            settle_to = max(0, newest - self.margin)
            if self._settled_id < 0 or start < self._start:
                self._settled = self._count(conn, scans.c.at >= start, scans.c.id <= settle_to)
            elif settle_to > self._settled_id:
                self._settled.update(self._count(conn, scans.c.at >= start, scans.c.id > self._settled_id,
                                                 scans.c.id <= settle_to))
            if self._settled_id >= 0 and start > self._start:
                for key in [k for k in self._settled if k[0] < start]:
                    del self._settled[key]
            self._settled_id, self._start = max(self._settled_id, settle_to), start
            return self._settled + self._count(conn, scans.c.at >= start, scans.c.id > self._settled_id)


_TALLIES: weakref.WeakKeyDictionary[Engine, ScanTallies] = weakref.WeakKeyDictionary()


def scan_tallies(brand: Engine) -> ScanTallies:
    """The process's tallies of one registry's scan log."""
    return _TALLIES.setdefault(brand, ScanTallies())


def scan_intelligence(mirror: Connection, brand: Connection, caller: Caller, *, weeks: int,
                      region: int | None = None, now: int | None = None, tallies: ScanTallies | None = None) -> dict:
    """`board_signals.scan_intelligence` over the scans the caller may see from the start of the board's `weeks`
    weeks on, from the process's tallies of the log (`tallies`, default those of `brand`'s engine)."""
    now = reads.mirror_time(mirror) if now is None else now
    labels = _scan_labels(mirror, caller, region)
    counted = (tallies or scan_tallies(brand.engine)).read(brand, window_start(now, weeks))
    by_week: Counter = Counter()
    by_place: Counter = Counter()
    for (week, label, city, verdict), n in counted.items():
        if labels is None or label in labels:
            by_week[(week, verdict)] += n
            by_place[(label, city, verdict)] += n
    return {"as_of": now, **board_signals.scan_intelligence(
        [WeekTally(week, verdict, n) for (week, verdict), n in by_week.items()],
        [PlaceTally(label, city, verdict, n) for (label, city, verdict), n in by_place.items()], now)}
