"""The member console's site for its browser tests: a fresh anvil with the small test network and its activity,
the indexer following it, `ledger-api serve` in its own process on a real port, and every member's keystore
file (the ones a member exports and opens in the console). The API holds no member's key, as a member's own
deployment would not: whatever the console does, it signs in the browser, and the tests' own writes are
signed here. The chain's clock is moved to now, so orders placed in the tests have live approval clocks and
shipments' ETAs lie ahead.

`ConsoleSite` also drives the console like a member: `sign_in_with_keystore(page, label)`, and
`browser_wallet(page, label)`, which injects an EIP-1193 provider backed by ethers and the member's key (a
browser wallet stands outside the project, so a stand-in for it is fair), whose transactions reach the node
through a playwright binding, as a wallet extension's would, outside the page's content security policy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from eth_account import Account
from eth_utils import to_checksum_address
from playwright.sync_api import Page, expect

from ledger_api.chain import write_keystore
from ledger_api.anvil import free_port
from tests.api.stack import PASSWORD, mirrored_ledger
from tests.indexer.ledger_chain import running_anvil
from tests.scan_site import api_environment, serve_api, stop_api, sign_in

PAGE_BUDGET_MS = 1_000  # every console page, with all its reads, draws within a second
SLOW = 30_000  # ms: a transaction is estimated, signed, mined and mirrored before the page shows it


@dataclass
class ConsoleSite:
    base_url: str
    ledger: object
    rpc: object
    keystores: Path
    folder: Path
    load_times: list[tuple[str, int, int]]  # (what, ms since navigation, ms to draw)

    @property
    def network(self):
        return self.ledger.activity.network

    def member(self, label: str):
        return self.network.members[label]

    def keystore(self, label: str) -> Path:
        return self.keystores / f"{to_checksum_address(self.member(label).address)}.json"

    def headers(self, label: str) -> dict[str, str]:
        return sign_in(self.base_url, self.member(label).key)

    def get(self, label: str, path: str, **params) -> dict | list:
        return httpx.get(self.base_url + path, params=params, headers=self.headers(label), timeout=30
                         ).raise_for_status().json()

    def send(self, label: str, path: str, body: dict) -> str:
        """Writes as `label`, signing here (the API holds no key): answers the transaction hash once mirrored."""
        headers = self.headers(label)
        unsigned = httpx.post(self.base_url + path, json=body, headers={**headers, "X-Ledger-Signing": "client"},
                              timeout=30)
        assert unsigned.status_code == 200, unsigned.text
        tx = unsigned.json()
        raw = Account.sign_transaction({
            "to": tx["to"], "data": tx["data"], "gas": tx["gas"], "gasPrice": tx["gas_price"], "nonce": tx["nonce"],
            "chainId": tx["chain_id"], "value": tx["value"]}, self.member(label).key).raw_transaction
        answer = httpx.post(self.base_url + "/v1/transactions/raw", json={"raw": "0x" + raw.hex()}, headers=headers,
                            timeout=30)
        assert answer.status_code == 201, answer.text
        return answer.json()["tx_hash"]

    def open_console(self, page: Page, query: str = "") -> int:
        """Opens the console and waits for its first view; answers (and records) its load time."""
        page.goto(f"{self.base_url}/console{query}")
        main = page.locator("main#console[data-ready=true]")
        expect(main).to_be_visible(timeout=10_000)
        ready_ms = int(main.get_attribute("data-ready-ms"))
        self.load_times.append((f"/console{query}", ready_ms, ready_ms))
        assert ready_ms < PAGE_BUDGET_MS, f"/console took {ready_ms} ms to draw"
        return ready_ms

    def page_drawn(self, page: Page, page_id: str, who: str) -> int:
        """Waits for the role page `page_id` to draw with all its reads; answers (and records) how long it took."""
        main = page.locator(f"main#console[data-page={page_id}][data-ready=true]")
        expect(main).to_be_visible(timeout=10_000)
        draw_ms = int(main.get_attribute("data-draw-ms"))
        self.load_times.append((f"{who}: {page_id}", int(main.get_attribute("data-ready-ms")), draw_ms))
        assert draw_ms < PAGE_BUDGET_MS, f"{who}'s {page_id} page took {draw_ms} ms to draw"
        return draw_ms

    def sign_in_with_keystore(self, page: Page, label: str, password: str = PASSWORD, query: str = "",
                              keystore: Path | None = None) -> None:
        self.open_console(page, query)
        page.get_by_test_id("keystore-file").set_input_files(str(keystore or self.keystore(label)))
        page.get_by_test_id("keystore-password").fill(password)
        page.get_by_test_id("keystore-signin").click()

    def browser_wallet(self, page: Page, label: str) -> None:
        """Gives `page` a browser wallet holding `label`'s key: window.ethereum, answering EIP-1193 requests
        with ethers (loaded by the page) and sending transactions to the node through `ledgerTestNode`."""
        rpc = self.rpc
        page.expose_function("ledgerTestNode", lambda method, params: rpc.call(method, *params))
        key = "0x" + self.member(label).key.hex()
        page.add_init_script(WALLET.replace("__KEY__", key))


# An EIP-1193 provider as a wallet extension offers one: accounts on request, personal_sign over the bytes of
# a hex message, eth_sendTransaction signed with the wallet's key and sent by the wallet to its node.
WALLET = """
(() => {
  const KEY = "__KEY__";
  const wallet = () => new window.ethers.Wallet(KEY);
  const requests = [];
  window.ethereum = {
    isTestWallet: true,
    requests,
    async request({ method, params = [] }) {
      requests.push(method);
      switch (method) {
        case "eth_requestAccounts":
        case "eth_accounts":
          return [wallet().address];
        case "eth_chainId":
          return await window.ledgerTestNode("eth_chainId", []);
        case "personal_sign":
          return await wallet().signMessage(window.ethers.getBytes(params[0]));
        case "eth_sendTransaction": {
          const tx = params[0];
          const raw = await wallet().signTransaction({ type: 0, to: tx.to, data: tx.data, gasLimit: BigInt(tx.gas),
            gasPrice: BigInt(tx.gasPrice), nonce: Number(BigInt(tx.nonce)), chainId: BigInt(tx.chainId),
            value: BigInt(tx.value || 0) });
          return await window.ledgerTestNode("eth_sendRawTransaction", [raw]);
        }
        default:
          throw Object.assign(new Error(`unsupported method ${method}`), { code: 4200 });
      }
    },
  };
})();
"""


@pytest.fixture(scope="module")
def console_site(tmp_path_factory) -> Iterator[ConsoleSite]:
    folder = tmp_path_factory.mktemp("console-site")
    with running_anvil(range(8920, 8930)) as rpc:
        port = free_port(range(8930, 8940))
        base_url = f"http://127.0.0.1:{port}"
        with mirrored_ledger(rpc, f"sqlite:///{folder / 'mirror.sqlite3'}", folder,
                             siwe_domain=f"127.0.0.1:{port}", public_url=base_url) as (ledger, settings, _indexer):
            # The activity ran on June 2026's clock; the console's members act now.
            rpc.call("evm_setNextBlockTimestamp", hex(int(time.time())))
            rpc.call("evm_mine")
            env = {**api_environment(settings, f"sqlite:///{folder / 'brand.sqlite3'}", port),
                   "LEDGER_KEYSTORE_DIR": str(folder / "the-api-holds-no-member-keys")}
            api = serve_api(env, base_url, folder / "api.log")
            try:
                yield ConsoleSite(base_url, ledger, rpc, settings.keystore_dir, folder, [])
            finally:
                stop_api(api)


def stranger_keystore(folder: Path) -> Path:
    """The keystore of a key no member of the ledger holds."""
    return write_keystore(folder / "strangers", bytes(range(1, 33)), PASSWORD, iterations=16)

