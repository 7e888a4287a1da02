"""Delivery-delay early warning, as pure functions of the shipments the ledger recorded: for each shipment on
the road, when it will probably arrive and how likely it is to miss its ETA, and a backtest of the same
prediction over shipments already received.

The model is one anyone can redo by hand. A shipment is compared with the most recent deliveries like it: first
those of its carrier on its lane (the sending site to the destination's region; a national site, which belongs
to no region, is a lane of its own), else those of any carrier on the lane, else those of its carrier anywhere,
as long as at least `min_history` of them exist. Their dispatch-to-receipt durations give the usual journey.
The carrier's checkpoints then set the pace: if the shipment's latest checkpoint came 30 h after dispatch, and
past deliveries reported the same checkpoint (picked up, at hub, out for delivery, delayed, exception) a median
50% of the way through their journey, this one is on course for 60 h, whatever the usual journey is. Each past
duration, scaled to that pace and never shorter than the time already on the road (it has not arrived yet), is
one possible arrival: their median is the predicted arrival, and their share past the ETA is the risk. A
shipment is flagged when the predicted arrival passes its ETA (arriving exactly on it is on time, as everywhere
in the ledger); one already past its ETA and not received is certain to be late.
"""

from __future__ import annotations

import bisect
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Sequence

HOUR = 3_600
DAY = 86_400

# The carrier's checkpoint statuses (`models.Checkpoint`), as the reasons name them.
CHECKPOINT_STATUS = {1: "picked up", 2: "at hub", 3: "out for delivery", 4: "delayed", 5: "exception"}

Lane = tuple[int, int, int]  # (from location, destination region, destination location when the region is 0)


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
        return self.from_location, self.to_region, 0 if self.to_region else self.to_location

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


class History:
    """Received deliveries, indexed by carrier and lane in the order they were received, so that the comparable
    deliveries known at any moment are a slice."""

    BASES = ("its carrier on this lane", "any carrier on this lane", "its carrier on any lane")

    def __init__(self, deliveries: Iterable[Journey]):
        self._groups: dict[tuple, list[Journey]] = defaultdict(list)
        for d in sorted((d for d in deliveries if d.received_at is not None), key=lambda d: (d.received_at, d.shipment)):
            for key in self._keys(d):
                self._groups[key].append(d)
        self._times = {key: [d.received_at for d in group] for key, group in self._groups.items()}

    @staticmethod
    def _keys(j: Journey) -> tuple[tuple, ...]:
        return ("carrier_lane", j.carrier, j.lane), ("lane", j.lane), ("carrier", j.carrier)

    def comparable(self, j: Journey, known_at: int, rules: DelayRules) -> tuple[str, list[Journey]] | None:
        """The deliveries received by `known_at` that `j` is best compared with, and how they were chosen."""
        for basis, key in zip(self.BASES, self._keys(j)):
            group = self._groups.get(key, [])
            end = bisect.bisect_right(self._times.get(key, []), known_at)
            found = [d for d in group[max(0, end - rules.history - 1):end] if d.shipment != j.shipment][-rules.history:]
            if len(found) >= rules.min_history:
                return basis, found
        return None


def _pace(j: Journey, known_at: int, basis: list[Journey], usual: float,
          rules: DelayRules) -> tuple[float, str]:
    """How much longer (or shorter) than usual the journey runs, from its latest checkpoint whose status enough
    past deliveries reported too; 1 without one."""
    for cp in reversed([c for c in j.checkpoints if c.time <= known_at]):
        shares = []
        for d in basis:
            at = next((c.time for c in d.checkpoints if c.status == cp.status), None)
            if at is not None and d.duration > 0:
                shares.append((at - d.dispatched_at) / d.duration)
        if len(shares) < rules.min_history or usual <= 0:
            continue
        share = statistics.median(shares)
        if share <= 0:
            continue
        expected = (cp.time - j.dispatched_at) / share
        name = CHECKPOINT_STATUS.get(cp.status, f"status {cp.status}")
        return expected / usual, (f"it reported \"{name}\" at {cp.place or 'an unnamed place'} "
                                  f"{hours(cp.time - j.dispatched_at)} h after dispatch, where past deliveries "
                                  f"reported it {round(share * 100)}% of the way, so it runs at "
                                  f"{round(expected / usual, 2)}× the usual time")
    return 1.0, ""


def predict(j: Journey, history: History, at: int, rules: DelayRules = DelayRules()) -> Prediction | None:
    """The arrival of `j` as it looks at `at`, from what was known then (deliveries received and checkpoints
    reported by `at`); None when nothing comparable is known and its ETA has not passed."""
    on_road = at - j.dispatched_at
    overdue = f"past its ETA by {hours(at - j.eta)} h and not received" if at > j.eta else ""
    found = history.comparable(j, at, rules)
    if found is None:
        if not overdue:
            return None
        return Prediction(j.shipment, at, hours(at - j.eta), 1.0,
                          f"It is {overdue}; no delivered shipment of its carrier or lane to compare it with.")
    basis, deliveries = found
    durations = sorted(d.duration for d in deliveries)
    usual = statistics.median(durations)
    pace, pace_note = _pace(j, at, deliveries, usual, rules)
    arrivals = [max(d * pace, on_road) for d in durations]  # it has not arrived yet: no sooner than now
    arrival = j.dispatched_at + round(statistics.median(arrivals))
    allowed = j.eta - j.dispatched_at
    missing = sum(1 for a in arrivals if a > allowed)
    parts = [f"Deliveries by {basis} took a median {hours(usual)} h ({len(durations)} deliveries)"]
    if pace_note:
        parts.append(pace_note)
    if overdue:
        parts.append(f"it is {overdue}")
    parts.append(f"expected {hours(arrival - j.dispatched_at)} h after dispatch against {hours(allowed)} h to its "
                 f"ETA; {missing} of {len(arrivals)} comparable deliveries at this pace would miss it")
    return Prediction(j.shipment, arrival, hours(arrival - j.eta), round(missing / len(arrivals), 4),
                      "; ".join(parts) + ".")


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


def backtest(received: Sequence[Journey], history: History, rules: DelayRules = DelayRules()) -> dict:
    """How the warning would have done on shipments already received: counts, precision, recall and the median
    warning lead (hours) of the late shipments it flagged in advance."""
    flagged = late = both = 0
    leads: list[int] = []
    for j in received:
        assert j.received_at is not None
        on_road = Journey(j.shipment, j.carrier, j.from_location, j.to_location, j.to_region, j.dispatched_at, j.eta,
                          None, j.checkpoints)
        moments = sorted({j.dispatched_at, *(c.time for c in j.checkpoints)})
        first = next((t for t in moments if t < j.eta and t < j.received_at
                      and (p := predict(on_road, history, t, rules)) is not None and p.late), None)
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
