"""What the brand's board watches week by week and event by event, as pure functions of plain rows: order cycle
times per week against the approval targets, price alerts grouped into the price-list revisions that raised them,
and the consumer scan log's verdicts by week, region and city (counterfeit, opened and diversion hot spots).

Weeks are ISO weeks in UTC: each starts on Monday at 00:00 and is named by that moment in Unix seconds. A week
inside the span with nothing in it is listed with zero counts and `None` figures, so a chart shows the gap.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping

from ledger_api.verdicts import Verdict

DAY = 86_400
WEEK = 7 * DAY
# The Unix epoch fell on a Thursday: Monday 00:00 UTC is 3 days (of the week's 7) before each week's Thursday.
EPOCH_TO_MONDAY = 3 * DAY
# The approval targets of the business (shared/DOMAIN.md): an order approved within 8 hours, an urgent one 12.
TARGET_HOURS = {"normal": 8, "urgent": 12}
VERDICTS = tuple(v.value for v in Verdict)
# The verdicts that point at a problem in the channel: counterfeits, copied codes, refills and diversion (窜货).
# A recalled bottle is the brand's own call, and a genuine one is no risk.
RISK_VERDICTS = ("unknown", "suspicious", "opened", "diverted")
HOT_SPOTS = 20


def week_of(moment: int) -> int:
    """The start (Monday 00:00 UTC, Unix seconds) of the week holding `moment`."""
    return (moment + EPOCH_TO_MONDAY) // WEEK * WEEK - EPOCH_TO_MONDAY


def week_span(first: int, last: int) -> list[int]:
    """Every week start from the week of `first` to the week of `last`, ascending."""
    return list(range(week_of(first), week_of(last) + 1, WEEK))


# ---------------------------------------------------------------------------------------------- cycle time


@dataclass(frozen=True)
class OrderTimes:
    """When an order was submitted, fully approved and delivered (None: not yet, or never)."""

    submitted_at: int
    approved_at: int | None
    delivered_at: int | None
    urgent: bool = False
    awaiting_approval: bool = False  # still submitted: neither approved nor rejected nor cancelled


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 1)


def _median(values: list[int]) -> float | None:
    return statistics.median(values) if values else None


def _p90(values: list[int]) -> float | None:
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def _target(order: OrderTimes) -> int:
    return 3600 * TARGET_HOURS["urgent" if order.urgent else "normal"]


def _week_of_orders(week: int, orders: list[OrderTimes], now: int) -> dict:
    approval = [o.approved_at - o.submitted_at for o in orders if o.approved_at is not None]
    urgent = [o.approved_at - o.submitted_at for o in orders if o.urgent and o.approved_at is not None]
    delivery = [o.delivered_at - o.submitted_at for o in orders if o.delivered_at is not None]
    within = sum(1 for o in orders if o.approved_at is not None and o.approved_at - o.submitted_at <= _target(o))
    # An order still waiting past its target has missed it already, though it has no cycle time yet.
    overdue = sum(1 for o in orders if o.awaiting_approval and now - o.submitted_at > _target(o))
    judged = len(approval) + overdue
    return {
        "week_start": week, "orders": len(orders), "urgent_orders": sum(1 for o in orders if o.urgent),
        "approval_median_hours": _hours(_median(approval)), "approval_p90_hours": _hours(_p90(approval)),
        "urgent_approval_median_hours": _hours(_median(urgent)),
        "delivery_median_hours": _hours(_median(delivery)), "delivery_p90_hours": _hours(_p90(delivery)),
        "within_target_share": round(within / judged, 4) if judged else None,
    }


def weekly_cycle_times(orders: Iterable[OrderTimes], now: int) -> list[dict]:
    """Per week of submission, from the first order's week to the week of `now` (or of the last order, if later):
    how many orders and urgent orders were submitted; the median and p90 hours from submission to full approval
    (over the week's approved orders) and to delivery (over its delivered ones); the urgent orders' median
    approval; and the share of the week's orders that met their approval target (8 h, urgent 12 h), counted over
    those approved and those still awaiting approval past their target at `now`. Rejected and cancelled orders
    count as orders and nothing else."""
    by_week: dict[int, list[OrderTimes]] = defaultdict(list)
    for order in orders:
        by_week[week_of(order.submitted_at)].append(order)
    if not by_week:
        return []
    weeks = week_span(min(by_week), max(max(by_week), now))
    return [_week_of_orders(week, by_week.get(week, []), now) for week in weeks]


# ---------------------------------------------------------------------------------------------- price alerts


def signed_change(old_price: int, new_price: int, change_bps: int) -> int:
    """The chain's change in basis points (a magnitude) with the direction of the change: negative for a cut."""
    return -change_bps if new_price < old_price else change_bps


def price_revisions(alerts: Iterable[Mapping]) -> list[dict]:
    """Alerts (newest first, each with time, tx_hash, block_number, sku and change_bps) grouped by the transaction
    that raised them, a price-list revision: when, which SKUs it moved beyond the threshold (ids, ascending) and
    its largest change in either direction (in basis points, as a magnitude), newest first."""
    revisions: dict[tuple[int, str | None], dict] = {}
    for alert in alerts:
        key = (alert["block_number"], alert["tx_hash"])  # a transaction lies in one block
        revision = revisions.setdefault(key, {"time": alert["time"], "tx_hash": alert["tx_hash"], "skus": set(),
                                              "max_change_bps": 0})
        revision["skus"].add(alert["sku"])
        revision["max_change_bps"] = max(revision["max_change_bps"], abs(alert["change_bps"]))
    return [{**r, "skus": sorted(r["skus"])} for r in revisions.values()]


# ---------------------------------------------------------------------------------------------- consumer scans


@dataclass(frozen=True)
class WeekTally:
    """Scans of one verdict in one week."""

    week_start: int
    verdict: str
    scans: int


@dataclass(frozen=True)
class PlaceTally:
    """Scans of one verdict in one region (its label as the scan log has it) and city."""

    region: str | None
    city: str | None
    verdict: str
    scans: int


def _counts(tally: Mapping[str, int]) -> dict[str, int]:
    return {v: tally.get(v, 0) for v in VERDICTS}


def _risk(tally: Mapping[str, int]) -> int:
    return sum(tally.get(v, 0) for v in RISK_VERDICTS)


def _label_order(label: str | None) -> tuple[bool, str]:
    return (label is None, label or "")  # unlabelled scans last


def scan_intelligence(by_week: Iterable[WeekTally], by_place: Iterable[PlaceTally], now: int) -> dict:
    """The scan log's verdicts per week (from the first scan's week to the week of `now`, or of the last scan);
    per region with the share of scans that point at a problem (unknown, suspicious, opened, diverted), highest
    first; and the hot spots: the region, city and verdict with the most problem scans, each with its share of
    all scans in that city, largest count first, at most 20."""
    weeks: dict[int, Counter] = defaultdict(Counter)
    for t in by_week:
        weeks[t.week_start][t.verdict] += t.scans
    regions: dict[str | None, Counter] = defaultdict(Counter)
    cities: dict[tuple[str | None, str | None], Counter] = defaultdict(Counter)
    for t in by_place:
        regions[t.region][t.verdict] += t.scans
        cities[(t.region, t.city)][t.verdict] += t.scans

    region_rows = []
    for label, tally in regions.items():
        total = sum(tally.values())
        region_rows.append({"region": label, "total": total, "counts": _counts(tally),
                            "risk_share": round(_risk(tally) / total, 4) if total else 0.0})
    region_rows.sort(key=lambda r: (-r["risk_share"], -r["total"], _label_order(r["region"])))

    spots = []
    for (label, city), tally in cities.items():
        total = sum(tally.values())
        for verdict in RISK_VERDICTS:
            if tally.get(verdict):
                spots.append({"region": label, "city": city, "verdict": verdict, "count": tally[verdict],
                              "share": round(tally[verdict] / total, 4)})
    spots.sort(key=lambda s: (-s["count"], -s["share"], _label_order(s["region"]), _label_order(s["city"]),
                              RISK_VERDICTS.index(s["verdict"])))

    span = week_span(min(weeks), max(max(weeks), now)) if weeks else []
    return {
        "verdicts": list(VERDICTS),
        "weeks": [{"week_start": w, "counts": _counts(weeks.get(w, {}))} for w in span],
        "regions": region_rows,
        "hot_spots": spots[:HOT_SPOTS],
    }
