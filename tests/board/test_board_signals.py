"""The board's weekly cycle time, price-alert revisions and scan intelligence as pure functions, against figures
worked out by hand: weeks start on Monday 00:00 UTC, a week without orders is listed empty, an order still waiting
past its target has missed it, alerts group by the transaction that raised them, and the scan log's problem
verdicts (unknown, suspicious, opened, diverted) make the regions' risk and the hot spots."""

from __future__ import annotations

from ledger_api import board_signals
from ledger_api.board_signals import OrderTimes, PlaceTally, WeekTally

HOUR, DAY = 3_600, 86_400
MONDAY = 1_780_272_000  # 2026-06-01 00:00 UTC, a Monday


def test_a_week_starts_on_monday_at_midnight_utc():
    assert board_signals.week_of(MONDAY) == MONDAY
    assert board_signals.week_of(MONDAY + 7 * DAY - 1) == MONDAY  # Sunday 23:59:59
    assert board_signals.week_of(MONDAY - 1) == MONDAY - 7 * DAY
    assert board_signals.week_of(0) == -3 * DAY  # the epoch's Thursday belongs to Monday 1969-12-29


def order(submitted_hours: float, approve_after: float | None = None, deliver_after: float | None = None,
          urgent: bool = False, awaiting: bool = False, week: int = MONDAY) -> OrderTimes:
    submitted = week + int(submitted_hours * HOUR)
    return OrderTimes(submitted, None if approve_after is None else submitted + int(approve_after * HOUR),
                      None if deliver_after is None else submitted + int(deliver_after * HOUR), urgent, awaiting)


def test_the_hand_worked_weeks_with_an_empty_one_between():
    third = MONDAY + 14 * DAY
    now = third + 2 * DAY
    weeks = board_signals.weekly_cycle_times([
        order(1, approve_after=4, deliver_after=49),  # within 8 h
        order(2, approve_after=10, deliver_after=72),  # 10 h: missed
        order(3, approve_after=11, urgent=True),  # urgent within 12 h
        order(5),  # rejected: an order, and nothing else
        order(6 * 24 + 23, awaiting=True),  # still waiting at now: missed
        order(24, awaiting=True, week=third),  # waiting 24 h: missed
        order(43, urgent=True, awaiting=True, week=third),  # waiting 5 h of its 12: not judged yet
    ], now)
    assert weeks == [
        {"week_start": MONDAY, "orders": 5, "urgent_orders": 1,
         # approvals 4, 10 and 11 h: median 10, p90 10 + 0.8 × (11 − 10)
         "approval_median_hours": 10.0, "approval_p90_hours": 10.8, "urgent_approval_median_hours": 11.0,
         # deliveries 49 and 72 h: median 60.5, p90 49 + 0.9 × 23
         "delivery_median_hours": 60.5, "delivery_p90_hours": 69.7,
         "within_target_share": 0.5},  # 2 of the 3 approved and 1 overdue
        {"week_start": MONDAY + 7 * DAY, "orders": 0, "urgent_orders": 0, "approval_median_hours": None,
         "approval_p90_hours": None, "urgent_approval_median_hours": None, "delivery_median_hours": None,
         "delivery_p90_hours": None, "within_target_share": None},
        {"week_start": third, "orders": 2, "urgent_orders": 1, "approval_median_hours": None,
         "approval_p90_hours": None, "urgent_approval_median_hours": None, "delivery_median_hours": None,
         "delivery_p90_hours": None, "within_target_share": 0.0},
    ]


def test_an_approval_exactly_at_its_target_meets_it():
    [week] = board_signals.weekly_cycle_times([order(0, approve_after=8), order(1, approve_after=12, urgent=True),
                                               order(2, approve_after=8.5)], MONDAY + DAY)
    assert week["within_target_share"] == round(2 / 3, 4)
    assert week["approval_p90_hours"] == 11.3  # 8, 8.5 and 12 h: 8.5 + 0.8 × 3.5


def test_the_weeks_run_on_to_the_week_of_now_and_none_without_orders():
    weeks = board_signals.weekly_cycle_times([order(1, approve_after=2)], MONDAY + 15 * DAY)
    assert [w["week_start"] for w in weeks] == [MONDAY, MONDAY + 7 * DAY, MONDAY + 14 * DAY]
    assert weeks[0]["approval_p90_hours"] == 2.0
    assert board_signals.weekly_cycle_times([], MONDAY) == []


def test_alerts_group_into_the_revisions_that_raised_them_newest_first():
    alerts = [  # newest first, as the mirror reads them
        {"time": 300, "block_number": 9, "tx_hash": "0xb", "sku": 7, "change_bps": 1_500},
        {"time": 300, "block_number": 9, "tx_hash": "0xb", "sku": 3, "change_bps": 2_500},
        {"time": 300, "block_number": 9, "tx_hash": "0xb", "sku": 7, "change_bps": 1_200},  # another tier
        {"time": 100, "block_number": 4, "tx_hash": "0xa", "sku": 5, "change_bps": 1_001},
    ]
    assert board_signals.price_revisions(alerts) == [
        {"time": 300, "tx_hash": "0xb", "skus": [3, 7], "max_change_bps": 2_500},
        {"time": 100, "tx_hash": "0xa", "skus": [5], "max_change_bps": 1_001},
    ]
    assert board_signals.price_revisions([]) == []


def test_a_price_cut_is_a_negative_change_and_a_revision_counts_its_size():
    assert board_signals.signed_change(50_000, 40_000, 2_000) == -2_000
    assert board_signals.signed_change(50_000, 60_000, 2_000) == 2_000
    [revision] = board_signals.price_revisions([
        {"time": 1, "block_number": 1, "tx_hash": "0xc", "sku": 1, "change_bps": 1_500},
        {"time": 1, "block_number": 1, "tx_hash": "0xc", "sku": 2, "change_bps": -3_000}])  # signed or not
    assert revision["max_change_bps"] == 3_000


def test_the_hand_worked_scan_intelligence():
    by_week = [WeekTally(MONDAY, "genuine", 90), WeekTally(MONDAY, "unknown", 6),
               WeekTally(MONDAY + 14 * DAY, "diverted", 4)]
    by_place = [
        PlaceTally("EAST", "Hangzhou", "genuine", 40), PlaceTally("EAST", "Hangzhou", "unknown", 6),
        PlaceTally("EAST", "Hangzhou", "diverted", 4), PlaceTally("NORTH", "Beijing", "genuine", 45),
        PlaceTally("NORTH", None, "genuine", 5), PlaceTally(None, None, "recalled", 2),
    ]
    answer = board_signals.scan_intelligence(by_week, by_place, MONDAY + 15 * DAY)
    zero = dict.fromkeys(board_signals.VERDICTS, 0)
    assert answer["verdicts"] == ["genuine", "opened", "suspicious", "diverted", "recalled", "unknown"]
    assert answer["weeks"] == [
        {"week_start": MONDAY, "counts": {**zero, "genuine": 90, "unknown": 6}},
        {"week_start": MONDAY + 7 * DAY, "counts": zero},
        {"week_start": MONDAY + 14 * DAY, "counts": {**zero, "diverted": 4}},
    ]
    assert answer["regions"] == [
        {"region": "EAST", "total": 50, "counts": {**zero, "genuine": 40, "unknown": 6, "diverted": 4},
         "risk_share": 0.2},  # 10 of 50
        {"region": "NORTH", "total": 50, "counts": {**zero, "genuine": 50}, "risk_share": 0.0},
        {"region": None, "total": 2, "counts": {**zero, "recalled": 2}, "risk_share": 0.0},  # a recall is no risk
    ]
    assert answer["hot_spots"] == [
        {"region": "EAST", "city": "Hangzhou", "verdict": "unknown", "count": 6, "share": 0.12},
        {"region": "EAST", "city": "Hangzhou", "verdict": "diverted", "count": 4, "share": 0.08},
    ]


def test_no_scans_give_empty_lists():
    assert board_signals.scan_intelligence([], [], MONDAY) == {
        "verdicts": list(board_signals.VERDICTS), "weeks": [], "regions": [], "hot_spots": []}


def test_the_hot_spots_stop_at_twenty_largest_first():
    places = [PlaceTally("EAST", f"city {n:02d}", "suspicious", n) for n in range(1, 26)]
    spots = board_signals.scan_intelligence([], places, MONDAY)["hot_spots"]
    assert [s["count"] for s in spots] == list(range(25, 5, -1))
    assert all(s["share"] == 1.0 for s in spots)
