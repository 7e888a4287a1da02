"""The mirror's schema: the migrations build exactly the tables `indexer/schema.py` declares, on SQLite and
on PostgreSQL, and a migration interrupted halfway leaves nothing behind, so the next start migrates a
clean database instead of tripping over half a schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from indexer.db import migrate, open_database
from indexer.schema import metadata


def test_the_migrations_build_exactly_the_declared_tables(database_url):
    engine = open_database(database_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
        assert differences == []
        migrate(engine)  # a second run finds nothing to do
    finally:
        engine.dispose()


def test_a_schema_change_rolls_back_with_its_transaction(database_url):
    engine = open_database(database_url)
    try:
        with pytest.raises(RuntimeError), engine.begin() as conn:
            conn.execute(text("CREATE TABLE half_done (id INTEGER PRIMARY KEY)"))
            conn.execute(text("INSERT INTO half_done (id) VALUES (1)"))
            raise RuntimeError("killed here")
        assert "half_done" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
