"""The demo network's story, as a deterministic scenario on top of the activity simulation: the situation the
brand's board exists to catch, shaped into months of ordinary business so that it can be played out through the
console afterwards.

East China (Zhejiang) runs short of the flagship SKU: in the last five weeks its distributors order it once more,
push every case of it on to their stores and sell it within days, so the channel holds almost none while it
still sells. North China (Beijing) holds a surplus of about 2,000 cases of it: its distributors took a large
order six weeks before the end, which their stores sell only slowly. Two days before the end Shanghai's
warehouse, nearest to East China, is topped up with it well beyond a 500-case order (Guiyang's and Beijing's
to less than that), so an urgent order of that size from the story's Zhejiang distributor, whose credit limit
leaves room for it, has a clear best source. East China runs short of two more SKUs the same way, and six hours
before the end a rack collapse at the Shanghai warehouse destroys its stock of them, while Beijing's warehouse
has taken a batch of both for the festival: the board suggests transfers of them to Shanghai from the
warehouses with spare stock (Beijing's on the small network). A small flagship lot fails its quality check and
is recalled. Regions are served by their nearest warehouse. Pure, like the activity: the
same seed and scale give the same calls. `check` reads the story's prerequisites off the
simulation's model (what the chain will hold), for the tests and the generator's summary.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Collection

from ledger_api import board, content
from ledger_api.activity import (DAY, DISTRIBUTOR, REGION, REGION_NAMES, SHIP_DELIVERY, SHIP_ORDER, STORE,
                                 WAREHOUSE_CITIES, Activity, Scale, gtin14, sku_of)

EAST, NORTH = "Zhejiang", "Beijing"
DISTILLERY, EAST_HUB, NORTH_HUB = "Guiyang", "Shanghai", "Beijing"
FLAGSHIP = 1  # the flagship SKU's id: the catalogue's first product
FLAGSHIP_NAME = "Feitian Sauce-aroma 53% vol 500 ml x6"
FLAGSHIP_BOTTLE_YUAN = 1_499
STORY_CREDIT_LIMIT = 50_000_000 * 100  # fen: the story's distributors can take their large orders
URGENT_CASES = 500
NORTH_SURPLUS_CASES = 2_300  # ordered six weeks before the end; about 2,000 are left
RECALL_REASON = 7
DELAYED = 4  # a carrier's checkpoint status: held up
DAMAGED = 1  # a write-off's reason
# The SKUs East China runs short of besides the flagship, which the Shanghai warehouse loses and Beijing's holds.
TRANSFER_SKUS = (3, 4)
NORTH_HUB_BATCH = 1_500  # cases of each of them commissioned at the Beijing warehouse two days before the end
# The warehouse each region is served from (by distance), where the scale has that warehouse.
NEAREST_WAREHOUSE = {
    "Shanghai": "Shanghai", "Jiangsu": "Shanghai", "Zhejiang": "Shanghai", "Anhui": "Shanghai", "Fujian": "Shanghai",
    "Beijing": "Beijing", "Tianjin": "Beijing", "Hebei": "Beijing", "Shandong": "Beijing", "Shanxi": "Beijing",
    "Inner Mongolia": "Beijing", "Henan": "Wuhan", "Hubei": "Wuhan", "Hunan": "Wuhan", "Jiangxi": "Wuhan",
    "Guangdong": "Guangzhou", "Guangxi": "Guangzhou", "Hainan": "Guangzhou", "Shenzhen": "Guangzhou",
    "Xiamen": "Guangzhou", "Sichuan": "Chengdu", "Chongqing": "Chengdu", "Yunnan": "Chengdu", "Guizhou": "Guiyang",
    "Shaanxi": "Xi'an", "Gansu": "Xi'an", "Ningxia": "Xi'an", "Qinghai": "Xi'an", "Xinjiang": "Xi'an",
    "Liaoning": "Shenyang", "Jilin": "Shenyang", "Heilongjiang": "Shenyang",
}
# Flagship stock each warehouse is topped up to two days before the end: Shanghai is the East's best source.
WAREHOUSE_FLAGSHIP = {EAST_HUB: 1_400, DISTILLERY: 400, NORTH_HUB: 300}

# The brand story the flagship's content names (a label image and a manifest, stored in the content store).
STORY_TEXT = {
    "title": {"zh": "飞天 53% vol 500 毫升", "en": "Feitian 53% vol 500 ml"},
    "text": {"zh": "赤水河畔，端午制曲，重阳下沙，九次蒸煮、八次发酵、七次取酒，贮存五年以上方才出厂。",
             "en": "Made on the Chishui river: starter made at the Dragon Boat Festival, grain laid down at Double "
                   "Ninth, nine steamings, eight fermentations, seven distillations, and five years in the cellar "
                   "before a bottle leaves the distillery."},
}
LABEL_SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 240 320" width="240" height="320">
<rect width="240" height="320" rx="16" fill="#7a0f14"/><rect x="20" y="20" width="200" height="280" rx="10"
fill="none" stroke="#e8c46a" stroke-width="4"/><text x="120" y="150" font-size="44" text-anchor="middle"
fill="#e8c46a" font-family="serif">\xe9\xa3\x9e\xe5\xa4\xa9</text><text x="120" y="200" font-size="18"
text-anchor="middle" fill="#f6e7c1" font-family="serif">53% vol \xc2\xb7 500 ml</text></svg>"""


def story_content() -> list[tuple[bytes, str]]:
    """The flagship's label and story manifest, as (bytes, content type); the manifest is last, and its CID is the
    SKU's content CID."""
    manifest = {**STORY_TEXT, "media": [{"kind": "image", "content_type": "image/svg+xml",
                                         "cid": content.cid_of(LABEL_SVG)}]}
    return [(LABEL_SVG, "image/svg+xml"), (json.dumps(manifest, ensure_ascii=False).encode(), "application/json")]


class StoryError(ValueError):
    """A scale too small for the story (it needs Zhejiang and Beijing, and the Guiyang, Shanghai and Beijing
    warehouses)."""


@dataclass(frozen=True)
class Cast:
    """The story's members (activity labels) and places (location ids)."""

    admin: str
    sales_director: str
    finance: str
    east_manager: str
    north_manager: str
    east_dispatcher: str  # the Shanghai warehouse's staff
    distributor: str
    store: str
    carrier: str
    auditor: str
    east_region: int  # organisation ids
    north_region: int
    distributor_place: int
    store_place: int
    east_warehouse: int
    warehouses: dict[str, int]  # city -> location


class StoryActivity(Activity):
    """The activity with the demo's story shaped into it (see the module's docstring)."""

    def __init__(self, seed: int, scale: Scale, bottle_codes: bool | Collection[int] = False) -> None:
        if scale.regions <= REGION_NAMES.index(NORTH) or scale.warehouses <= WAREHOUSE_CITIES.index(NORTH_HUB):
            raise StoryError(f"the story needs at least {REGION_NAMES.index(NORTH) + 1} regions and "
                             f"{WAREHOUSE_CITIES.index(NORTH_HUB) + 1} warehouses")
        end = scale.end_time
        if end is None or end - scale.start_time < 50 * DAY:
            raise StoryError("the story needs an end time at least 50 days after the start")
        super().__init__(seed, scale, bottle_codes)
        net = self.network
        warehouse_at = {WAREHOUSE_CITIES[i]: loc for i, loc in enumerate(net.warehouse_places)}
        region_org = {o.name.removesuffix(" Regional Marketing Centre"): o.id for o in net.organisations
                      if o.kind == REGION}
        for name, org in region_org.items():
            if NEAREST_WAREHOUSE[name] in warehouse_at:
                net.home_warehouse[org] = warehouse_at[NEAREST_WAREHOUSE[name]]
        flagship = net.products[FLAGSHIP - 1]
        # A case of six: the GTIN's indicator digit says so (0), the rest of it stays the brand's.
        net.products[FLAGSHIP - 1] = replace(flagship, gtin=gtin14("0" + f"{flagship.gtin:014d}"[1:13]),
                                             bottles_per_case=6, name=FLAGSHIP_NAME,
                                             content_cid=content.cid_of(story_content()[-1][0]),
                                             list_price=FLAGSHIP_BOTTLE_YUAN * 6 * 100)
        east, north = region_org[EAST], region_org[NORTH]
        self.east_distributors = [p for p in net.distributor_places if self.place[p].region == east]
        self.north_distributors = [p for p in net.distributor_places if self.place[p].region == north]
        self.east_stores = {s for d in self.east_distributors for s in net.stores_of_distributor[d]}
        story_place = self.east_distributors[0]
        for place in self.east_distributors[:1] + self.north_distributors:
            org = self.place[place].org
            net.credit_limits[org] = STORY_CREDIT_LIMIT
            self.credit[org] = [STORY_CREDIT_LIMIT, 0]
        store_place = net.stores_of_distributor[story_place][0]
        self.cast = Cast(
            admin=net.admin, sales_director="brand.sales_director", finance="brand.finance",
            east_manager=net.region_manager[east], north_manager=net.region_manager[north],
            east_dispatcher=net.sender_at[warehouse_at[EAST_HUB]], distributor=net.sender_at[story_place],
            store=net.sender_at[store_place], carrier=net.carrier_sender[net.carrier_orgs[0]], auditor="auditor.1",
            east_region=east, north_region=north, distributor_place=story_place, store_place=store_place,
            east_warehouse=warehouse_at[EAST_HUB], warehouses=warehouse_at)
        self.sales: list[tuple[int, int, int, int]] = []  # (time, store, sku, cases) of every sale
        self.recalled_lots: list[int] = []
        self.held_up: set[int] = set()  # shipments held up on the road in the last days
        self.east_short_from = end - 35 * DAY
        self.short_skus = (FLAGSHIP, *(sku for sku in TRANSFER_SKUS if sku <= len(net.products)))
        for days_before_end, action in ((40, self._north_surplus), (26, self._east_last_order),
                                         (12, self._failed_quality_check), (2, self._top_up_warehouses),
                                         (0.25, self._rack_collapse)):
            self._schedule(end - int(days_before_end * DAY) - scale.start_time, action)

    # -- the story's moments

    def _north_surplus(self) -> None:
        per_distributor = math.ceil(NORTH_SURPLUS_CASES / len(self.north_distributors))
        for place in self.north_distributors:
            self._place_order(place, [FLAGSHIP], [per_distributor], urgent=False, may_fail=False)

    def _east_last_order(self) -> None:
        for place in self.east_distributors:
            self._place_order(place, list(self.short_skus), [self.rng.randint(30, 50) for _ in self.short_skus],
                              urgent=False, may_fail=False)

    def _failed_quality_check(self) -> None:
        warehouse = self.cast.warehouses[DISTILLERY]
        before = set(self.stock.get(warehouse, {}))
        self._commission(warehouse, FLAGSHIP, 10)
        lot = next(lot for lot in self.stock[warehouse] if lot not in before)
        del self.stock[warehouse][lot]  # a recalled lot is never dispatched again
        self.recalled_lots.append(lot)
        self._call(self.network.admin, "Inventory", "recallLot", (lot, RECALL_REASON), "LotRecalled")

    def _top_up_warehouses(self) -> None:
        for city, cases in WAREHOUSE_FLAGSHIP.items():
            short = cases - self._on_hand(self.cast.warehouses[city], FLAGSHIP)
            if short > 0:
                self._commission(self.cast.warehouses[city], FLAGSHIP, short)
        for sku in self.short_skus[1:]:
            self._commission(self.cast.warehouses[NORTH_HUB], sku, NORTH_HUB_BATCH)

    def _rack_collapse(self) -> None:
        warehouse = self.cast.east_warehouse
        held = self.stock.get(warehouse, {})
        for lot in sorted(lot for lot, n in held.items() if n > 0 and sku_of(lot) in self.short_skus[1:]):
            cases, held[lot] = held[lot], 0
            self._call(self.network.admin, "Inventory", "writeOff", (warehouse, lot, cases, DAMAGED),
                       "StockDecommissioned")

    # -- the activity's hooks

    def _short_in_east(self, place: int) -> bool:
        return self._now >= self.east_short_from and place in self.east_distributors

    def _order_skus(self, deliver_to: int, count: int) -> list[int]:
        skus = super()._order_skus(deliver_to, count)
        if self._short_in_east(deliver_to):
            skus = [sku for sku in skus if sku not in self.short_skus] or [FLAGSHIP + 1]
        return skus

    def _deliver_to_stores(self, distributor_place: int) -> None:
        """A distributor passes about two fifths of each SKU it holds on to two of its stores, so a region's
        channel turns its stock over in about a month (days of cover read as normal, unlike a channel that
        only keeps stock); but Beijing's distributors pass on only a trickle of their flagship surplus, and in
        the last weeks East China's pass on every case they get of the SKUs it runs short of."""
        held = self.stock.get(distributor_place, {})
        stores = self.network.stores_of_distributor[distributor_place]
        chosen = self.rng.sample(stores, min(2, len(stores)))
        lines: dict[int, list[tuple[int, int]]] = {store: [] for store in chosen}
        by_sku: dict[int, list[int]] = defaultdict(list)
        for lot in sorted(lot for lot, n in held.items() if n > 0):
            by_sku[sku_of(lot)].append(lot)
        for sku, lots in sorted(by_sku.items()):
            everything = sku in self.short_skus and self._short_in_east(distributor_place)
            trickle = sku == FLAGSHIP and distributor_place in self.north_distributors
            for lot in lots:
                if everything:
                    share = held[lot]
                elif trickle:
                    share = min(held[lot], max(1, held[lot] // 40))
                else:
                    share = min(held[lot], max(2, held[lot] * 2 // 5))
                for k, store in enumerate(chosen):
                    n = share // len(chosen) + (k < share % len(chosen))
                    if n:
                        lines[store].append((lot, n))
                        held[lot] -= n
        for store in chosen:
            # A delivery manifest lists at most 50 lines; the oldest lots go first.
            for start in range(0, len(lines[store]), 50):
                self._dispatch(SHIP_DELIVERY, 0, distributor_place, store, lines[store][start:start + 50])

    def _plan_sales(self, store: int, lot: int, cases: int) -> None:
        """Stores sell what they receive in a few sales over the next fortnight; East China's shoppers take what
        runs short there within days."""
        quick = store in self.east_stores and sku_of(lot) in self.short_skus and self._now >= self.east_short_from
        sales = self.rng.randint(1, 2) if quick else self.rng.randint(1, 3)
        for k in range(sales):
            n = cases // sales + (k < cases % sales)
            if n:
                self._schedule(self._hours(2, 72) if quick else self._hours(2, 24 * 14), self._sell, store, lot, n)

    def _receive(self, shipment_id: int) -> None:
        """In the last three days the first order shipment due, and one in five after it, is held up on the road:
        a delay checkpoint, and it arrives only after the end, its ETA passed (what the delay early warning is for)."""
        shipment = self.shipments[shipment_id]
        if (shipment.kind == SHIP_ORDER and self._now >= self.scale.end_time - 3 * DAY
                and shipment_id not in self.held_up and (not self.held_up or self.rng.random() < 0.2)):
            self.held_up.add(shipment_id)
            self._checkpoint(shipment_id, DELAYED)
            self._schedule(self._hours(72, 120), self._receive, shipment_id)
            return
        super()._receive(shipment_id)

    def _sell(self, store: int, lot: int, cases: int) -> None:
        before = self.stock[store].get(lot, 0)
        super()._sell(store, lot, cases)
        sold = before - self.stock[store].get(lot, 0)
        if sold:
            self.sales.append((self._now, store, sku_of(lot), sold))


# ---------------------------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class StoryFacts:
    """The story's prerequisites as the model holds them at the end of the activity."""

    now: int
    east_cover: dict  # days_of_cover's row for East China and the flagship
    north_cover: dict
    warehouse_cases: dict[str, int]  # flagship cases free at each story warehouse
    headroom_cases: int  # flagship cases (at the distributor's tier price) its credit still allows
    late_received: int  # shipments received after their ETA
    in_transit: int
    in_transit_overdue: int  # in transit with their ETA passed
    recalled_lots: list[int]


def check(activity: StoryActivity, now: int, rules: board.CoverRules = board.CoverRules()) -> StoryFacts:
    """The story's facts at `now` (the newest block's time) from the simulation's model."""
    kinds = {p.id: p.kind for p in activity.network.places}
    held: dict[int, int] = defaultdict(int)
    for location, lots in activity.stock.items():
        if kinds[location] in (DISTRIBUTOR, STORE):
            held[activity.place[location].region] += sum(n for lot, n in lots.items() if sku_of(lot) == FLAGSHIP)
    sold: dict[int, int] = defaultdict(int)
    for at, store, sku, cases in activity.sales:
        if sku == FLAGSHIP and now - rules.window_days * DAY <= at < now:
            sold[activity.place[store].region] += cases
    cast = activity.cast
    regions = (cast.east_region, cast.north_region)
    rows = {r["region"]: r for r in board.days_of_cover(
        [board.Cases(r, FLAGSHIP, held[r]) for r in regions], [],
        [board.Cases(r, FLAGSHIP, sold[r]) for r in regions], rules)}
    org = activity.place[cast.distributor_place].org
    limit, used = activity.credit[org]
    price = activity.prices[(FLAGSHIP, activity.tier_of[org])]
    shipments = activity.shipments.values()
    return StoryFacts(
        now=now, east_cover=rows[cast.east_region], north_cover=rows[cast.north_region],
        warehouse_cases={city: activity._on_hand(loc, FLAGSHIP) for city, loc in cast.warehouses.items()},
        headroom_cases=(limit - used) // price,
        late_received=sum(1 for s in shipments if s.received and s.received_at > s.eta),
        in_transit=sum(1 for s in shipments if not s.received),
        in_transit_overdue=sum(1 for s in shipments if not s.received and s.eta < now),
        recalled_lots=list(activity.recalled_lots))
