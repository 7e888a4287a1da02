"""Fixtures for tests against a real chain: an anvil of the module's own on a free port (8690-8699 unless
the module asks for another range; never the demo's 8545 or the contract tests' 8555), started for the
module and stopped after it."""

from __future__ import annotations

import pytest

from tests.indexer.ledger_chain import running_anvil


@pytest.fixture(scope="module")
def anvil_rpc():
    with running_anvil(range(8690, 8700)) as rpc:
        yield rpc
