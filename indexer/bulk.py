"""Writing many rows of one table at once, as fast as each database takes them.

A backfill writes hundreds of thousands of rows a range, and SQLAlchemy's per-row parameter handling
would cost more than the database's own work. So each `BulkWriter` prepares its statement once and hands
plain tuples to the driver:
- on SQLite, the INSERT (or INSERT ... ON CONFLICT DO UPDATE, an upsert) compiled by SQLAlchemy, run with
  the DBAPI `executemany`, each value bound with the column type's own processor;
- on PostgreSQL, `COPY ... FROM STDIN`, PostgreSQL's bulk load: straight into the table for an insert, and
  for an upsert into a temporary staging table (emptied at commit) followed by one
  INSERT ... SELECT ... ON CONFLICT DO UPDATE. COPY's text form takes Python ints, strings, bytes and
  booleans as they are, so no value needs converting.
Rows are dictionaries holding every column of the table.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

from sqlalchemy import Connection, Engine, LargeBinary, Table
from sqlalchemy.dialects import sqlite


def row_getter(columns: list[str] | tuple[str, ...]) -> Callable[[dict[str, Any]], tuple]:
    """A function giving a row's values for `columns`, as a tuple, for any number of columns."""
    if len(columns) == 1:
        column = columns[0]
        return lambda row: (row[column],)
    return operator.itemgetter(*columns)


class BulkWriter:
    def __init__(self, table: Table, engine: Engine, key: tuple[str, ...] | None = None):
        """Writes rows of `table`; with `key` (its primary key columns) a row replaces the one with its key."""
        self.table, self.key = table, key
        self.columns = [c.name for c in table.columns]
        self.pick = row_getter(self.columns)
        self.postgres = engine.dialect.name == "postgresql"
        if self.postgres:
            self._prepare_copy()
        else:
            self._prepare_executemany(engine)

    def write(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        dbapi = conn.connection.dbapi_connection
        if self.postgres:
            self._copy(dbapi, rows)
        else:
            self._executemany(dbapi, rows)

    # ------------------------------------------------------------------ PostgreSQL: COPY

    def _prepare_copy(self) -> None:
        name, columns = self.table.name, ", ".join(f'"{c}"' for c in self.columns)
        if self.key is None:
            self.staging_sql = None
            self.copy_sql = f'COPY "{name}" ({columns}) FROM STDIN'
            return
        stage = f"stage_{name}"
        self.staging_sql = f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" (LIKE "{name}") ON COMMIT DELETE ROWS'
        self.copy_sql = f'COPY "{stage}" ({columns}) FROM STDIN'
        updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in self.columns if c not in self.key)
        conflict = ", ".join(f'"{c}"' for c in self.key)
        self.merge_sql = (f'INSERT INTO "{name}" ({columns}) SELECT {columns} FROM "{stage}" '
                          f"ON CONFLICT ({conflict}) " + (f"DO UPDATE SET {updates}" if updates else "DO NOTHING"))

    def _copy(self, dbapi, rows: list[dict[str, Any]]) -> None:
        pick = self.pick
        with dbapi.cursor() as cursor:
            if self.staging_sql:
                cursor.execute(self.staging_sql)
            with cursor.copy(self.copy_sql) as copy:
                for row in rows:
                    copy.write_row(pick(row))
            if self.staging_sql:
                cursor.execute(self.merge_sql)

    # ------------------------------------------------------------------ SQLite: executemany

    def _prepare_executemany(self, engine: Engine) -> None:
        statement = sqlite.insert(self.table)
        if self.key is not None:
            statement = statement.on_conflict_do_update(
                index_elements=list(self.key),
                set_={c: statement.excluded[c] for c in self.columns if c not in self.key},
            )
        compiled = statement.compile(dialect=engine.dialect)
        self.sql = str(compiled)
        if list(compiled.positiontup) != self.columns:
            raise RuntimeError(f"unexpected parameter order for {self.table.name}: {compiled.positiontup}")
        # The driver takes bytes as they are; SQLAlchemy's wrapper for binary values only costs time.
        self.converted = [
            (i, bind) for i, c in enumerate(self.table.columns)
            if not isinstance(c.type, LargeBinary) and (bind := c.type.bind_processor(engine.dialect)) is not None
        ]

    def _executemany(self, dbapi, rows: list[dict[str, Any]]) -> None:
        values = [self.pick(row) for row in rows]
        if self.converted:
            for n, picked in enumerate(values):
                converted = list(picked)
                for i, bind in self.converted:
                    converted[i] = bind(converted[i])
                values[n] = converted
        cursor = dbapi.cursor()
        try:
            cursor.executemany(self.sql, values)
        finally:
            cursor.close()
