"""A consumer-facing site for the scan tests: a fresh anvil with a small network whose lots carry real bottle
codes, the codes in the brand's registry, the indexer following the chain, and `ledger-api serve` in its own
process on a real port (a browser needs one).

`scan_site.fresh(kind)` hands out a bottle URL no one has scanned yet for each verdict: `genuine` and
`diverted` bottles were delivered to a seller in one region (scanned from inside or outside it, as
`region_headers[kind]` says), `opened` bottles were marked opened by the store that sold them, `recalled` ones
belong to a lot the brand recalled, `suspicious` ones were scanned from more devices than the rules allow,
and `unknown` ones carry a serial the brand never issued.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from sqlalchemy import select

from indexer.db import open_database
from indexer.schema import locations, organisations
from ledger_api import codes, registry, scanning
from ledger_api.anvil import free_port
from ledger_api.journey import shipped_to
from ledger_api.verdicts import ScanRules
from tests.api.stack import mirrored_ledger
from tests.indexer.ledger_chain import running_anvil

API = Path(sys.executable).parent / "ledger-api"
KINDS = ("genuine", "diverted", "opened", "recalled", "suspicious", "unknown")
RULES = ScanRules()


def sign_in(base_url: str, key: bytes) -> dict[str, str]:
    address = Account.from_key(key).address
    nonce = httpx.post(f"{base_url}/v1/auth/nonce", json={"address": address}).raise_for_status().json()
    signature = Account.sign_message(encode_defunct(text=nonce["message"]), key).signature.hex()
    token = httpx.post(f"{base_url}/v1/auth/token", json={"message": nonce["message"],
                                                        "signature": "0x" + signature}).raise_for_status().json()
    return {"Authorization": f"Bearer {token['access_token']}"}


@dataclass
class Bottle:
    url: str
    serial: str
    lot_id: int
    case: int
    seller: int  # the location it was shipped to
    seller_member: str | None
    at_store: bool = False


@dataclass
class ScanSite:
    base_url: str
    settings: object
    brand_url: str
    region: str  # the region code of the bottles handed out for region-dependent verdicts
    other_region: str
    ledger: object
    pools: dict[str, list[Bottle]]
    region_headers: dict[str, dict[str, str]] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    folder: Path | None = None

    @contextmanager
    def another_api(self, **settings: str) -> Iterator[str]:
        """A second `ledger-api serve` over the same chain and databases with some settings changed (as
        `LEDGER_*` names); yields its base URL."""
        port = free_port(range(8800, 8810))
        base_url = f"http://127.0.0.1:{port}"
        env = {**self.environment, "LEDGER_API_PORT": str(port), **settings}
        process = serve_api(env, base_url, self.folder / f"api-{port}.log")
        try:
            yield base_url
        finally:
            stop_api(process)

    def scan(self, url: str, device: str = "test-device", headers: dict | None = None) -> httpx.Response:
        return httpx.post(f"{self.base_url}/v1/scans", json={"url": url, "device": device}, headers=headers or {},
                          timeout=30)

    def fresh_bottle(self, kind: str) -> Bottle:
        if kind == "unknown":
            lot_bottle = self.pools["sellable"][0]
            code = codes.parse_digital_link(lot_bottle.url)
            serial = codes.new_serial()
            return Bottle(codes.digital_link(self.base_url, code.gtin, code.lot, serial), serial, 0, 0, 0, None)
        pool = self.pools["recalled" if kind == "recalled" else "sellable"]
        candidates = [i for i, b in enumerate(pool) if b.at_store or kind != "opened"]
        assert candidates, f"the scan site has no bottles left for {kind}"
        bottle = pool.pop(candidates[-1])
        if kind == "opened":
            member = self.ledger.activity.network.members[bottle.seller_member]
            answer = httpx.post(f"{self.base_url}/v1/bottles/opened", json={"url": bottle.url},
                                headers=sign_in(self.base_url, member.key), timeout=30)
            assert answer.status_code == 200, answer.text
        if kind == "suspicious":
            for i in range(RULES.max_devices + 1):
                assert self.scan(bottle.url, f"copier-{i}", self.region_headers["genuine"]).status_code == 200
        return bottle

    def fresh(self, kind: str) -> str:
        """A bottle URL of this kind that no test has scanned yet (or, for `suspicious`, only its copiers)."""
        return self.fresh_bottle(kind).url


def api_environment(settings, brand_url: str, port: int) -> dict[str, str]:
    return {**os.environ, "LEDGER_RPC_URL": settings.rpc_url, "LEDGER_NETWORK": settings.network,
            "LEDGER_DEPLOYMENTS_DIR": str(settings.deployments_dir), "LEDGER_DATABASE_URL": settings.database_url,
            "LEDGER_BRAND_DATABASE_URL": brand_url, "LEDGER_KEYSTORE_DIR": str(settings.keystore_dir),
            "LEDGER_KEYSTORE_PASSWORD": settings.keystore_password.get_secret_value(),
            "LEDGER_API_PORT": str(port), "LEDGER_SIWE_DOMAIN": settings.siwe_domain,
            "LEDGER_PUBLIC_URL": settings.public_url, "LEDGER_SCAN_RATE_LIMIT": "100000/minute",
            "LEDGER_CONTENT_STORE": f"local:{Path(brand_url.split('///')[1]).parent / 'content'}"}


def serve_api(env: dict, base_url: str, log: Path) -> subprocess.Popen:
    process = subprocess.Popen([str(API), "serve"], env=env, stdout=log.open("a"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"{base_url}/ready", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the API did not become ready: " + log.read_text()[-3000:]
        time.sleep(0.2)


def _pools(mirror, brand, ledger, base_url: str) -> tuple[str, str, dict[str, list[Bottle]]]:
    """Bottles by where they were shipped: one case of each lot and seller, the region with most of them."""
    network = ledger.activity.network
    region_code = {r.id: r.code for r in mirror.execute(select(organisations.c.id, organisations.c.code)
                                                         .where(organisations.c.kind == 2))}
    region_of = {r.id: region_code.get(r.region) for r in mirror.execute(select(locations.c.id,
                                                                                  locations.c.region))}
    kind_of = {r.id: r.kind for r in mirror.execute(
        select(locations.c.id, organisations.c.kind).join(organisations, organisations.c.id == locations.c.org))}
    by_region: dict[str, list[Bottle]] = {}
    for lot_id, lot_codes in ledger.activity.lot_codes.items():
        issued_first = registry.find_bottle(brand, lot_codes.serials[0])
        record = scanning.bottle_record(mirror, issued_first)
        if record.lot is None:
            continue
        for case in range(1, record.lot["cases"] + 1, max(1, record.lot["cases"] // 40)):
            i = (case - 1) * lot_codes.bottles_per_case
            issued = registry.find_bottle(brand, lot_codes.serials[i])
            stops = scanning.bottle_record(mirror, issued).stops
            seller = shipped_to(stops)
            if seller is None or kind_of.get(seller) not in (4, 5) or (stops[-1].step, stops[-1].location) != (
                    "received", seller):
                continue
            for b in range(lot_codes.bottles_per_case):
                serial = lot_codes.serials[i + b]
                by_region.setdefault(region_of[seller], []).append(Bottle(
                    codes.digital_link(base_url, lot_codes.gtin, lot_codes.lot, serial), serial, lot_id, case, seller,
                    network.sender_at.get(seller), kind_of[seller] == 5))
    region = max(by_region, key=lambda r: len(by_region[r]))
    other = next(r for r in region_code.values() if r != region)
    return region, other, {"sellable": by_region[region]}


def _recall_one_lot(base_url: str, ledger, mirror, brand) -> list[Bottle]:
    lot_id, lot_codes = next(reversed(ledger.activity.lot_codes.items()))
    admin = ledger.activity.network.members["brand.admin"]
    answer = httpx.post(f"{base_url}/v1/lots/{lot_id}/recall", json={"reason_code": 3},
                        headers=sign_in(base_url, admin.key), timeout=30)
    assert answer.status_code in (200, 202), answer.text
    per_case, gtin, number = lot_codes.bottles_per_case, lot_codes.gtin, lot_codes.lot
    return [Bottle(codes.digital_link(base_url, gtin, number, s), s, lot_id, i // per_case + 1, 0, None)
            for i, s in enumerate(lot_codes.serials[:200])]


@pytest.fixture(scope="session")
def scan_site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scan-site")
    with running_anvil(range(8780, 8790)) as rpc:
        port = free_port(range(8790, 8800))
        base_url = f"http://127.0.0.1:{port}"
        with mirrored_ledger(rpc, f"sqlite:///{folder / 'mirror.sqlite3'}", folder, bottle_codes=True,
                             siwe_domain=f"127.0.0.1:{port}", public_url=base_url) as (ledger, settings, _indexer):
            brand_url = f"sqlite:///{folder / 'brand.sqlite3'}"
            brand = registry.open_registry(brand_url)
            for lot_id, lot_codes in ledger.activity.lot_codes.items():
                registry.register_lot(brand, lot_id, lot_codes, issued_at=int(time.time()))
            # The activity ran on June 2026's clock; scans happen now, and the chain must not be behind them.
            rpc.call("evm_setNextBlockTimestamp", hex(int(time.time())))
            rpc.call("evm_mine")
            env = api_environment(settings, brand_url, port)
            api = serve_api(env, base_url, folder / "api.log")
            mirror = open_database(settings.database_url)
            try:
                with mirror.connect() as m, brand.connect() as b:
                    region, other, pools = _pools(m, b, ledger, base_url)
                    pools["recalled"] = _recall_one_lot(base_url, ledger, m, b)
                site = ScanSite(base_url, settings, brand_url, region, other, ledger, pools, environment=env,
                                folder=folder)
                inside, outside = {"x-scan-region": region, "x-scan-city": f"{region}-city"}, \
                    {"x-scan-region": other, "x-scan-city": f"{other}-city"}
                site.region_headers = {k: inside for k in KINDS} | {"diverted": outside}
                site.urls = {k: site.fresh(k) for k in KINDS}
                yield site
            finally:
                mirror.dispose()
                brand.dispose()
                stop_api(api)


def stop_api(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()

