"""Opening the mirror database and bringing its schema up to date with Alembic.

SQLite files get WAL journaling (readers never wait for the indexer's write transaction), a busy
timeout, and transactions that hold schema changes too, so a migration is all or nothing; PostgreSQL is
used as configured. `migrate` runs the migrations in `indexer/migrations` up to the newest, and is what
every indexer command calls first, so a mirror is never written with an older schema; `ledger-api serve`
only checks it (`require_current_schema`) and refuses to start on a schema that is not the newest.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def open_database(url: str, pool_size: int = 5) -> Engine:
    """The mirror's engine. `pool_size` connections are kept open: a server answering from many threads
    wants as many as it runs at once, or SQLite reconnects (and redoes its pragmas) for every overflow."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, pool_size=pool_size, max_overflow=pool_size)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # The driver's own transaction handling leaves DDL outside transactions, so a migration killed
            # halfway would leave half a schema; SQLAlchemy's begin (below) then issues BEGIN itself.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable at checkpoints, never corrupt
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA cache_size=-65536")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            conn.exec_driver_sql("BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Brings the schema to the newest migration."""
    command.upgrade(alembic_config(engine), "head")


class SchemaNotCurrent(Exception):
    """The mirror's schema is not the one this code reads; the message says which command brings it there."""


def schema_revisions(engine: Engine) -> tuple[str | None, str]:
    """The mirror's schema revision (None for a database the indexer never migrated) and the newest one this
    code knows."""
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def require_current_schema(engine: Engine) -> str:
    """The mirror's revision when it is the newest this code knows; otherwise SchemaNotCurrent. Readers (the
    API's replicas) call this instead of `migrate`: only the indexer changes the schema, once, before they start."""
    current, head = schema_revisions(engine)
    if current == head:
        return current
    if current is None:
        raise SchemaNotCurrent(f"the mirror database has no ledger schema (this code needs revision {head}): run "
                               f"`indexer migrate`, or start the indexer, before the API")
    known = {script.revision for script in ScriptDirectory.from_config(alembic_config(engine)).walk_revisions()}
    if current not in known:
        raise SchemaNotCurrent(f"the mirror's schema is at revision {current}, newer than this code knows "
                               f"({head}): upgrade this service to the indexer's version")
    raise SchemaNotCurrent(f"the mirror's schema is at revision {current}, behind this code's {head}: run "
                           f"`indexer migrate` first (stop the indexer, migrate, start it, then restart the API)")


@contextmanager
def scratch_postgres_database(admin_url: str, prefix: str = "ledger_scratch") -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of `admin_url` (a role that may create databases),
    dropped again on exit; yields its URL."""
    admin = make_url(admin_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            _drop_database(engine, name)
        finally:
            engine.dispose()


def _drop_database(engine: Engine, name: str, attempts: int = 10) -> None:
    # FORCE ends the caller's own sessions still open, but may not terminate an autovacuum worker (that
    # needs pg_signal_backend); a plain drop cancels autovacuum but fails on open sessions. Between them,
    # with a pause, one succeeds.
    for attempt in range(attempts):
        force = " WITH (FORCE)" if attempt % 2 == 0 else ""
        try:
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"{force}'))
            return
        except DBAPIError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
