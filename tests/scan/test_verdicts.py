"""The scan verdict's rules, each on its edges: which rule wins, and where each threshold starts to bite."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ledger_api.verdicts import Bottle, Scan, ScanRules, Verdict, judge

RULES = ScanRules(window_seconds=1_000, max_devices=3, max_places=2)
NOW = 1_000_000
IN_EAST = Bottle(meant_for_region="EAST", meant_for="Wulin store")


def scan(at: int = NOW, device: str = "d0", place: str | None = "Hangzhou", region: str | None = "EAST") -> Scan:
    return Scan(at, device, place, region)


def test_a_code_the_brand_never_issued_is_unknown():
    answer = judge(None, [], scan(), RULES)
    assert (answer.verdict, answer.reason_code) == (Verdict.unknown, "no_such_code")


def test_the_first_scan_is_counted_once_and_is_its_own_first_scan():
    now = scan()
    answer = judge(IN_EAST, [], now, RULES)
    assert (answer.verdict, answer.scan_count, answer.first_scan) == (Verdict.genuine, 1, now)


def test_the_scan_count_and_first_scan_come_from_the_earlier_scans():
    earlier = [scan(NOW - 500, "d1", "Suzhou"), scan(NOW - 100, "d1", "Suzhou")]
    answer = judge(IN_EAST, earlier, scan(), RULES)
    assert answer.scan_count == 3 and answer.first_scan == earlier[0]


def test_an_earlier_count_beyond_the_scans_given_is_counted():
    assert judge(IN_EAST, [scan(NOW - 10)], scan(), RULES, earlier_count=41).scan_count == 42


def test_a_recalled_lot_wins_over_opened_and_copied():
    bottle = Bottle(recalled=True, opened_by="store", meant_for_region="EAST")
    copies = [scan(NOW - 1, f"d{i}") for i in range(10)]
    assert judge(bottle, copies, scan(), RULES).verdict == Verdict.recalled


def test_a_bottle_a_store_marked_opened_is_opened():
    answer = judge(Bottle(opened_by="store", meant_for_region="EAST"), [], scan(), RULES)
    assert (answer.verdict, answer.reason_code) == (Verdict.opened, "opened_by_store")


def test_a_bottle_a_consumer_marked_opened_is_opened_even_outside_its_region():
    answer = judge(Bottle(opened_by="consumer", meant_for_region="EAST"), [], scan(region="NORTH"), RULES)
    assert (answer.verdict, answer.reason_code) == (Verdict.opened, "opened_by_consumer")


def test_as_many_devices_as_allowed_is_still_genuine():
    earlier = [scan(NOW - 10, "d1"), scan(NOW - 5, "d2")]
    assert judge(IN_EAST, earlier, scan(device="d3"), RULES).verdict == Verdict.genuine


def test_one_device_more_than_allowed_is_a_copied_code():
    earlier = [scan(NOW - 10, "d1"), scan(NOW - 5, "d2"), scan(NOW - 3, "d3")]
    answer = judge(IN_EAST, earlier, scan(device="d4"), RULES)
    assert (answer.verdict, answer.reason_code) == (Verdict.suspicious, "copied_code_devices")


def test_devices_seen_before_the_window_do_not_count():
    earlier = [scan(NOW - RULES.window_seconds, "d1"), scan(NOW - 5, "d2"), scan(NOW - 3, "d3")]
    assert judge(IN_EAST, earlier, scan(device="d4"), RULES).verdict == Verdict.genuine


def test_a_device_seen_just_inside_the_window_counts():
    earlier = [scan(NOW - RULES.window_seconds + 1, "d1"), scan(NOW - 5, "d2"), scan(NOW - 3, "d3")]
    assert judge(IN_EAST, earlier, scan(device="d4"), RULES).verdict == Verdict.suspicious


def test_the_same_device_scanning_again_and_again_is_not_a_copy():
    earlier = [scan(NOW - i, "d1") for i in range(1, 50)]
    assert judge(IN_EAST, earlier, scan(device="d1"), RULES).verdict == Verdict.genuine


def test_as_many_places_as_allowed_is_still_genuine():
    earlier = [scan(NOW - 10, "d1", "Hangzhou")]
    assert judge(IN_EAST, earlier, scan(device="d1", place="Suzhou"), RULES).verdict == Verdict.genuine


def test_one_place_more_than_allowed_is_a_copied_code():
    earlier = [scan(NOW - 10, "d1", "Hangzhou"), scan(NOW - 5, "d1", "Suzhou")]
    answer = judge(IN_EAST, earlier, scan(device="d1", place="Ningbo"), RULES)
    assert (answer.verdict, answer.reason_code) == (Verdict.suspicious, "copied_code_places")


def test_a_scan_without_a_city_counts_its_region_as_the_place():
    earlier = [scan(NOW - 10, "d1", None, "EAST"), scan(NOW - 5, "d1", None, "NORTH")]
    assert judge(IN_EAST, earlier, scan(device="d1", place=None, region="SOUTH"), RULES).verdict == Verdict.suspicious


def test_a_scan_outside_the_sellers_region_is_diverted():
    answer = judge(IN_EAST, [], scan(region="NORTH"), RULES)
    assert (answer.verdict, answer.reason_code) == (Verdict.diverted, "outside_region")
    assert "Wulin store" in answer.reason and "EAST" in answer.reason


def test_a_scan_whose_region_is_unknown_is_not_called_diverted():
    assert judge(IN_EAST, [], scan(region=None), RULES).verdict == Verdict.genuine


def test_a_bottle_not_yet_shipped_to_a_seller_cannot_be_diverted():
    assert judge(Bottle(), [], scan(region="NORTH"), RULES).verdict == Verdict.genuine


def test_a_copied_code_wins_over_diversion():
    earlier = [scan(NOW - 10, f"d{i}", region="NORTH") for i in range(1, 4)]
    assert judge(IN_EAST, earlier, scan(device="d9", region="NORTH"), RULES).verdict == Verdict.suspicious


@given(st.lists(st.tuples(st.integers(0, 5_000), st.sampled_from("abcdef"), st.sampled_from(["x", "y", "z", None])),
                max_size=30),
       st.sampled_from("abcdef"), st.booleans(), st.sampled_from(["store", "consumer", None]))
def test_every_answer_counts_every_scan_and_follows_the_precedence(history, device, recalled, opened):
    earlier = [Scan(NOW - age, d, p, "EAST") for age, d, p in sorted(history, key=lambda h: -h[0])]
    bottle = Bottle(recalled=recalled, opened_by=opened, meant_for_region="EAST")
    answer = judge(bottle, earlier, Scan(NOW, device, "x", "EAST"), RULES)
    assert answer.scan_count == len(earlier) + 1
    if recalled:
        assert answer.verdict == Verdict.recalled
    elif opened:
        assert answer.verdict == Verdict.opened
    else:
        assert answer.verdict in (Verdict.genuine, Verdict.suspicious)
