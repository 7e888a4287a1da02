"""The whole stack for API tests: a fresh anvil with a small network's ledger and activity, the real indexer
following it in its own process, and the API app over the mirror (SQLite or PostgreSQL), with keystores for
every member of the network. `Stack.sign_in(label)` returns the headers of a signed-in member."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from indexer.db import migrate, open_database
from ledger_api.activity import Network, Scale
from ledger_api.app import create_app
from ledger_api.chain import write_keystore
from ledger_api.rawchain import Rpc
from ledger_api.services import mirror_checkpoint
from ledger_api.settings import Settings
from tests.indexer.ledger_chain import NewLedger, deploy_new_ledger

SMALL = Scale(regions=2, warehouses=2, distributors_per_region=2, stores_per_distributor=2, skus=6, carriers=2,
              target_events=2_500, days=10)
NETWORK = "api-test"
PASSWORD = "api-test-keystore-password"
INDEXER = Path(sys.executable).parent / "indexer"


@dataclass
class Stack:
    rpc: Rpc
    ledger: NewLedger
    settings: Settings
    client: TestClient
    indexer: subprocess.Popen
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def network(self) -> Network:
        return self.ledger.activity.network

    def sign_in(self, label: str) -> dict[str, str]:
        """Bearer headers for the member `label` (cached per member)."""
        if label not in self.tokens:
            member = self.network.members[label]
            nonce = self.client.post("/v1/auth/nonce", json={"address": member.address})
            assert nonce.status_code == 200, nonce.text
            message = nonce.json()["message"]
            signature = Account.sign_message(encode_defunct(text=message), member.key).signature.hex()
            answer = self.client.post("/v1/auth/token", json={"message": message, "signature": "0x" + signature})
            assert answer.status_code == 200, answer.text
            self.tokens[label] = answer.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[label]}"}

    def chain_time(self) -> int:
        return int(self.rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)

    def wait_for_mirror(self, timeout: float = 30.0) -> None:
        head = int(self.rpc.call("eth_blockNumber"), 16)
        engine = open_database(self.settings.database_url)
        try:
            deadline = time.monotonic() + timeout
            while mirror_checkpoint(engine) < head:
                assert time.monotonic() < deadline, "the indexer did not catch up"
                time.sleep(0.05)
        finally:
            engine.dispose()


def start_indexer(settings: Settings, log: Path) -> subprocess.Popen:
    env = {**os.environ, "LEDGER_RPC_URL": settings.rpc_url, "LEDGER_NETWORK": settings.network,
           "LEDGER_DEPLOYMENTS_DIR": str(settings.deployments_dir), "LEDGER_DATABASE_URL": settings.database_url,
           "LEDGER_POLL_INTERVAL": "0.02"}
    return subprocess.Popen([str(INDEXER), "run"], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


@contextmanager
def mirrored_ledger(rpc: Rpc, database_url: str, folder: Path, seed: int = 5, bottle_codes: bool = False,
                    **settings) -> Iterator[tuple[NewLedger, Settings, subprocess.Popen]]:
    """A newly deployed ledger with its activity played, keystores for its members, the API's settings for
    it, and the indexer process following it into `database_url`. `bottle_codes`: every lot gets real bottle
    codes (in `ledger.activity.lot_codes`)."""
    ledger = deploy_new_ledger(rpc, seed, SMALL, bottle_codes)
    ledger.play(ledger.activity.rounds())
    # The activity mines its own blocks; from here on every transaction is mined as it arrives.
    rpc.call("evm_setAutomine", True)
    deployments = ledger.write_deployment(NETWORK, folder / "deployments")
    keystore = folder / "keystore"
    for member in ledger.activity.network.members.values():
        write_keystore(keystore, member.key, PASSWORD, iterations=16)
    config = Settings(rpc_url=rpc.url, network=NETWORK, deployments_dir=deployments, database_url=database_url,
                      keystore_dir=keystore, keystore_password=PASSWORD, **settings)
    engine = open_database(database_url)
    migrate(engine)  # once, before the indexer and the API both open the database
    engine.dispose()
    indexer = start_indexer(config, folder / "indexer.log")
    try:
        yield ledger, config, indexer
    finally:
        indexer.terminate()
        try:
            indexer.wait(10)
        except subprocess.TimeoutExpired:
            indexer.kill()


@contextmanager
def running_stack(rpc: Rpc, database_url: str, folder: Path, seed: int = 5, **settings) -> Iterator[Stack]:
    """The stack with the API app served in-process through Starlette's test client."""
    with mirrored_ledger(rpc, database_url, folder, seed, siwe_domain="testserver", public_url="http://testserver",
                         **settings) as (ledger, config, indexer):
        with TestClient(create_app(config), raise_server_exceptions=False) as client:
            stack = Stack(rpc, ledger, config, client, indexer)
            stack.wait_for_mirror(120)
            yield stack
