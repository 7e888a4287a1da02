"""Fixtures shared by the Python suites: a fresh mirror database on each engine the mirror supports.

`database_url` runs a test once on SQLite (a file in the test's temporary folder) and once on PostgreSQL (a
database created for the test and dropped after it). The PostgreSQL server is the one named by
`LEDGER_TEST_POSTGRES_URL`, which `./dev test` sets up; without it the PostgreSQL runs fail, naming it,
rather than being skipped.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

ENGINES = ["sqlite", "postgresql"]


def postgres_admin_url() -> str:
    url = os.environ.get("LEDGER_TEST_POSTGRES_URL")
    if not url:
        pytest.fail("LEDGER_TEST_POSTGRES_URL is not set: run the tests with ./dev test, which sets up PostgreSQL")
    return url


@pytest.fixture(params=ENGINES)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mirror.sqlite3'}"
        return
    # Imported here: brownie's venv loads this file for the contract tests and has no SQLAlchemy.
    from indexer.db import scratch_postgres_database

    with scratch_postgres_database(postgres_admin_url(), prefix="ledger_test") as url:
        yield url


# The consumer-facing site (tests/scan_site.py) is shared by the scan and page suites, so that one session
# starts it once; brownie's venv, which also loads this file, has none of what it needs.
if importlib.util.find_spec("sqlalchemy") is not None:
    from tests.scan_site import scan_site  # noqa: E402,F401
