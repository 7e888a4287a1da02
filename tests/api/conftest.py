"""Fixtures for the API suites: the whole stack (anvil, ledger, indexer process, API) once per module and
database engine, on the module's own anvil port range (8730-8749)."""

from __future__ import annotations

import pytest

from tests.conftest import ENGINES, postgres_admin_url
from tests.indexer.ledger_chain import running_anvil
from tests.api.stack import running_stack


@pytest.fixture(scope="module", params=ENGINES)
def stack(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"stack-{request.param}")
    with running_anvil(range(8730, 8750)) as rpc:
        if request.param == "sqlite":
            with running_stack(rpc, f"sqlite:///{folder / 'mirror.sqlite3'}", folder) as stack:
                yield stack
        else:
            from indexer.db import scratch_postgres_database

            with scratch_postgres_database(postgres_admin_url(), prefix="ledger_api_test") as url:
                with running_stack(rpc, url, folder) as stack:
                    yield stack
