"""Delivery-delay early warning, as pure functions of the shipments the ledger recorded: for each shipment on
the road, when it will probably arrive and how likely it is to miss its ETA, and a backtest of the same
prediction over shipments already received.

The model is one anyone can redo by hand. Each delivery took its dispatch-to-receipt time against the time its
ETA gave it: a factor, 1.1 for 10% late (dispatchers set ETAs by distance, so a factor carries from a short
journey to a long one where raw hours would not). A shipment is compared with the most recent deliveries like
it: of its carrier on its lane (the sending site to the destination's region; a national site, which belongs to
no region, is a lane of its own), else of any carrier on the lane, else of its carrier anywhere, as long as at
least `min_history` of them exist. Its checkpoints narrow that: once the carrier has reported where it is
(picked up, at hub, out for delivery, delayed, exception), it is compared with the deliveries that reported the
same, looking wider (up to every carrier and lane) while too few did; a "delayed" weighs as past delays did.
Each comparable factor, applied to the shipment's own time to its ETA and never shorter than the time it has
already been on the road (it has not arrived yet), is one possible arrival: their median is the predicted
arrival, and their share past the ETA is the risk. A shipment is flagged when the predicted arrival passes its
ETA (arriving exactly on it is on time, as everywhere in the ledger); one already past its ETA and not received
is certain to be late.
"""

from __future__ import annotations

import bisect
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

HOUR = 3_600
DAY = 86_400

# The carrier's checkpoint statuses (`models.Checkpoint`), as the reasons name them.
CHECKPOINT_STATUS = {1: "picked up", 2: "at hub", 3: "out for delivery", 4: "delayed", 5: "exception"}

Lane = tuple[int, int, int]  # (from location, destination region, destination location when the region is 0)


def lane(from_location: int, to_region: int, to_location: int) -> Lane:
    """A site to a region; to a national site, which belongs to no region, a lane of its own."""
    return from_location, to_region, 0 if to_region else to_location


@dataclass(frozen=True)
class DelayRules:
    """How the board predicts delays; `Settings` carries them (`LEDGER_BOARD_DELAY_*`)."""

    min_history: int = 3  # fewer comparable deliveries than this say nothing
    history: int = 50  # a prediction learns from at most this many of the most recent comparable deliveries
    lookback_days: int = 90  # deliveries received this long before now are the history and the backtest


@dataclass(frozen=True)
class Checkpoint:
    time: int
    status: int
    place: str


@dataclass(frozen=True)
class Journey:
    """A shipment as the delay model sees it; `received_at` is None while it is on the road."""

    shipment: int
    carrier: int
    from_location: int
    to_location: int
    to_region: int  # 0: a national site
    dispatched_at: int
    eta: int
    received_at: int | None = None
    checkpoints: tuple[Checkpoint, ...] = ()  # in time order

    @property
    def lane(self) -> Lane:
        return lane(self.from_location, self.to_region, self.to_location)

    @property
    def duration(self) -> int:
        assert self.received_at is not None
        return self.received_at - self.dispatched_at


@dataclass(frozen=True)
class Prediction:
    shipment: int
    predicted_arrival: int
    hours_late: float  # predicted arrival past the ETA, in hours (negative: early)
    risk: float  # the share of possible arrivals after the ETA
    reason: str

    @property
    def late(self) -> bool:
        return self.hours_late > 0


def hours(seconds: float) -> float:
    return round(seconds / HOUR, 1)


def count_of_deliveries(n: int) -> str:
    return f"{n:,} delivery" if n == 1 else f"{n:,} deliveries"


class History:
    """Received deliveries, indexed by carrier and lane in the order they were received, so that the comparable
    deliveries known at any moment are a slice."""

    BASES = ("its carrier on this lane", "any carrier on this lane", "its carrier on any lane",
             "any carrier on any lane")

    def __init__(self, deliveries: Iterable[Journey]):
        # Each group is also kept narrowed to the deliveries that reported each checkpoint status, so that the
        # comparable deliveries of a status are a slice too rather than a walk back through the whole group.
        self._groups: dict[tuple, list[Journey]] = defaultdict(list)
        self.factor: dict[int, float] = {}  # shipment -> its time on the road over the time its ETA gave it
        received = (d for d in deliveries if d.received_at is not None)
        for d in sorted(received, key=lambda d: (d.received_at, d.shipment)):
            self.factor[d.shipment] = d.duration / max(1, d.eta - d.dispatched_at)
            reported = {c.status for c in d.checkpoints}
            for key in self._keys(d):
                self._groups[(key, None)].append(d)
                for status in reported:
                    self._groups[(key, status)].append(d)
        self._times = {key: [d.received_at for d in group] for key, group in self._groups.items()}

    @staticmethod
    def _keys(j: Journey) -> tuple[tuple, ...]:
        return ("carrier_lane", j.carrier, j.lane), ("lane", j.lane), ("carrier", j.carrier), ("all",)

    def _recent(self, key: tuple, j: Journey, known_at: int, status: int | None, limit: int) -> list[Journey]:
        group = self._groups.get((key, status), [])
        end = bisect.bisect_right(self._times.get((key, status), []), known_at)
        if limit <= 0:  # no limit
            return [d for d in group[:end] if d.shipment != j.shipment]
        # One more than the limit: `j` itself may be among them, and is never its own comparison.
        found = [d for d in group[max(0, end - limit - 1):end] if d.shipment != j.shipment]
        return found[-limit:]

    def comparable(self, j: Journey, known_at: int, rules: DelayRules,
                   status: int | None = None) -> tuple[str, list[Journey]] | None:
        """The deliveries received by `known_at` that `j` is best compared with, and how they were chosen: those
        that reported `status` too, looking as wide as every carrier and lane, else (or without a status) those
        of its carrier on its lane, of any carrier on it, or of its carrier anywhere."""
        searches = []
        if status is not None:
            name = CHECKPOINT_STATUS.get(status, f"status {status}")
            searches += [(f"{basis} that also reported \"{name}\"", key, status)
                         for basis, key in zip(self.BASES, self._keys(j))]
        searches += [(basis, key, None) for basis, key in zip(self.BASES[:3], self._keys(j)[:3])]
        for basis, key, wanted in searches:
            found = self._recent(key, j, known_at, wanted, rules.history)
            if len(found) >= rules.min_history:
                return basis, found
        return None


def predict(j: Journey, history: History, at: int, rules: DelayRules = DelayRules(),
            explain: bool = True) -> Prediction | None:
    """The arrival of `j` as it looks at `at`, from what was known then (deliveries received and checkpoints
    reported by `at`); None when nothing comparable is known and its ETA has not passed. Without `explain` the
    reason is left empty (the backtest's thousands of predictions need none)."""
    on_road = at - j.dispatched_at
    allowed = max(1, j.eta - j.dispatched_at)
    overdue = f"past its ETA by {hours(at - j.eta)} h and not received" if at > j.eta else ""
    latest = next((c for c in reversed(j.checkpoints) if c.time <= at), None)
    found = history.comparable(j, at, rules, None if latest is None else latest.status)
    if found is None:
        if not overdue:
            return None
        return Prediction(j.shipment, at, hours(at - j.eta), 1.0,
                          f"It is {overdue}; no delivered shipment of its carrier or lane to compare it with.")
    basis, compared = found
    factors = sorted(history.factor[d.shipment] for d in compared)
    arrivals = [max(allowed * f, on_road) for f in factors]  # it has not arrived yet: no sooner than now
    arrival = j.dispatched_at + round(statistics.median(arrivals))
    missing = sum(1 for a in arrivals if a > allowed)
    risk = round(missing / len(arrivals), 4)
    if not explain:
        return Prediction(j.shipment, arrival, hours(arrival - j.eta), risk, "")
    factor = statistics.median(factors)
    parts = [f"Deliveries by {basis} took a median {round(factor, 2)}× the time to their ETA "
             f"({count_of_deliveries(len(factors))}), {hours(allowed * factor)} h for this one"]
    if latest is not None:
        parts.append(f"its latest checkpoint: \"{CHECKPOINT_STATUS.get(latest.status, f'status {latest.status}')}\" "
                     f"at {latest.place or 'an unnamed place'} {hours(latest.time - j.dispatched_at)} h after dispatch")
    if overdue:
        parts.append(f"it is {overdue}")
    parts.append(f"expected {hours(arrival - j.dispatched_at)} h after dispatch against {hours(allowed)} h to its "
                 f"ETA; {missing} of {len(arrivals)} comparable deliveries would miss it")
    return Prediction(j.shipment, arrival, hours(arrival - j.eta), risk, "; ".join(parts) + ".")


def at_risk(on_road: Iterable[Journey], history: History, now: int,
            rules: DelayRules = DelayRules()) -> list[Prediction]:
    """The shipments on the road predicted to miss their ETA, highest risk first (then the latest, then by id)."""
    flagged = [p for p in (predict(j, history, now, rules) for j in on_road) if p is not None and p.late]
    return sorted(flagged, key=lambda p: (-p.risk, -p.hours_late, p.shipment))


BACKTEST_METHOD = (
    "Each shipment received in the lookback window is predicted again as of its dispatch and of each checkpoint "
    "before its ETA, from only the deliveries received and checkpoints reported by then; it counts as flagged if "
    "any of those predictions passed its ETA, and as late if it was received after its ETA; the warning lead is "
    "its ETA minus the first flagging moment, over the late shipments flagged.")


def first_warning(j: Journey, history: History, rules: DelayRules = DelayRules()) -> int | None:
    """The first moment (its dispatch, then each checkpoint before its ETA and its receipt) at which received
    shipment `j`, predicted again from what was known then, would have been flagged; None if it never was."""
    assert j.received_at is not None
    on_road = Journey(j.shipment, j.carrier, j.from_location, j.to_location, j.to_region, j.dispatched_at, j.eta,
                      None, j.checkpoints)
    moments = sorted({j.dispatched_at, *(c.time for c in j.checkpoints)})
    return next((t for t in moments if t < j.eta and t < j.received_at
                 and (p := predict(on_road, history, t, rules, explain=False)) is not None and p.late), None)


def backtest(received: Sequence[Journey], history: History, rules: DelayRules = DelayRules(),
             warned: Mapping[int, int | None] | None = None) -> dict:
    """How the warning would have done on shipments already received: counts, precision, recall and the median
    warning lead (hours) of the late shipments it flagged in advance. `warned`: each shipment's `first_warning`
    over this history and these rules, when already worked out."""
    flagged = late = both = 0
    leads: list[int] = []
    for j in received:
        assert j.received_at is not None
        first = warned[j.shipment] if warned is not None else first_warning(j, history, rules)
        was_late = j.received_at > j.eta
        flagged += first is not None
        late += was_late
        if first is not None and was_late:
            both += 1
            leads.append(j.eta - first)
    return {"shipments": len(received), "flagged": flagged, "late": late, "flagged_and_late": both,
            "precision": round(both / flagged, 4) if flagged else None,
            "recall": round(both / late, 4) if late else None,
            "median_warning_hours": hours(statistics.median(leads)) if leads else None,
            "method": BACKTEST_METHOD}
