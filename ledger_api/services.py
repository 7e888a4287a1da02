"""What a running API holds: its settings, the mirror's database, the chain client, the two watchers and the
members it has looked up. Built once when the app starts (`Services.start`) and closed when it stops; routes
reach it through `services`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy import Engine, select

from indexer.contracts import Deployment, load_artifacts, load_deployment
from indexer.db import migrate, open_database
from indexer.schema import sync_state
from ledger_api import content, reads, registry
from ledger_api.caller import Caller
from ledger_api.chain import ChainClient, ChainWatcher, JsonRpc, Keyring, MirrorWatcher
from ledger_api.rawchain import LedgerCodec
from ledger_api.scanning import Scanner
from ledger_api.settings import Settings
from ledger_api.verdicts import ScanRules

CHAIN_POLL = 0.005  # seconds between looks at the node's head while writes wait for receipts
DB_CONNECTIONS = 40  # as many as the threads that answer synchronous routes (anyio's default limit)


class Callers:
    """Members as the mirror describes them, kept while the registry is unchanged. The indexer counts the
    ranges that touch organisations, locations or accounts (`sync_state.registry_version`); one read of that
    number per request replaces reloading the account, and a change of any member reloads every one."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self._known: dict[str, tuple[int, Caller | None]] = {}

    def lookup(self, conn, address: str) -> Caller | None:
        version = conn.execute(select(sync_state.c.registry_version).where(sync_state.c.id == 1)).scalar()
        known = self._known.get(address)
        if known is not None and version is not None and known[0] == version:
            return known[1]
        caller = reads.load_caller(conn, address)
        if len(self._known) >= self.LIMIT:
            self._known.clear()
        if version is not None:
            self._known[address] = (version, caller)
        return caller


@dataclass
class Services:
    settings: Settings
    engine: Engine
    deployment: Deployment
    rpc: JsonRpc
    chain: ChainClient
    chain_id: int
    brand: Engine
    scanner: Scanner
    content_store: content.ContentStore
    callers: Callers = field(default_factory=Callers)

    @classmethod
    async def start(cls, settings: Settings, keyring: Keyring | None = None) -> "Services":
        """`keyring`: one already opened and checked (the command line checks it before serving)."""
        deployment = load_deployment(settings.network, settings.deployments_dir)
        engine = open_database(settings.database_url, pool_size=DB_CONNECTIONS)
        migrate(engine)
        rpc = JsonRpc(settings.rpc_url, timeout=settings.rpc_timeout)
        chain_id = int(await rpc.call("eth_chainId"), 16)
        if chain_id != deployment.chain_id:
            raise RuntimeError(f"{settings.rpc_url} serves chain id {chain_id}, but deployments/{settings.network}"
                               f".json is for chain id {deployment.chain_id}")
        gas_price = int(await rpc.call("eth_gasPrice"), 16)
        if keyring is None:
            keyring = Keyring(settings.keystore_dir, settings.keystore_password.get_secret_value())
            await asyncio.to_thread(keyring.check)
        chain_watcher = ChainWatcher(rpc, CHAIN_POLL)
        mirror_watcher = MirrorWatcher(lambda: mirror_checkpoint(engine), settings.mirror_poll)
        codec = LedgerCodec(load_artifacts(), list(deployment.contracts))
        chain = ChainClient(rpc, codec, deployment, keyring, chain_id, gas_price, chain_watcher, mirror_watcher)
        brand = registry.open_registry(settings.brand_database_url, pool_size=DB_CONNECTIONS)
        store = content.open_store(settings.content_store)
        rules = ScanRules(settings.scan_window, settings.scan_max_devices, settings.scan_max_places)
        scanner = Scanner(brand, engine, rules, settings.token_secret.get_secret_value().encode(), chain_id,
                          deployment.address("Inventory"), store)
        chain_watcher.start()
        mirror_watcher.start()
        return cls(settings, engine, deployment, rpc, chain, chain_id, brand, scanner, store)

    async def close(self) -> None:
        await self.chain.chain.stop()
        await self.chain.mirror.stop()
        await self.rpc.close()
        self.engine.dispose()
        self.brand.dispose()


def mirror_checkpoint(engine: Engine) -> int:
    """The last block the indexer has fully applied; -1 before its first range."""
    with engine.connect() as conn:
        block = conn.execute(select(sync_state.c.block_number).where(sync_state.c.id == 1)).scalar()
    return -1 if block is None else int(block)


async def services(request: Request) -> Services:
    # async, though it awaits nothing: FastAPI runs a plain function dependency in a worker thread.
    return request.app.state.services
