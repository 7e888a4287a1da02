"""A deterministic simulation of a baijiu distribution network and its ledger activity, as contract calls.

Given a seed and a `Scale`, `Activity` builds the network (the brand, regional centres, national
warehouses, distributors, terminal stores, carriers and an auditor; their locations with GS1 GLNs; member
accounts with keys derived from the seed; SKUs with GTIN-14s under the China prefixes 690-699; three
price tiers; credit limits) and then plays months of business as rounds of calls, each mined at one
simulated time (an hour apart by default):
lots commissioned at warehouses, orders with their approval stages (some urgent, some rejected, some
cancelled, some refused for want of credit), partial and full dispatch, carrier checkpoints, receipts with
occasional shortfalls and the discrepancies they open and their resolution, transfers between warehouses,
deliveries from distributors to their stores, store sales, price revisions (some beyond the alert
threshold), payments, write-offs and daily anchors of the consumer-scan and opened-bottle logs. It keeps
its own model of stock, orders, credit and the contracts' sequential counters, so every call is valid in
the order given and every id it names is the one the chain will assign. Each call lists the events it
will emit, so a run can be checked event type by event type. It stops at the end of the
round in which the planned events reach the target (or, given an end time, at the last round before it), with
some orders still under way, as on any real day. Subclasses shape a scenario through the hooks `_order_skus`,
`_place_order`, `_deliver_to_stores` and `_plan_sales`.
A lot's Merkle root is a real StandardMerkleTree, over the bottles of its first case only (a whole lot
would cost seconds per lot). Pure: no chain, no files, no clock; the same seed and scale give the same calls.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Collection, Iterator

from eth_keys import keys
from eth_utils import keccak

from ledger_api.merkle import StandardMerkleTree

# Mirrors of contracts/lib/LedgerTypes.sol and the contracts' enums.
REGION, WAREHOUSE, DISTRIBUTOR, STORE, CARRIER, AUDITOR = 2, 3, 4, 5, 6, 7
ADMIN, REGION_MANAGER, SALES_DIRECTOR, FINANCE, DISPATCHER, RECEIVER, STORE_STAFF, AUDITOR_ROLE, PURCHASER = (
    1, 2, 4, 8, 16, 32, 64, 128, 256)
STAGES = (1, 2, 4)  # regional manager, sales director, finance: their sequence order
SHIP_ORDER, SHIP_TRANSFER, SHIP_DELIVERY = 0, 1, 2
FOUND, RETURNED, WRITTEN_OFF = 2, 3, 4
DAMAGED = 1
CONSUMER_SCANS, OPENED_BOTTLES = 0, 1
# Orders' default approval policy (fen): regional manager alone below 100,000 yuan, the sales director too
# below 1,000,000 yuan, finance as well above.
POLICY = ((100_000_000, 7), (10_000_000, 3), (0, 1))
PRICE_ALERT_BPS = 1_000
PRICE_TIERS = (0, 1, 2)
TIER_DISCOUNT_BPS = (0, 300, 600)
MAX_PRICE_CHANGES_PER_CALL = 60
REASON_CREDIT = 201  # rejected at the last stage: the distributor's credit would be exceeded
HOUR, DAY = 3_600, 86_400
# Events an order brings about, counting its share of deliveries, sales and anchors; sets the order rate.
EVENTS_PER_ORDER = 26
MID_AUTUMN_2026 = 1_790_294_400  # 2026-09-25 00:00 UTC: orders peak in the fortnight before it
START_2026_06_01 = 1_780_272_000
BOTTLE_TYPES = ("string", "uint32")
BASE32 = "abcdefghijklmnopqrstuvwxyz234567"

REGION_NAMES = (
    "Shanghai", "Jiangsu", "Zhejiang", "Beijing", "Tianjin", "Hebei", "Shandong", "Henan", "Guangdong",
    "Sichuan", "Chongqing", "Guizhou", "Hubei", "Hunan", "Fujian", "Anhui", "Shaanxi", "Liaoning", "Jilin",
    "Heilongjiang", "Yunnan", "Guangxi", "Jiangxi", "Shanxi", "Inner Mongolia", "Xinjiang", "Gansu",
    "Ningxia", "Qinghai", "Hainan", "Shenzhen", "Xiamen",
)
WAREHOUSE_CITIES = ("Guiyang", "Shanghai", "Beijing", "Guangzhou", "Chengdu", "Wuhan", "Xi'an", "Shenyang")
TRADE_WORDS = ("Jinding", "Huaxia", "Fulu", "Changxing", "Hengtong", "Ruifeng", "Dahe", "Yuanxiang", "Shengshi",
               "Baofeng", "Longteng", "Xinghe", "Tianyuan", "Jiahe", "Minsheng", "Hongyun")
STORE_WORDS = ("Tobacco & Liquor", "Wine Shop", "Supermarket", "Convenience Store", "Banquet Hall", "Gift Shop")
PRODUCT_LINES = ("Feitian", "Zodiac", "Vintage 15", "Vintage 30", "Prince", "Welcome", "Heritage", "Festival Gift")
AROMAS = ("Sauce-aroma", "Strong-aroma", "Light-aroma")
CARRIER_NAMES = ("SF Express Cold Chain", "JD Logistics", "Deppon Freight", "ZTO Supply Chain", "Sinotrans",
                 "YTO Logistics")
HUBS = ("Guiyang hub", "Zunyi depot", "Changsha hub", "Wuhan hub", "Zhengzhou hub", "Nanjing hub", "Hangzhou hub",
        "Chengdu hub", "Xi'an hub", "Tianjin port", "Guangzhou hub", "Shenyang hub")


@dataclass(frozen=True)
class Scale:
    """How big the network is and how much activity to plan."""

    regions: int = 32
    warehouses: int = 8
    distributors_per_region: int = 5
    stores_per_distributor: int = 6
    skus: int = 60
    carriers: int = 4
    target_events: int = 200_000
    days: int = 120  # the span the order rate is set for
    start_time: int = START_2026_06_01
    round_seconds: int = HOUR  # simulated time per round (per block)
    # With an end time the run stops at the last round before it, whatever the events; without, at target_events.
    end_time: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.regions <= len(REGION_NAMES):
            raise ValueError(f"regions must be 1-{len(REGION_NAMES)}, not {self.regions}")
        if not 1 <= self.warehouses <= len(WAREHOUSE_CITIES):
            raise ValueError(f"warehouses must be 1-{len(WAREHOUSE_CITIES)}, not {self.warehouses}")
        if not 1 <= self.carriers <= len(CARRIER_NAMES):
            raise ValueError(f"carriers must be 1-{len(CARRIER_NAMES)}, not {self.carriers}")
        if min(self.distributors_per_region, self.stores_per_distributor, self.skus, self.days) < 1:
            raise ValueError("distributors, stores, SKUs and days must each be at least 1")
        if self.round_seconds < 60:
            raise ValueError("a round must span at least a minute")
        if self.end_time is not None and self.end_time <= self.start_time + self.round_seconds:
            raise ValueError("the end time must come after the start time and the first round")


@dataclass(frozen=True)
class Call:
    """One contract call, and the events (by name) it will emit."""

    sender: str
    contract: str
    function: str
    args: tuple
    events: tuple[str, ...]


@dataclass(frozen=True)
class Round:
    """The calls of one block, mined at `timestamp`."""

    timestamp: int
    calls: tuple[Call, ...]


@dataclass(frozen=True)
class Organisation:
    id: int
    kind: int
    parent: int
    tier: int
    name: str
    code: str


@dataclass(frozen=True)
class Place:
    """A location: where stock lies."""

    id: int
    org: int
    region: int
    kind: int
    name: str
    gln: str


@dataclass(frozen=True)
class Member:
    """An account of the network: its label (the sender name in calls), key, organisation and roles."""

    label: str
    key: bytes
    address: str
    org: int
    roles: int
    name: str


@dataclass(frozen=True)
class Product:
    id: int
    gtin: int
    bottles_per_case: int
    name: str
    content_cid: str
    list_price: int  # fen per case, tier 0


@dataclass
class Network:
    brand_name: str
    admin: str  # label of the brand admin, who deploys the ledger
    organisations: list[Organisation]
    places: list[Place]
    members: dict[str, Member]
    products: list[Product]
    credit_limits: dict[int, int]  # distributor org -> fen
    region_of_place: dict[int, int] = field(default_factory=dict)
    home_warehouse: dict[int, int] = field(default_factory=dict)  # region org -> warehouse location
    warehouse_places: list[int] = field(default_factory=list)
    distributor_places: list[int] = field(default_factory=list)
    stores_of_distributor: dict[int, list[int]] = field(default_factory=dict)  # distributor loc -> store locs
    sender_at: dict[int, str] = field(default_factory=dict)  # location -> label of the member acting there
    region_manager: dict[int, str] = field(default_factory=dict)  # region org -> label
    carrier_orgs: list[int] = field(default_factory=list)
    carrier_sender: dict[int, str] = field(default_factory=dict)

    @property
    def keys(self) -> dict[str, bytes]:
        return {label: m.key for label, m in self.members.items()}


# ---------------------------------------------------------------------------------------------- identifiers


def gs1_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit of `body` (weights 3, 1, 3, ... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gtin14(body13: str) -> int:
    return int(body13 + str(gs1_check_digit(body13)))


def gln(body12: str) -> str:
    return body12 + str(gs1_check_digit(body12))


def member_key(seed: int, label: str) -> bytes:
    """A member's private key, derived from the seed so that a run can be repeated (never for real keys)."""
    return keccak(text=f"baijiu-ledger activity key/{seed}/{label}")


def lot_number_bytes(text: str) -> bytes:
    return text.encode().ljust(20, b"\0")


def lot_id(sku: int, text: str) -> int:
    return (sku << 160) | int.from_bytes(lot_number_bytes(text), "big")


def sku_of(lot: int) -> int:
    return lot >> 160


def required_stages(amount: int) -> int:
    return next(stages for minimum, stages in POLICY if amount >= minimum)


def is_price_alert(old: int, new: int) -> bool:
    """Catalog.setPrices' rule: a change of more than the threshold, compared unrounded."""
    return old != 0 and abs(new - old) * 10_000 > PRICE_ALERT_BPS * old


# ---------------------------------------------------------------------------------------------- the network


def build_network(seed: int, scale: Scale, brand_name: str = "Guizhou Baijiu Co.") -> Network:
    """The organisations, locations, members, SKUs and credit limits, with the ids the contracts will give."""
    rng = random.Random(f"network/{seed}")
    orgs: list[Organisation] = []
    places: list[Place] = []
    members: dict[str, Member] = {}
    net = Network(brand_name, "brand.admin", orgs, places, members, [], {})
    company = rng.randrange(1000, 9999)

    def org(kind: int, parent: int, name: str, code: str, tier: int = 0) -> int:
        orgs.append(Organisation(len(orgs) + 2, kind, parent, tier, name, code))  # the brand is organisation 1
        return orgs[-1].id

    def place(org_id: int, region: int, kind: int, name: str, prefix: str) -> int:
        places.append(Place(len(places) + 1, org_id, region, kind, name, gln(prefix + f"{len(places) + 1:05d}")))
        net.region_of_place[places[-1].id] = region
        return places[-1].id

    def member(label: str, org_id: int, roles: int, name: str) -> str:
        key = member_key(seed, label)
        address = keys.PrivateKey(key).public_key.to_checksum_address()
        members[label] = Member(label, key, address, org_id, roles, name)
        return label

    member("brand.admin", 1, ADMIN, "brand admin")
    member("brand.sales_director", 1, SALES_DIRECTOR, "sales director")
    member("brand.finance", 1, FINANCE, "finance")
    member("brand.dispatcher", 1, DISPATCHER, "production dispatcher")

    brand_prefix = f"69{rng.randrange(0, 10)}{company}"  # 7-digit GS1 company prefix under China's 690-699
    region_orgs = []
    for i in range(scale.regions):
        name = REGION_NAMES[i]
        r = org(REGION, 1, f"{name} Regional Marketing Centre", f"RC-{name.upper().replace(' ', '')}")
        region_orgs.append(r)
        place(r, r, REGION, f"{name} regional centre", brand_prefix)
        net.region_manager[r] = member(f"region.{i + 1}.manager", r, REGION_MANAGER, f"{name} regional manager")
    for i in range(scale.warehouses):
        city = WAREHOUSE_CITIES[i]
        w = org(WAREHOUSE, 1, f"{city} National Warehouse", f"WH-{city.upper().replace(chr(39), '')}")
        loc = place(w, 0, WAREHOUSE, f"{city} national warehouse", brand_prefix)
        net.warehouse_places.append(loc)
        net.sender_at[loc] = member(f"warehouse.{i + 1}.staff", w, DISPATCHER | RECEIVER, f"{city} warehouse staff")
    for i, r in enumerate(region_orgs):
        net.home_warehouse[r] = net.warehouse_places[i % scale.warehouses]
    for i, r in enumerate(region_orgs):
        region_name = REGION_NAMES[i]
        for j in range(scale.distributors_per_region):
            n = i * scale.distributors_per_region + j + 1
            trade = f"{region_name} {rng.choice(TRADE_WORDS)} Liquor Trading Co."
            d = org(DISTRIBUTOR, r, trade, f"D-{n:04d}", tier=rng.choice((0, 0, 0, 1, 1, 2)))
            prefix = f"69{rng.randrange(0, 10)}{rng.randrange(1000, 9999)}"
            dloc = place(d, r, DISTRIBUTOR, f"{trade} warehouse", prefix)
            net.distributor_places.append(dloc)
            net.sender_at[dloc] = member(f"distributor.{n}.purchaser", d, PURCHASER | DISPATCHER | RECEIVER,
                                         "purchasing and logistics")
            net.credit_limits[d] = rng.choice((10, 15, 20, 30, 50, 80)) * 1_000_000 * 100  # millions of yuan in fen
            net.stores_of_distributor[dloc] = []
            for k in range(scale.stores_per_distributor):
                s_n = (n - 1) * scale.stores_per_distributor + k + 1
                s_name = f"{region_name} {rng.choice(TRADE_WORDS)} {rng.choice(STORE_WORDS)} #{s_n}"
                s = org(STORE, r, s_name, f"S-{s_n:05d}")
                sloc = place(s, r, STORE, s_name, f"69{rng.randrange(0, 10)}{rng.randrange(1000, 9999)}")
                net.stores_of_distributor[dloc].append(sloc)
                net.sender_at[sloc] = member(f"store.{s_n}.staff", s, STORE_STAFF | RECEIVER, "store staff")
    for i in range(scale.carriers):
        c = org(CARRIER, 0, CARRIER_NAMES[i], f"CARRIER-{i + 1}")
        net.carrier_orgs.append(c)
        net.carrier_sender[c] = member(f"carrier.{i + 1}.dispatcher", c, DISPATCHER, "dispatch desk")
    a = org(AUDITOR, 0, "Huaxin Audit Partners", "AUDITOR-1")
    member("auditor.1", a, AUDITOR_ROLE, "auditor")

    for i in range(scale.skus):
        line = PRODUCT_LINES[i % len(PRODUCT_LINES)]
        aroma = AROMAS[(i // len(PRODUCT_LINES)) % len(AROMAS)]
        per_case = rng.choice((6, 6, 12))
        volume = rng.choice((500, 500, 375, 1000))
        abv = rng.choice((53, 52, 43, 38))
        bottle_yuan = rng.choice((260, 399, 599, 899, 1299, 1499, 2699, 3999))
        net.products.append(Product(
            id=i + 1,
            gtin=gtin14(f"{1 if per_case == 12 else 0}{brand_prefix}{i + 1:05d}"),
            bottles_per_case=per_case,
            name=f"{line} {aroma} {abv}% vol {volume} ml x{per_case}",
            content_cid=_cid(rng),
            list_price=bottle_yuan * per_case * 100,
        ))
    return net


def _cid(rng: random.Random) -> str:
    """A CIDv1 (raw, base32) shaped name for off-chain content; the content itself is not produced here."""
    return "bafkrei" + "".join(rng.choice(BASE32) for _ in range(52))


# ---------------------------------------------------------------------------------------------- the model


@dataclass
class _Order:
    id: int
    distributor: int
    deliver_to: int
    urgent: bool
    required: int
    amount: int
    lines: dict[int, int]  # sku -> cases ordered
    dispatched: dict[int, int]
    state: str = "submitted"
    approved: int = 0
    in_transit: int = 0
    reject_at: int = 0  # the stage that will reject it, or 0
    split: bool = False


@dataclass
class _Shipment:
    id: int
    kind: int
    ref: int
    source: int
    dest: int
    carrier: int
    lots: list[int]
    cases: list[int]
    dispatched_at: int = 0
    eta: int = 0
    received_at: int | None = None

    @property
    def received(self) -> bool:
        return self.received_at is not None


class Activity:
    """The network and its activity for one seed and scale; `rounds()` yields the calls block by block."""

    def __init__(self, seed: int, scale: Scale = Scale(), bottle_codes: bool | Collection[int] = False) -> None:
        """`bottle_codes`: issue every lot (True), or the lots of the SKUs given, real bottle codes (kept in
        `lot_codes` by lot id, for the brand's registry) and commit the lot to their Merkle root; any other lot's
        root covers its first case only."""
        self.seed = seed
        self.scale = scale
        self.network = build_network(seed, scale)
        self.rng = random.Random(f"activity/{seed}")
        self.planned: Counter = Counter()  # events by name, over every call yielded so far
        self.calls_planned = 0
        # The contracts' sequential counters, as the chain will have them.
        self.counters: Counter = Counter()
        self.stock: dict[int, dict[int, int]] = {}  # location -> lot -> cases free to ship
        self.prices: dict[tuple[int, int], int] = {}
        self.credit = {d: [limit, 0] for d, limit in self.network.credit_limits.items()}
        self.orders: dict[int, _Order] = {}
        self.shipments: dict[int, _Shipment] = {}
        self.transfers: dict[int, tuple] = {}
        self.discrepancies: dict[int, tuple] = {}
        self.anchored_until = {CONSUMER_SCANS: 0, OPENED_BOTTLES: 0}
        self.bottles_sold_today = 0
        self._queue: list[tuple[int, int, Callable, tuple]] = []
        self._seq = 0
        self._calls: list[Call] = []
        self._now = scale.start_time
        self._lot_seq = 0
        self.lot_codes: dict | None = {} if bottle_codes else None
        self._coded_skus = None if isinstance(bottle_codes, bool) else frozenset(bottle_codes)
        # Serials come from a generator of their own, so issuing codes leaves the activity itself unchanged.
        self._codes_rng = random.Random(f"codes/{seed}")
        self.distributor_of = {p.id: p.org for p in self.network.places if p.kind == DISTRIBUTOR}
        self.tier_of = {o.id: o.tier for o in self.network.organisations}
        self.place = {p.id: p for p in self.network.places}
        orders_per_day = scale.target_events / (scale.days * EVENTS_PER_ORDER)
        self.orders_per_round = orders_per_day * scale.round_seconds / DAY

    # -- the stream

    def rounds(self) -> Iterator[Round]:
        """Onboarding first, then business rounds until the planned events reach the scale's target."""
        yield from self._onboarding()
        self._schedule(0, self._daily)
        self._schedule(0, self._price_revision)
        t = self.scale.start_time
        while self._continues(t + self.scale.round_seconds):
            t += self.scale.round_seconds
            self._now = t
            self._new_orders()
            while self._queue and self._queue[0][0] <= t:
                _, _, action, args = heapq.heappop(self._queue)
                action(*args)
            yield self._flush(t)

    def _continues(self, next_round: int) -> bool:
        if self.scale.end_time is not None:
            return next_round < self.scale.end_time
        return sum(self.planned.values()) < self.scale.target_events

    def _flush(self, timestamp: int) -> Round:
        calls, self._calls = tuple(self._calls), []
        return Round(timestamp, calls)

    def _call(self, sender: str, contract: str, function: str, args: tuple, *events: str) -> None:
        self._calls.append(Call(sender, contract, function, args, events))
        self.planned.update(events)
        self.calls_planned += 1

    def _schedule(self, delay: float, action: Callable, *args: Any) -> None:
        """Runs `action(*args)` in the first round at least `delay` seconds from now."""
        self._seq += 1
        heapq.heappush(self._queue, (self._now + int(delay), self._seq, action, args))

    def _hours(self, low: float, high: float) -> float:
        return self.rng.uniform(low, high) * HOUR

    # -- onboarding

    def _onboarding(self) -> Iterator[Round]:
        net, admin = self.network, self.network.admin
        for o in net.organisations:
            self._call(admin, "Membership", "registerOrganisation", (o.kind, o.parent, o.tier, o.name, o.code),
                       "OrganisationRegistered")
        for p in net.places:
            self._call(admin, "Membership", "registerLocation", (p.org, p.name, p.gln), "LocationRegistered")
        for m in net.members.values():
            if m.label != admin:
                self._call(admin, "Membership", "setAccount", (m.address, m.org, m.roles, m.name), "AccountSet")
        for s in net.products:
            self._call(admin, "Catalog", "registerSku", (s.gtin, s.bottles_per_case, s.name, s.content_cid),
                       "SkuRegistered")
        self.counters.update(organisations=len(net.organisations) + 1, locations=len(net.places),
                             skus=len(net.products))
        yield self._flush(self.scale.start_time - 2 * HOUR)
        changes = []
        for s in net.products:
            for tier in PRICE_TIERS:
                changes.append((s.id, tier, s.list_price * (10_000 - TIER_DISCOUNT_BPS[tier]) // 10_000))
        self._set_prices(changes)
        for d, limit in net.credit_limits.items():
            self._call("brand.finance", "Orders", "setCreditLimit", (d, limit), "CreditLimitSet")
        yield self._flush(self.scale.start_time - HOUR)

    def _set_prices(self, changes: list[tuple[int, int, int]]) -> None:
        for start in range(0, len(changes), MAX_PRICE_CHANGES_PER_CALL):
            chunk = changes[start:start + MAX_PRICE_CHANGES_PER_CALL]
            events = []
            for sku, tier, price in chunk:
                old = self.prices.get((sku, tier), 0)
                events.append("PriceSet")
                if is_price_alert(old, price):
                    events.append("PriceAlert")
                self.prices[(sku, tier)] = price
            self._call("brand.sales_director", "Catalog", "setPrices", (chunk,), *events)

    # -- recurring business

    def _season(self) -> float:
        """Order volume relative to normal: up to three times as much in the fortnight before Mid-Autumn."""
        weeks = (self._now - (MID_AUTUMN_2026 - 12 * DAY)) / (7 * DAY)
        return 1.0 + 2.0 * math.exp(-weeks * weeks)

    def _new_orders(self) -> None:
        expected = self.orders_per_round * self._season()
        count = int(expected) + (self.rng.random() < expected - int(expected))
        for _ in range(count):
            self._submit_order(self.rng.choice(self.network.distributor_places))

    def _daily(self) -> None:
        self._anchor_day()
        self._production()
        self._rebalance()
        if self.rng.random() < 0.3:
            self._write_off()
        self._schedule(DAY, self._daily)

    def _price_revision(self) -> None:
        """A revision of a third to two thirds of the list, where one SKU in ten (at least one) moves 12-20%
        and raises an alert."""
        products = self.network.products
        alerting = {p.id for p in self.rng.sample(products, max(1, len(products) // 10))}
        share = self.rng.uniform(0.33, 0.66)
        changes = []
        for s in products:
            if s.id in alerting:
                bps = self.rng.randint(1_200, 2_000) * self.rng.choice((1, -1))
            elif self.rng.random() < share:
                bps = self.rng.randint(-500, 800)
            else:
                continue
            for tier in PRICE_TIERS:
                old = self.prices[(s.id, tier)]
                changes.append((s.id, tier, max(100, (old * (10_000 + bps) // 10_000) // 100 * 100)))
        self._set_prices(changes)
        self._schedule(14 * DAY, self._price_revision)

    def _anchor_day(self) -> None:
        """Anchors yesterday's consumer-scan and opened-bottle logs (nothing to anchor on the first day)."""
        day_end = self._now - self._now % DAY
        day_start = day_end - DAY
        if day_start < self.scale.start_time - DAY:
            return
        scans = self.bottles_sold_today * self.rng.randint(2, 4) + self.rng.randint(50, 500)
        opened = self.bottles_sold_today // self.rng.randint(3, 8)
        for kind, entries in ((CONSUMER_SCANS, scans), (OPENED_BOTTLES, opened)):
            start = max(day_start, self.anchored_until[kind])
            root = self.rng.getrandbits(256).to_bytes(32, "big")
            self._call(self.network.admin, "Anchors", "anchor", (kind, root, start, day_end, entries, _cid(self.rng)),
                       "Anchored")
            self.anchored_until[kind] = day_end
            self.counters["anchors"] += 1
        self.bottles_sold_today = 0

    def _production(self) -> None:
        """The distillery's daily output: a few lots to the warehouses lowest on each chosen SKU."""
        for _ in range(max(1, self.scale.warehouses // 2)):
            sku = self.rng.choice(self.network.products).id
            warehouse = min(self.network.warehouse_places, key=lambda w: (self._on_hand(w, sku), w))
            if self._on_hand(warehouse, sku) < 400:
                self._commission(warehouse, sku, self.rng.randint(200, 600))

    def _rebalance(self) -> None:
        """Moves stock of one SKU from the warehouse holding most of it to the one holding least (调拨)."""
        if len(self.network.warehouse_places) < 2:
            return
        sku = self.rng.choice(self.network.products).id
        ranked = sorted(self.network.warehouse_places, key=lambda w: (self._on_hand(w, sku), w))
        poor, rich = ranked[0], ranked[-1]
        if self._on_hand(rich, sku) < 300:
            return
        # A third of the stock, from at most its ten oldest lots, so the transfer stays within 50 lines.
        oldest = sorted(lot for lot, n in self.stock[rich].items() if n > 0 and sku_of(lot) == sku)[:10]
        lines = self._take(rich, sku, min(self._on_hand(rich, sku) // 3, sum(self.stock[rich][lot] for lot in oldest)))
        lots, cases = [lot for lot, _ in lines], [c for _, c in lines]
        requester = self.rng.choice((self.network.sender_at[poor], "brand.sales_director"))
        self.counters["transfers"] += 1
        tid = self.counters["transfers"]
        self.transfers[tid] = (rich, poor, lots, cases)
        self._call(requester, "Inventory", "requestTransfer", (rich, poor, lots, cases), "TransferRequested")
        self._schedule(self._hours(1, 8), self._decide_transfer, tid)

    def _decide_transfer(self, tid: int) -> None:
        source, dest, lots, cases = self.transfers[tid]
        if self.rng.random() < 0.1:
            self._call("brand.sales_director", "Inventory", "rejectTransfer", (tid, self.rng.randint(301, 305)),
                       "TransferRejected")
            for lot, n in zip(lots, cases):  # the reserved stock is free again
                self._add(source, lot, n)
            return
        self._call("brand.sales_director", "Inventory", "approveTransfer", (tid,), "TransferApproved")
        self._schedule(self._hours(2, 24), self._dispatch, SHIP_TRANSFER, tid, source, dest, list(zip(lots, cases)))

    def _write_off(self) -> None:
        warehouse = self.rng.choice(self.network.warehouse_places)
        held = [(lot, n) for lot, n in self.stock.get(warehouse, {}).items() if n > 0]
        if held:
            lot, n = self.rng.choice(held)
            cases = min(n, self.rng.randint(1, 2))
            self.stock[warehouse][lot] -= cases
            self._call(self.network.admin, "Inventory", "writeOff", (warehouse, lot, cases, DAMAGED),
                       "StockDecommissioned")

    # -- stock

    def _commission(self, warehouse: int, sku: int, cases: int) -> None:
        self._lot_seq += 1
        day = datetime.fromtimestamp(self._now, tz=timezone.utc).strftime("%y%m%d")
        number = f"B{day}{self._lot_seq:06d}"
        product = self.network.products[sku - 1]
        per_case = product.bottles_per_case
        if self.lot_codes is not None and (self._coded_skus is None or sku in self._coded_skus):
            from ledger_api.codes import LotCodes, new_serials  # codes uses this module's GS1 helpers

            codes = LotCodes.build(f"{product.gtin:014d}", number, per_case, cases,
                                   serials=new_serials(cases * per_case, randbytes=self._codes_rng.randbytes))
            self.lot_codes[lot_id(sku, number)] = codes
            root = codes.root
        else:
            first_case = [(f"{product.gtin}{number}{b:02d}", 1) for b in range(1, per_case + 1)]
            root = StandardMerkleTree.of(first_case, BOTTLE_TYPES).root
        self._call("brand.dispatcher", "Inventory", "commissionLot",
                   (sku, lot_number_bytes(number), warehouse, cases, cases * per_case, root, _cid(self.rng)),
                   "LotCommissioned")
        self._add(warehouse, lot_id(sku, number), cases)

    def _add(self, location: int, lot: int, cases: int) -> None:
        held = self.stock.setdefault(location, {})
        held[lot] = held.get(lot, 0) + cases

    def _on_hand(self, location: int, sku: int) -> int:
        return sum(n for lot, n in self.stock.get(location, {}).items() if sku_of(lot) == sku)

    def _take(self, location: int, sku: int, cases: int) -> list[tuple[int, int]]:
        """Takes `cases` of `sku` from `location`, oldest lots first; returns (lot, cases) lines."""
        lines = []
        held = self.stock.get(location, {})
        for lot in sorted(lot for lot, n in held.items() if n > 0 and sku_of(lot) == sku):
            if cases == 0:
                break
            n = min(cases, held[lot])
            held[lot] -= n
            cases -= n
            lines.append((lot, n))
        if cases:
            raise AssertionError(f"model: {cases} cases of SKU {sku} missing at location {location}")
        return lines

    # -- orders

    def _submit_order(self, deliver_to: int) -> None:
        count = self.rng.choices((1, 2, 3, 4, 5), weights=(30, 25, 20, 15, 10))[0]
        skus = self._order_skus(deliver_to, count)
        urgent = self.rng.random() < (0.25 if self._season() > 2 else 0.08)
        cases = [self.rng.choice((5, 10, 10, 20, 20, 30, 50, 80, 120)) for _ in skus]
        self._place_order(deliver_to, skus, cases, urgent)

    def _order_skus(self, deliver_to: int, count: int) -> list[int]:
        """The SKUs of a new order's lines, ascending."""
        return sorted(self.rng.sample(range(1, len(self.network.products) + 1), count))

    def _place_order(self, deliver_to: int, skus: list[int], cases: list[int], urgent: bool,
                     may_fail: bool = True) -> int:
        """Submits an order and plans its approvals; unless `may_fail` is False, a few orders are rejected at
        some stage or cancelled (a refusal for want of credit can happen either way). Returns its id."""
        distributor = self.distributor_of[deliver_to]
        tier = self.tier_of[distributor]
        amount = sum(self.prices[(s, tier)] * c for s, c in zip(skus, cases))
        self.counters["orders"] += 1
        order = _Order(self.counters["orders"], distributor, deliver_to, urgent, required_stages(amount), amount,
                       dict(zip(skus, cases)), dict.fromkeys(skus, 0))
        self.orders[order.id] = order
        self._call(self.network.sender_at[deliver_to], "Orders", "submitOrder", (deliver_to, urgent, skus, cases),
                   "OrderSubmitted")
        stages = [s for s in STAGES if order.required & s]
        if may_fail and self.rng.random() < 0.04:
            order.reject_at = self.rng.choice(stages)
        if may_fail and self.rng.random() < 0.03:
            self._schedule(self._hours(1, 30), self._cancel, order.id)
        if urgent:  # urgent orders are approved by every stage at once, in whatever order they get to it
            for stage in stages:
                self._schedule(self._hours(0.2, 3), self._approve, order.id, stage)
        else:
            self._schedule(self._hours(1, 8), self._approve, order.id, stages[0])
        return order.id

    def _approver(self, order: _Order, stage: int) -> str:
        if stage == 1:
            return self.network.region_manager[self.place[order.deliver_to].region]
        return "brand.sales_director" if stage == 2 else "brand.finance"

    def _approve(self, order_id: int, stage: int) -> None:
        order = self.orders[order_id]
        if order.state != "submitted":
            return
        sender = self._approver(order, stage)
        final = order.approved | stage == order.required
        credit = self.credit[order.distributor]
        if stage == order.reject_at or (final and credit[1] + order.amount > credit[0]):
            reason = REASON_CREDIT if stage != order.reject_at else self.rng.randint(101, 105)
            self._call(sender, "Orders", "rejectOrder", (order_id, stage, reason), "OrderRejected")
            order.state = "rejected"
            return
        order.approved |= stage
        if not final:
            self._call(sender, "Orders", "approveOrder", (order_id, stage), "OrderApproved")
            if not order.urgent:
                later = [s for s in STAGES if order.required & s and not order.approved & s]
                self._schedule(self._hours(1, 10), self._approve, order_id, later[0])
            return
        self._call(sender, "Orders", "approveOrder", (order_id, stage), "CreditReserved", "OrderApproved")
        credit[1] += order.amount
        order.state = "approved"
        order.split = self.rng.random() < 0.25
        self._schedule(self._hours(1, 4) if order.urgent else self._hours(4, 36), self._dispatch_order, order_id)

    def _cancel(self, order_id: int) -> None:
        order = self.orders[order_id]
        if order.state not in ("submitted", "approved"):
            return
        events = ("OrderCancelled",)
        if order.state == "approved":
            credit = self.credit[order.distributor]
            credit[1] -= min(order.amount, credit[1])
            events = ("CreditReleased", "OrderCancelled")
        order.state = "cancelled"
        self._call(self.network.sender_at[order.deliver_to], "Orders", "cancelOrder",
                   (order_id, self.rng.randint(401, 404)), *events)

    def _dispatch_order(self, order_id: int) -> None:
        """Ships what is left of the order (half of each line on a split order's first shipment) from the
        region's home warehouse, commissioning a lot there first when it is short."""
        order = self.orders[order_id]
        if order.state not in ("approved", "partial"):
            return
        first_of_split = order.split and order.state == "approved"
        warehouse = self.network.home_warehouse[self.place[order.deliver_to].region]
        lines = []
        for sku, ordered in order.lines.items():
            remaining = ordered - order.dispatched[sku]
            send = max(1, remaining // 2) if first_of_split else remaining
            if send == 0:
                continue
            short = send - self._on_hand(warehouse, sku)
            if short > 0:
                self._commission(warehouse, sku, max(short, self.rng.randint(200, 500)))
            lines += self._take(warehouse, sku, send)
            order.dispatched[sku] += send
        order.state = "dispatched" if order.dispatched == order.lines else "partial"
        order.in_transit += sum(n for _, n in lines)
        self._dispatch(SHIP_ORDER, order_id, warehouse, order.deliver_to, sorted(lines))
        if order.state == "partial":
            self._schedule(self._hours(24, 72), self._dispatch_order, order_id)

    # -- shipments

    def _dispatch(self, kind: int, ref: int, source: int, dest: int, lines: list[tuple[int, int]]) -> None:
        """Dispatches `lines` (already taken from the source's stock) and plans the journey and receipt."""
        carrier = self.rng.choice(self.network.carrier_orgs)
        days = self.rng.uniform(0.5, 2) if kind == SHIP_DELIVERY else self.rng.uniform(1, 5)
        eta = self._now + int(days * DAY)
        lots, cases = [lot for lot, _ in lines], [n for _, n in lines]
        self.counters["shipments"] += 1
        shipment = _Shipment(self.counters["shipments"], kind, ref, source, dest, carrier, lots, cases, self._now, eta)
        self.shipments[shipment.id] = shipment
        consignment = (kind, ref, source, dest, carrier, eta, _cid(self.rng))
        events = ("ShipmentDispatched", "OrderDispatched") if kind == SHIP_ORDER else ("ShipmentDispatched",)
        self._call(self.network.sender_at[source], "Inventory", "dispatch", (consignment, lots, cases), *events)
        stops = self.rng.randint(1, 3) if kind != SHIP_DELIVERY else self.rng.randint(0, 1)
        for k in range(stops):
            self._schedule(days * DAY * (k + 1) / (stops + 1), self._checkpoint, shipment.id, k + 1 if k < 2 else 3)
        # Most shipments arrive within the last hours before their ETA; one in twelve is held up and arrives
        # half a day to two days after it.
        delayed = self.rng.random() < 0.08
        if delayed:
            self._schedule(days * DAY * 0.9, self._checkpoint, shipment.id, 4)
        self._schedule(days * DAY + (self._hours(12, 48) if delayed else self._hours(-6, 0)), self._receive,
                       shipment.id)

    def _checkpoint(self, shipment_id: int, status: int) -> None:
        shipment = self.shipments[shipment_id]
        if shipment.received:
            return
        self._call(self.network.carrier_sender[shipment.carrier], "Inventory", "recordCheckpoint",
                   (shipment_id, status, self.rng.choice(HUBS)), "ShipmentCheckpoint")

    def _receive(self, shipment_id: int) -> None:
        s = self.shipments[shipment_id]
        received = list(s.cases)
        if self.rng.random() < (0.01 if s.kind == SHIP_DELIVERY else 0.05):
            i = self.rng.randrange(len(received))
            received[i] -= self.rng.randint(1, min(3, received[i]))
        events = ["ShipmentReceived"]
        for lot, shipped, got in zip(s.lots, s.cases, received):
            if got:
                self._add(s.dest, lot, got)
            if got < shipped:
                self.counters["discrepancies"] += 1
                did = self.counters["discrepancies"]
                self.discrepancies[did] = (lot, s.source, s.dest, shipped - got)
                events.append("DiscrepancyOpened")
                self._schedule(self._hours(24, 120), self._resolve, did)
        s.received_at = self._now
        if s.kind == SHIP_ORDER:
            order = self.orders[s.ref]
            order.in_transit -= sum(s.cases)
            if order.state == "dispatched" and order.in_transit == 0:
                order.state = "delivered"
                events.append("OrderDelivered")
                self._schedule(self._hours(24 * 3, 24 * 20), self._pay, order.distributor, order.amount)
        manifest = (s.kind, s.ref, s.source, s.lots, s.cases)
        self._call(self.network.sender_at[s.dest], "Inventory", "confirmReceipt", (shipment_id, manifest, received),
                   *events)
        if s.kind == SHIP_ORDER:
            self._schedule(self._hours(12, 72), self._deliver_to_stores, s.dest)
        elif s.kind == SHIP_DELIVERY:
            for lot, got in zip(s.lots, received):
                self._plan_sales(s.dest, lot, got)

    def _resolve(self, discrepancy_id: int) -> None:
        lot, source, dest, cases = self.discrepancies[discrepancy_id]
        outcome = self.rng.choices((FOUND, RETURNED, WRITTEN_OFF), weights=(5, 2, 3))[0]
        if outcome == FOUND:
            self._add(dest, lot, cases)
        elif outcome == RETURNED:
            self._add(source, lot, cases)
        events = ("StockDecommissioned", "DiscrepancyResolved") if outcome == WRITTEN_OFF else ("DiscrepancyResolved",)
        self._call(self.network.admin, "Inventory", "resolveDiscrepancy", (discrepancy_id, outcome), *events)

    def _pay(self, distributor: int, amount: int) -> None:
        credit = self.credit[distributor]
        paid = min(amount, credit[1])
        if paid:
            credit[1] -= paid
            self._call("brand.finance", "Orders", "recordPayment", (distributor, paid), "PaymentRecorded")

    # -- distributors and stores

    def _deliver_to_stores(self, distributor_place: int) -> None:
        """A distributor ships part of what it holds to one or two of its stores."""
        held = self.stock.get(distributor_place, {})
        for store in self.rng.sample(self.network.stores_of_distributor[distributor_place],
                                     min(2, len(self.network.stores_of_distributor[distributor_place]))):
            available = sorted(lot for lot, n in held.items() if n > 0)
            if not available:
                return
            lines = []
            for lot in sorted(self.rng.sample(available, min(len(available), self.rng.randint(1, 3)))):
                n = min(held[lot], self.rng.randint(2, 10))
                held[lot] -= n
                lines.append((lot, n))
            self._dispatch(SHIP_DELIVERY, 0, distributor_place, store, lines)

    def _plan_sales(self, store: int, lot: int, cases: int) -> None:
        while cases > 0:
            n = min(cases, self.rng.randint(1, 6))
            cases -= n
            self._schedule(self._hours(2, 24 * 14), self._sell, store, lot, n)

    def _sell(self, store: int, lot: int, cases: int) -> None:
        held = self.stock[store]
        cases = min(cases, held.get(lot, 0))
        if cases == 0:
            return
        held[lot] -= cases
        self.bottles_sold_today += cases * self.network.products[sku_of(lot) - 1].bottles_per_case
        self._call(self.network.sender_at[store], "Inventory", "recordSale", (store, lot, cases), "StockDecommissioned")

