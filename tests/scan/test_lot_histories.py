"""What a scanning process keeps of the lots it has met: a lot's history is read from the mirror once and then
served from memory, and dropped as soon as the mirror's checkpoint shows new blocks that moved the lot (a
dispatch, a receipt, a checkpoint, a sale, a recall), or a reorg; lots the new blocks did not touch stay kept.
The mirror is written here as the indexer writes it, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, update

from indexer.db import migrate, open_database
from indexer.schema import (blocks, decommissions, lots, shipment_checkpoints, shipment_lines, shipments, skus,
                            sync_state)
from ledger_api.scanning import LotHistories

LOT_A, LOT_B = 7 << 160 | 1, 7 << 160 | 2
T0 = 1_767_225_600


class Mirror:
    """A mirror advanced block by block, as the indexer does."""

    def __init__(self, url: str):
        self.engine = open_database(url)
        migrate(self.engine)
        self.block = 0
        with self.engine.begin() as conn:
            conn.execute(insert(skus).values(id=7, gtin="06921234000014", bottles_per_case=6, name="Feitian 53%",
                                             content_cid="", active=True))
            for lot in (LOT_A, LOT_B):
                conn.execute(insert(lots).values(id=lot, sku=7, lot_number="0x" + "00" * 19 + f"{lot & 0xff:02x}",
                                                 location=1, cases=10, bottles=60, merkle_root="0x" + "11" * 32,
                                                 document_cid="", recalled=False, commissioned_at=T0,
                                                 tx_hash="0x" + "aa" * 32))
            conn.execute(insert(sync_state).values(id=1, network="test", chain_id=1, block_number=0,
                                                   block_hash=self.hash(0), undecoded=0, updated_at=T0))
            conn.execute(insert(blocks).values(number=0, hash=self.hash(0), parent_hash="0x" + "00" * 32, time=T0))

    @staticmethod
    def hash(number: int, fork: str = "b") -> str:
        return "0x" + fork * 2 + f"{number:062x}"

    def next_block(self, *changes, fork: str = "b") -> None:
        """Applies `changes` (callables given a connection and the block number) in the next block."""
        self.block += 1
        with self.engine.begin() as conn:
            for change in changes:
                change(conn, self.block)
            conn.execute(insert(blocks).values(number=self.block, hash=self.hash(self.block, fork),
                                               parent_hash=self.hash(self.block - 1, fork), time=self.time))
            conn.execute(update(sync_state).values(block_number=self.block, block_hash=self.hash(self.block, fork)))

    def rollback_to(self, number: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(blocks.delete().where(blocks.c.number > number))
            conn.execute(update(sync_state).values(block_number=number, block_hash=self.hash(number)))
        self.block = number

    @property
    def time(self) -> int:
        return T0 + 10 * self.block


def dispatch(shipment: int, lot: int, cases: int):
    def change(conn, block):
        conn.execute(insert(shipments).values(
            id=shipment, kind=0, ref=1, from_location=1, to_location=2, carrier=9, eta=T0 + 86_400,
            document_cid="", owner=1, state=1, cases=cases, dispatched_by="0x" + "01" * 20, dispatched_at=T0 + block,
            tx_hash="0x" + "cc" * 32, dispatched_block=block, dispatched_log=0))
        conn.execute(insert(shipment_lines).values(shipment_id=shipment, line_no=0, lot=lot, sku=7, cases=cases))
    return change


def checkpoint(shipment: int, place: str):
    def change(conn, block):
        conn.execute(insert(shipment_checkpoints).values(
            block_number=block, log_index=0, shipment_id=shipment, carrier=9, status=1, place=place,
            reported_by="0x" + "09" * 20, time=T0 + block))
    return change


def sale(lot: int, cases: int):
    def change(conn, block):
        conn.execute(insert(decommissions).values(block_number=block, log_index=0, location=1, lot=lot, sku=7,
                                                  cases=cases, reason=0, recorded_by="0x" + "02" * 20,
                                                  time=T0 + block))
    return change


def recall(lot: int, at: int):
    def change(conn, block):
        conn.execute(update(lots).where(lots.c.id == lot).values(recalled=True, recall_reason=1, recalled_at=at))
    return change


@pytest.fixture
def mirror(database_url):
    m = Mirror(database_url)
    yield m
    m.engine.dispose()


def kinds(history) -> list[str]:
    return [m.kind for m in history.movements]


def test_a_lot_is_read_once_and_then_kept_while_the_mirror_stays_at_its_checkpoint(mirror):
    histories = LotHistories(check_every=0)
    mirror.next_block(dispatch(1, LOT_A, 4))
    assert kinds(histories.get(mirror.engine, LOT_A)) == ["dispatch"]
    # Rows written without a new checkpoint (the indexer never does this) are not seen: the history is kept.
    with mirror.engine.begin() as conn:
        sale(LOT_A, 1)(conn, mirror.block)
    assert kinds(histories.get(mirror.engine, LOT_A)) == ["dispatch"]


@pytest.mark.parametrize("change", [
    lambda: checkpoint(1, "Hangzhou"), lambda: sale(LOT_A, 1), lambda: dispatch(2, LOT_A, 1),
], ids=["checkpoint", "sale", "dispatch"])
def test_a_lot_moved_by_a_new_block_is_read_again_and_other_lots_stay_kept(mirror, change):
    histories = LotHistories(check_every=0)
    mirror.next_block(dispatch(1, LOT_A, 4), dispatch(5, LOT_B, 2))
    before = histories.get(mirror.engine, LOT_A)
    kept_b = histories.get(mirror.engine, LOT_B)
    mirror.next_block(change())
    after = histories.get(mirror.engine, LOT_A)
    assert len(after.movements) == len(before.movements) + 1
    assert histories.get(mirror.engine, LOT_B) is kept_b


def test_a_receipt_in_a_new_block_is_seen(mirror):
    histories = LotHistories(check_every=0)
    mirror.next_block(dispatch(1, LOT_A, 4))
    assert kinds(histories.get(mirror.engine, LOT_A)) == ["dispatch"]

    def receive(conn, block):
        conn.execute(update(shipments).where(shipments.c.id == 1).values(
            state=2, received_at=T0 + block, received_block=block, received_log=0, received_by="0x" + "03" * 20,
            received_tx_hash="0x" + "dd" * 32))
        conn.execute(update(shipment_lines).where(shipment_lines.c.shipment_id == 1).values(received=4))

    mirror.next_block(receive)
    assert kinds(histories.get(mirror.engine, LOT_A)) == ["dispatch", "receive"]


def test_a_recall_in_a_new_block_is_seen(mirror):
    histories = LotHistories(check_every=0)
    mirror.next_block()
    assert not histories.get(mirror.engine, LOT_A).lot["recalled"]
    mirror.next_block(recall(LOT_A, mirror.time + 10))
    assert histories.get(mirror.engine, LOT_A).lot["recalled"]


def test_a_reorg_drops_every_kept_lot(mirror):
    histories = LotHistories(check_every=0)
    mirror.next_block(dispatch(1, LOT_A, 4))
    mirror.next_block()
    kept = histories.get(mirror.engine, LOT_A)
    # Block 2 is replaced by another block 2 and a block 3 that sells from the lot. The sale's block is after
    # the kept checkpoint, but so is any change a rolled-back block undid: only dropping everything is safe.
    mirror.rollback_to(1)
    with mirror.engine.begin() as conn:
        conn.execute(shipments.delete())
        conn.execute(shipment_lines.delete())
    mirror.next_block(fork="f")
    mirror.next_block(fork="f")
    again = histories.get(mirror.engine, LOT_A)
    assert again is not kept and kinds(again) == []


def test_a_lot_is_looked_at_again_only_after_the_check_interval(mirror):
    histories = LotHistories(check_every=3600)
    mirror.next_block(dispatch(1, LOT_A, 4))
    assert kinds(histories.get(mirror.engine, LOT_A)) == ["dispatch"]
    mirror.next_block(sale(LOT_A, 1))
    assert kinds(histories.get(mirror.engine, LOT_A)) == ["dispatch"]
    histories.check_every = 0
    assert kinds(histories.get(mirror.engine, LOT_A)) == ["dispatch", "decommission"]


def test_a_lot_not_on_chain_is_not_kept(mirror):
    histories = LotHistories(check_every=0)
    assert histories.get(mirror.engine, 7 << 160 | 3) is None
    with mirror.engine.begin() as conn:
        conn.execute(insert(lots).values(id=7 << 160 | 3, sku=7, lot_number="0x" + "03" * 20, location=1, cases=1,
                                         bottles=6, merkle_root="0x" + "11" * 32, document_cid="", recalled=False,
                                         commissioned_at=T0, tx_hash="0x" + "aa" * 32))
    assert histories.get(mirror.engine, 7 << 160 | 3) is not None


def test_the_oldest_lot_goes_when_the_capacity_is_reached(mirror):
    histories = LotHistories(capacity=1, check_every=0)
    mirror.next_block()
    a = histories.get(mirror.engine, LOT_A)
    histories.get(mirror.engine, LOT_B)
    assert histories.get(mirror.engine, LOT_A) is not a
