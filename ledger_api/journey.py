"""One case's journey through the network, worked out from the lot's movements on the ledger.

The chain counts stock as cases of a lot per location; it does not name which case went where. Cases are
therefore followed first in, first out: a lot's cases 1..N start at the warehouse that commissioned it, a
dispatch takes the lowest-numbered cases its sender holds, a receipt puts the delivered ones at the back of
the receiver's stock (a shortfall is the shipment's last cases), and a sale or write-off takes the sender's
first cases. The same rule for every reader of the ledger gives every bottle one journey, which the scan
verdict's diversion rule and the provenance answers share. Pure functions only.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, Literal, NamedTuple

Step = Literal["commissioned", "dispatched", "checkpoint", "received", "missing", "sold", "written_off"]


class Movement(NamedTuple):
    """A movement of a lot's cases, as the mirror records it. `order` sorts movements in chain order. (A named
    tuple: a lot's history is dozens of them, made from the mirror's rows each time a process first meets the
    lot.)"""

    order: tuple
    kind: Literal["dispatch", "checkpoint", "receive", "decommission"]
    at: int
    cases: int = 0
    shipment: int | None = None
    from_location: int | None = None
    to_location: int | None = None
    carrier: int | None = None
    eta: int | None = None
    place: str | None = None
    status: int | None = None
    decommission: int | None = None  # Decommission reason
    tx_hash: str | None = None


@dataclass(frozen=True)
class Stop:
    step: Step
    at: int
    location: int | None = None
    to_location: int | None = None
    shipment: int | None = None
    carrier: int | None = None
    eta: int | None = None
    place: str | None = None
    tx_hash: str | None = None


@dataclass
class _Ranges:
    """Case numbers as a queue of inclusive ranges, first in first out."""

    queue: deque = field(default_factory=deque)

    def add(self, ranges: Iterable[tuple[int, int]]) -> None:
        self.queue.extend(ranges)

    def take(self, count: int) -> list[tuple[int, int]]:
        taken = []
        while count > 0 and self.queue:
            first, last = self.queue.popleft()
            size = last - first + 1
            if size > count:
                taken.append((first, first + count - 1))
                self.queue.appendleft((first + count, last))
                count = 0
            else:
                taken.append((first, last))
                count -= size
        return taken


def _holds(ranges: Iterable[tuple[int, int]], case: int) -> bool:
    return any(first <= case <= last for first, last in ranges)


def case_journey(case: int, cases: int, commissioned_at: int, location: int, movements: Iterable[Movement],
                 commission_tx: str | None = None) -> list[Stop]:
    """The stops of case `case` of a lot of `cases` cases commissioned at `location`, given the lot's
    movements (in any order; they are sorted by `order`)."""
    stops = [Stop("commissioned", commissioned_at, location, tx_hash=commission_tx)]
    held: dict[int, _Ranges] = {location: _Ranges(deque([(1, cases)]))}
    in_transit: dict[int, list[tuple[int, int]]] = {}
    for m in sorted(movements, key=lambda m: m.order):
        if m.kind == "dispatch":
            taken = held.setdefault(m.from_location, _Ranges()).take(m.cases)
            in_transit[m.shipment] = in_transit.get(m.shipment, []) + taken
            if _holds(taken, case):
                stops.append(Stop("dispatched", m.at, m.from_location, m.to_location, m.shipment, m.carrier, m.eta,
                                  tx_hash=m.tx_hash))
        elif m.kind == "checkpoint":
            if _holds(in_transit.get(m.shipment, ()), case):
                stops.append(Stop("checkpoint", m.at, shipment=m.shipment, carrier=m.carrier, place=m.place,
                                  tx_hash=m.tx_hash))
        elif m.kind == "receive":
            moving = _Ranges(deque(in_transit.pop(m.shipment, [])))
            delivered = moving.take(m.cases)
            held.setdefault(m.to_location, _Ranges()).add(delivered)
            if _holds(delivered, case):
                stops.append(Stop("received", m.at, m.to_location, shipment=m.shipment, tx_hash=m.tx_hash))
            elif _holds(moving.queue, case):
                stops.append(Stop("missing", m.at, m.to_location, shipment=m.shipment, tx_hash=m.tx_hash))
        elif m.kind == "decommission":
            taken = held.setdefault(m.from_location, _Ranges()).take(m.cases)
            if _holds(taken, case):
                step = "sold" if m.decommission == 0 else "written_off"
                stops.append(Stop(step, m.at, m.from_location, tx_hash=m.tx_hash))
    return stops


def shipped_to(stops: list[Stop]) -> int | None:
    """The last location the case was dispatched to (received or still on its way), if any."""
    for stop in reversed(stops):
        if stop.step == "dispatched":
            return stop.to_location
    return None
