"""The demo's bottles: a product with its brand story, two lots with real bottle codes, orders from a Hangzhou
and a Beijing distributor approved and shipped from the Shanghai warehouse, deliveries to a store in each city,
an opened bottle and a recalled lot, all through the running Ledger API as its members would do it.

At the end it prints sample bottle URLs (genuine, opened, diverted, recalled, counterfeit) that open the scan
page. The local demo has no geo proxy, so its scans count as made in North China (`LEDGER_SCAN_DEFAULT_REGION`):
a Beijing bottle is genuine there, a Hangzhou bottle is diverted. A second run finds its bottles on the chain
and only prints them again.

    python scripts/demo_bottles.py      (run by `./dev demo` once the API is up)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct

from indexer.contracts import PROJECT_ROOT, load_deployment
from ledger_api import codes, registry
from ledger_api.activity import gs1_check_digit, lot_id
from ledger_api.chain import Keyring
from ledger_api.cli import DEV_MNEMONIC
from ledger_api.printrun import write_print_run
from ledger_api.settings import Settings

# The demo members' anvil account indexes, as deployments/demo-members.yaml assigns them.
ADMIN, SALES_DIRECTOR, FINANCE, DISPATCHER = 0, 1, 2, 3
EAST_MANAGER, NORTH_MANAGER, SHANGHAI_WAREHOUSE = 4, 5, 8
HANGZHOU_DISTRIBUTOR, BEIJING_DISTRIBUTOR, WULIN_STORE, WANGFUJING_STORE, CARRIER = 10, 12, 15, 16, 18

GTIN = "0692123400001" + str(gs1_check_digit("0692123400001"))
PRODUCT = "Feitian 53% vol 500 ml x6"
STORY = {
    "title": {"zh": "飞天 53% vol 500 毫升", "en": "Feitian 53% vol 500 ml"},
    "text": {"zh": "赤水河畔，端午制曲，重阳下沙，九次蒸煮、八次发酵、七次取酒，贮存五年以上方才出厂。",
             "en": "Made on the Chishui river: starter made at the Dragon Boat Festival, grain laid down at Double "
                   "Ninth, nine steamings, eight fermentations, seven distillations, and five years in the cellar "
                   "before a bottle leaves the distillery."},
}
LABEL_SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 240 320" width="240" height="320">
<rect width="240" height="320" rx="16" fill="#7a0f14"/><rect x="20" y="20" width="200" height="280" rx="10"
fill="none" stroke="#e8c46a" stroke-width="4"/><text x="120" y="150" font-size="44" text-anchor="middle"
fill="#e8c46a" font-family="serif">飞天</text><text x="120" y="200" font-size="18" text-anchor="middle"
fill="#f6e7c1" font-family="serif">53% vol · 500 ml</text></svg>"""


def say(text: str) -> None:
    print(f"  {text}", flush=True)


class Members:
    """Signed-in HTTP sessions of the demo's members, by anvil account index."""

    def __init__(self, base_url: str, keyring: Keyring):
        Account.enable_unaudited_hdwallet_features()
        self.base_url, self.keyring, self.headers = base_url, keyring, {}

    def address(self, index: int) -> str:
        return Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}").address

    def auth(self, index: int) -> dict:
        if index not in self.headers:
            address = self.address(index)
            nonce = httpx.post(f"{self.base_url}/v1/auth/nonce", json={"address": address}).raise_for_status().json()
            signature = Account.sign_message(encode_defunct(text=nonce["message"]), self.keyring.key(address))
            token = httpx.post(f"{self.base_url}/v1/auth/token", json={
                "message": nonce["message"], "signature": "0x" + signature.signature.hex()}).raise_for_status()
            self.headers[index] = {"Authorization": f"Bearer {token.json()['access_token']}"}
        return self.headers[index]

    def get(self, index: int, path: str, **params) -> dict | list:
        answer = httpx.get(f"{self.base_url}{path}", params=params, headers=self.auth(index), timeout=30)
        answer.raise_for_status()
        return answer.json()

    def post(self, index: int, path: str, body: dict | None = None, content: bytes | None = None,
             content_type: str | None = None) -> dict:
        headers = dict(self.auth(index))
        if content_type:
            headers["content-type"] = content_type
        answer = httpx.post(f"{self.base_url}{path}", json=body if content is None else None, content=content,
                            headers=headers, timeout=60)
        if answer.status_code >= 400:
            raise SystemExit(f"demo_bottles: {path} answered {answer.status_code}: {answer.text}")
        return answer.json()


def ids_by_code(members: Members) -> tuple[dict[str, int], dict[str, int]]:
    """Organisation ids and each organisation's first location id, by organisation code."""
    organisations = members.get(ADMIN, "/v1/organisations")
    org_id = {o["code"]: o["id"] for o in organisations}
    location = {}
    for loc in members.get(ADMIN, "/v1/locations"):
        code = next((c for c, i in org_id.items() if i == loc["org"]), None)
        if code and code not in location:
            location[code] = loc["id"]
    return org_id, location


def story_cid(members: Members) -> str:
    label = members.post(ADMIN, "/v1/content", content=LABEL_SVG.encode(), content_type="image/svg+xml")["cid"]
    manifest = {**STORY, "media": [{"kind": "image", "content_type": "image/svg+xml", "cid": label}]}
    return members.post(ADMIN, "/v1/content", content=json.dumps(manifest, ensure_ascii=False).encode(),
                        content_type="application/json")["cid"]


def issue_lot(members: Members, settings: Settings, sku: int, number: str, warehouse: int, cases: int,
              print_run: Path) -> codes.LotCodes:
    lot_codes = codes.LotCodes.build(GTIN, number, 6, cases)
    brand = registry.open_registry(settings.brand_database_url)
    registry.register_lot(brand, lot_id(sku, number), lot_codes, issued_at=int(time.time()))
    brand.dispose()
    write_print_run(print_run / number, lot_codes, settings.public_url, formats=("svg",), overwrite=True)
    members.post(DISPATCHER, "/v1/lots", {"sku": sku, "lot_number": number, "location": warehouse, "cases": cases,
                                          "bottles": cases * 6, "merkle_root": "0x" + lot_codes.root.hex()})
    say(f"lot {number}: {cases * 6} bottle codes issued, root 0x{lot_codes.root.hex()[:16]}…, print run in "
        f"{print_run / number}")
    return lot_codes


def approve(members: Members, order: int) -> None:
    for approver in (EAST_MANAGER, NORTH_MANAGER, SALES_DIRECTOR, FINANCE):
        state = members.get(ADMIN, f"/v1/orders/{order}")
        if state["state"] != "submitted":
            return
        answer = httpx.post(f"{members.base_url}/v1/orders/{order}/approve", json={},
                            headers=members.auth(approver), timeout=60)
        if answer.status_code not in (200, 403, 404, 409):
            raise SystemExit(f"demo_bottles: approving order {order}: {answer.text}")


def ship(members: Members, sender: int, receiver: int, kind: str, ref: int, source: int, dest: int, carrier: int,
         lot: int, cases: int, checkpoint: str | None) -> None:
    shipment = members.post(sender, "/v1/shipments", {
        "kind": kind, "ref": ref, "from_location": source, "to_location": dest, "carrier": carrier,
        "eta": int(time.time()) + 2 * 86_400, "lines": [{"lot": str(lot), "cases": cases}]})["result"]["id"]
    if checkpoint:
        members.post(CARRIER, f"/v1/shipments/{shipment}/checkpoints", {"status": 2, "place": checkpoint})
    members.post(receiver, f"/v1/shipments/{shipment}/receipt", {"lines": [{"lot": str(lot), "received": cases}]})


def build(members: Members, settings: Settings, print_run: Path) -> dict[str, str]:
    org, loc = ids_by_code(members)
    cid = story_cid(members)
    # A run stopped halfway may have registered the product already.
    sku = next((s["id"] for s in members.get(ADMIN, "/v1/skus") if s["gtin"] == GTIN), None)
    if sku is None:
        sku = members.post(ADMIN, "/v1/skus", {"gtin": GTIN, "bottles_per_case": 6, "name": PRODUCT,
                                               "content_cid": cid})["result"]["id"]
    members.post(SALES_DIRECTOR, "/v1/prices", {"changes": [{"sku": sku, "tier": t, "price": 1_794_000 - t * 50_000}
                                                   for t in range(3)]})
    say(f"SKU {sku}: {PRODUCT} (GTIN {GTIN}), brand story {cid}")
    minute = time.strftime("%y%m%d%H%M")  # lot numbers of their own for a run after one stopped halfway
    main_lot = issue_lot(members, settings, sku, f"L{minute}A", loc["WH-SHANGHAI"], 40, print_run)
    recalled_lot = issue_lot(members, settings, sku, f"L{minute}B", loc["WH-SHANGHAI"], 10, print_run)
    main_id, recalled_id = lot_id(sku, main_lot.lot), lot_id(sku, recalled_lot.lot)
    for distributor, depot, store, shop, city in (
            (HANGZHOU_DISTRIBUTOR, "D-HANGZHOU", WULIN_STORE, "S-HANGZHOU-WULIN", "Jiaxing hub"),
            (BEIJING_DISTRIBUTOR, "D-BEIJING", WANGFUJING_STORE, "S-BEIJING-WANGFUJING", "Langfang hub")):
        members.post(FINANCE, f"/v1/credits/{org[depot]}", {"limit": 30_000_000_00})  # 30 million yuan, in fen
        order = members.post(distributor, "/v1/orders", {"deliver_to": loc[depot], "lines": [{"sku": sku,
                                                                                              "cases": 6}]})
        order_id = order["result"]["id"]
        approve(members, order_id)
        ship(members, SHANGHAI_WAREHOUSE, distributor, "order", order_id, loc["WH-SHANGHAI"], loc[depot],
             org["CARRIER-CJ"], main_id, 6, city)
        ship(members, distributor, store, "delivery", 0, loc[depot], loc[shop], org["CARRIER-CJ"], main_id, 2, None)
        say(f"order {order_id}: 6 cases approved, shipped to {depot} via {city}; 2 cases delivered to {shop}")
    samples = {}
    for case in range(1, 41):
        first = (case - 1) * 6
        url = codes.digital_link(settings.public_url, GTIN, main_lot.lot, main_lot.serials[first])
        last = members.get(ADMIN, f"/v1/provenance/lots/{main_id}/cases/{case}")["journey"][-1]
        if last["step"] != "received" or (last["location"] or {}).get("kind") != "store":
            continue
        if last["location"]["region_code"] == "NORTH":
            samples.setdefault("genuine", url)
        elif "opened" not in samples:
            samples["opened"] = url
            samples["diverted"] = codes.digital_link(settings.public_url, GTIN, main_lot.lot,
                                                     main_lot.serials[first + 1])
        if len(samples) == 3:
            break
    members.post(WULIN_STORE, "/v1/bottles/opened", {"url": samples["opened"]})
    members.post(ADMIN, f"/v1/lots/{recalled_id}/recall", {"reason_code": 7})
    samples["recalled"] = codes.digital_link(settings.public_url, GTIN, recalled_lot.lot, recalled_lot.serials[0])
    samples["counterfeit"] = codes.digital_link(settings.public_url, GTIN, main_lot.lot, codes.new_serial())
    say("a Wulin Square bottle marked opened by the store; lot " + recalled_lot.lot + " recalled")
    return samples


def main() -> None:
    settings = Settings()
    state_file = PROJECT_ROOT / ".data" / "demo-bottles.json"
    inventory = load_deployment(settings.network, settings.deployments_dir).address("Inventory")
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    if state.get("inventory") != inventory:
        print("==> the demo's bottles: a product, two lots with bottle codes, orders, shipments and deliveries",
              flush=True)
        members = Members(settings.public_url, Keyring(settings.keystore_dir,
                                                       settings.keystore_password.get_secret_value()))
        samples = build(members, settings, state_file.parent / "print-runs")
        state = {"inventory": inventory, "samples": samples}
        state_file.write_text(json.dumps(state, indent=2))
    print("\n  Sample bottles (open them in a browser; this demo scans as if from North China):")
    for kind in ("genuine", "opened", "diverted", "recalled", "counterfeit"):
        print(f"    {kind:<12} {state['samples'][kind]}")
    print(f"  Scan page with the camera: {settings.public_url}/scan")
    print("  Verify a bottle against the chain yourself:  ./dev ledger-api verify-scan '<url>'\n")


if __name__ == "__main__":
    sys.exit(main())
