"""The board's site for its browser tests: a fresh anvil with the small test network and its weeks of activity,
the real indexer mirroring it, consumer scans in the brand's code registry (the scan panel's source), and
`ledger-api serve` in its own process on a real port, as a member's browser reaches it.

The activity alone leaves every region well stocked, so the site adds the board's motivating story on chain
before serving: the first region's stores sell out, and its distributors' and home warehouse's cases are written
off as damaged. That region is short of everything while the other holds a surplus, which is what the stock
panel calls out and what the transfer suggestions answer.

`BoardSite.session(label)` signs a member in through the API (Sign-In with Ethereum, as a wallet would) and
answers the session the console saves in sessionStorage; `BoardSite.get(label, path)` reads the API as that
member, for comparing the page's figures with the API's answers."""

from __future__ import annotations

import random
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from sqlalchemy import insert, select

from indexer.db import open_database
from indexer.schema import blocks, locations, stock_balances
from ledger_api import registry
from ledger_api.activity import DAMAGED, DAY, DISTRIBUTOR, REGION, STORE, Call, Round
from ledger_api.anvil import free_port
from ledger_api.reads import mirror_time
from ledger_api.services import mirror_checkpoint
from tests.api.stack import mirrored_ledger
from tests.indexer.ledger_chain import running_anvil
from tests.scan_site import api_environment, serve_api, stop_api

API = Path(sys.executable).parent / "ledger-api"
ANVIL_PORTS, API_PORTS = range(8900, 8910), range(8910, 8920)
VERDICTS = ("genuine", "genuine", "genuine", "genuine", "opened", "diverted", "unknown", "suspicious")
CITIES = ("Pudong", "Minhang", "Suzhou", "Wuxi", "Nanjing")


@dataclass
class BoardSite:
    base_url: str
    ledger: object
    folder: Path
    short_region: int  # the region sold out and written off: short of every SKU
    sessions: dict[str, dict] = field(default_factory=dict)

    @property
    def network(self):
        return self.ledger.activity.network

    def session(self, label: str) -> dict:
        """The session `{token, address, expires_at, account}` of member `label`, signed in once per site."""
        if label not in self.sessions:
            member = self.network.members[label]
            nonce = httpx.post(f"{self.base_url}/v1/auth/nonce", json={"address": member.address}, timeout=30)
            message = nonce.raise_for_status().json()["message"]
            signature = Account.sign_message(encode_defunct(text=message), member.key).signature.hex()
            answer = httpx.post(f"{self.base_url}/v1/auth/token", timeout=30,
                                json={"message": message, "signature": "0x" + signature}).raise_for_status().json()
            self.sessions[label] = {"token": answer["access_token"], "address": member.address,
                                    "expires_at": int(time.time()) + answer["expires_in"],
                                    "account": answer["account"]}
        return self.sessions[label]

    def keystore(self, label: str) -> Path:
        """The member's keystore file, as the console opens it in the browser (password `tests.api.stack.PASSWORD`)."""
        return self.folder / "keystore" / f"{self.network.members[label].address}.json"

    def get(self, label: str, path: str):
        answer = httpx.get(f"{self.base_url}{path}", timeout=30,
                           headers={"Authorization": f"Bearer {self.session(label)['token']}"})
        assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:300]}"
        return answer.json()


def _log_scans(brand_url: str, network, now: int, count: int = 400) -> None:
    """Consumer scans over the four weeks before `now`, as the scan endpoint logs them: mostly genuine, some
    opened, diverted, copied or never issued, from the network's regions (by code) and a few cities."""
    rng = random.Random("board scans")
    regions = [org.code for org in network.organisations if org.kind == REGION]
    rows = [{"serial": f"BOARD{i:015d}", "gtin": "06900000000000", "device": f"device-{rng.randrange(60)}",
             "place": rng.choice(CITIES), "region": rng.choice(regions), "at": now - rng.randrange(28 * DAY),
             "verdict": rng.choice(VERDICTS)} for i in range(count)]
    engine = registry.open_registry(brand_url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(registry.scans), rows)
    finally:
        engine.dispose()


def _sell_out_first_region(ledger, mirror) -> int:
    """Plays one round an hour after the activity: the first region's stores sell every case they hold and the
    brand writes off its distributors' and home warehouse's stock as damaged. Returns the region."""
    network = ledger.activity.network
    region = min(network.region_manager)
    home = network.home_warehouse[region]
    with mirror.connect() as conn:
        held = conn.execute(
            select(stock_balances.c.location, locations.c.kind, stock_balances.c.lot, stock_balances.c.cases)
            .join(locations, locations.c.id == stock_balances.c.location)
            .where(stock_balances.c.cases > 0,
                   ((locations.c.region == region) & locations.c.kind.in_([DISTRIBUTOR, STORE]))
                   | (locations.c.id == home))
            .order_by(stock_balances.c.location, stock_balances.c.lot)).all()
        last = conn.execute(select(blocks.c.time).order_by(blocks.c.number.desc()).limit(1)).scalar()
    calls = tuple(
        Call(network.sender_at[location], "Inventory", "recordSale", (location, int(lot), cases),
             ("StockDecommissioned",)) if kind == STORE else
        Call(network.admin, "Inventory", "writeOff", (location, int(lot), cases, DAMAGED), ("StockDecommissioned",))
        for location, kind, lot, cases in held)
    assert calls, "the first region holds nothing to sell out"
    ledger.rpc.call("evm_setAutomine", False)  # the round's calls go into blocks of their own, as the activity's
    ledger.play([Round(int(last) + 3_600, calls)])
    ledger.rpc.call("evm_setAutomine", True)
    return region


def _wait_for_mirror(rpc, mirror, timeout: float = 120) -> None:
    head = int(rpc.call("eth_blockNumber"), 16)
    deadline = time.monotonic() + timeout
    while mirror_checkpoint(mirror) < head:
        assert time.monotonic() < deadline, "the indexer did not catch up"
        time.sleep(0.05)


@contextmanager
def board_site(folder: Path) -> Iterator[BoardSite]:
    with running_anvil(ANVIL_PORTS) as rpc:
        port = free_port(API_PORTS)
        base_url = f"http://127.0.0.1:{port}"
        with mirrored_ledger(rpc, f"sqlite:///{folder / 'mirror.sqlite3'}", folder,
                             siwe_domain=f"127.0.0.1:{port}", public_url=base_url) as (ledger, settings, _indexer):
            mirror = open_database(settings.database_url)
            _wait_for_mirror(rpc, mirror)
            short_region = _sell_out_first_region(ledger, mirror)
            _wait_for_mirror(rpc, mirror)
            with mirror.connect() as conn:
                now = mirror_time(conn)
            mirror.dispose()
            brand_url = f"sqlite:///{folder / 'brand.sqlite3'}"
            _log_scans(brand_url, ledger.activity.network, now)
            api = serve_api(api_environment(settings, brand_url, port), base_url, folder / "api.log")
            try:
                yield BoardSite(base_url, ledger, folder, short_region)
            finally:
                stop_api(api)
