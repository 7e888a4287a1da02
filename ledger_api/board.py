"""The brand's fulfilment and risk board, as pure functions of what the mirror holds: each figure is computed
here from plain rows, so that the figures the board draws are the ones the tests compute by hand.

**Days of cover** (stock imbalance): for each region and SKU, the cases the region's channel (its
distributors and stores) holds, divided by the cases it sold per day over the recent window. Below
`shortage_days` the region is short, above `surplus_days` (or holding stock it does not sell at all) it has a
surplus; cases already on their way to it are shown beside, with the cover they would give. Warehouse stock is
the brand's supply, not the region's, and is not counted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Literal

DAY = 86_400

Flag = Literal["shortage", "surplus"]


@dataclass(frozen=True)
class CoverRules:
    """How the board reads days of cover; `Settings` carries them (`LEDGER_BOARD_*`)."""

    window_days: int = 28  # the sell-through is the daily average over this many days before now
    shortage_days: float = 7.0  # less cover than this is a shortage
    surplus_days: float = 60.0  # more cover than this is a surplus


@dataclass(frozen=True)
class Cases:
    """Cases of one SKU in one region: held, on their way, or sold within the window."""

    region: int
    sku: int
    cases: int


def _totals(rows: Iterable[Cases]) -> dict[tuple[int, int], int]:
    totals: dict[tuple[int, int], int] = defaultdict(int)
    for r in rows:
        totals[(r.region, r.sku)] += r.cases
    return totals


def _days(cases: int, per_day: float) -> float | None:
    if per_day == 0:
        return None  # nothing sells: no number of days runs it down
    return round(cases / per_day, 1)


def _flag(on_hand: int, cover: float | None, rules: CoverRules) -> tuple[Flag | None, str | None]:
    if cover is None:
        return ("surplus", "no_sales") if on_hand > 0 else (None, None)
    if cover < rules.shortage_days:
        return "shortage", "below_shortage_days"
    if cover > rules.surplus_days:
        return "surplus", "above_surplus_days"
    return None, None


def days_of_cover(on_hand: Iterable[Cases], in_transit: Iterable[Cases], sold: Iterable[Cases],
                  rules: CoverRules = CoverRules()) -> list[dict]:
    """One row per region and SKU that holds, awaits or sold anything, ordered by region and SKU."""
    held, coming, sales = _totals(on_hand), _totals(in_transit), _totals(sold)
    rows = []
    for key in sorted(set(held) | set(coming) | set(sales)):
        region, sku = key
        cases, incoming, sold_cases = held.get(key, 0), coming.get(key, 0), sales.get(key, 0)
        per_day = sold_cases / rules.window_days
        cover = _days(cases, per_day)
        flag, reason = _flag(cases, cover, rules)
        rows.append({"region": region, "sku": sku, "on_hand": cases, "in_transit": incoming, "sold": sold_cases,
                     "daily_sales": round(per_day, 2), "days_of_cover": cover,
                     "days_of_cover_with_transit": _days(cases + incoming, per_day), "flag": flag,
                     "reason": reason})
    return rows
