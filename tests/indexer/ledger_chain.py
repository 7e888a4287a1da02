"""A test chain for the indexer's suites: a fresh anvil on a free port of a module's own range, and a newly
deployed ledger on it with one seeded network's activity ready to play."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pathlib import Path

from indexer.contracts import load_artifacts, write_deployment
from ledger_api.activity import DAY, START_2026_06_01, Activity, Scale
from ledger_api.anvil import CHAIN_ID, free_port, start_anvil, stop_anvil
from ledger_api.rawchain import DeployedLedger, LedgerCodec, LedgerWriter, Rpc, Signer


@contextmanager
def running_anvil(ports: range) -> Iterator[Rpc]:
    """JSON-RPC to a fresh anvil on a free port of `ports`, whose genesis is a day before the activity."""
    port = free_port(ports)
    process = start_anvil(port, START_2026_06_01 - DAY)
    try:
        yield Rpc(f"http://127.0.0.1:{port}")
    finally:
        stop_anvil(process)


@dataclass
class NewLedger:
    """A ledger just deployed on a test chain, with the activity of one seeded network to play on it."""

    rpc: Rpc
    codec: LedgerCodec
    activity: Activity
    writer: LedgerWriter
    deployed: DeployedLedger

    def play(self, rounds) -> None:
        """Mines the planned rounds in order and waits for the last block."""
        for planned in rounds:
            self.writer.execute_round(planned.timestamp, planned.calls)
        self.writer.flush()

    def write_deployment(self, network: str, folder: Path) -> Path:
        """Writes `<folder>/<network>.json` for the indexer to follow; returns the folder."""
        write_deployment(self.deployed.deployment(network, self.codec), folder)
        return folder


def deploy_new_ledger(rpc: Rpc, seed: int, scale: Scale, bottle_codes: bool = False) -> NewLedger:
    codec = LedgerCodec(load_artifacts())
    activity = Activity(seed, scale, bottle_codes=bottle_codes)
    writer = LedgerWriter(rpc, codec, Signer(activity.network.keys, CHAIN_ID), block_size=200)
    writer.prepare()
    deployed = writer.deploy_ledger(activity.network.admin, activity.network.brand_name)
    return NewLedger(rpc, codec, activity, writer, deployed)
