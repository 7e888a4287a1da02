"""What the delay model learns from the whole ledger (the delivery history and its backtest) is worked out once
per mirror checkpoint and shared: it answers from what was kept while the mirror stays at its block; a new
block, or a reorg that replaces the block at the same height, makes it read the mirror again; and members
asking at once share one working-out. On the hand-worked mirror of `test_delay_warnings`, on SQLite and
PostgreSQL. The comparable deliveries the history reads as slices are those a walk back through every delivery
finds."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, update

from indexer.schema import blocks, shipments, sync_state
from ledger_api import board_reads
from ledger_api.delays import Checkpoint, DelayRules, History, Journey
from ledger_api.vocabulary import OrgKind, ShipmentState
from tests.board.test_delay_warnings import H, NOW, member, mirror, warnings  # noqa: F401 (mirror: the fixture)

BRAND = member(OrgKind.brand, 1)


def move_to(conn, number: int, block_hash: str, time_: int) -> None:
    """The mirror's checkpoint set to block `number` with `block_hash`, as the indexer sets it with its data."""
    conn.execute(delete(blocks).where(blocks.c.number == number))
    conn.execute(insert(blocks).values(number=number, hash=block_hash, parent_hash="0x" + "aa" * 32, time=time_))
    conn.execute(update(sync_state).where(sync_state.c.id == 1).values(block_number=number, block_hash=block_hash))


def test_the_backtest_is_kept_while_the_mirror_stays_at_its_block_and_a_new_block_renews_it(mirror):
    before = warnings(mirror, BRAND)
    with mirror.begin() as conn:  # a row changed under the same checkpoint: block 9's working-out stays
        conn.execute(update(shipments).where(shipments.c.id == 21).values(
            state=int(ShipmentState.received), received_at=NOW))
    assert warnings(mirror, BRAND)["backtest"] == before["backtest"]
    with mirror.begin() as conn:  # the block that received it, at the same time
        move_to(conn, 10, "0x" + "bc" * 32, NOW)
    after = warnings(mirror, BRAND)
    assert [w["shipment"] for w in after["at_risk"]] == [23]
    assert after["backtest"]["shipments"] == before["backtest"]["shipments"] + 1


def test_a_reorg_that_replaces_the_block_drops_what_was_kept(mirror):
    before = warnings(mirror, BRAND)["backtest"]
    with mirror.begin() as conn:  # block 9 replaced by one in which shipment 11 arrived before its ETA
        eta = conn.execute(select(shipments.c.eta).where(shipments.c.id == 11)).scalar_one()
        conn.execute(update(shipments).where(shipments.c.id == 11).values(received_at=eta - H))
        move_to(conn, 9, "0x" + "cd" * 32, NOW)
    after = warnings(mirror, BRAND)["backtest"]
    assert (after["shipments"], after["late"]) == (before["shipments"], before["late"] - 1)


def test_members_asking_at_once_share_one_working_out(mirror):
    learned = board_reads.Learned()
    worked: list[int] = []
    together = threading.Barrier(8)

    def work() -> object:
        worked.append(1)
        time.sleep(0.05)  # long enough for every other member to be waiting for it
        return object()

    def ask(_) -> object:
        together.wait()
        with mirror.connect() as conn:
            return learned.get(conn, ("delays",), work)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(8)))
    assert len(worked) == 1
    assert all(a is answers[0] for a in answers)


@st.composite
def deliveries(draw) -> list[Journey]:
    found = []
    for shipment in range(draw(st.integers(0, 30))):
        start = draw(st.integers(0, 100)) * H
        statuses = draw(st.sets(st.integers(1, 5), max_size=3))
        found.append(Journey(shipment, draw(st.sampled_from((80, 81))), draw(st.sampled_from((1, 2))), 100,
                             draw(st.sampled_from((0, 10))), start, start + 50 * H,
                             start + draw(st.integers(1, 80)) * H,
                             tuple(Checkpoint(start + i, status, "") for i, status in enumerate(sorted(statuses)))))
    return found


@settings(max_examples=60, deadline=None)
@given(deliveries(), st.integers(0, 200), st.sampled_from((None, 1, 2, 3, 4, 5)), st.integers(1, 6))
def test_the_comparable_deliveries_are_the_most_recent_a_walk_back_finds(received, hours_in, status, limit):
    history = History(received)
    j = received[0] if received else Journey(99, 80, 1, 100, 10, 0, 50 * H)
    known_at = hours_in * H
    rules = DelayRules(min_history=1, history=limit)
    found = history.comparable(j, known_at, rules, status)
    # By hand: every search in turn over the deliveries in the order received, the first with any match wins.
    ordered = sorted(received, key=lambda d: (d.received_at, d.shipment))
    searches = []
    if status is not None:
        searches += [(status, key) for key in range(4)]
    searches += [(None, key) for key in range(3)]
    same = (lambda d: d.carrier == j.carrier and d.lane == j.lane, lambda d: d.lane == j.lane,
            lambda d: d.carrier == j.carrier, lambda d: True)
    expected = None
    for wanted, key in searches:
        matching = [d for d in ordered if d.received_at <= known_at and d.shipment != j.shipment and same[key](d)
                    and (wanted is None or wanted in {c.status for c in d.checkpoints})]
        if matching:
            expected = matching[-limit:]
            break
    assert (found[1] if found else None) == expected
