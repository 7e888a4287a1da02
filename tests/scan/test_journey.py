"""Cases are followed first in, first out: who got which case of a lot, through dispatches, short receipts and
sales, and that every case ends in exactly one place."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ledger_api.journey import Movement, case_journey, shipped_to

WAREHOUSE, DISTRIBUTOR, STORE, OTHER = 10, 20, 30, 40


def dispatch(t, shipment, source, dest, cases):
    return Movement((t, 0, shipment), "dispatch", t, cases, shipment, source, dest, carrier=7, eta=t + 99,
                    tx_hash=f"0x{shipment}")


def receive(t, shipment, dest, cases):
    return Movement((t, 2, shipment), "receive", t, cases, shipment, to_location=dest)


def sale(t, location, cases, seq=0):
    return Movement((t, 3, seq), "decommission", t, cases, from_location=location, decommission=0)


def steps(case, moves, cases=10):
    return [(s.step, s.location) for s in case_journey(case, cases, 0, WAREHOUSE, moves)]


def test_the_first_dispatch_takes_the_lowest_numbered_cases():
    moves = [dispatch(1, 1, WAREHOUSE, DISTRIBUTOR, 4), receive(2, 1, DISTRIBUTOR, 4)]
    assert steps(4, moves) == [("commissioned", WAREHOUSE), ("dispatched", WAREHOUSE), ("received", DISTRIBUTOR)]
    assert steps(5, moves) == [("commissioned", WAREHOUSE)]


def test_a_later_dispatch_takes_the_next_cases():
    moves = [dispatch(1, 1, WAREHOUSE, DISTRIBUTOR, 4), dispatch(3, 2, WAREHOUSE, OTHER, 2)]
    journey = case_journey(5, 10, 0, WAREHOUSE, moves)
    assert shipped_to(journey) == OTHER
    assert shipped_to(case_journey(7, 10, 0, WAREHOUSE, moves)) is None


def test_a_short_receipt_leaves_the_shipments_last_cases_missing():
    moves = [dispatch(1, 1, WAREHOUSE, DISTRIBUTOR, 4), receive(2, 1, DISTRIBUTOR, 3)]
    assert steps(3, moves)[-1] == ("received", DISTRIBUTOR)
    assert steps(4, moves)[-1] == ("missing", DISTRIBUTOR)


def test_a_sellers_first_cases_in_are_the_first_sold():
    moves = [dispatch(1, 1, WAREHOUSE, STORE, 2), receive(2, 1, STORE, 2),
             dispatch(3, 2, WAREHOUSE, STORE, 2), receive(4, 2, STORE, 2), sale(5, STORE, 3)]
    assert steps(3, moves)[-1] == ("sold", STORE)
    assert steps(4, moves)[-1] == ("received", STORE)


def test_movements_are_followed_in_chain_order_whatever_order_they_come_in():
    moves = [dispatch(1, 1, WAREHOUSE, DISTRIBUTOR, 4), receive(2, 1, DISTRIBUTOR, 4),
             dispatch(3, 2, DISTRIBUTOR, STORE, 1), receive(4, 2, STORE, 1)]
    assert steps(1, moves) == steps(1, list(reversed(moves)))
    assert steps(1, moves)[-1] == ("received", STORE)


def test_checkpoints_belong_to_the_cases_on_that_shipment():
    checkpoint = Movement((2, 1, 0, 0), "checkpoint", 2, shipment=1, carrier=7, place="Jiaxing")
    moves = [dispatch(1, 1, WAREHOUSE, DISTRIBUTOR, 2), checkpoint]
    assert [s.place for s in case_journey(1, 5, 0, WAREHOUSE, moves) if s.step == "checkpoint"] == ["Jiaxing"]
    assert not [s for s in case_journey(3, 5, 0, WAREHOUSE, moves) if s.step == "checkpoint"]


@st.composite
def histories(draw):
    """Random but possible histories: every dispatch and sale takes at most what its sender holds."""
    cases = draw(st.integers(1, 30))
    held = {WAREHOUSE: cases}
    moves, t, shipment = [], 0, 0
    for _ in range(draw(st.integers(0, 12))):
        t += 1
        source = draw(st.sampled_from(sorted(k for k, v in held.items() if v > 0) or [WAREHOUSE]))
        if held.get(source, 0) == 0:
            break
        n = draw(st.integers(1, held[source]))
        if draw(st.booleans()) and source != WAREHOUSE:
            moves.append(sale(t, source, n, t))
            held[source] -= n
            continue
        dest = draw(st.sampled_from([d for d in (DISTRIBUTOR, STORE, OTHER) if d != source]))
        shipment += 1
        moves.append(dispatch(t, shipment, source, dest, n))
        held[source] -= n
        got = draw(st.integers(0, n))
        t += 1
        moves.append(receive(t, shipment, dest, got))
        held[dest] = held.get(dest, 0) + got
    return cases, moves, held


@given(histories())
def test_every_case_ends_in_exactly_one_place_and_the_counts_agree_with_the_ledger(history):
    cases, moves, held = history
    ends: dict[int, int] = {}
    for case in range(1, cases + 1):
        last = case_journey(case, cases, 0, WAREHOUSE, moves)[-1]
        if last.step in ("commissioned", "received"):
            ends[last.location] = ends.get(last.location, 0) + 1
    assert ends == {k: v for k, v in held.items() if v > 0}
