"""The consumer's scan verdict as a pure function: what the registry, the mirror and the scan log say about one
bottle code, and where and when it is scanned now, decide one of six answers.

The rules, in the order they win: a code the brand never issued is **unknown** (a counterfeit); a bottle of a
recalled lot is **recalled**; a bottle a store or a consumer marked as opened is **opened** (a refill risk);
a code scanned from more devices, or in more places, than the thresholds allow within the window is
**suspicious** (a copied code); a bottle scanned outside the region of the distributor or store it was
shipped to is **diverted** (窜货); anything else is **genuine**. Each verdict carries its reason, how often the
code was scanned (this scan included) and where and when it was first scanned.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Sequence


class Verdict(str, Enum):
    genuine = "genuine"
    opened = "opened"
    suspicious = "suspicious"
    diverted = "diverted"
    recalled = "recalled"
    unknown = "unknown"


@dataclass(frozen=True)
class ScanRules:
    """Thresholds of the copied-code rule; `Settings` carries them (`LEDGER_SCAN_*`)."""

    window_seconds: int = 30 * 86_400
    max_devices: int = 3  # more distinct devices than this within the window is a copied code
    max_places: int = 2  # more distinct places than this within the window is a copied code


@dataclass(frozen=True)
class Scan:
    """One scan: when, from which anonymous device, in which place (a city, when known) and region."""

    at: int
    device: str
    place: str | None = None
    region: str | None = None  # a region's code, e.g. EAST


@dataclass(frozen=True)
class Bottle:
    """What the ledger knows of an issued bottle code."""

    recalled: bool = False
    opened_by: str | None = None  # "store" or "consumer"
    meant_for_region: str | None = None  # region code of the distributor or store it was shipped to
    meant_for: str | None = None  # that distributor's or store's name


@dataclass(frozen=True)
class Answer:
    verdict: Verdict
    reason_code: str
    reason: str
    scan_count: int
    first_scan: Scan


def _place_of(scan: Scan) -> str | None:
    return scan.place or scan.region


def judge(bottle: Bottle | None, earlier: Sequence[Scan], now: Scan, rules: ScanRules = ScanRules(),
          earlier_count: int | None = None) -> Answer:
    """The verdict on scanning `bottle` (None: no such code was issued) at `now`, given the `earlier` scans of
    the same code, oldest first: at least its first scan and those within the rules' window. `earlier_count`:
    how many earlier scans there were in all, when `earlier` holds only some of them."""
    count = (len(earlier) if earlier_count is None else earlier_count) + 1
    first = earlier[0] if earlier else now

    def answer(verdict: Verdict, code: str, reason: str) -> Answer:
        return Answer(verdict, code, reason, count, first)

    if bottle is None:
        return answer(Verdict.unknown, "no_such_code",
                      "The brand never issued this code: the bottle is not genuine.")
    if bottle.recalled:
        return answer(Verdict.recalled, "lot_recalled",
                      "This bottle's lot has been recalled by the brand: do not drink it.")
    if bottle.opened_by == "store":
        return answer(Verdict.opened, "opened_by_store",
                      "A store has marked this bottle as sold opened: it may have been refilled.")
    if bottle.opened_by == "consumer":
        return answer(Verdict.opened, "opened_by_consumer",
                      "A consumer has marked this bottle as opened: it may have been refilled.")
    recent = [s for s in earlier if s.at > now.at - rules.window_seconds] + [now]
    devices = {s.device for s in recent}
    if len(devices) > rules.max_devices:
        return answer(Verdict.suspicious, "copied_code_devices",
                      f"This code was scanned from {len(devices)} devices within {_days(rules.window_seconds)}: "
                      "it may have been copied onto other bottles.")
    places = {p for p in map(_place_of, recent) if p}
    if len(places) > rules.max_places:
        return answer(Verdict.suspicious, "copied_code_places",
                      f"This code was scanned in {len(places)} places within {_days(rules.window_seconds)}: "
                      "it may have been copied onto other bottles.")
    if bottle.meant_for_region and now.region and now.region != bottle.meant_for_region:
        return answer(Verdict.diverted, "outside_region",
                      f"This bottle was shipped to {bottle.meant_for or 'a seller'} in region "
                      f"{bottle.meant_for_region} and is being sold outside it.")
    return answer(Verdict.genuine, "genuine", "This bottle is genuine: its code is on the ledger, unopened.")


def _days(seconds: int) -> str:
    days = seconds / 86_400
    return f"{days:g} days" if days != 1 else "1 day"
