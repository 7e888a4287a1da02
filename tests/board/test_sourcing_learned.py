"""The transfer suggestions, worked out once per mirror checkpoint over the whole ledger and shared by every
member: a new block that takes a warehouse's stock changes them, and what was kept equals what is worked out
anew. On the hand-worked mirror of `test_sourcing`, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import update

from indexer.schema import stock_balances
from ledger_api import board_reads
from ledger_api.board import CoverRules
from ledger_api.delays import DelayRules
from tests.board.test_delays_learned import move_to
from tests.board.test_sourcing import BRAND, CHENGDU, NOW, RULES, lot, mirror, suggestions  # noqa: F401


def test_a_new_block_that_takes_a_warehouses_stock_changes_the_transfer_suggestions(mirror):
    before = suggestions(mirror, BRAND)
    assert CHENGDU in [s[0] for s in before]
    with mirror.begin() as conn:  # Chengdu holds only what it has promised to Wuhan
        conn.execute(update(stock_balances).where(stock_balances.c.location == CHENGDU,
                                                  stock_balances.c.lot == lot(3)).values(cases=10))
        move_to(conn, 10, "0x" + "bc" * 32, NOW)
    after = suggestions(mirror, BRAND)
    assert after != before and CHENGDU not in [s[0] for s in after]


def test_the_kept_answers_equal_those_worked_out_anew(mirror):
    with mirror.connect() as conn:
        kept = [board_reads.transfer_suggestions(conn, BRAND, CoverRules(), RULES, DelayRules()) for _ in range(2)]
        board_reads.LEARNED.clear()
        anew = board_reads.transfer_suggestions(conn, BRAND, CoverRules(), RULES, DelayRules())
    assert kept[0] == kept[1] == anew
