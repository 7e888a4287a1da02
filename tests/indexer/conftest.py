"""Fixtures for tests against a real chain: an anvil of our own on a free port in 8690-8699, started for
the module and stopped after it (never the demo's 8545 or the contract tests' 8555)."""

from __future__ import annotations

import pytest

from ledger_api.activity import START_2026_06_01, DAY
from ledger_api.anvil import free_port, start_anvil, stop_anvil
from ledger_api.rawchain import Rpc


@pytest.fixture(scope="module")
def anvil_rpc():
    """JSON-RPC to a fresh anvil whose genesis is a day before the simulated activity starts."""
    port = free_port(range(8690, 8700))
    process = start_anvil(port, START_2026_06_01 - DAY)
    try:
        yield Rpc(f"http://127.0.0.1:{port}")
    finally:
        stop_anvil(process)
