"""The brand's code registry and the consumer scan log: which bottle codes the brand issued (serial → lot, case
and place in the lot's Merkle tree), the tree's nodes from which any bottle's proof is read on demand, the
marks of opened bottles, and every consumer scan.

None of this is on chain (the chain holds each lot's Merkle root, and the scan log's roots once anchored), so
it lives in its own database (`LEDGER_BRAND_DATABASE_URL`), apart from the mirror: the mirror can be rebuilt
from the chain at any time, printed codes cannot be rebuilt from anything.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Sequence

from sqlalchemy import (BigInteger, Column, Engine, Index, Integer, LargeBinary, MetaData, String, Table, Text,
                        bindparam, func, insert, select)

from indexer.db import open_database
from ledger_api.codes import LotCodes

metadata = MetaData()

code_lots = Table(
    "code_lots",
    metadata,
    Column("ref", Integer, primary_key=True, autoincrement=True),
    Column("lot_id", String(80), nullable=False, unique=True),  # (sku << 160) | lot number bytes20, decimal
    Column("gtin", String(14), nullable=False),
    Column("lot_number", String(20), nullable=False),
    Column("bottles_per_case", Integer, nullable=False),
    Column("bottles", BigInteger, nullable=False),
    Column("merkle_root", String(66), nullable=False),
    Column("issued_at", BigInteger, nullable=False),
)

bottle_codes = Table(
    "bottle_codes",
    metadata,
    Column("serial", String(20), primary_key=True),
    Column("lot_ref", Integer, nullable=False),
    Column("case_number", Integer, nullable=False),
    Column("node_index", BigInteger, nullable=False),  # the leaf's place in the lot's flat tree array
)

# The flat StandardMerkleTree array of every lot (2n - 1 nodes for n bottles): a proof is the siblings on the
# way up from a leaf, read as one indexed lookup.
tree_nodes = Table(
    "tree_nodes",
    metadata,
    Column("lot_ref", Integer, primary_key=True),
    Column("node_index", BigInteger, primary_key=True),
    Column("hash", LargeBinary(32), nullable=False),
)

opened_bottles = Table(
    "opened_bottles",
    metadata,
    Column("serial", String(20), primary_key=True),
    Column("opened_by", String(16), nullable=False),  # store or consumer
    Column("marked_by", Text, nullable=False),  # the store's account, or the consumer's anonymous device
    Column("marked_at", BigInteger, nullable=False),
)

scans = Table(
    "scans",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("serial", String(64), nullable=False),  # as scanned: unknown codes are logged too
    Column("gtin", String(14), nullable=False),
    Column("device", String(64), nullable=False),  # a hash of the anonymous device id, never the id itself
    Column("place", Text),
    Column("region", String(64)),
    Column("at", BigInteger, nullable=False),
    Column("verdict", String(16), nullable=False),
    Index("ix_scans_serial_at", "serial", "at"),
    Index("ix_scans_at", "at"),
)


def open_registry(url: str, pool_size: int = 5) -> Engine:
    """The registry's engine, its tables created when missing."""
    engine = open_database(url, pool_size=pool_size)
    metadata.create_all(engine)
    return engine


@dataclass(frozen=True)
class IssuedBottle:
    serial: str
    lot_ref: int
    lot_id: int
    gtin: str
    lot_number: str
    case_number: int
    node_index: int
    bottles: int
    merkle_root: str
    opened_by: str | None = None  # "store" or "consumer" once the bottle is marked opened


def register_lot(engine: Engine, lot_id: int, codes, issued_at: int,
                 progress: Callable[[int, int], None] | None = None) -> int:
    """Stores a lot's codes and tree (`codes`: a `codes.LotCodes`) in one transaction; returns its `ref`.

    Raises:
        ValueError: the lot, or one of its serials, is already registered.
    """
    with engine.begin() as conn:
        if conn.execute(select(code_lots.c.ref).where(code_lots.c.lot_id == str(lot_id))).first():
            raise ValueError(f"lot {lot_id} already has codes in the registry")
        ref = conn.execute(insert(code_lots).values(
            lot_id=str(lot_id), gtin=codes.gtin, lot_number=codes.lot, bottles_per_case=codes.bottles_per_case,
            bottles=len(codes.serials), merkle_root="0x" + codes.root.hex(), issued_at=issued_at)
        ).inserted_primary_key[0]
        per_case = codes.bottles_per_case
        bottles = [{"serial": s, "lot_ref": ref, "case_number": i // per_case + 1, "node_index": codes.leaf_node[i]}
                   for i, s in enumerate(codes.serials)]
        nodes = [{"lot_ref": ref, "node_index": i, "hash": h} for i, h in enumerate(codes.nodes)]
        total, done, batch = len(bottles) + len(nodes), 0, 50_000
        for table, rows in ((bottle_codes, bottles), (tree_nodes, nodes)):
            for start in range(0, len(rows), batch):
                conn.execute(insert(table), rows[start:start + batch])
                done += len(rows[start:start + batch])
                if progress:
                    progress(done, total)
        return ref


# The statements of a scan are built once: a scan runs each of them, and building one costs more than running it.
_FIND_BOTTLE = (
    select(bottle_codes.c.serial, bottle_codes.c.lot_ref, bottle_codes.c.case_number, bottle_codes.c.node_index,
           code_lots.c.lot_id, code_lots.c.gtin, code_lots.c.lot_number, code_lots.c.bottles, code_lots.c.merkle_root,
           opened_bottles.c.opened_by)
    .join(code_lots, code_lots.c.ref == bottle_codes.c.lot_ref)
    .outerjoin(opened_bottles, opened_bottles.c.serial == bottle_codes.c.serial)
    .where(bottle_codes.c.serial == bindparam("serial")))


def find_bottle(conn, serial: str) -> IssuedBottle | None:
    """The issued bottle with this serial, with its opened mark, or None."""
    row = conn.execute(_FIND_BOTTLE, {"serial": serial}).first()
    if row is None:
        return None
    return IssuedBottle(row.serial, row.lot_ref, int(row.lot_id), row.gtin, row.lot_number, row.case_number,
                        row.node_index, row.bottles, row.merkle_root, row.opened_by)


_PROOF_NODES = select(tree_nodes.c.node_index, tree_nodes.c.hash).where(
    tree_nodes.c.lot_ref == bindparam("lot_ref"), tree_nodes.c.node_index.in_(bindparam("nodes", expanding=True)))


def read_proof(conn, bottle: IssuedBottle) -> tuple[bytes, list[bytes]]:
    """The bottle's leaf hash and its proof, read from the stored tree."""
    wanted = LotCodes.proof_indexes(bottle.node_index)
    rows = dict(conn.execute(_PROOF_NODES, {"lot_ref": bottle.lot_ref, "nodes": wanted + [bottle.node_index]}).all())
    return bytes(rows[bottle.node_index]), [bytes(rows[i]) for i in wanted]


def lot_serials(conn, lot_id: int) -> list[tuple[str, int]]:
    """Every (serial, case number) of a lot, in case order."""
    return [tuple(r) for r in conn.execute(
        select(bottle_codes.c.serial, bottle_codes.c.case_number)
        .join(code_lots, code_lots.c.ref == bottle_codes.c.lot_ref)
        .where(code_lots.c.lot_id == str(lot_id)).order_by(bottle_codes.c.case_number, bottle_codes.c.serial))]


def case_serials(conn, lot_id: int, case_number: int) -> list[str]:
    return list(conn.execute(
        select(bottle_codes.c.serial).join(code_lots, code_lots.c.ref == bottle_codes.c.lot_ref)
        .where(code_lots.c.lot_id == str(lot_id), bottle_codes.c.case_number == case_number)
        .order_by(bottle_codes.c.serial)).scalars())


def opened_by(conn, serial: str) -> str | None:
    return conn.execute(select(opened_bottles.c.opened_by).where(opened_bottles.c.serial == serial)).scalar()


def mark_opened(conn, serial: str, by: str, marked_by: str, at: int) -> bool:
    """Marks a bottle opened; False when it already was (the first mark stands)."""
    if opened_by(conn, serial) is not None:
        return False
    conn.execute(insert(opened_bottles).values(serial=serial, opened_by=by, marked_by=marked_by, marked_at=at))
    return True


_SCAN_COLUMNS = (scans.c.id, scans.c.at, scans.c.device, scans.c.place, scans.c.region)
_LATEST_SCANS = (select(*_SCAN_COLUMNS).where(scans.c.serial == bindparam("serial"))
                 .order_by(scans.c.at.desc(), scans.c.id.desc()).limit(bindparam("limit")))
_FIRST_SCAN = (select(*_SCAN_COLUMNS).where(scans.c.serial == bindparam("serial"))
               .order_by(scans.c.at, scans.c.id).limit(1))


def earlier_scans(conn, serial: str, limit: int = 1_000) -> list:
    """The code's first scan and its latest `limit` scans, oldest first (a much-copied code is scanned without
    end; the verdict needs the first scan and the recent window, not all of them)."""
    rows = conn.execute(_LATEST_SCANS, {"serial": serial, "limit": limit}).all()
    rows.reverse()
    if len(rows) == limit:
        first = conn.execute(_FIRST_SCAN, {"serial": serial}).first()
        if first.id != rows[0].id:
            rows.insert(0, first)
    return rows


def scan_total(conn, serial: str) -> int:
    return conn.execute(select(func.count()).select_from(scans).where(scans.c.serial == serial)).scalar()


@dataclass
class _Batch:
    rows: list[dict] = field(default_factory=list)
    done: bool = False
    error: BaseException | None = None


class ScanLog:
    """The scan log's writer for many threads at once: scans that arrive while a commit is under way are written
    together in the next transaction (group commit). `append` returns once its scan is committed, so an
    answered scan is in the log even if the process dies the next moment; and a busy scan endpoint commits a
    few times per disk flush instead of once per scan."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._changed = threading.Condition()
        self._open = _Batch()  # the batch new scans join
        self._writing = False

    def append(self, serial: str, gtin: str, device: str, place: str | None, region: str | None, at: int,
               verdict: str) -> None:
        """Logs one scan and waits until it is committed.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the batch holding this scan could not be written.
        """
        row = {"serial": serial, "gtin": gtin, "device": device, "place": place, "region": region, "at": at,
               "verdict": verdict}
        with self._changed:
            batch = self._open
            batch.rows.append(row)
            while not batch.done and self._writing:
                self._changed.wait()
            if not batch.done:  # no commit is under way: this thread writes the batch, and a new one opens
                self._writing = True
                self._open = _Batch()
        if not batch.done:
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(scans), batch.rows)
            except BaseException as error:  # noqa: BLE001 - every scan of the batch learns that it failed
                batch.error = error
            with self._changed:
                batch.done = True
                self._writing = False
                self._changed.notify_all()
        if batch.error is not None:
            raise batch.error


def scans_between(conn, start: int, end: int) -> Sequence:
    """The scan log's entries in [start, end), in log order: what one anchor commits to."""
    return conn.execute(select(scans).where(scans.c.at >= start, scans.c.at < end).order_by(scans.c.id)).all()


def opened_between(conn, start: int, end: int) -> Sequence:
    return conn.execute(select(opened_bottles).where(opened_bottles.c.marked_at >= start,
                                                     opened_bottles.c.marked_at < end)
                        .order_by(opened_bottles.c.marked_at, opened_bottles.c.serial)).all()
