"""Who may change what: the ledger's permission matrix, generated and checked exhaustively.

`MATRIX` lists every state-changing function of Membership, Catalog, Orders, Inventory and Anchors (some
more than once, where the organisation that must act depends on the case: each approval stage, each kind
of dispatch, receipts at a distributor, a store and a regional centre). An entry brings the chain into a
state where the call would succeed for a rightful caller, names the organisation that caller must belong
to, and the roles that may make the call. One test then runs every entry against a fresh account per
role (one role bit each), an account with no membership and a deactivated holder of the right role: the
call must succeed, and change state, exactly when the role is allowed and the account is active and in
the right organisation; otherwise it must revert with the error that names why. A further test fails the
build when a state-changing function has no entry, and a short section checks that an organisation's
staff cannot act for another organisation of the same kind.

Each entry's setup runs once (a module-scoped fixture per entry) and every caller's attempt is undone
with a node snapshot. Brownie's own `chain.snapshot()/revert()` costs about 130 ms here (it inspects
the whole stack and runs the garbage collector), which over ~450 cases would be most of the runtime, so
the module takes node snapshots itself (`rewound`) and replaces conftest's per-test isolation.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import brownie
import pytest
from hexbytes import HexBytes
from brownie import Anchors, Catalog, Inventory, Membership, Orders, accounts, history, web3

from conftest import (
    DECOMMISSION, DISCREPANCY, KIND, LOG_KIND, ROLE, ROLES_ALLOWED_FOR, SHIPMENT_KIND, SHIPMENT_STATE, STAGE,
    TRANSFER, gtin14, lot_number, revert_message,
)


# Where a caller holding a role goes when the required organisation's kind cannot hold it. Any org of a
# kind that may hold the role will do: the role check comes first, so the role is what is under test.
FALLBACK_ORG = {
    ROLE.ADMIN: "brand", ROLE.SALES_DIRECTOR: "brand", ROLE.FINANCE: "brand", ROLE.REGION_MANAGER: "north",
    ROLE.DISPATCHER: "wh_beijing", ROLE.RECEIVER: "wh_beijing", ROLE.STORE_STAFF: "store_n",
    ROLE.AUDITOR: "auditor", ROLE.PURCHASER: "dist_b",
}

CONTRACTS = {"Membership": Membership, "Catalog": Catalog, "Orders": Orders, "Inventory": Inventory,
             "Anchors": Anchors}

ROLE_CALLERS = list(vars(ROLE))  # "ADMIN", ..., "PURCHASER": one role bit per account
NO_MEMBERSHIP, DEACTIVATED = "no-membership", "deactivated"
CALLERS = ROLE_CALLERS + [NO_MEMBERSHIP, DEACTIVATED]

# How a function reports a refused caller.
BY_MEMBERSHIP = "authorise"  # Membership.authorise: NotAMember, MissingRole, WrongOrganisation
BY_TRANSFER_RULE = "transfer"  # Inventory.requestTransfer's own rule: NotAllowedToRequestTransfer
BY_INVENTORY_ONLY = "inventory"  # Orders' fulfilment hooks: OnlyInventory, whoever calls

ROOT = "0x" + "ab" * 32
NEW_ADDRESS = "0x00000000000000000000000000000000000C0FFE"
TARGET_ADDRESS = "0x000000000000000000000000000000000000BEEF"


@contextmanager
def rewound():
    """Runs the block, then puts the node back as it was before it."""
    snapshot = web3.provider.make_request("evm_snapshot", [])["result"]
    try:
        yield
    finally:
        web3.provider.make_request("evm_revert", [snapshot])
        # Brownie derives each sender's next nonce from its transaction history and waits forever when
        # the chain is behind it, so transactions the node has forgotten must leave the history too.
        history.clear()


# ------------------------------------------------------------------------------------------- the matrix

@dataclass(frozen=True)
class Entry:
    """One way of calling a state-changing function, and who may do it.

    `setup(net)` brings the chain into a state where the call succeeds for a rightful caller and returns
    its arguments. `org` is the `net.org` attribute of the organisation the caller must belong to, and
    `org_by_role` overrides it for roles that act from another organisation. `roles` is the mask of
    roles that may call (0: no account may). `event` must be emitted on success, and `probe(contract,
    args, net)`, when given, reads a value the successful call changes.
    """

    contract: str
    function: str
    setup: Callable
    org: str
    roles: int
    event: str
    probe: Callable | None = None
    case: str = ""
    org_by_role: dict = field(default_factory=dict)
    refusal: str = BY_MEMBERSHIP
    target: Callable | None = None  # the contract called, when it is not the deployed one

    @property
    def name(self) -> str:
        return f"{self.contract}.{self.function}" + (f"[{self.case}]" if self.case else "")

    def required_org(self, role: int) -> str:
        return self.org_by_role.get(role, self.org)


# ---------------------------------------------------------------- setups: chain states one call away

def commissioned(w, cases=20, location=None) -> int:
    return w.commission(sku=1, cases=cases, location=location)


def submitted(w, cases=1, distributor="dist_a") -> int:
    return w.submit(skus=(1,), cases=(cases,), distributor=distributor)


def approved_up_to(w, cases: int, stages: tuple) -> int:
    """An order of `cases` cases of SKU 1 with `stages` approved in sequence."""
    order = submitted(w, cases)
    for stage in stages:
        w.orders.approveOrder(order, stage, {"from": w.approver(stage)})
    return order


def approved(w, cases=5) -> int:
    order = submitted(w, cases)
    w.approve_all(order)
    return order


def order_shipment(w, cases=5):
    """An approved order of SKU 1 for dist_a and a shipment of all of it in transit from Shanghai."""
    lot = commissioned(w)
    order = approved(w, cases)
    shipment = w.dispatch(SHIPMENT_KIND.ORDER, order, w.loc.wh_shanghai, w.loc.dist_a, [lot], [cases])
    return order, shipment, lot


def stock_at_dist_a(w, cases=5) -> int:
    order, shipment, lot = order_shipment(w, cases)
    w.receive(shipment, SHIPMENT_KIND.ORDER, order, w.loc.wh_shanghai, w.loc.dist_a, [lot], [cases])
    return lot


def delivery_to_store_a(w, cases=3):
    lot = stock_at_dist_a(w, cases)
    shipment = w.dispatch(SHIPMENT_KIND.DELIVERY, 0, w.loc.dist_a, w.loc.store_a, [lot], [cases])
    return shipment, lot


def requested_transfer(w, source, dest, lot, cases=5) -> int:
    tx = w.inventory.requestTransfer(source, dest, [lot], [cases], {"from": w.acct.sales_director})
    return tx.events["TransferRequested"]["transferId"]


def transfer_shipment_to_east_center(w, cases=5):
    lot = commissioned(w)
    transfer = requested_transfer(w, w.loc.wh_shanghai, w.loc.east_center, lot, cases)
    w.inventory.approveTransfer(transfer, {"from": w.acct.sales_director})
    shipment = w.dispatch(SHIPMENT_KIND.TRANSFER, transfer, w.loc.wh_shanghai, w.loc.east_center, [lot], [cases])
    return transfer, shipment, lot


def consignment(w, kind, ref, source, dest):
    return (kind, ref, source, dest, w.org.carrier, w.eta(), "bafkreiwaybill")


def setup_dispatch_for_order(w):
    lot = commissioned(w)
    order = approved(w, 5)
    return consignment(w, SHIPMENT_KIND.ORDER, order, w.loc.wh_shanghai, w.loc.dist_a), [lot], [5]


def setup_dispatch_for_transfer(w):
    # From the East regional centre, whose organisation also holds regional managers.
    transfer, shipment, lot = transfer_shipment_to_east_center(w, 5)
    w.receive(shipment, SHIPMENT_KIND.TRANSFER, transfer, w.loc.wh_shanghai, w.loc.east_center, [lot], [5])
    onward = requested_transfer(w, w.loc.east_center, w.loc.wh_beijing, lot, 5)
    w.inventory.approveTransfer(onward, {"from": w.acct.sales_director})
    return consignment(w, SHIPMENT_KIND.TRANSFER, onward, w.loc.east_center, w.loc.wh_beijing), [lot], [5]


def setup_dispatch_for_delivery(w):
    lot = stock_at_dist_a(w, 5)
    return consignment(w, SHIPMENT_KIND.DELIVERY, 0, w.loc.dist_a, w.loc.store_a), [lot], [2]


def setup_receipt_at_distributor(w):
    order, shipment, lot = order_shipment(w, 5)
    return shipment, (SHIPMENT_KIND.ORDER, order, w.loc.wh_shanghai, [lot], [5]), [5]


def setup_receipt_at_store(w):
    shipment, lot = delivery_to_store_a(w, 3)
    return shipment, (SHIPMENT_KIND.DELIVERY, 0, w.loc.dist_a, [lot], [3]), [3]


def setup_receipt_at_regional_centre(w):
    transfer, shipment, lot = transfer_shipment_to_east_center(w, 5)
    return shipment, (SHIPMENT_KIND.TRANSFER, transfer, w.loc.wh_shanghai, [lot], [5]), [5]


def setup_resolution(w):
    order, shipment, lot = order_shipment(w, 5)
    tx = w.receive(shipment, SHIPMENT_KIND.ORDER, order, w.loc.wh_shanghai, w.loc.dist_a, [lot], [5], received=[3])
    return tx.events["DiscrepancyOpened"]["discrepancyId"], DISCREPANCY.FOUND


def setup_sale(w):
    shipment, lot = delivery_to_store_a(w, 3)
    w.receive(shipment, SHIPMENT_KIND.DELIVERY, 0, w.loc.dist_a, w.loc.store_a, [lot], [3])
    return w.loc.store_a, lot, 1


def setup_anchor(w):
    now = web3.eth.get_block("latest")["timestamp"]
    return LOG_KIND.CONSUMER_SCANS, ROOT, now - 86_400, now, 1_000, "bafkreiscanlog"


def setup_deactivation(w):
    w.membership.setAccount(TARGET_ADDRESS, w.org.store_a, ROLE.STORE_STAFF, "leaver", {"from": w.acct.admin})
    return (TARGET_ADDRESS,)


def spare_orders(w):
    """A freshly deployed Orders contract: the deployed one is already wired to Inventory, once and for all."""
    return Orders.deploy(w.membership, w.catalog, {"from": w.acct.admin})


BRAND_ADMIN = {"org": "brand", "roles": ROLE.ADMIN}

MATRIX = [
    # Membership: the brand's admins run the registry.
    Entry("Membership", "registerOrganisation", lambda w: (KIND.DISTRIBUTOR, w.org.east, 0, "Ningbo Spirits", "NB"),
          event="OrganisationRegistered", probe=lambda c, a, w: c.organisationCount(), **BRAND_ADMIN),
    Entry("Membership", "setPriceTier", lambda w: (w.org.dist_b, 2), event="PriceTierSet",
          probe=lambda c, a, w: c.organisations(a[0])["priceTier"], **BRAND_ADMIN),
    Entry("Membership", "registerLocation", lambda w: (w.org.dist_b, "Suzhou depot 2", "6901234000019"),
          event="LocationRegistered", probe=lambda c, a, w: c.locationCount(), **BRAND_ADMIN),
    Entry("Membership", "setLocationActive", lambda w: (w.loc.store_a, False), event="LocationActiveSet",
          probe=lambda c, a, w: c.locations(a[0])["active"], **BRAND_ADMIN),
    Entry("Membership", "setAccount", lambda w: (NEW_ADDRESS, w.org.dist_b, ROLE.PURCHASER, "new buyer"),
          event="AccountSet", probe=lambda c, a, w: c.accounts(a[0])["active"], **BRAND_ADMIN),
    Entry("Membership", "deactivateAccount", setup_deactivation, event="AccountDeactivated",
          probe=lambda c, a, w: c.accounts(a[0])["active"], **BRAND_ADMIN),
    # Catalog: admins own the SKUs, the sales director the prices.
    Entry("Catalog", "registerSku", lambda w: (gtin14(690123456099), 12, "Banquet 12", "bafkreisku"),
          event="SkuRegistered", probe=lambda c, a, w: c.skuCount(), **BRAND_ADMIN),
    Entry("Catalog", "setSkuContent", lambda w: (1, "bafkreinewstory"), event="SkuContentSet", **BRAND_ADMIN),
    Entry("Catalog", "setSkuActive", lambda w: (2, False), event="SkuActiveSet",
          probe=lambda c, a, w: c.skus(a[0])["active"], **BRAND_ADMIN),
    Entry("Catalog", "setPrices", lambda w: ([(1, 0, 950_000)],), "brand", ROLE.SALES_DIRECTOR, "PriceSet",
          probe=lambda c, a, w: c.priceOf(1, 0)),
    Entry("Catalog", "setPriceAlertThreshold", lambda w: (500,), event="PriceAlertThresholdSet",
          probe=lambda c, a, w: c.priceAlertBps(), **BRAND_ADMIN),
    # Orders: configuration by admins and finance, the order's life by purchasers and approvers.
    Entry("Orders", "setInventory", lambda w: (w.inventory,), event="InventorySet",
          probe=lambda c, a, w: c.inventory(), target=spare_orders, **BRAND_ADMIN),
    Entry("Orders", "setApprovalPolicy", lambda w: ([(0, STAGE.REGION_MANAGER), (50_000_000, 7)],),
          event="ApprovalPolicySet", probe=lambda c, a, w: c.approvalPolicy(), **BRAND_ADMIN),
    Entry("Orders", "setCreditLimit", lambda w: (w.org.dist_a, 5 * 10**12), "brand", ROLE.FINANCE,
          "CreditLimitSet", probe=lambda c, a, w: c.credits(a[0])["limit"]),
    Entry("Orders", "recordPayment", lambda w: (approved(w) and w.org.dist_a, 100_000), "brand", ROLE.FINANCE,
          "PaymentRecorded", probe=lambda c, a, w: c.credits(a[0])["exposure"]),
    Entry("Orders", "submitOrder", lambda w: (w.loc.dist_a, False, [1, 2], [3, 1]), "dist_a", ROLE.PURCHASER,
          "OrderSubmitted", probe=lambda c, a, w: c.orderCount()),
    Entry("Orders", "approveOrder", lambda w: (submitted(w, 1), STAGE.REGION_MANAGER), "east",
          ROLE.REGION_MANAGER, "OrderApproved", case="regional manager stage",
          probe=lambda c, a, w: c.orders(a[0])["approvedStages"]),
    Entry("Orders", "approveOrder", lambda w: (approved_up_to(w, 12, (STAGE.REGION_MANAGER,)), STAGE.SALES_DIRECTOR),
          "brand", ROLE.SALES_DIRECTOR, "OrderApproved", case="sales director stage",
          probe=lambda c, a, w: c.orders(a[0])["approvedStages"]),
    Entry("Orders", "approveOrder",
          lambda w: (approved_up_to(w, 112, (STAGE.REGION_MANAGER, STAGE.SALES_DIRECTOR)), STAGE.FINANCE),
          "brand", ROLE.FINANCE, "OrderApproved", case="finance stage",
          probe=lambda c, a, w: c.orders(a[0])["approvedStages"]),
    Entry("Orders", "rejectOrder", lambda w: (submitted(w, 1), STAGE.REGION_MANAGER, 11), "east",
          ROLE.REGION_MANAGER, "OrderRejected", case="regional manager stage",
          probe=lambda c, a, w: c.orders(a[0])["state"]),
    Entry("Orders", "rejectOrder",
          lambda w: (approved_up_to(w, 12, (STAGE.REGION_MANAGER,)), STAGE.SALES_DIRECTOR, 12),
          "brand", ROLE.SALES_DIRECTOR, "OrderRejected", case="sales director stage",
          probe=lambda c, a, w: c.orders(a[0])["state"]),
    Entry("Orders", "rejectOrder",
          lambda w: (approved_up_to(w, 112, (STAGE.REGION_MANAGER, STAGE.SALES_DIRECTOR)), STAGE.FINANCE, 13),
          "brand", ROLE.FINANCE, "OrderRejected", case="finance stage",
          probe=lambda c, a, w: c.orders(a[0])["state"]),
    Entry("Orders", "cancelOrder", lambda w: (submitted(w, 2), 3), "dist_a", ROLE.PURCHASER, "OrderCancelled",
          probe=lambda c, a, w: c.orders(a[0])["state"]),
    Entry("Orders", "recordDispatch", lambda w: (approved(w), 1, w.loc.dist_a, [(1 << 160) | 1], [1]), "brand", 0,
          "OrderDispatched", refusal=BY_INVENTORY_ONLY, probe=lambda c, a, w: c.orders(a[0])["casesInTransit"]),
    Entry("Orders", "recordReceipt", lambda w: (order_shipment(w)[0], 1, 5), "brand", 0, "OrderDelivered",
          refusal=BY_INVENTORY_ONLY, probe=lambda c, a, w: c.orders(a[0])["casesInTransit"]),
    # Inventory: lots and write-offs by the brand, shipments by the sites involved.
    Entry("Inventory", "commissionLot",
          lambda w: (1, lot_number("PM-NEW"), w.loc.wh_shanghai, 2, 12, ROOT, "bafkreilot"), "brand",
          ROLE.DISPATCHER, "LotCommissioned", probe=lambda c, a, w: c.lotRoot((1 << 160) | int.from_bytes(a[1], "big"))),
    Entry("Inventory", "recallLot", lambda w: (commissioned(w), 4), event="LotRecalled",
          probe=lambda c, a, w: c.recalled(a[0]), **BRAND_ADMIN),
    Entry("Inventory", "requestTransfer",
          lambda w: (w.loc.wh_shanghai, w.loc.east_center, [commissioned(w)], [5]), "east",
          ROLE.SALES_DIRECTOR | ROLE.REGION_MANAGER | ROLE.DISPATCHER | ROLE.RECEIVER, "TransferRequested",
          probe=lambda c, a, w: c.transferCount(), org_by_role={ROLE.SALES_DIRECTOR: "brand"},
          refusal=BY_TRANSFER_RULE),
    Entry("Inventory", "approveTransfer",
          lambda w: (requested_transfer(w, w.loc.wh_shanghai, w.loc.wh_beijing, commissioned(w)),), "brand",
          ROLE.SALES_DIRECTOR, "TransferApproved", probe=lambda c, a, w: c.transfers(a[0])["state"]),
    Entry("Inventory", "rejectTransfer",
          lambda w: (requested_transfer(w, w.loc.wh_shanghai, w.loc.wh_beijing, commissioned(w)), 9), "brand",
          ROLE.SALES_DIRECTOR, "TransferRejected", probe=lambda c, a, w: c.transfers(a[0])["state"]),
    Entry("Inventory", "dispatch", setup_dispatch_for_order, "wh_shanghai", ROLE.DISPATCHER, "ShipmentDispatched",
          case="order from a warehouse", probe=lambda c, a, w: c.shipmentCount()),
    Entry("Inventory", "dispatch", setup_dispatch_for_transfer, "east", ROLE.DISPATCHER, "ShipmentDispatched",
          case="transfer from a regional centre", probe=lambda c, a, w: c.shipmentCount()),
    Entry("Inventory", "dispatch", setup_dispatch_for_delivery, "dist_a", ROLE.DISPATCHER, "ShipmentDispatched",
          case="delivery from a distributor", probe=lambda c, a, w: c.shipmentCount()),
    Entry("Inventory", "recordCheckpoint", lambda w: (order_shipment(w)[1], 2, "Hangzhou hub"), "carrier",
          ROLE.DISPATCHER, "ShipmentCheckpoint"),
    Entry("Inventory", "confirmReceipt", setup_receipt_at_distributor, "dist_a", ROLE.RECEIVER | ROLE.STORE_STAFF,
          "ShipmentReceived", case="at a distributor", probe=lambda c, a, w: c.shipments(a[0])["state"]),
    Entry("Inventory", "confirmReceipt", setup_receipt_at_store, "store_a", ROLE.RECEIVER | ROLE.STORE_STAFF,
          "ShipmentReceived", case="at a store", probe=lambda c, a, w: c.shipments(a[0])["state"]),
    Entry("Inventory", "confirmReceipt", setup_receipt_at_regional_centre, "east", ROLE.RECEIVER | ROLE.STORE_STAFF,
          "ShipmentReceived", case="at a regional centre", probe=lambda c, a, w: c.shipments(a[0])["state"]),
    Entry("Inventory", "resolveDiscrepancy", setup_resolution, event="DiscrepancyResolved",
          probe=lambda c, a, w: c.discrepancies(a[0])["state"], **BRAND_ADMIN),
    Entry("Inventory", "recordSale", setup_sale, "store_a", ROLE.STORE_STAFF, "StockDecommissioned",
          probe=lambda c, a, w: c.balanceOf(a[0], a[1])),
    Entry("Inventory", "writeOff", lambda w: (w.loc.wh_shanghai, commissioned(w), 1, DECOMMISSION.DAMAGED),
          event="StockDecommissioned", probe=lambda c, a, w: c.balanceOf(a[0], a[1]), **BRAND_ADMIN),
    # Anchors: admins anchor the off-chain logs ...
    Entry("Anchors", "anchor", setup_anchor, event="Anchored", probe=lambda c, a, w: c.anchorCount(), **BRAND_ADMIN),
    # ... and retire the contract before a successor replaces it.
    Entry("Anchors", "retire", lambda w: (), event="Retired", probe=lambda c, a, w: c.retired(), **BRAND_ADMIN),
]
ENTRIES = {entry.name: entry for entry in MATRIX}
assert len(ENTRIES) == len(MATRIX), "two matrix entries share a name"


# ------------------------------------------------------------------------------------------- callers

def lowest_role(mask: int) -> int:
    return mask & -mask


class Callers:
    """Fresh accounts, each holding one role in one organisation, made once for the whole module."""

    def __init__(self, net):
        self.net = net
        self.kind = {name: net.membership.organisations(org)["kind"] for name, org in vars(net.org).items()}
        self.by_role_and_org: dict[tuple[int, str], object] = {}
        self.deactivated: dict[tuple[int, str], object] = {}
        self.outsider = accounts.add()
        for entry in MATRIX:
            for name in ROLE_CALLERS:
                self._member(getattr(ROLE, name), self.home(entry, getattr(ROLE, name)))
            role, org = self.rightful_role(entry)
            if (role, org) not in self.deactivated:
                account = self._new(role, org)
                net.membership.deactivateAccount(account, {"from": net.acct.admin})
                self.deactivated[(role, org)] = account

    def home(self, entry: Entry, role: int) -> str:
        """The entry's required organisation when its kind may hold the role, else one that may."""
        org = entry.required_org(role)
        return org if ROLES_ALLOWED_FOR[self.kind[org]] & role else FALLBACK_ORG[role]

    @staticmethod
    def rightful_role(entry: Entry) -> tuple[int, str]:
        role = lowest_role(entry.roles) or ROLE.ADMIN
        return role, entry.required_org(role)

    def _member(self, role: int, org: str):
        if (role, org) not in self.by_role_and_org:
            self.by_role_and_org[(role, org)] = self._new(role, org)
        return self.by_role_and_org[(role, org)]

    def _new(self, role: int, org: str):
        account = accounts.add()
        self.net.membership.setAccount(account, getattr(self.net.org, org), role, f"{org} {role}",
                                       {"from": self.net.acct.admin})
        return account

    def get(self, entry: Entry, who: str):
        """The account playing `who` for `entry`, the organisation it is in, and the role it holds."""
        if who == NO_MEMBERSHIP:
            return self.outsider, None, 0
        if who == DEACTIVATED:
            role, org = self.rightful_role(entry)
            return self.deactivated[(role, org)], org, role
        role = getattr(ROLE, who)
        org = self.home(entry, role)
        return self.by_role_and_org[(role, org)], org, role


def expected_refusal(entry: Entry, who: str, account, org: str | None, role: int, net) -> str | None:
    """The revert a call by `account` must end in, or None when it must succeed."""
    active = who not in (NO_MEMBERSHIP, DEACTIVATED)
    if entry.refusal == BY_INVENTORY_ONLY:
        return revert_message("OnlyInventory", account)
    if active and role & entry.roles and org == entry.required_org(role):
        return None
    if entry.refusal == BY_TRANSFER_RULE:
        return revert_message("NotAllowedToRequestTransfer", account)
    if not active:
        return revert_message("NotAMember", account)
    if not role & entry.roles:
        return revert_message("MissingRole", account, entry.roles)
    return revert_message("WrongOrganisation", account, getattr(net.org, entry.required_org(role)))


# ------------------------------------------------------------------------------------------- fixtures

@pytest.fixture(autouse=True)
def isolation(module_isolation):
    """Replaces conftest's brownie snapshot per test with a node snapshot (see the module docstring)."""
    with rewound():
        yield


@pytest.fixture(scope="module")
def callers(net) -> Callers:
    return Callers(net)


@dataclass
class Prepared:
    entry: Entry
    contract: object
    args: tuple


@pytest.fixture(scope="module")
def prepared(request, net, callers):
    """The chain one call away from the entry's function succeeding; undone when the next entry starts."""
    entry = ENTRIES[request.param]
    with rewound():
        contract = entry.target(net) if entry.target else getattr(net, entry.contract.lower())
        yield Prepared(entry, contract, tuple(entry.setup(net)))


# ------------------------------------------------------------------------------------------- tests

def test_every_state_changing_function_is_in_the_matrix():
    in_abi = {
        (name, item["name"])
        for name, container in CONTRACTS.items()
        for item in container.abi
        if item["type"] == "function" and item["stateMutability"] in ("nonpayable", "payable")
    }
    in_matrix = {(entry.contract, entry.function) for entry in MATRIX}
    assert not in_abi - in_matrix, f"state-changing functions missing from MATRIX: {sorted(in_abi - in_matrix)}"
    assert not in_matrix - in_abi, f"MATRIX entries naming no state-changing function: {sorted(in_matrix - in_abi)}"


@pytest.mark.parametrize(
    "prepared, who", [(name, who) for name in ENTRIES for who in CALLERS], indirect=["prepared"], scope="module",
    ids=[f"{name}-{who}" for name in ENTRIES for who in CALLERS],
)
def test_a_call_succeeds_only_for_an_active_holder_of_an_allowed_role_in_the_right_organisation(
    prepared, who, callers, net
):
    entry, contract, args = prepared.entry, prepared.contract, prepared.args
    account, org, role = callers.get(entry, who)
    refusal = expected_refusal(entry, who, account, org, role, net)
    call = getattr(contract, entry.function)
    before = entry.probe(contract, args, net) if entry.probe else None

    if refusal is None:
        tx = call(*args, {"from": account})
        assert entry.event in tx.events, f"{entry.name} by {who} emitted no {entry.event}"
        # The event must come from the contract called, not only from one it called in turn.
        topic = HexBytes(contract.topics[entry.event])
        assert any(
            log["address"] == contract.address and HexBytes(log["topics"][0]) == topic for log in tx.logs
        ), f"{entry.name} by {who}: {entry.event} was not emitted by {entry.contract}"
        if entry.probe:
            assert entry.probe(contract, args, net) != before, f"{entry.name} by {who} changed nothing"
    else:
        with brownie.reverts(refusal):
            call(*args, {"from": account})
        if entry.probe:
            assert entry.probe(contract, args, net) == before


def test_every_entry_has_a_rightful_caller(callers):
    """A matrix row that nobody may call (other than through Inventory) would test only refusals."""
    for entry in MATRIX:
        if entry.refusal != BY_INVENTORY_ONLY:
            assert any(
                getattr(ROLE, who) & entry.roles and callers.home(entry, getattr(ROLE, who)) == entry.required_org(
                    getattr(ROLE, who))
                for who in ROLE_CALLERS
            ), entry.name


# ------------------------------------------------------------------------------------------- across organisations

def test_a_purchaser_cannot_submit_an_order_for_another_distributors_location(net):
    with brownie.reverts(revert_message("WrongOrganisation", net.acct.dist_b_purchaser, net.org.dist_a)):
        net.orders.submitOrder(net.loc.dist_a, False, [1], [1], {"from": net.acct.dist_b_purchaser})
    assert net.orders.orderCount() == 0


def test_a_purchaser_cannot_cancel_another_distributors_order(net):
    order = submitted(net, 2)
    with brownie.reverts(revert_message("WrongOrganisation", net.acct.dist_b_purchaser, net.org.dist_a)):
        net.orders.cancelOrder(order, 1, {"from": net.acct.dist_b_purchaser})
    assert net.orders.orders(order)["state"] == 1  # still Submitted


def test_a_distributor_cannot_receive_a_shipment_at_another_distributors_location(net):
    args = setup_receipt_at_distributor(net)
    with brownie.reverts(revert_message("WrongOrganisation", net.acct.dist_b_purchaser, net.org.dist_a)):
        net.inventory.confirmReceipt(*args, {"from": net.acct.dist_b_purchaser})
    assert net.inventory.shipments(args[0])["state"] == SHIPMENT_STATE.IN_TRANSIT
    assert net.balance(net.loc.dist_b, args[1][3][0]) == 0


def test_a_carrier_that_does_not_carry_the_shipment_cannot_report_a_checkpoint(net):
    admin = {"from": net.acct.admin}
    rival = net.membership.registerOrganisation(KIND.CARRIER, 0, 0, "Rival Express", "RIVAL", admin).return_value
    rival_courier = accounts.add()
    net.membership.setAccount(rival_courier, rival, ROLE.DISPATCHER, "rival courier", admin)
    _, shipment, _ = order_shipment(net)
    with brownie.reverts(revert_message("WrongOrganisation", rival_courier, net.org.carrier)):
        net.inventory.recordCheckpoint(shipment, 1, "Suzhou hub", {"from": rival_courier})


def test_a_warehouse_dispatcher_cannot_dispatch_from_another_warehouse(net):
    c, lots, cases = setup_dispatch_for_order(net)
    with brownie.reverts(revert_message("WrongOrganisation", net.acct.wh_beijing_staff, net.org.wh_shanghai)):
        net.inventory.dispatch(c, lots, cases, {"from": net.acct.wh_beijing_staff})
    assert net.inventory.shipmentCount() == 0
    assert net.balance(net.loc.wh_shanghai, lots[0]) == 20


def test_a_regional_manager_of_north_cannot_approve_an_east_order(net):
    order = submitted(net, 1)
    with brownie.reverts(revert_message("WrongOrganisation", net.acct.rm_north, net.org.east)):
        net.orders.approveOrder(order, STAGE.REGION_MANAGER, {"from": net.acct.rm_north})
    assert net.orders.orders(order)["approvedStages"] == 0
