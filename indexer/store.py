"""The mirror database: applying a range of blocks atomically, remembering how to undo it, and the checkpoint.

`Mirror.apply` writes one range in one transaction: its raw logs, its block headers, the rows its events
project to, the undo journal for blocks that may still be reorganised, and the new checkpoint. A crash at
any moment leaves the database at the previous checkpoint, never half a range.

Projection rows go through a write-back cache. A projection reads rows through `get` (the cache, else the
database), and each `Put` lands in the cache and is written at the end of the range with one upsert per
table. The indexer is the only writer, so the cache stays true across ranges; when a table was empty at
start, a cache miss means the row does not exist and costs no query. Blocks within the reorg window are
journaled: before a block first changes a row, the row's previous content (or its absence) is recorded,
so `rollback_to` can restore the tables as they were after any journaled block. The rows themselves go
in through `indexer.bulk` (executemany on SQLite, COPY on PostgreSQL).
"""

from __future__ import annotations

import json
import time as clock
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update

from indexer.bulk import BulkWriter, row_getter
from indexer.projections import LedgerEvent, project
from indexer.schema import PROJECTIONS, REGISTRY, blocks, primary_key, raw_events, sync_state, undo_log

MAX_CACHED_ROWS = 2_000_000
REBUILD = ("the mirror cannot undo it: rebuild it with `indexer backfill` into an empty database (a new "
           "LEDGER_DATABASE_URL), and raise LEDGER_REORG_WINDOW if the chain reorganises this deep")


@dataclass(frozen=True)
class Checkpoint:
    block_number: int
    block_hash: str
    undecoded: int = 0


@dataclass(frozen=True)
class BlockHeader:
    number: int
    hash: str
    parent_hash: str
    time: int


class DeepReorg(Exception):
    """The chain changed below the oldest block the journal can undo."""


class ForeignMirror(Exception):
    """The database holds the mirror of another network or chain."""


class Mirror:
    def __init__(self, engine: Engine, network: str, chain_id: int):
        self.engine, self.network, self.chain_id = engine, network, chain_id
        self._keys = {name: primary_key(t) for name, t in PROJECTIONS.items()}
        self._key_of = {name: row_getter(keys) for name, keys in self._keys.items()}
        self._upserts = {name: BulkWriter(t, engine, key=self._keys[name]) for name, t in PROJECTIONS.items()}
        self._insert_raw = BulkWriter(raw_events, engine)
        self._insert_blocks = BulkWriter(blocks, engine, key=primary_key(blocks))
        self._conn: Connection | None = None
        self._reset_cache()

    # ------------------------------------------------------------------ the view projections read

    def get(self, table: str, key: tuple) -> dict[str, Any] | None:
        rows = self._cache[table]
        if key in rows:
            return rows[key]
        if table in self._complete:
            return None
        t = PROJECTIONS[table]
        condition = and_(*(t.c[name] == value for name, value in zip(primary_key(t), key)))
        found = self._conn.execute(select(t).where(condition)).mappings().first()
        row = dict(found) if found else None
        rows[key] = row
        self._cached += 1
        return row

    # ------------------------------------------------------------------ writing a range

    def apply(self, events: Iterable[LedgerEvent], raw_logs: list[dict[str, Any]], headers: list[BlockHeader],
              checkpoint: BlockHeader, journal_from: int | None, undecoded: int = 0) -> None:
        """Writes one range atomically. Blocks numbered `journal_from` or above are journaled for rollback."""
        try:
            with self.engine.begin() as conn:
                self._conn = conn
                self._insert_raw.write(conn, raw_logs)
                self._insert_blocks.write(conn, [h.__dict__ for h in headers])
                journal: list[dict[str, Any]] = []
                journaled: set[tuple[str, tuple]] = set()
                block = -1
                cache, dirty, key_of = self._cache, self._dirty, self._key_of
                for event in events:
                    if event.block_number != block:
                        block, journaled = event.block_number, set()
                    for put in project(event, self):
                        table = put.table
                        key = key_of[table](put.row)
                        if journal_from is not None and block >= journal_from and (table, key) not in journaled:
                            journaled.add((table, key))
                            before = self.get(table, key)
                            journal.append({"block_number": block, "table_name": table,
                                            "row_key": _json(key), "before": None if before is None else _json(before)})
                        cache[table][key] = dirty[table][key] = put.row
                for table, rows in self._dirty.items():
                    self._upserts[table].write(conn, list(rows.values()))
                if journal:
                    conn.execute(insert(undo_log), journal)
                self._write_checkpoint(conn, checkpoint, undecoded,
                                       registry_changed=any(self._dirty[t] for t in REGISTRY))
        except BaseException:
            # The transaction rolled back; rows cached from it never reached the database.
            self._reset_cache()
            raise
        finally:
            self._conn = None
            for rows in self._dirty.values():
                rows.clear()
        if self._cached > MAX_CACHED_ROWS:
            self._reset_cache()

    def rollback_to(self, ancestor: int) -> int:
        """Restores every projection to its state after block `ancestor`; returns how many rows it restored.

        Raises DeepReorg if a block above `ancestor` was applied without a journal."""
        with self.engine.begin() as conn:
            applied = conn.execute(select(sync_state.c.block_number)).scalar_one()
            oldest = conn.execute(select(func.min(undo_log.c.block_number))).scalar()
            unjournaled = conn.execute(
                select(func.count()).select_from(raw_events).where(
                    raw_events.c.block_number > ancestor,
                    raw_events.c.block_number < (oldest if oldest is not None else applied + 1),
                )
            ).scalar_one()
            if unjournaled:
                raise DeepReorg(
                    f"the chain changed at block {ancestor + 1}, below the journaled blocks (from {oldest}); "
                    f"{REBUILD}"
                )
            entries = conn.execute(
                select(undo_log).where(undo_log.c.block_number > ancestor).order_by(undo_log.c.seq.desc())
            ).mappings().all()
            for entry in entries:
                t = PROJECTIONS[entry["table_name"]]
                key = json.loads(entry["row_key"])
                condition = and_(*(t.c[name] == value for name, value in zip(primary_key(t), key)))
                conn.execute(delete(t).where(condition))
                if entry["before"] is not None:
                    conn.execute(insert(t), [json.loads(entry["before"])])
            conn.execute(delete(undo_log).where(undo_log.c.block_number > ancestor))
            conn.execute(delete(raw_events).where(raw_events.c.block_number > ancestor))
            conn.execute(delete(blocks).where(blocks.c.number > ancestor))
            header = conn.execute(select(blocks).where(blocks.c.number == ancestor)).mappings().first()
            if header is None:
                raise DeepReorg(f"no stored header for block {ancestor}; {REBUILD}")
            self._write_checkpoint(conn, BlockHeader(**header), None,
                                   registry_changed=any(e["table_name"] in REGISTRY for e in entries))
        self._reset_cache()
        return len(entries)

    def forget_journal_below(self, block: int) -> None:
        """Drops undo entries for blocks that can no longer be reorganised."""
        with self.engine.begin() as conn:
            conn.execute(delete(undo_log).where(undo_log.c.block_number < block))

    # ------------------------------------------------------------------ reading state

    def checkpoint(self) -> Checkpoint | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(sync_state)).mappings().first()
        if row is None:
            return None
        if row["network"] != self.network or row["chain_id"] != self.chain_id:
            raise ForeignMirror(
                f"this mirror follows {row['network']} (chain id {row['chain_id']}), not {self.network} "
                f"(chain id {self.chain_id}); point LEDGER_DATABASE_URL at another database"
            )
        return Checkpoint(row["block_number"], row["block_hash"], row["undecoded"])

    def stored_hash(self, number: int) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(blocks.c.hash).where(blocks.c.number == number)).scalar()

    def start(self, header: BlockHeader) -> None:
        """Records the block before the deployment as the starting checkpoint of an empty mirror."""
        with self.engine.begin() as conn:
            self._insert_blocks.write(conn, [header.__dict__])
            self._write_checkpoint(conn, header, 0)

    # ------------------------------------------------------------------ internals

    def _write_checkpoint(self, conn: Connection, header: BlockHeader, undecoded: int | None,
                          registry_changed: bool = False) -> None:
        values = {"network": self.network, "chain_id": self.chain_id, "block_number": header.number,
                  "block_hash": header.hash, "updated_at": int(clock.time())}
        if conn.execute(select(sync_state.c.id)).first() is None:
            conn.execute(insert(sync_state), [{"id": 1, "undecoded": undecoded or 0,
                                               "registry_version": int(registry_changed), **values}])
            return
        if undecoded:
            values["undecoded"] = sync_state.c.undecoded + undecoded
        if registry_changed:
            values["registry_version"] = sync_state.c.registry_version + 1
        conn.execute(update(sync_state).where(sync_state.c.id == 1).values(**values))

    def _reset_cache(self) -> None:
        self._cache: dict[str, dict[tuple, dict[str, Any] | None]] = {name: {} for name in PROJECTIONS}
        self._dirty: dict[str, dict[tuple, dict[str, Any]]] = {name: {} for name in PROJECTIONS}
        self._cached = 0
        with self.engine.connect() as conn:
            self._complete = {
                name for name, t in PROJECTIONS.items() if conn.execute(select(t).limit(1)).first() is None
            }


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
