"""The seed story's site for its browser test: the demo's own generator (`ledger_api.demo_network.generate`, with
the story of `ledger_api.demo_story`) makes the small story network on an anvil of its own, with the flagship's
lot codes in the brand's registry, every member's keystore, the mirror and the consumer scan log; then the real
indexer process follows the chain and `ledger-api serve` answers on a real port. The API holds no member's key:
the story's people sign in the browser with their keystore files, as on `./dev demo`.

`StorySite` names the story's people by their roles (`Cast` labels), finds their keystores, reads the API as
one of them (only to assert what a page shows), and gives a bottle of a shipment the consumer can scan."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx

from ledger_api.activity import Network
from ledger_api.anvil import free_port
from ledger_api.demo_network import CODED_SKUS, bottle_of_shipment, default_end, generate, scale_named
from ledger_api.demo_story import Cast, StoryActivity
from ledger_api.settings import Settings
from tests.api.stack import PASSWORD, start_indexer
from tests.indexer.ledger_chain import running_anvil
from tests.scan_site import api_environment, serve_api, stop_api, sign_in

ANVIL_PORTS, API_PORTS = range(8960, 8980), range(8980, 8990)
SEED = 7
SCAN_REGION = "RC-ZHEJIANG"  # the story's consumer scans in Zhejiang, where the urgent order went


@dataclass
class StorySite:
    base_url: str
    state: dict  # what the generator kept: sign-ins, samples, the story's facts
    settings: Settings
    cast: Cast
    network: Network

    @property
    def members(self) -> dict:
        return self.network.members

    def label(self, role: str) -> str:
        """A `Cast` field's member, or a warehouse's staff as `warehouse:<city>`."""
        if role.startswith("warehouse:"):
            return self.network.sender_at[self.cast.warehouses[role.removeprefix("warehouse:")]]
        return getattr(self.cast, role)

    def keystore(self, role: str) -> Path:
        return self.settings.keystore_dir / f"{self.members[self.label(role)].address}.json"

    def get(self, role: str, path: str, **params):
        headers = sign_in(self.base_url, self.members[self.label(role)].key)
        return httpx.get(self.base_url + path, params=params, headers=headers, timeout=30).raise_for_status().json()

    def bottle_url(self, shipment: int) -> str:
        """A bottle that `shipment` delivered, as the consumer holds it (what `--bottle-of` prints)."""
        url = bottle_of_shipment(self.settings, shipment)
        assert url is not None, f"shipment {shipment} delivered no coded case"
        return url


def story_site(folder: Path) -> Iterator[StorySite]:
    """The running site (a generator: use it as a fixture's body)."""
    with running_anvil(ANVIL_PORTS) as rpc:
        port = free_port(API_PORTS)
        base_url = f"http://127.0.0.1:{port}"
        (folder / "deployments").mkdir(parents=True)
        settings = Settings(
            rpc_url=rpc.url, network="seed-story", deployments_dir=folder / "deployments",
            database_url=f"sqlite:///{folder / 'mirror.sqlite3'}",
            brand_database_url=f"sqlite:///{folder / 'brand.sqlite3'}", keystore_dir=folder / "keystore",
            keystore_password=PASSWORD, content_store=f"local:{folder / 'content'}", siwe_domain=f"127.0.0.1:{port}",
            public_url=base_url, scan_default_region=SCAN_REGION)
        end = default_end()
        state = generate(SEED, "small", end, settings, folder / "state.json", label="seed story")
        # The same plan again, for the cast and the members' keys (planning is cheap; playing it was not).
        plan = StoryActivity(SEED, scale_named("small", end), bottle_codes=CODED_SKUS)
        indexer = start_indexer(settings, folder / "indexer.log")
        env = {**api_environment(settings, settings.brand_database_url, port),
               "LEDGER_KEYSTORE_DIR": str(folder / "the-api-holds-no-member-keys"),
               "LEDGER_SCAN_DEFAULT_REGION": SCAN_REGION}
        api = serve_api(env, base_url, folder / "api.log")
        try:
            yield StorySite(base_url, state, settings, plan.cast, plan.network)
        finally:
            stop_api(api)
            stop_api(indexer)
