"""Backing up the chain mirror to one file and restoring it, on PostgreSQL and on SQLite.

A backup is one consistent snapshot: PostgreSQL's is `pg_dump -Fc` run on a snapshot exported from the
transaction that reads the checkpoint, so the file holds exactly the blocks up to that checkpoint; SQLite's is
a copy made with SQLite's backup API (a database file). A restore first checks that the file is a mirror
backup for the target's engine, and only then replaces the mirror (`pg_restore --clean --if-exists
--no-owner` in one transaction; the backup API into the SQLite file), so a refused or failed restore leaves
the target as it was. The chain stays the source of truth: the indexer started on a restored mirror reads
its checkpoint and catches up from the next block.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url

from indexer.db import open_database
from indexer.schema import sync_state

PG_DUMP_MAGIC = b"PGDMP"
SQLITE_MAGIC = b"SQLite format 3\x00"
MIRROR_TABLES = ("sync_state", "raw_events", "blocks", "alembic_version")


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says what was wrong and what to do."""


@dataclass(frozen=True)
class Checkpoint:
    """Where a backed-up or restored mirror stands: the last block it holds (None: an empty mirror)."""

    network: str | None
    chain_id: int | None
    block_number: int | None
    block_hash: str | None
    revision: str | None

    def describe(self) -> str:
        if self.block_number is None:
            return f"an empty mirror (schema {self.revision})"
        return (f"{self.network} (chain id {self.chain_id}) up to block {self.block_number} ({self.block_hash}), "
                f"schema {self.revision}")


@dataclass(frozen=True)
class Outcome:
    checkpoint: Checkpoint
    path: Path
    bytes: int
    seconds: float


def backup(database_url: str, path: Path) -> Outcome:
    """Writes a consistent backup of the mirror at `database_url` to `path` (replacing it)."""
    began = time.monotonic()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if _is_sqlite(database_url):
        checkpoint = _backup_sqlite(_sqlite_path(database_url), path)
    else:
        checkpoint = _backup_postgres(database_url, path)
    return Outcome(checkpoint, path, path.stat().st_size, time.monotonic() - began)


def restore(database_url: str, path: Path) -> Outcome:
    """Replaces the mirror at `database_url` with the backup in `path`; refuses (changing nothing) a file
    that is not a mirror backup for that engine. Stop the indexer first: it is the mirror's only writer."""
    began = time.monotonic()
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path} does not exist or is not a file")
    with path.open("rb") as file:
        head = file.read(len(SQLITE_MAGIC))
    if _is_sqlite(database_url):
        if head.startswith(PG_DUMP_MAGIC):
            raise BackupError(f"{path} is a PostgreSQL backup (pg_dump); the mirror {database_url} is SQLite: "
                              f"restore it into a PostgreSQL mirror")
        _restore_sqlite(path, _sqlite_path(database_url))
    else:
        if head == SQLITE_MAGIC:
            raise BackupError(f"{path} is a SQLite backup; the mirror is PostgreSQL: restore it into a SQLite "
                              f"mirror, or rebuild the PostgreSQL one from the chain (`indexer backfill`)")
        _restore_postgres(path, database_url)
    return Outcome(read_checkpoint(database_url), path, path.stat().st_size, time.monotonic() - began)


def read_checkpoint(database_url: str) -> Checkpoint:
    engine = open_database(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            return _checkpoint(conn)
    finally:
        engine.dispose()


def _checkpoint(conn) -> Checkpoint:
    if not inspect(conn).has_table("alembic_version"):
        raise BackupError("the database holds no ledger mirror (no schema): nothing to back up")
    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    row = conn.execute(select(sync_state).where(sync_state.c.id == 1)).first()
    if row is None:
        return Checkpoint(None, None, None, None, revision)
    return Checkpoint(row.network, row.chain_id, row.block_number, row.block_hash, revision)


# SQLite --------------------------------------------------------------------------------------------------------

def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"{url} is not a SQLite file; a backup needs a mirror on disk")
    return Path(database)


def _backup_sqlite(source: Path, target: Path) -> Checkpoint:
    if not source.is_file():
        raise BackupError(f"the mirror {source} does not exist: there is nothing to back up")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    # One step (pages=-1, the default) holds the source's read lock for the whole copy: one snapshot even
    # while the indexer writes.
    with _closing(sqlite3.connect(source)) as src, _closing(sqlite3.connect(partial)) as dst:
        src.backup(dst)
        # A file that needs no -wal beside it, so the backup is the one file.
        dst.execute("PRAGMA journal_mode=DELETE")
        checkpoint = _sqlite_checkpoint(dst, partial)
    os.replace(partial, target)
    return checkpoint


def _restore_sqlite(backup_file: Path, target: Path) -> None:
    with _closing(_open_sqlite_backup(backup_file)) as src:
        _sqlite_checkpoint(src, backup_file)  # refuses a database that is not a mirror
        target.parent.mkdir(parents=True, exist_ok=True)
        with _closing(sqlite3.connect(target, timeout=30)) as dst:
            # The backup API writes the whole target in one transaction: a failure leaves it as it was.
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")  # as the indexer opens its mirror


def _open_sqlite_backup(path: Path) -> sqlite3.Connection:
    with path.open("rb") as file:
        if file.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            raise BackupError(f"{path} is not a mirror backup (not a SQLite database): nothing was restored")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _sqlite_checkpoint(conn: sqlite3.Connection, path: Path) -> Checkpoint:
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = [t for t in MIRROR_TABLES if t not in tables]
    if missing:
        raise BackupError(f"{path} is a SQLite database but not a ledger mirror (no {', '.join(missing)} "
                          f"table): nothing was restored")
    revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    row = conn.execute("SELECT network, chain_id, block_number, block_hash FROM sync_state WHERE id = 1").fetchone()
    return Checkpoint(*(row or (None, None, None, None)), revision[0] if revision else None)


class _closing:
    """sqlite3's connection as a context manager commits but never closes; this closes it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc) -> None:
        self.conn.close()


# PostgreSQL ----------------------------------------------------------------------------------------------------

def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not on PATH: install PostgreSQL's client tools (Debian: apt-get install "
                          f"postgresql-client), of the server's major version or newer")
    return found


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The libpq connection URL of a SQLAlchemy URL, and the environment that carries its password (kept off
    the command line, which other users of the machine can read)."""
    parsed = make_url(url)
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _backup_postgres(database_url: str, target: Path) -> Checkpoint:
    pg_dump = _tool("pg_dump")
    dsn, env = _libpq(database_url)
    engine = open_database(database_url, pool_size=1)
    partial = target.with_name(target.name + ".partial")
    try:
        # The checkpoint read and the dump share one snapshot: the file holds exactly these blocks.
        with engine.connect().execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True) as conn:
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar()
            checkpoint = _checkpoint(conn)
            done = subprocess.run([pg_dump, "--format=custom", "--no-owner", f"--snapshot={snapshot}",
                                   f"--file={partial}", f"--dbname={dsn}"], env=env, capture_output=True, text=True)
            conn.rollback()
    finally:
        engine.dispose()
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {_last_line(done.stderr)}")
    os.replace(partial, target)
    return checkpoint


def _restore_postgres(backup_file: Path, database_url: str) -> None:
    pg_restore = _tool("pg_restore")
    listing = subprocess.run([pg_restore, "--list", str(backup_file)], capture_output=True, text=True)
    if listing.returncode != 0:
        raise BackupError(f"{backup_file} is not a mirror backup (pg_restore cannot read it: "
                          f"{_last_line(listing.stderr)}): nothing was restored")
    tables = set()
    for line in listing.stdout.splitlines():
        words = line.split()  # "215; 1259 16390 TABLE public sync_state owner"
        if not line.startswith(";") and "TABLE" in words and "DATA" not in words:
            tables.add(words[words.index("TABLE") + 2])
    missing = [t for t in MIRROR_TABLES if t not in tables]
    if missing:
        raise BackupError(f"{backup_file} is a PostgreSQL backup but not of a ledger mirror (no "
                          f"{', '.join(missing)} table): nothing was restored")
    dsn, env = _libpq(database_url)
    done = subprocess.run([pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction",
                           f"--dbname={dsn}", str(backup_file)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed, the mirror is as it was: {_last_line(done.stderr)}")


def _last_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"
