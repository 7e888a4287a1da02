"""Fixtures for the contract tests: a deployed ledger and a small distribution network on it.

`ledger` deploys the five contracts the way `scripts/deploy.py` does. `net` registers a network small
enough to read and large enough for every rule: two regions (East, North), two warehouses, three
distributors, two stores, a carrier and an auditor, one account per (organisation, role) the tests
need, three priced SKUs and credit for each distributor. `World` adds the verbs that walk stock and
orders through their life, so each test states only what it is about. Every test runs in its own chain
snapshot (brownie's `fn_isolation`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import SimpleNamespace

import brownie
import pytest
from brownie import accounts, chain

from ledger_api.merkle import StandardMerkleTree
from scripts.deploy import deploy_ledger

# Mirrors of the Solidity enums and flags in contracts/lib/LedgerTypes.sol and the contracts.
KIND = SimpleNamespace(NONE=0, BRAND=1, REGION=2, WAREHOUSE=3, DISTRIBUTOR=4, STORE=5, CARRIER=6, AUDITOR=7)
ROLE = SimpleNamespace(
    ADMIN=1, REGION_MANAGER=2, SALES_DIRECTOR=4, FINANCE=8, DISPATCHER=16,
    RECEIVER=32, STORE_STAFF=64, AUDITOR=128, PURCHASER=256,
)
STAGE = SimpleNamespace(REGION_MANAGER=1, SALES_DIRECTOR=2, FINANCE=4)
ORDER = SimpleNamespace(
    NONE=0, SUBMITTED=1, APPROVED=2, PARTIALLY_DISPATCHED=3, DISPATCHED=4,
    DELIVERED=5, REJECTED=6, CANCELLED=7,
)
SHIPMENT_KIND = SimpleNamespace(ORDER=0, TRANSFER=1, DELIVERY=2)
SHIPMENT_STATE = SimpleNamespace(NONE=0, IN_TRANSIT=1, RECEIVED=2)
TRANSFER = SimpleNamespace(NONE=0, REQUESTED=1, APPROVED=2, DISPATCHED=3, COMPLETED=4, REJECTED=5)
DISCREPANCY = SimpleNamespace(NONE=0, OPEN=1, FOUND=2, RETURNED=3, WRITTEN_OFF=4)
DECOMMISSION = SimpleNamespace(SOLD=0, DAMAGED=1, RECALLED=2, LOST=3)
LOG_KIND = SimpleNamespace(CONSUMER_SCANS=0, OPENED_BOTTLES=1)

# Mirror of Roles.allowedFor in contracts/lib/LedgerTypes.sol: the roles each kind of organisation may hold.
ROLES_ALLOWED_FOR = {
    KIND.BRAND: ROLE.ADMIN | ROLE.SALES_DIRECTOR | ROLE.FINANCE | ROLE.DISPATCHER | ROLE.RECEIVER,
    KIND.REGION: ROLE.REGION_MANAGER | ROLE.DISPATCHER | ROLE.RECEIVER,
    KIND.WAREHOUSE: ROLE.DISPATCHER | ROLE.RECEIVER,
    KIND.DISTRIBUTOR: ROLE.PURCHASER | ROLE.DISPATCHER | ROLE.RECEIVER,
    KIND.STORE: ROLE.STORE_STAFF | ROLE.RECEIVER,
    KIND.CARRIER: ROLE.DISPATCHER,
    KIND.AUDITOR: ROLE.AUDITOR,
}


def revert_message(error: str, *args) -> str:
    """The revert string brownie decodes from custom error `error(*args)`: addresses come out in lower
    case, and an error without arguments still reads `Name: `."""

    def shown(arg) -> str:
        if hasattr(arg, "address"):
            return arg.address.lower()
        if isinstance(arg, str) and re.fullmatch(r"0x[0-9a-fA-F]{40}", arg):
            return arg.lower()
        return str(arg)

    return f"{error}: " + ", ".join(shown(a) for a in args)


def reverts(error: str, *args):
    """Expects a revert with custom error `error(*args)`."""
    return brownie.reverts(revert_message(error, *args))


def plain(value):
    """A view's or event's struct (brownie's ReturnValue) as nested tuples, comparable with literals."""
    return tuple(plain(v) for v in value) if isinstance(value, (tuple, list)) else value


BOTTLE_TYPES = ("string", "uint32")
CASE_PRICE_FEN = 900_000  # 9,000 yuan a case of six: a premium sauce-aroma baijiu.
DAY = 86_400


def gtin14(body13: int) -> int:
    """A GTIN-14 from its first 13 digits, with the GS1 check digit appended."""
    digits = str(body13).zfill(13)
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return int(digits + str((10 - total % 10) % 10))


def lot_number(text: str) -> bytes:
    return text.encode().ljust(20, b"\0")


def lot_id(sku: int, text: str) -> int:
    return (sku << 160) | int.from_bytes(lot_number(text), "big")


def bottle_tree(serials_by_case: list[list[str]]) -> StandardMerkleTree:
    values = [(serial, case) for case, serials in enumerate(serials_by_case, start=1) for serial in serials]
    return StandardMerkleTree.of(values, BOTTLE_TYPES)


@dataclass
class World:
    """The deployed ledger, the network's ids and accounts, and verbs over them."""

    membership: object
    catalog: object
    orders: object
    inventory: object
    anchors: object
    org: SimpleNamespace = field(default_factory=SimpleNamespace)
    loc: SimpleNamespace = field(default_factory=SimpleNamespace)
    acct: SimpleNamespace = field(default_factory=SimpleNamespace)
    skus: list[int] = field(default_factory=list)
    _lot_seq: int = 0

    # ---------------------------------------------------------------- stock

    def commission(self, sku: int = 1, cases: int = 100, location: int | None = None, number: str | None = None,
                   bottles_per_case: int = 6) -> int:
        """Commissions a fresh lot of `cases` full cases at a warehouse; returns its lot id."""
        self._lot_seq += 1
        number = number or f"L{self._lot_seq:04d}"
        location = location or self.loc.wh_shanghai
        serials = [[f"S{self._lot_seq}-{c}-{b}" for b in range(bottles_per_case)] for c in range(1, min(cases, 4) + 1)]
        root = bottle_tree(serials).root
        self.inventory.commissionLot(
            sku, lot_number(number), location, cases, cases * bottles_per_case, root, "bafkreilotdocument",
            {"from": self.acct.brand_dispatcher},
        )
        return lot_id(sku, number)

    def balance(self, location: int, lot: int) -> int:
        return self.inventory.balanceOf(location, lot)

    # ---------------------------------------------------------------- orders

    def submit(self, skus=(1,), cases=(10,), urgent=False, distributor: str = "dist_a") -> int:
        """Submits an order for `distributor` (dist_a, dist_b or dist_n) to its own location."""
        tx = self.orders.submitOrder(
            getattr(self.loc, distributor), urgent, list(skus), list(cases),
            {"from": getattr(self.acct, f"{distributor}_purchaser")},
        )
        return tx.return_value

    def approver(self, stage: int, distributor: str = "dist_a"):
        region_manager = self.acct.rm_north if distributor == "dist_n" else self.acct.rm_east
        return {STAGE.REGION_MANAGER: region_manager, STAGE.SALES_DIRECTOR: self.acct.sales_director,
                STAGE.FINANCE: self.acct.finance}[stage]

    def approve_all(self, order_id: int, distributor: str = "dist_a") -> None:
        required = self.orders.orders(order_id)["requiredStages"]
        for stage in (STAGE.REGION_MANAGER, STAGE.SALES_DIRECTOR, STAGE.FINANCE):
            if required & stage:
                self.orders.approveOrder(order_id, stage, {"from": self.approver(stage, distributor)})

    # ---------------------------------------------------------------- shipments

    def eta(self, days: int = 2) -> int:
        return chain.time() + days * DAY

    def dispatch(self, kind: int, ref: int, source: int, dest: int, lots, cases, sender=None) -> int:
        consignment = (kind, ref, source, dest, self.org.carrier, self.eta(), "bafkreiwaybill")
        tx = self.inventory.dispatch(consignment, list(lots), list(cases), {"from": sender or self.dispatcher_of(source)})
        return tx.return_value

    def dispatcher_of(self, location: int):
        return {
            self.loc.wh_shanghai: self.acct.wh_shanghai_staff, self.loc.wh_beijing: self.acct.wh_beijing_staff,
            self.loc.east_center: self.acct.east_center_staff, self.loc.dist_a: self.acct.dist_a_purchaser,
            self.loc.dist_b: self.acct.dist_b_purchaser, self.loc.dist_n: self.acct.dist_n_purchaser,
        }[location]

    def receiver_of(self, location: int):
        return {
            self.loc.wh_shanghai: self.acct.wh_shanghai_staff, self.loc.wh_beijing: self.acct.wh_beijing_staff,
            self.loc.east_center: self.acct.east_center_staff, self.loc.dist_a: self.acct.dist_a_purchaser,
            self.loc.dist_b: self.acct.dist_b_purchaser, self.loc.dist_n: self.acct.dist_n_purchaser,
            self.loc.store_a: self.acct.store_a_staff, self.loc.store_n: self.acct.store_n_staff,
        }[location]

    def receive(self, shipment_id: int, kind: int, ref: int, source: int, dest: int, lots, cases, received=None,
                sender=None):
        manifest = (kind, ref, source, list(lots), list(cases))
        return self.inventory.confirmReceipt(
            shipment_id, manifest, list(received if received is not None else cases),
            {"from": sender or self.receiver_of(dest)},
        )


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    """Every test starts from the same deployed network."""


@pytest.fixture(scope="module")
def ledger():
    return deploy_ledger(accounts[0], "Guizhou Baijiu Co.")


@pytest.fixture(scope="module")
def net(ledger) -> World:
    w = World(**{name: ledger[name] for name in ("membership", "catalog", "orders", "inventory", "anchors")})
    m, admin = w.membership, accounts[0]
    tx = {"from": admin}

    def org(kind, parent, name, tier=0):
        return m.registerOrganisation(kind, parent, tier, name, name.upper(), tx).return_value

    o = w.org
    o.brand = 1
    o.east, o.north = org(KIND.REGION, 1, "East China"), org(KIND.REGION, 1, "North China")
    o.wh_shanghai, o.wh_beijing = org(KIND.WAREHOUSE, 1, "Shanghai DC"), org(KIND.WAREHOUSE, 1, "Beijing DC")
    o.dist_a, o.dist_b = org(KIND.DISTRIBUTOR, o.east, "Hangzhou Trading"), org(KIND.DISTRIBUTOR, o.east, "Suzhou Wines")
    o.dist_n = org(KIND.DISTRIBUTOR, o.north, "Tianjin Liquor")
    o.store_a, o.store_n = org(KIND.STORE, o.east, "West Lake Store"), org(KIND.STORE, o.north, "Heping Store")
    o.carrier, o.auditor = org(KIND.CARRIER, 0, "Swift Logistics"), org(KIND.AUDITOR, 0, "Audit Partners")

    lo = w.loc
    for name in ("wh_shanghai", "wh_beijing", "dist_a", "dist_b", "dist_n", "store_a", "store_n"):
        setattr(lo, name, m.registerLocation(getattr(o, name), name, "", tx).return_value)
    lo.east_center = m.registerLocation(o.east, "east_center", "", tx).return_value

    a = w.acct
    a.admin = admin
    people = [
        ("sales_director", o.brand, ROLE.SALES_DIRECTOR), ("finance", o.brand, ROLE.FINANCE),
        ("brand_dispatcher", o.brand, ROLE.DISPATCHER), ("rm_east", o.east, ROLE.REGION_MANAGER),
        ("rm_north", o.north, ROLE.REGION_MANAGER), ("east_center_staff", o.east, ROLE.DISPATCHER | ROLE.RECEIVER),
        ("wh_shanghai_staff", o.wh_shanghai, ROLE.DISPATCHER | ROLE.RECEIVER),
        ("wh_beijing_staff", o.wh_beijing, ROLE.DISPATCHER | ROLE.RECEIVER),
        ("dist_a_purchaser", o.dist_a, ROLE.PURCHASER | ROLE.DISPATCHER | ROLE.RECEIVER),
        ("dist_b_purchaser", o.dist_b, ROLE.PURCHASER | ROLE.DISPATCHER | ROLE.RECEIVER),
        ("dist_n_purchaser", o.dist_n, ROLE.PURCHASER | ROLE.DISPATCHER | ROLE.RECEIVER),
        ("store_a_staff", o.store_a, ROLE.STORE_STAFF | ROLE.RECEIVER),
        ("store_n_staff", o.store_n, ROLE.STORE_STAFF | ROLE.RECEIVER),
        ("courier", o.carrier, ROLE.DISPATCHER), ("auditor", o.auditor, ROLE.AUDITOR),
    ]
    for i, (name, org_id, roles) in enumerate(people, start=1):
        setattr(a, name, accounts[i])
        m.setAccount(accounts[i], org_id, roles, name, tx)
    a.outsider = accounts[len(people) + 1]

    for body in (690123456001, 690123456002, 690123456003):
        w.skus.append(w.catalog.registerSku(gtin14(body), 6, f"SKU {body}", "bafkreiskucontent", tx).return_value)
    w.catalog.setPrices([(sku, 0, CASE_PRICE_FEN) for sku in w.skus], {"from": a.sales_director})
    for distributor in (o.dist_a, o.dist_b, o.dist_n):
        w.orders.setCreditLimit(distributor, 10**13, {"from": a.finance})
    return w
