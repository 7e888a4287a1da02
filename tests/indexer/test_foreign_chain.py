"""A mirror pointed at another chain that carries the same deployment (the same ledger deployed the same way on
a fresh node, or a chain reloaded from a state dump, whose block hashes are new) shares no block with it: the
indexer stops with `DeepReorg`, saying to rebuild, instead of rolling back to the start again and again."""

from __future__ import annotations

import pytest

from indexer.cli import build_follower
from indexer.settings import Settings
from indexer.store import DeepReorg
from ledger_api.activity import DAY, START_2026_06_01, Scale
from ledger_api.anvil import free_port, start_anvil, stop_anvil
from ledger_api.rawchain import Rpc
from tests.indexer.ledger_chain import deploy_new_ledger, running_anvil

TINY = Scale(regions=1, warehouses=1, distributors_per_region=1, stores_per_distributor=1, skus=5, carriers=1,
             target_events=300, days=2)


def test_a_mirror_of_another_chain_with_the_same_deployment_stops_with_deep_reorg(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'mirror.sqlite3'}"
    with running_anvil(range(8700, 8710)) as first:
        ledger = deploy_new_ledger(first, 41, TINY)
        ledger.play(list(ledger.activity.rounds())[:3])
        folder = ledger.write_deployment("foreign-test", tmp_path / "first")
        follower = build_follower(Settings(rpc_url=first.url, network="foreign-test", deployments_dir=folder,
                                           database_url=database_url))
        follower.backfill(int(first.call("eth_blockNumber"), 16))
    # A genesis an hour earlier: the same transactions in the same order, but every block hash differs.
    process = start_anvil(free_port(range(8700, 8710)), START_2026_06_01 - DAY - 3_600)
    try:
        second = Rpc(f"http://127.0.0.1:{process.args[process.args.index('--port') + 1]}")
        twin = deploy_new_ledger(second, 41, TINY)
        twin.play(list(twin.activity.rounds())[:4])
        assert twin.deployed.addresses == ledger.deployed.addresses
        follower = build_follower(Settings(rpc_url=second.url, network="foreign-test", deployments_dir=folder,
                                           database_url=database_url))
        with pytest.raises(DeepReorg, match="shares no block with the mirror"):
            for _ in range(5):
                follower.step()
    finally:
        stop_anvil(process)
