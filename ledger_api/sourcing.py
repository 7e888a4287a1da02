"""Smart sourcing, as pure functions: which of the brand's warehouses should ship an order, and which should
transfer how many cases to which, so that a region short of stock is covered again.

Every choice weighs three things, each scored 0-1 against the best candidate and added up with the weights of
`SourcingRules`: **cover** (the share of the cases needed the warehouse can send from its free stock: lots
first in, first out, none recalled and none already promised to a transfer), **lead time** (the fastest
candidate's hours over this one's: the median dispatch-to-receipt time of the carrier fastest on the lane in
the ledger's history, else of the warehouse's deliveries anywhere, else an assumed figure) and **cost** (the
cheapest candidate's yuan a case over this one's). The cost model is a fixed charge per shipment, handling per
case, and freight per case for every hour on the road: the ledger records no distances, and the time a lane
takes stands in for its length.

A region is served by the warehouses that ship to its distributors and stores, in proportion to what each
shipped there; the one that shipped the most is its home warehouse. A warehouse keeps what its regions sell
in `target_cover_days` (their daily sell-through times their share of its shipments); beyond that, what it
holds, has coming or has been promised by transfers is its spare. A region the days-of-cover flags as short
needs the cases that bring its cover (with what is on its way) to `target_cover_days`: its home warehouse
sends what it holds beyond what it keeps for its other regions, and the rest (with what it lacks for those) is
a transfer to the home warehouse from the best of the others with spare stock (on chain, transfers move stock
only between the brand's own sites). Stock on its way to a warehouse, or promised to it by a transfer, counts
as its own, so a suggestion once asked for is not made again.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from ledger_api.delays import HOUR, Journey, Lane, count_of_deliveries, lane

MIN_LEAD_HOURS = 1.0  # a lead time under an hour scores as an hour: no candidate is infinitely better


@dataclass(frozen=True)
class SourcingRules:
    """The cost model, the weights and the cover target; `Settings` carries them (`LEDGER_BOARD_*`)."""

    target_cover_days: float = 30.0  # a transfer brings a short region's cover up to this
    shipment_yuan: float = 200.0  # the fixed charge of one shipment
    handling_yuan_per_case: float = 5.0
    freight_yuan_per_case_hour: float = 0.5
    default_lead_hours: float = 72.0  # assumed for a warehouse with no delivery in the ledger yet
    weight_cover: float = 0.6
    weight_lead_time: float = 0.25
    weight_cost: float = 0.15

    @property
    def weights(self) -> dict[str, float]:
        return {"cover": self.weight_cover, "lead_time": self.weight_lead_time, "cost": self.weight_cost}


def cost_yuan(cases: int, lead_hours: float, rules: SourcingRules) -> float:
    return round(rules.shipment_yuan + cases * (rules.handling_yuan_per_case
                                                + rules.freight_yuan_per_case_hour * lead_hours), 2)


@dataclass(frozen=True)
class FreeLot:
    """Cases of one lot at a warehouse that are free to ship; `age` orders lots first in, first out."""

    location: int
    sku: int
    lot: int
    cases: int
    age: tuple = ()  # (commissioned_at, lot number)


def first_in_first_out(lots: Iterable[FreeLot], sku: int, cases: int) -> list[tuple[int, int]]:
    """(lot, cases) of `sku` taken oldest lot first, up to `cases`."""
    taken = []
    for lot in sorted((x for x in lots if x.sku == sku and x.cases > 0), key=lambda x: (x.age, x.lot)):
        if cases <= 0:
            break
        n = min(cases, lot.cases)
        taken.append((lot.lot, n))
        cases -= n
    return taken


@dataclass(frozen=True)
class Lead:
    hours: float
    carrier: int | None  # the carrier to book: the fastest on the lane, else the one the warehouse uses most
    basis: str


class LeadTimes:
    """Lead times between sites, from the deliveries the ledger recorded."""

    def __init__(self, deliveries: Iterable[Journey], rules: SourcingRules, carriers: Sequence[int] = ()):
        self._rules = rules
        self._carriers = sorted(carriers)
        self._by_lane: dict[Lane, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        self._by_source: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        for d in deliveries:
            if d.received_at is not None:
                self._by_lane[d.lane][d.carrier].append(d.duration)
                self._by_source[d.from_location][d.carrier].append(d.duration)

    def of(self, route: Lane) -> Lead:
        source = route[0]
        on_lane = self._by_lane.get(route)
        if on_lane:
            carrier, durations = min(on_lane.items(), key=lambda c: (statistics.median(c[1]), -len(c[1]), c[0]))
            return Lead(round(statistics.median(durations) / HOUR, 1), carrier,
                        f"the fastest carrier's median over {count_of_deliveries(len(durations))} on the lane")
        from_here = self._by_source.get(source)
        if from_here:
            everything = [d for durations in from_here.values() for d in durations]
            carrier = min(from_here, key=lambda c: (-len(from_here[c]), c))
            return Lead(round(statistics.median(everything) / HOUR, 1), carrier,
                        f"no delivery on the lane yet, so the median of all its {count_of_deliveries(len(everything))}")
        return Lead(self._rules.default_lead_hours, self._carriers[0] if self._carriers else None,
                    "no delivery from it yet, so the assumed lead time")


@dataclass
class Candidate:
    location: int
    cases: int  # what it can send (> 0)
    needed: int
    lead: Lead
    cost: float = field(init=False)
    score: float = 0.0
    rules: SourcingRules = field(default_factory=SourcingRules, repr=False)

    def __post_init__(self) -> None:
        self.cost = cost_yuan(self.cases, self.lead.hours, self.rules)

    @property
    def per_case(self) -> float:
        return self.cost / self.cases


def ranked(candidates: list[Candidate], rules: SourcingRules) -> list[Candidate]:
    """The candidates scored and best first (ties: the faster, then the lower location id)."""
    if not candidates:
        return []
    fastest = min(max(c.lead.hours, MIN_LEAD_HOURS) for c in candidates)
    cheapest = min(c.per_case for c in candidates)
    total = sum(rules.weights.values()) or 1.0
    for c in candidates:
        parts = (rules.weight_cover * min(1.0, c.cases / c.needed),
                 rules.weight_lead_time * fastest / max(c.lead.hours, MIN_LEAD_HOURS),
                 rules.weight_cost * (cheapest / c.per_case if c.per_case else 1.0))  # free: all the cheapest
        c.score = round(sum(parts) / total, 4)
    return sorted(candidates, key=lambda c: (-c.score, c.lead.hours, c.location))


def _cost_note(c: Candidate, rules: SourcingRules) -> str:
    return (f"{c.cost:,.2f} yuan ({c.per_case:,.2f} a case: {rules.shipment_yuan:g} a shipment, "
            f"{rules.handling_yuan_per_case:g} a case handled, {rules.freight_yuan_per_case_hour:g} a case per hour "
            f"on the road)")


# ------------------------------------------------------------------------------------------------ orders


@dataclass(frozen=True)
class OrderNeed:
    order: int
    deliver_to: int
    region: int
    lines: Mapping[int, int]  # SKU -> cases still to dispatch


def source_order(need: OrderNeed, free: Mapping[int, Sequence[FreeLot]], lead_times: LeadTimes,
                 names: Mapping[int, str], now: int, rules: SourcingRules = SourcingRules()) -> list[dict]:
    """The warehouses that can ship any of what the order still needs, ranked; each with the body of the
    dispatch (`POST /v1/shipments`) that would ship it, due `now` plus the lead time."""
    needed = sum(need.lines.values())
    candidates, picks = [], {}
    for warehouse in sorted(free):
        lines = [taken for sku, cases in sorted(need.lines.items())
                 for taken in first_in_first_out(free[warehouse], sku, cases)]
        cases = sum(n for _, n in lines)
        if cases == 0 or needed == 0:
            continue
        picks[warehouse] = lines
        candidates.append(Candidate(warehouse, cases, needed,
                                    lead_times.of(lane(warehouse, need.region, need.deliver_to)), rules=rules))
    options = []
    for rank, c in enumerate(ranked(candidates, rules), start=1):
        name = names.get(c.location, f"location {c.location}")
        covers = c.cases == needed
        share = "all" if covers else f"{c.cases:,} of the {needed:,}"
        dispatch = None if c.lead.carrier is None else {
            "kind": "order", "ref": need.order, "from_location": c.location, "to_location": need.deliver_to,
            "carrier": c.lead.carrier, "eta": now + math.ceil(c.lead.hours) * HOUR,
            "lines": [{"lot": str(lot), "cases": n} for lot, n in sorted(picks[c.location])]}
        options.append({
            "warehouse": c.location, "name": name, "available_cases": c.cases, "covers_order": covers,
            "lead_time_hours": c.lead.hours, "cost_yuan": c.cost, "score": c.score, "rank": rank,
            "reason": (f"{name} can send {share} cases the order still needs from free stock, oldest lots first; "
                       f"{c.lead.basis}: {c.lead.hours:g} h; shipping costs {_cost_note(c, rules)}."),
            "dispatch": dispatch})
    return options


# ------------------------------------------------------------------------------------------------ transfers


@dataclass(frozen=True)
class Names:
    locations: Mapping[int, str]
    regions: Mapping[int, str]
    skus: Mapping[int, str]

    def location(self, id_: int) -> str:
        return self.locations.get(id_, f"location {id_}")

    def region(self, id_: int) -> str:
        return self.regions.get(id_, f"region {id_}")

    def sku(self, id_: int) -> str:
        return self.skus.get(id_, f"SKU {id_}")


def _days(cases: float, per_day: float) -> float:
    return round(cases / per_day, 1)


def transfer_suggestions(cover: Iterable[dict], window_days: int, free: Mapping[int, Sequence[FreeLot]],
                         coming: Mapping[tuple[int, int], int], supplied: Mapping[int, Mapping[int, int]],
                         lead_times: LeadTimes, names: Names,
                         rules: SourcingRules = SourcingRules()) -> list[dict]:
    """Transfers between warehouses that bring each short region (rows of `board.days_of_cover` over
    `window_days`) to `rules.target_cover_days`, most urgent region first and the best source first.

    `free`: each warehouse's free lots on hand; `coming`: (warehouse, SKU) -> cases on their way to it or
    promised to it by transfers not yet dispatched; `supplied`: region -> warehouse -> cases it has shipped to
    the region's sites (who serves whom)."""
    rows = list(cover)
    on_hand: dict[tuple[int, int], int] = defaultdict(int)
    lots: dict[tuple[int, int], list[FreeLot]] = defaultdict(list)
    for warehouse, held in free.items():
        for lot in held:
            on_hand[(warehouse, lot.sku)] += lot.cases
            lots[(warehouse, lot.sku)].append(lot)

    # What each warehouse keeps for its regions' sales, region by region, and what it can spare beyond that.
    keep: dict[tuple[int, int], dict[int, float]] = defaultdict(dict)
    for row in rows:
        shipped = supplied.get(row["region"], {})
        total = sum(shipped.values())
        for warehouse, cases in shipped.items():
            keep[(warehouse, row["sku"])][row["region"]] = (
                (cases / total) * rules.target_cover_days * row["sold"] / window_days)
    spare = {key: on_hand.get(key, 0) + coming.get(key, 0) - sum(keep.get(key, {}).values())
             for key in set(on_hand) | set(coming) | set(keep)}
    sendable = dict(on_hand)  # what can leave now: stock on its way cannot be sent on yet

    suggestions = []
    short = [r for r in rows if r["flag"] == "shortage"]
    for row in sorted(short, key=lambda r: (r["days_of_cover_with_transit"], r["region"], r["sku"])):
        region, sku = row["region"], row["sku"]
        per_day = row["sold"] / window_days
        held = row["on_hand"] + row["in_transit"]
        gap = math.ceil(rules.target_cover_days * per_day - held)
        shipped = supplied.get(region, {})
        if gap <= 0 or not shipped:
            continue  # what is on its way covers it, or no warehouse has served the region yet
        home = min(shipped, key=lambda w: (-shipped[w], w))
        # What the home warehouse keeps for this region is what the gap asks of it now; below 0, it lacks that
        # much for its other regions too, and the transfer makes it up first.
        own = min(gap, math.floor(spare.get((home, sku), 0) + keep[(home, sku)].get(region, 0)))
        spare[(home, sku)] = spare.get((home, sku), 0) - own
        lack = gap - own
        candidates = [Candidate(w, min(lack, math.floor(spare[(w, s)]), sendable.get((w, s), 0)), lack,
                                lead_times.of(lane(w, 0, home)), rules=rules)
                      for (w, s) in sorted(spare) if s == sku and w != home
                      and min(math.floor(spare[(w, s)]), sendable.get((w, s), 0)) > 0] if lack > 0 else []
        transferred = 0
        for c in ranked(candidates, rules):
            cases = min(lack, math.floor(spare[(c.location, sku)]), sendable.get((c.location, sku), 0))
            if cases <= 0:
                break
            if cases != c.cases:  # an earlier pick of this region already took part of the lack
                c = Candidate(c.location, cases, c.needed, c.lead, score=c.score, rules=rules)
            beyond = math.floor(spare[(c.location, sku)])
            taken = first_in_first_out(lots[(c.location, sku)], sku, cases)
            lots[(c.location, sku)] = _less(lots[(c.location, sku)], taken)
            spare[(c.location, sku)] -= cases
            sendable[(c.location, sku)] -= cases
            lack -= cases
            transferred += cases
            source, dest = names.location(c.location), names.location(home)
            home_part = (f"can send {own:,} itself" if own >= 0
                         else f"has none to spare and lacks {-own:,} for its other regions")
            reason = (f"{names.region(region)} holds and awaits {held:,} cases of {names.sku(sku)}, "
                      f"{_days(held, per_day)} days at {per_day:.2f} a day; {gap:,} more bring it to "
                      f"{rules.target_cover_days:g} days. {dest}, its home warehouse, {home_part}; {source} has "
                      f"{beyond:,} beyond what its own regions need and sends {cases:,}; {c.lead.basis}: "
                      f"{c.lead.hours:g} h; the transfer costs {_cost_note(c, rules)}.")
            suggestions.append({
                "id": f"{region}-{sku}-{c.location}-{home}", "sku": sku, "sku_name": names.sku(sku),
                "region": region, "region_name": names.region(region), "from_location": c.location,
                "from_name": source, "to_location": home, "to_name": dest, "cases": cases,
                "lead_time_hours": c.lead.hours, "cost_yuan": c.cost, "score": c.score, "reason": reason,
                "cover_days_before": _days(held, per_day),
                "cover_days_after": _days(held + max(0, own + transferred), per_day),
                "request": {"from_location": c.location, "to_location": home,
                            "lines": [{"lot": str(lot), "cases": n} for lot, n in sorted(taken)]}})
            if lack <= 0:
                break
    return suggestions


def _less(lots: Sequence[FreeLot], taken: Iterable[tuple[int, int]]) -> list[FreeLot]:
    gone = dict(taken)
    return [FreeLot(x.location, x.sku, x.lot, x.cases - gone.get(x.lot, 0), x.age) for x in lots]
