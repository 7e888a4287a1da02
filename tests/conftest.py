"""Fixtures shared by the Python suites: a fresh mirror database on each engine the mirror supports.

`database_url` runs a test once on SQLite (a file in the test's temporary folder) and once on PostgreSQL (a
database created for the test and dropped after it). The PostgreSQL server is the one named by
`LEDGER_TEST_POSTGRES_URL`, which `./dev test` sets up; without it the PostgreSQL runs fail, naming it,
rather than being skipped.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ENGINES = ["sqlite", "postgresql"]


def postgres_admin_url() -> str:
    url = os.environ.get("LEDGER_TEST_POSTGRES_URL")
    if not url:
        pytest.fail("LEDGER_TEST_POSTGRES_URL is not set: run the tests with ./dev test, which sets up PostgreSQL")
    return url


def create_postgres_database() -> tuple[str, callable]:
    admin = make_url(postgres_admin_url())
    name = f"ledger_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return admin.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(params=ENGINES)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mirror.sqlite3'}"
        return
    url, drop = create_postgres_database()
    try:
        yield url
    finally:
        drop()
