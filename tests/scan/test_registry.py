"""The brand's code registry on SQLite and PostgreSQL: a lot's codes are stored once, each bottle found by its
serial with its case, and its proof, read back from the stored tree, leads to the lot's root; the scan log
commits the scans that arrive together in one transaction, and tells each of them when it failed."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import SQLAlchemyError

from indexer.db import open_database
from ledger_api import codes, registry
from ledger_api.merkle import leaf_hash, process_proof


@pytest.fixture
def brand(database_url):
    engine = registry.open_registry(database_url)
    yield engine
    engine.dispose()


def test_every_bottles_stored_proof_leads_to_the_lot_root(brand):
    lot = codes.LotCodes.build("06921234000014", "B26120101", 6, 5)
    registry.register_lot(brand, 12345, lot, issued_at=1)
    with brand.connect() as conn:
        for i, serial in enumerate(lot.serials):
            bottle = registry.find_bottle(conn, serial)
            assert (bottle.lot_id, bottle.case_number, bottle.gtin) == (12345, i // 6 + 1, "06921234000014")
            leaf, proof = registry.read_proof(conn, bottle)
            assert leaf == leaf_hash(codes.BOTTLE_TYPES, (serial, bottle.case_number))
            assert process_proof(leaf, proof) == lot.root and proof == lot.proof(i)


def test_a_lot_and_its_serials_are_registered_only_once(brand):
    lot = codes.LotCodes.build("06921234000014", "B26120102", 6, 1)
    registry.register_lot(brand, 1, lot, issued_at=1)
    with pytest.raises(ValueError, match="already has codes"):
        registry.register_lot(brand, 1, lot, issued_at=2)
    with brand.connect() as conn:
        assert registry.case_serials(conn, 1, 1) == sorted(lot.serials)


def test_an_unknown_serial_is_not_found(brand):
    with brand.connect() as conn:
        assert registry.find_bottle(conn, codes.new_serial()) is None


def test_the_first_opened_mark_stands(brand):
    with brand.begin() as conn:
        assert registry.mark_opened(conn, "ABC", "store", "0xstore", 10)
        assert not registry.mark_opened(conn, "ABC", "consumer", "device", 11)
        assert registry.opened_by(conn, "ABC") == "store"


def test_the_first_scan_is_kept_when_a_code_has_been_scanned_very_often(brand):
    log = registry.ScanLog(brand)
    for at in range(1, 13):
        log.append("S1", "06921234000014", f"d{at}", None, "EAST", at, "genuine")
    with brand.connect() as conn:
        rows = registry.earlier_scans(conn, "S1", limit=5)
        assert [r.at for r in rows] == [1, 8, 9, 10, 11, 12] and registry.scan_total(conn, "S1") == 12


def test_scans_arriving_during_a_commit_are_committed_together_and_each_caller_returns_committed(brand):
    log = registry.ScanLog(brand)
    commits, others = [], 19
    first_commit_may_end = threading.Event()

    @event.listens_for(brand, "commit")
    def hold_the_first_commit(conn):
        commits.append(1)
        if len(commits) == 1:
            assert first_commit_may_end.wait(30)

    def scan(n: int) -> None:
        log.append(f"S{n}", "06921234000014", f"d{n}", None, "EAST", n, "genuine")

    first = threading.Thread(target=scan, args=(0,))
    first.start()
    while not commits:  # the first scan's commit is under way
        time.sleep(0.001)
    rest = [threading.Thread(target=scan, args=(n,)) for n in range(1, others + 1)]
    for t in rest:
        t.start()
    deadline = time.monotonic() + 30
    while len(log._open.rows) < others and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(0.05)
    assert all(t.is_alive() for t in rest), "a scan returned before its commit"
    first_commit_may_end.set()
    for t in [first, *rest]:
        t.join(30)
    event.remove(brand, "commit", hold_the_first_commit)
    assert len(commits) == 2
    with brand.connect() as conn:
        assert conn.execute(select(func.count()).select_from(registry.scans)).scalar() == others + 1


def test_a_scan_whose_batch_fails_is_told_and_the_log_goes_on(database_url):
    bare = open_database(database_url)  # no registry tables yet
    log = registry.ScanLog(bare)
    with pytest.raises(SQLAlchemyError):
        log.append("S1", "06921234000014", "d1", None, None, 1, "genuine")
    registry.metadata.create_all(bare)
    log.append("S2", "06921234000014", "d2", None, None, 2, "genuine")
    with bare.connect() as conn:
        assert conn.execute(select(registry.scans.c.serial)).scalars().all() == ["S2"]
    bare.dispose()
