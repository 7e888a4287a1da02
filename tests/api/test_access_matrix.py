"""The cross-organisation access matrix on the whole stack: one member of every kind of standpoint (head office
by role, each region's manager, each warehouse, each distributor, a store of each distributor, each carrier, the
auditor) against every endpoint that names or lists objects, and every owner those objects have.

What a member may see is worked out here from the simulated network itself (which organisation is of which kind
and region, which location is whose) and from the owner fields of each object as the mirror's tables hold them,
never from `ledger_api.reads`, so a mistake in the API's scopes cannot hide behind the same mistake in the test.
A single object outside a member's reach must answer 404 exactly as one that does not exist; one inside it must
answer 200 with the object as head office sees it. A list must hold exactly the objects the member may see, with
totals to match, under every filter tried. A write on an existing object by a member who may not make it must be
refused (403, 404 or 409) and leave the chain and the mirror as they were. Each (member, endpoint, object) is one
pair; the last test prints "N pairs checked, 0 leaks" for each database engine.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from indexer.db import open_database
from indexer.schema import (
    accounts,
    credits,
    locations,
    orders,
    organisations,
    price_changes,
    prices,
    shipments,
    stock_balances,
    stock_in_transit,
    transfers,
)
from ledger_api.activity import Network, build_network, gtin14
from ledger_api.vocabulary import BRAND_ORG, OrgKind
from tests.api.stack import SMALL

SEED = 5  # the seed `running_stack` plays by default: the network the `stack` fixture holds
NETWORK = build_network(SEED, SMALL)
PAGE = 500  # the largest page the list endpoints give


# ---------------------------------------------------------------------------------------------- who may see what


def kinds(net: Network) -> dict[int, OrgKind]:
    return {BRAND_ORG: OrgKind.brand, **{o.id: OrgKind(o.kind) for o in net.organisations}}


@dataclass(frozen=True)
class Standpoint:
    """Where a member stands in the network, and what the business lets it see from there."""

    label: str
    address: str
    kind: OrgKind
    org: int
    tier: int
    sites: frozenset[int]  # the locations its organisation runs
    region_of: Mapping[int, int]  # location -> its region organisation; 0 for a national warehouse
    parent_of: Mapping[int, int]  # organisation -> parent organisation

    @property
    def everything(self) -> bool:
        return self.kind in (OrgKind.brand, OrgKind.auditor)

    def sees_order(self, distributor: int, region: int) -> bool:
        if self.everything or self.kind is OrgKind.warehouse:  # a national warehouse fulfils every region's orders
            return True
        if self.kind is OrgKind.region:
            return region == self.org
        return self.kind is OrgKind.distributor and distributor == self.org

    def sees_movement(self, source: int, dest: int, carrier: int | None = None) -> bool:
        """A shipment in `carrier`'s custody, or (without a carrier) a transfer of the brand's own stock."""
        if self.everything:
            return True
        if self.kind is OrgKind.region:
            return self.org in (self.region_of[source], self.region_of[dest])
        if self.kind is OrgKind.carrier:
            return carrier == self.org
        if carrier is None and self.kind is not OrgKind.warehouse:
            return False
        return bool({source, dest} & self.sites)

    def sees_stock_at(self, location: int) -> bool:
        if self.everything:
            return True
        if self.kind is OrgKind.region:
            return self.region_of[location] == self.org
        return location in self.sites and self.kind is not OrgKind.carrier

    def sees_tier(self, tier: int) -> bool:
        if self.kind in (OrgKind.distributor, OrgKind.store):  # a trade customer: the tier Membership gives it
            return tier == self.tier
        return self.kind is not OrgKind.carrier

    def sees_credit(self, distributor: int) -> bool:
        if self.everything:
            return True
        if self.kind is OrgKind.region:
            return self.parent_of.get(distributor) == self.org
        return self.kind is OrgKind.distributor and distributor == self.org

    def sees_member(self, org: int) -> bool:
        return self.everything or org == self.org

    def sees_organisation(self, org: int, kind: int) -> bool:
        return self.sees_member(org) or kind == OrgKind.carrier  # carriers are the network's public partners

    def sees_location(self, location: int, org: int, kind: int) -> bool:
        # A distributor delivers to the stores of its region, so it sees their locations.
        return self.sees_member(org) or (self.kind is OrgKind.distributor and kind == OrgKind.store
                                         and self.region_of[location] == self.region_of[min(self.sites)])

    def sees_transaction(self, sender: str) -> bool:
        return self.everything or sender == self.address


def standpoint(net: Network, label: str) -> Standpoint:
    member = net.members[label]
    tiers = {o.id: o.tier for o in net.organisations}
    return Standpoint(label, member.address, kinds(net)[member.org], member.org, tiers.get(member.org, 0),
                      frozenset(p.id for p in net.places if p.org == member.org), net.region_of_place,
                      {o.id: o.parent for o in net.organisations})


def callers(net: Network) -> list[str]:
    """Head office by role, every region's manager, warehouse and distributor, a store of each distributor,
    every carrier and the auditor."""
    auditors = [m.label for m in net.members.values() if kinds(net)[m.org] is OrgKind.auditor]
    return ["brand.admin", "brand.sales_director", "brand.finance",
            *(net.region_manager[r] for r in sorted(net.region_manager)),
            *(net.sender_at[p] for p in net.warehouse_places),
            *(net.sender_at[p] for p in net.distributor_places),
            *(net.sender_at[net.stores_of_distributor[p][0]] for p in net.distributor_places),
            *(net.carrier_sender[c] for c in net.carrier_orgs), *auditors]


CALLERS = callers(NETWORK)

# The objects this module adds before it looks: a submitted order, a requested transfer and a delivery in transit,
# so that the writes below meet objects in the state where only the right member could act on them.
ORDERING_SITE = NETWORK.distributor_places[0]
ORDERER = NETWORK.sender_at[ORDERING_SITE]
STORE = NETWORK.stores_of_distributor[ORDERING_SITE][0]
CARRIER = NETWORK.carrier_orgs[0]
SOURCE_WAREHOUSE, DEST_WAREHOUSE = NETWORK.warehouse_places[:2]
TO_DEACTIVATE = NETWORK.sender_at[NETWORK.stores_of_distributor[ORDERING_SITE][1]]  # a member asking nothing here
assert TO_DEACTIVATE not in CALLERS

# Who may make each write on those objects; everyone else in CALLERS is refused.
MAY_WRITE = {
    "approve order": {NETWORK.region_manager[NETWORK.region_of_place[ORDERING_SITE]]},
    "reject order": {NETWORK.region_manager[NETWORK.region_of_place[ORDERING_SITE]]},
    "cancel order": {ORDERER},
    "checkpoint shipment": {NETWORK.carrier_sender[CARRIER]},
    "receipt shipment": {NETWORK.sender_at[STORE]},
    "approve transfer": {"brand.sales_director"},
    "reject transfer": {"brand.sales_director"},
    "deactivate account": {"brand.admin"},
    "register sku": {"brand.admin"},
    "set prices": {"brand.sales_director"},
    "commission lot": {"brand.dispatcher"},
}


# ---------------------------------------------------------------------------------------------- the tally


@dataclass
class Tally:
    pairs: Counter = field(default_factory=Counter)  # by endpoint
    leaks: list[str] = field(default_factory=list)


TALLIES: dict[str, Tally] = defaultdict(Tally)


def engine(stack) -> str:
    return "sqlite" if stack.settings.database_url.startswith("sqlite") else "postgresql"


class Pairs:
    """The pairs one test checks. A leak is an answer with something the member may not see; a miss is an
    allowed object not answered; anything else amiss (a refusal of the wrong shape, an object that differs from
    head office's, a wrong total) is noted as wrong."""

    def __init__(self, stack, endpoint: str, label: str) -> None:
        self.tally, self.endpoint, self.label = TALLIES[engine(stack)], endpoint, label
        self.leaks: list[str] = []
        self.misses: list[str] = []
        self.wrong: list[str] = []

    def check(self, what: Any, allowed: bool, answered: bool) -> None:
        self.tally.pairs[self.endpoint] += 1
        if answered and not allowed:
            self.leaks.append(f"{self.label} got {self.endpoint} {what}")
        elif allowed and not answered:
            self.misses.append(f"{self.label} did not get {self.endpoint} {what}")

    def leak(self, what: Any) -> None:
        self.leaks.append(f"{self.label} got {self.endpoint} {what}")

    def expect(self, condition: bool, problem: str) -> None:
        if not condition:
            self.wrong.append(f"{self.label} {self.endpoint}: {problem}")

    def finish(self) -> None:
        self.tally.leaks += self.leaks
        assert not self.leaks, f"{len(self.leaks)} leaks: {self.leaks[:10]}"
        assert not self.misses, f"{len(self.misses)} misses: {self.misses[:10]}"
        assert not self.wrong, self.wrong[:10]


# ---------------------------------------------------------------------------------------------- the mirror's objects


@dataclass
class Ledger:
    """The objects in the mirror, read from its tables with their owners, and what head office sees of each."""

    orders: dict[int, tuple[int, int]]  # id -> (distributor, region)
    order_rows: dict[int, Mapping]
    shipments: dict[int, tuple[int, int, int]]  # id -> (from, to, carrier)
    shipment_kinds: dict[int, int]
    transfers: dict[int, tuple[int, int]]  # id -> (from, to)
    stock: dict[tuple[int, int], tuple[int, int]]  # (location, lot) -> (on hand, in transit)
    sku_of_lot: dict[int, int]
    prices: dict[tuple[int, int], int]  # (sku, tier) -> fen
    price_changes: dict[tuple[int, int], int]  # (block, log index) -> tier
    organisations: dict[int, int]  # id -> kind
    locations: dict[int, int]  # id -> organisation
    accounts: dict[str, int]  # lower-case address -> organisation
    credits: set[int]
    added: dict[str, Any]  # what this module added: ids, lots, transaction hashes and their senders
    seen_by_brand: dict[tuple[str, Any], dict] = field(default_factory=dict)


def created(answer, what: str) -> dict:
    assert answer.status_code == 201, f"{what}: {answer.status_code} {answer.text}"
    return answer.json()


def add_objects(stack) -> dict[str, Any]:
    """A submitted order, a requested transfer and a delivery in transit, each through the API."""
    client, net = stack.client, stack.network
    brand = stack.sign_in("brand.admin")
    order = created(client.post("/v1/orders", headers=stack.sign_in(ORDERER), json={
        "deliver_to": ORDERING_SITE, "lines": [{"sku": net.products[0].id, "cases": 2}]}), "order")

    def a_lot_at(location: int) -> dict:
        rows = client.get("/v1/stock", params={"location": location, "limit": PAGE}, headers=brand).json()["items"]
        return next(r for r in rows if r["on_hand"] >= 1)

    lot = a_lot_at(SOURCE_WAREHOUSE)
    transfer = created(client.post("/v1/transfers", headers=stack.sign_in("brand.sales_director"), json={
        "from_location": SOURCE_WAREHOUSE, "to_location": DEST_WAREHOUSE,
        "lines": [{"lot": lot["lot"], "cases": 1}]}), "transfer")
    held = a_lot_at(ORDERING_SITE)
    delivery = created(client.post("/v1/shipments", headers=stack.sign_in(ORDERER), json={
        "kind": "delivery", "from_location": ORDERING_SITE, "to_location": STORE, "carrier": CARRIER,
        "eta": stack.chain_time() + 86_400, "lines": [{"lot": held["lot"], "cases": 1}]}), "delivery")
    return {"order": order["result"]["id"], "transfer": transfer["result"]["id"],
            "shipment": delivery["result"]["id"], "shipment_lot": held["lot"],
            "transactions": {order["tx_hash"]: net.members[ORDERER].address,
                             transfer["tx_hash"]: net.members["brand.sales_director"].address,
                             delivery["tx_hash"]: net.members[ORDERER].address}}


def read_mirror(url: str, net: Network, added: dict[str, Any]) -> Ledger:
    engine_ = open_database(url)
    try:
        with engine_.connect() as conn:
            def rows(table):
                return conn.execute(select(table)).mappings().all()

            order_rows = rows(orders)
            stock: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
            sku_of_lot = {}
            for r in rows(stock_balances):
                if r["cases"]:
                    stock[r["location"], r["lot"]][0] += r["cases"]
                    sku_of_lot[r["lot"]] = r["sku"]
            for r in rows(stock_in_transit):
                if r["cases"]:
                    stock[r["to_location"], r["lot"]][1] += r["cases"]
                    sku_of_lot[r["lot"]] = r["sku"]
            ledger = Ledger(
                orders={r["id"]: (r["distributor"], r["region"]) for r in order_rows},
                order_rows={r["id"]: r for r in order_rows},
                shipments={r["id"]: (r["from_location"], r["to_location"], r["carrier"]) for r in rows(shipments)},
                shipment_kinds={r["id"]: r["kind"] for r in rows(shipments)},
                transfers={r["id"]: (r["from_location"], r["to_location"]) for r in rows(transfers)},
                stock={key: tuple(cases) for key, cases in stock.items()},
                sku_of_lot=sku_of_lot,
                prices={(r["sku"], r["tier"]): r["price"] for r in rows(prices)},
                price_changes={(r["block_number"], r["log_index"]): r["tier"] for r in rows(price_changes)},
                organisations={r["id"]: r["kind"] for r in rows(organisations)},
                locations={r["id"]: r["org"] for r in rows(locations)},
                accounts={r["address"]: r["org"] for r in rows(accounts)},
                credits={r["distributor"] for r in rows(credits)},
                added=added,
            )
    finally:
        engine_.dispose()
    # The owners the expectations use are the network's; the mirror must agree with it about every object.
    site_org = {p.id: p.org for p in net.places}
    for order_id, (distributor, region) in ledger.orders.items():
        deliver_to = ledger.order_rows[order_id]["deliver_to"]
        assert (distributor, region) == (site_org[deliver_to], net.region_of_place[deliver_to]), order_id
    assert ledger.organisations == {BRAND_ORG: int(OrgKind.brand), **{o.id: o.kind for o in net.organisations}}
    assert ledger.locations == site_org
    return ledger


def representatives(owners: Mapping[int, Any]) -> list[int]:
    """The first and last object of every distinct owner combination."""
    by_owner: dict[Any, list[int]] = defaultdict(list)
    for key in sorted(owners):
        by_owner[owners[key]].append(key)
    return sorted({ids[0] for ids in by_owner.values()} | {ids[-1] for ids in by_owner.values()})


@pytest.fixture(scope="module")
def ledger(stack) -> Ledger:
    assert set(stack.network.members) == set(NETWORK.members)  # the network the matrix was built from
    # Each write answers once the mirror holds it, so the mirror is read with the added objects in it.
    ledger = read_mirror(stack.settings.database_url, stack.network, add_objects(stack))
    brand, head_office = stack.sign_in("brand.admin"), standpoint(stack.network, "brand.admin")
    for endpoint, key in single_objects(ledger):
        if not may_see(head_office, ledger, endpoint, key):  # an organisation that is no distributor has no credit
            continue
        answer = stack.client.get(f"/v1/{endpoint}/{key}", headers=brand)
        assert answer.status_code == 200, (endpoint, key, answer.text)
        ledger.seen_by_brand[endpoint, key] = answer.json()
    return ledger


# ---------------------------------------------------------------------------------------------- one object


SINGLE = ("orders", "shipments", "transfers", "credits", "transactions")
NOT_FOUND_WHAT = {"orders": "order", "shipments": "shipment", "transfers": "transfer", "credits": "credit",
                  "transactions": "transaction"}


def single_objects(ledger: Ledger) -> list[tuple[str, Any]]:
    """The objects the single-object endpoints are asked for: orders of every distributor in every state,
    shipments of every kind on every route with every carrier, every transfer and credit, the added writes."""
    orders_ = representatives({k: (d, ledger.order_rows[k]["state"]) for k, (d, _) in ledger.orders.items()})
    shipments_ = representatives({k: (ledger.shipment_kinds[k], *owners) for k, owners in ledger.shipments.items()})
    return ([("orders", k) for k in sorted({*orders_, ledger.added["order"]})]
            + [("shipments", k) for k in sorted({*shipments_, ledger.added["shipment"]})]
            + [("transfers", k) for k in sorted(ledger.transfers)]
            + [("credits", k) for k in sorted(ledger.organisations)]
            + [("transactions", k) for k in sorted(ledger.added["transactions"])])


def may_see(me: Standpoint, ledger: Ledger, endpoint: str, key: Any) -> bool:
    if endpoint == "orders":
        return me.sees_order(*ledger.orders[key])
    if endpoint == "shipments":
        return me.sees_movement(*ledger.shipments[key])
    if endpoint == "transfers":
        return me.sees_movement(*ledger.transfers[key])
    if endpoint == "credits":
        return key in ledger.credits and me.sees_credit(key)
    return me.sees_transaction(ledger.added["transactions"][key])


def as_seen_by(me: Standpoint, ledger: Ledger, endpoint: str, key: Any) -> dict:
    """The object as `me` should get it: as head office sees it, but an order lists only the shipments `me` may
    see of it."""
    seen = ledger.seen_by_brand[endpoint, key]
    if endpoint == "orders":
        return {**seen, "shipments": [s for s in seen["shipments"] if me.sees_movement(*ledger.shipments[s])]}
    return seen


def missing(ledger: Ledger, endpoint: str) -> Any:
    """A key no object of the endpoint has."""
    if endpoint == "transactions":
        return "0x" + "00" * 32
    taken = {"orders": ledger.orders, "shipments": ledger.shipments, "transfers": ledger.transfers,
             "credits": ledger.organisations}[endpoint]
    return max(taken) + 1_000


def not_found(endpoint: str, key: Any) -> dict:
    return {"error": "NotFound", "detail": {"what": NOT_FOUND_WHAT[endpoint], "id": key}}


@pytest.mark.parametrize("label", CALLERS)
@pytest.mark.parametrize("endpoint", SINGLE)
def test_one_object_answers_whoever_may_see_it_and_is_not_found_by_anyone_else(stack, ledger, endpoint, label):
    me, headers = standpoint(stack.network, label), stack.sign_in(label)
    pairs = Pairs(stack, f"GET /v1/{endpoint}/{{id}}", label)
    absent = missing(ledger, endpoint)
    nothing = stack.client.get(f"/v1/{endpoint}/{absent}", headers=headers)
    assert (nothing.status_code, nothing.json()) == (404, not_found(endpoint, absent))
    for kind, key in single_objects(ledger):
        if kind != endpoint:
            continue
        answer = stack.client.get(f"/v1/{endpoint}/{key}", headers=headers)
        allowed = may_see(me, ledger, endpoint, key)
        pairs.check(key, allowed, answer.status_code == 200)
        if allowed and answer.status_code == 200:
            pairs.expect(answer.json() == as_seen_by(me, ledger, endpoint, key), f"{key} differs from head office's")
        elif not allowed:
            # Not found, exactly as the object that does not exist: nothing tells the two apart.
            pairs.expect((answer.status_code, answer.json()) == (404, not_found(endpoint, key)),
                         f"{key}: {answer.status_code} {answer.text[:200]}")
    pairs.finish()


# ---------------------------------------------------------------------------------------------- lists


def listed(stack, headers: dict, path: str, params: Mapping | None = None) -> tuple[list[dict], int | None]:
    """Every item of a list endpoint, through all its pages; the total a paged endpoint states."""
    params = dict(params or {})
    answer = stack.client.get(path, params={**params, "limit": PAGE} if path in PAGED else params, headers=headers)
    assert answer.status_code == 200, (path, params, answer.text)
    body = answer.json()
    if path not in PAGED:
        return body, None
    items = body["items"]
    while len(items) < body["total"]:
        page = stack.client.get(path, params={**params, "limit": PAGE, "offset": len(items)}, headers=headers)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
    return items, body["total"]


PAGED = {"/v1/orders", "/v1/shipments", "/v1/transfers", "/v1/stock", "/v1/prices/history"}


@dataclass
class Listing:
    """How one list endpoint is checked: the key and value of an answered item; every object the endpoint could
    list, from the mirror, and whether `me` may see each; filters (query params, and which of the objects `me`
    may see stay under them); and queries whose answer need only lie within what `me` may see."""

    path: str
    key: Callable[[dict], Any]
    value: Callable[[dict], Any]
    universe: Callable[[Ledger], dict[Any, Any]]  # every object the endpoint could list, with its value
    visible: Callable[[Standpoint, Ledger, Any], bool]
    filters: Callable[[Ledger], Iterable[tuple[dict, Callable[[Ledger, Any], bool]]]] = lambda ledger: ()
    subsets: Iterable[dict] = ()  # queries whose answer need only lie within what `me` may see


def _order_filters(ledger: Ledger):
    for distributor in sorted({d for d, _ in ledger.orders.values()}):
        yield {"distributor": distributor}, lambda lg, k, d=distributor: lg.orders[k][0] == d
    for region in sorted({r for _, r in ledger.orders.values()}):
        yield {"region": region}, lambda lg, k, r=region: lg.orders[k][1] == r


def _shipment_filters(ledger: Ledger):
    for site in sorted(ledger.locations):
        yield {"from_location": site}, lambda lg, k, s=site: lg.shipments[k][0] == s
        yield {"to_location": site}, lambda lg, k, s=site: lg.shipments[k][1] == s
    for carrier in sorted({c for _, _, c in ledger.shipments.values()}):
        yield {"carrier": carrier}, lambda lg, k, c=carrier: lg.shipments[k][2] == c


def _stock_filters(ledger: Ledger):
    for site in sorted(ledger.locations):
        yield {"location": site}, lambda lg, k, s=site: k[0] == s
    for region in sorted(set(NETWORK.region_of_place.values())):
        yield {"region": region}, lambda lg, k, r=region: NETWORK.region_of_place[k[0]] == r


def summary(stock: Mapping[tuple[int, int], tuple[int, int]], sku_of_lot: Mapping[int, int]) -> dict:
    """Stock added up by (group, key) for each grouping: (on hand, in transit)."""
    totals: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for (site, lot), (on_hand, in_transit) in stock.items():
        for group, key in (("location", site), ("region", NETWORK.region_of_place[site]), ("sku", sku_of_lot[lot])):
            totals[group, key][0] += on_hand
            totals[group, key][1] += in_transit
    return {key: tuple(value) for key, value in totals.items()}


def _tier_filters(ledger: Ledger, tier_of: Callable[[Ledger, Any], int]):
    for tier in sorted({t for _, t in ledger.prices}):
        yield {"tier": tier}, lambda lg, k, t=tier: tier_of(lg, k) == t


LISTINGS = {
    "orders": Listing(
        "/v1/orders", key=lambda item: item["id"], value=lambda item: (item["distributor"], item["region"]),
        universe=lambda lg: dict(lg.orders), visible=lambda me, lg, k: me.sees_order(*lg.orders[k]),
        filters=_order_filters, subsets=({"pending_for_me": "true"},)),
    "shipments": Listing(
        "/v1/shipments", key=lambda item: item["id"],
        value=lambda item: (item["from_location"], item["to_location"], item["carrier"]),
        universe=lambda lg: dict(lg.shipments), visible=lambda me, lg, k: me.sees_movement(*lg.shipments[k]),
        filters=_shipment_filters),
    "transfers": Listing(
        "/v1/transfers", key=lambda item: item["id"], value=lambda item: (item["from_location"], item["to_location"]),
        universe=lambda lg: dict(lg.transfers), visible=lambda me, lg, k: me.sees_movement(*lg.transfers[k])),
    "stock": Listing(
        "/v1/stock", key=lambda item: (item["location"], int(item["lot"])),
        value=lambda item: (item["on_hand"], item["in_transit"]),
        universe=lambda lg: dict(lg.stock), visible=lambda me, lg, k: me.sees_stock_at(k[0]), filters=_stock_filters),
    "prices": Listing(
        "/v1/prices", key=lambda item: (item["sku"], item["tier"]), value=lambda item: item["price"],
        universe=lambda lg: dict(lg.prices), visible=lambda me, lg, k: me.sees_tier(k[1]),
        filters=lambda lg: _tier_filters(lg, lambda _, k: k[1])),
    "prices/history": Listing(
        "/v1/prices/history", key=lambda item: (item["block_number"], item["log_index"]),
        value=lambda item: item["tier"], universe=lambda lg: dict(lg.price_changes),
        visible=lambda me, lg, k: me.sees_tier(lg.price_changes[k]),
        filters=lambda lg: _tier_filters(lg, lambda lg_, k: lg_.price_changes[k])),
    "organisations": Listing(
        "/v1/organisations", key=lambda item: item["id"], value=lambda item: int(OrgKind[item["kind"]]),
        universe=lambda lg: dict(lg.organisations),
        visible=lambda me, lg, k: me.sees_organisation(k, lg.organisations[k]),
        filters=lambda lg: (({"kind": kind.name}, lambda lg_, k, kind=kind: lg_.organisations[k] == kind)
                            for kind in OrgKind)),
    "locations": Listing(
        "/v1/locations", key=lambda item: item["id"], value=lambda item: item["org"],
        universe=lambda lg: dict(lg.locations),
        visible=lambda me, lg, k: me.sees_location(k, lg.locations[k], lg.organisations[lg.locations[k]]),
        filters=lambda lg: (({"org": org}, lambda lg_, k, org=org: lg_.locations[k] == org)
                            for org in sorted(lg.organisations))),
    "accounts": Listing(
        "/v1/accounts", key=lambda item: item["address"].lower(), value=lambda item: item["org"],
        universe=lambda lg: dict(lg.accounts), visible=lambda me, lg, k: me.sees_member(lg.accounts[k])),
}


@pytest.mark.parametrize("label", CALLERS)
@pytest.mark.parametrize("endpoint", sorted(LISTINGS))
def test_a_list_holds_exactly_what_the_member_may_see_under_every_filter(stack, ledger, endpoint, label):
    listing, me, headers = LISTINGS[endpoint], standpoint(stack.network, label), stack.sign_in(label)
    pairs = Pairs(stack, f"GET {listing.path}", label)
    universe = listing.universe(ledger)
    expected = {k: v for k, v in universe.items() if listing.visible(me, ledger, k)}

    items, total = listed(stack, headers, listing.path)
    got = {listing.key(item): listing.value(item) for item in items}
    for key in universe:
        pairs.check(key, key in expected, key in got)
    for key in set(got) - set(universe):
        pairs.leak(f"{key}, which the mirror does not hold")
    pairs.expect(len(got) == len(items), "an item listed twice")
    pairs.expect(total in (None, len(expected)), f"total {total}, expected {len(expected)}")
    pairs.expect({k: got[k] for k in expected if k in got} == {k: expected[k] for k in expected if k in got},
                 "items differ from the mirror")

    for params, keeps in listing.filters(ledger):
        items, total = listed(stack, headers, listing.path, params)
        got = {listing.key(item) for item in items}
        narrowed = {k for k in expected if keeps(ledger, k)}
        for key in got - narrowed:
            if key in expected:
                pairs.expect(False, f"{key} listed under {params}, which leaves it out")
            else:
                pairs.leak(f"{key} under {params}")
        pairs.expect(got >= narrowed and total in (None, len(narrowed)), f"{params}: {len(got)} of {len(narrowed)}")
    for params in listing.subsets:
        items, _ = listed(stack, headers, listing.path, params)
        for key in {listing.key(item) for item in items} - set(expected):
            pairs.leak(f"{key} under {params}")
    pairs.finish()


@pytest.mark.parametrize("label", CALLERS)
def test_stock_summaries_add_up_only_the_stock_the_member_may_see(stack, ledger, label):
    me, headers = standpoint(stack.network, label), stack.sign_in(label)
    pairs = Pairs(stack, "GET /v1/stock/summary", label)
    expected = summary({k: v for k, v in ledger.stock.items() if me.sees_stock_at(k[0])}, ledger.sku_of_lot)
    got = {}
    for group in ("location", "region", "sku"):
        rows, _ = listed(stack, headers, "/v1/stock/summary", {"group_by": group})
        got.update({(group, r["key"]): (r["on_hand"], r["in_transit"]) for r in rows})
    for key in summary(ledger.stock, ledger.sku_of_lot):
        pairs.check(key, key in expected, key in got)
        if key in expected and key in got:
            pairs.expect(got[key] == expected[key], f"{key}: {got[key]}, expected {expected[key]}")
    pairs.finish()


@pytest.mark.parametrize("label", CALLERS)
def test_cycle_times_count_only_the_orders_the_member_may_see(stack, ledger, label):
    me, headers = standpoint(stack.network, label), stack.sign_in(label)
    pairs = Pairs(stack, "GET /v1/analytics/cycle-times", label)
    mine = [k for k in ledger.orders if me.sees_order(*ledger.orders[k])]

    def counts(order_ids: list[int]) -> dict[Any, tuple[int, int, int]]:
        """Per region and for "all": orders, those approved and those delivered."""
        groups: dict[Any, list[int]] = defaultdict(list)
        for k in order_ids:
            groups[ledger.orders[k][1]].append(k)
        groups["all"] = order_ids
        times = ledger.order_rows
        return {region: (len(ids), sum(times[k]["approved_at"] is not None for k in ids),
                         sum(times[k]["delivered_at"] is not None for k in ids)) for region, ids in groups.items()}

    def answered(params: dict) -> dict[Any, tuple[int, int, int]]:
        answer = stack.client.get("/v1/analytics/cycle-times", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        groups = {g["region"]: g for g in body["regions"]} | {"all": body["all"]}
        return {region: (g["orders"], g["submit_to_approved"]["count"], g["submit_to_delivered"]["count"])
                for region, g in groups.items()}

    expected, got = counts(mine), answered({})
    regions = sorted({region for _, region in ledger.orders.values()})
    for region in regions:
        pairs.check(f"region {region}", region in expected, region in got)
    pairs.expect(got == expected, f"{got} != {expected}")
    for region in regions:
        narrowed = [k for k in mine if ledger.orders[k][1] == region]
        pairs.expect(answered({"region": region}) == counts(narrowed), f"region={region}")
    pairs.finish()


# ---------------------------------------------------------------------------------------------- writes


@dataclass(frozen=True)
class Write:
    path: str
    body: dict | None
    target: tuple[str, Any] | None  # the object it names, as (endpoint, id), when the API looks it up first
    reread: str  # what head office reads to see that nothing changed


def write(ledger: Ledger, name: str) -> Write:
    order, shipment, transfer = (ledger.added[k] for k in ("order", "shipment", "transfer"))
    stage = {"stage": "region_manager"}
    gtin = str(gtin14("1699999000001"))
    return {
        "approve order": Write(f"/v1/orders/{order}/approve", stage, ("orders", order), f"/v1/orders/{order}"),
        "reject order": Write(f"/v1/orders/{order}/reject", {**stage, "reason_code": 101}, ("orders", order),
                              f"/v1/orders/{order}"),
        "cancel order": Write(f"/v1/orders/{order}/cancel", {"reason_code": 401}, ("orders", order),
                              f"/v1/orders/{order}"),
        "checkpoint shipment": Write(f"/v1/shipments/{shipment}/checkpoints", {"status": 2, "place": "Matrix hub"},
                                     ("shipments", shipment), f"/v1/shipments/{shipment}"),
        "receipt shipment": Write(f"/v1/shipments/{shipment}/receipt",
                                  {"lines": [{"lot": ledger.added["shipment_lot"], "received": 1}]},
                                  ("shipments", shipment), f"/v1/shipments/{shipment}"),
        "approve transfer": Write(f"/v1/transfers/{transfer}/approve", None, ("transfers", transfer),
                                  f"/v1/transfers/{transfer}"),
        "reject transfer": Write(f"/v1/transfers/{transfer}/reject", {"reason_code": 301}, ("transfers", transfer),
                                 f"/v1/transfers/{transfer}"),
        "deactivate account": Write(f"/v1/accounts/{NETWORK.members[TO_DEACTIVATE].address}/deactivate", None,
                                    None, "/v1/accounts"),
        "register sku": Write("/v1/skus", {"gtin": gtin, "bottles_per_case": 6, "name": "Matrix Sauce-aroma x6"},
                              None, "/v1/skus"),
        "set prices": Write("/v1/prices", {"changes": [{"sku": 1, "tier": 0, "price": ledger.prices[1, 0] + 100}]},
                            None, "/v1/prices"),
        "commission lot": Write("/v1/lots", {"sku": 1, "lot_number": "MATRIX1", "location": SOURCE_WAREHOUSE,
                                             "cases": 1, "bottles": NETWORK.products[0].bottles_per_case,
                                             "merkle_root": "0x" + "ab" * 32}, None, "/v1/lots?limit=500"),
    }[name]


REFUSED_WRITES = [(name, label) for name in MAY_WRITE for label in CALLERS if label not in MAY_WRITE[name]]


@pytest.mark.parametrize(("name", "label"), REFUSED_WRITES)
def test_a_write_by_a_member_who_may_not_make_it_is_refused_and_changes_nothing(stack, ledger, name, label):
    me, request = standpoint(stack.network, label), write(ledger, name)
    pairs = Pairs(stack, f"POST {name}", label)
    brand = stack.sign_in("brand.admin")
    before = stack.client.get(request.reread, headers=brand).json()
    head = stack.rpc.call("eth_blockNumber")

    answer = stack.client.post(request.path, json=request.body, headers=stack.sign_in(label))

    hidden = request.target is not None and not may_see(me, ledger, *request.target)
    pairs.check(request.path, allowed=False, answered=answer.status_code < 300)
    if me.kind is OrgKind.auditor:
        pairs.expect((answer.status_code, answer.json()["error"]) == (403, "ReadOnly"), answer.text)
    elif hidden:
        endpoint, key = request.target
        pairs.expect((answer.status_code, answer.json()) == (404, not_found(endpoint, key)), answer.text)
    else:
        pairs.expect(answer.status_code in (403, 409) and set(answer.json()) == {"error", "detail"}, answer.text)
    pairs.expect(stack.rpc.call("eth_blockNumber") == head, "a block was mined")
    pairs.expect(stack.client.get(request.reread, headers=brand).json() == before, "the object changed")
    pairs.finish()


# ---------------------------------------------------------------------------------------------- the tally


def test_the_matrix_checked_every_pair_and_found_no_leaks(stack, capsys):
    tally = TALLIES[engine(stack)]
    if not tally.pairs:
        pytest.skip("the matrix did not run in this session")
    total = sum(tally.pairs.values())
    with capsys.disabled():
        width = max(map(len, tally.pairs))
        print(f"\naccess matrix on {engine(stack)}, {len(CALLERS)} members:")
        for endpoint, count in sorted(tally.pairs.items()):
            print(f"  {endpoint:<{width}}  {count:6d} pairs")
        print(f"{total} pairs checked, {len(tally.leaks)} leaks")
    assert not tally.leaks, tally.leaks[:20]
    assert total > 0
