"""The distributor health score on the brand's board, as a pure function of what the ledger shows of each
distributor's trade over a recent window: five components, each normalised to 0..1 by a stated rule, weighted
into a score of 0-100, ranked, with the top share (20%) marked. The rules and the weights are returned as text
with every answer, so the board explains the score it draws, and they are the settings (`LEDGER_BOARD_HEALTH_*`).

- **purchase frequency**: orders placed in the window over the orders expected (`orders_per_week` a week),
  at most 1;
- **fulfilment**: cases dispatched over cases ordered, on its orders of the window that were approved;
- **receipt confirmation**: shipments to its sites it confirmed, over those plus the ones still unconfirmed
  past their ETA (a shipment still on its way before its ETA is nobody's fault yet);
- **payment**: the share of its credit limit it is not using (1 − exposure ÷ limit, at least 0); with no credit
  limit, 1 when it owes nothing and 0 when it does;
- **sell-through** (动销): cases it delivered on to stores or sold over those plus the cases it holds now.

A component with nothing behind it (no approved order, no shipment due, no stock moved or held) scores 0: the
score is earned by trade, so a distributor that has not traded ranks last rather than in the middle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping

COMPONENTS = ("purchase_frequency", "fulfilment", "receipt_confirmation", "payment", "sell_through")
DEFAULT_WEIGHTS = {"purchase_frequency": 0.25, "fulfilment": 0.2, "receipt_confirmation": 0.15, "payment": 0.2,
                   "sell_through": 0.2}


@dataclass(frozen=True)
class HealthRules:
    """How the board scores distributors; `Settings` carries them (`LEDGER_BOARD_HEALTH_*`)."""

    window_days: int = 90  # the trade the score reads: this many days before now
    orders_per_week: float = 1.0  # this many orders a week earn full marks for purchase frequency
    top_share: float = 0.2  # the share of the ranking marked as the top
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    def __post_init__(self) -> None:
        if set(self.weights) != set(COMPONENTS):
            raise ValueError(f"health weights must name exactly {', '.join(COMPONENTS)}")
        if any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0:
            raise ValueError("health weights must be 0 or more, and at least one above 0")

    @property
    def normalised_weights(self) -> dict[str, float]:
        """The weights scaled to add up to 1, so that any proportions may be configured."""
        total = sum(self.weights.values())
        return {name: round(self.weights[name] / total, 4) for name in COMPONENTS}

    @property
    def orders_expected(self) -> float:
        return self.orders_per_week * self.window_days / 7


@dataclass(frozen=True)
class Trade:
    """What the ledger shows of one distributor's trade in the window (money in fen, stock in cases)."""

    distributor: int
    orders: int = 0  # orders it submitted within the window
    cases_ordered: int = 0  # on those of them that were approved
    cases_dispatched: int = 0  # ... and how many of those cases the brand dispatched
    shipments_confirmed: int = 0  # shipments to its sites, dispatched within the window, it confirmed
    shipments_unconfirmed: int = 0  # ... and those still in transit past their ETA
    credit_limit: int = 0
    exposure: int = 0  # what it owes now
    paid: int = 0  # payments it made within the window (shown beside the payment component)
    cases_sold: int = 0  # delivered on to its stores, or sold at its own sites, within the window
    cases_on_hand: int = 0  # at its sites now


def _share(part: int, whole: int) -> float:
    return min(1.0, part / whole) if whole > 0 else 0.0


def components(trade: Trade, rules: HealthRules) -> dict[str, float]:
    """Each component of the score, 0..1, by the rules of this module's docstring."""
    if trade.credit_limit > 0:
        payment = 1.0 - _share(trade.exposure, trade.credit_limit)
    else:
        payment = 1.0 if trade.exposure == 0 else 0.0
    return {
        "purchase_frequency": min(1.0, trade.orders / rules.orders_expected),
        "fulfilment": _share(trade.cases_dispatched, trade.cases_ordered),
        "receipt_confirmation": _share(trade.shipments_confirmed,
                                       trade.shipments_confirmed + trade.shipments_unconfirmed),
        "payment": payment,
        "sell_through": _share(trade.cases_sold, trade.cases_sold + trade.cases_on_hand),
    }


def _yuan(fen: int) -> float:
    return fen / 100


def figures(trade: Trade, rules: HealthRules) -> dict:
    """The raw numbers behind each component."""
    return {
        "orders": trade.orders, "orders_expected": round(rules.orders_expected, 2),
        "cases_ordered": trade.cases_ordered, "cases_dispatched": trade.cases_dispatched,
        "shipments_confirmed": trade.shipments_confirmed, "shipments_unconfirmed": trade.shipments_unconfirmed,
        "credit_limit_yuan": _yuan(trade.credit_limit), "exposure_yuan": _yuan(trade.exposure),
        "paid_yuan": _yuan(trade.paid), "cases_sold": trade.cases_sold, "cases_on_hand": trade.cases_on_hand,
    }


def top_count(n: int, share: float) -> int:
    """How many places of a ranking of `n` make its top `share` (rounded up: one of a ranking of 1-5 is the top
    20%). Rounded first, since 0.2 × 15 is 3.0000000000000004 in floating point."""
    return math.ceil(round(n * share, 9))


def ranked(scores: Iterable[tuple[int, float]], share: float) -> list[tuple[int, float, int, bool]]:
    """(key, score) pairs as (key, score, rank, top), best first: equal scores share a rank (1, 2, 2, 4) and the
    next key breaks their order; the top are the ranks within the first `share` of places, so everyone tied at the
    cut is in it."""
    ordered = sorted(scores, key=lambda pair: (-pair[1], pair[0]))
    cut = top_count(len(ordered), share)
    rows, rank = [], 0
    for place, (key, score) in enumerate(ordered, start=1):
        if place == 1 or score != ordered[place - 2][1]:
            rank = place
        rows.append((key, score, rank, rank <= cut))
    return rows


def distributor_health(trades: Iterable[Trade], rules: HealthRules = HealthRules()) -> list[dict]:
    """Every distributor's score, rank, top mark, components and figures, by rank."""
    weights = rules.normalised_weights
    by_distributor = {t.distributor: t for t in trades}
    parts = {d: components(t, rules) for d, t in by_distributor.items()}
    scores = {d: round(100 * sum(weights[name] * c[name] for name in COMPONENTS), 1) for d, c in parts.items()}
    return [{"distributor": d, "score": score, "rank": rank, "top": top,
             "components": {name: round(parts[d][name], 4) for name in COMPONENTS},
             "figures": figures(by_distributor[d], rules)}
            for d, score, rank, top in ranked(scores.items(), rules.top_share)]


def formula(rules: HealthRules = HealthRules()) -> dict:
    """The score's formula as the board explains it, with its weights."""
    w = rules.normalised_weights
    text = (
        f"score = 100 × ({w['purchase_frequency']} × purchase frequency + {w['fulfilment']} × fulfilment + "
        f"{w['receipt_confirmation']} × receipt confirmation + {w['payment']} × payment + "
        f"{w['sell_through']} × sell-through), each component 0 to 1, over the last {rules.window_days} days. "
        f"Purchase frequency: orders placed ÷ {round(rules.orders_expected, 2)} expected "
        f"({rules.orders_per_week:g} a week), at most 1. Fulfilment: cases dispatched ÷ cases ordered on its "
        f"approved orders. Receipt confirmation: shipments it confirmed ÷ (those + shipments still unconfirmed past "
        f"their ETA). Payment: 1 − exposure ÷ credit limit, at least 0 (with no credit limit: 1 if it owes nothing, "
        f"else 0). Sell-through: cases delivered on to stores or sold ÷ (those + cases on hand now). A component "
        f"with nothing behind it scores 0. Equal scores share a rank; the top {round(rules.top_share * 100):g}% of "
        f"places are marked, with everyone tied at the cut."
    )
    return {"text": text, "weights": w}
