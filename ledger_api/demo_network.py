"""The demo network generator: a brand's whole network with months of business ending now, on a local chain,
mirrored, with bottle codes in the brand's registry and a consumer scan log, ready for the board and the console.

`python scripts/demo_network.py --seed 7 [--scale demo|bench|small] [--end 2026-12-03T10:00]` builds the network
of the seed (`ledger_api.activity` with the story of `ledger_api.demo_story`), deploys the ledger as its brand
admin on `LEDGER_RPC_URL`, writes `deployments/<LEDGER_NETWORK>.json`, plays the activity block by block at its
simulated times (`ledger_api.filling`), registers the real codes of the flagship's and a few other SKUs' lots in
the brand's registry, writes every member's keystore (low KDF cost, development only), mirrors the chain
(`indexer`), and logs consumer scans over the months through the real scan path (`scanning.Scanner`: the
registry's facts, `verdicts.judge`, `registry.ScanLog`): genuine, counterfeit, opened, diverted, recalled and
copied codes, by region and week. What it made is kept in `.data/demo-network.json`; a second run finds that
ledger live on the chain with its activity and does nothing again. `--show` prints the demo's sign-ins and
sample bottles; `--counts` prints a scale's network without a chain; `--bottle-of <shipment>` prints the URL of
a bottle that shipment delivered (a consumer's scan in the seed story).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from indexer.contracts import PROJECT_ROOT, load_artifacts
from indexer.db import open_database
from indexer.schema import lots as mirror_lots
from indexer.schema import shipment_lines
from ledger_api import codes, content, registry, scanning
from ledger_api.activity import (AUDITOR, CARRIER, DAY, DISTRIBUTOR, HOUR, REGION, STORE, WAREHOUSE, Network, Scale,
                                 build_network)
from ledger_api.chain import write_keystore
from ledger_api.cli import DEV_KDF_ITERATIONS
from ledger_api.demo_story import FLAGSHIP, Cast, StoryActivity, StoryError, check, story_content
from ledger_api.filling import fill, live_deployment
from ledger_api.journey import case_journey, shipped_to
from ledger_api.rawchain import LedgerCodec, Rpc
from ledger_api.settings import Settings
from ledger_api.verdicts import ScanRules

STATE = PROJECT_ROOT / ".data" / "demo-network.json"
CODED_SKUS = frozenset({FLAGSHIP, 2, 3, 4})  # lots with real bottle codes in the registry

# Each scale: the network's size, the days of business before the end, and the events those days are sized for
# (the order rate; the business runs to the end whatever the events).
SCALES = {
    "demo": (dict(regions=32, warehouses=8, distributors_per_region=6, stores_per_distributor=10, skus=40,
                  carriers=6), 150, 30_000),
    "bench": (dict(regions=32, warehouses=8, distributors_per_region=31, stores_per_distributor=12, skus=200,
                   carriers=6), 150, 200_000),
    "small": (dict(regions=4, warehouses=3, distributors_per_region=2, stores_per_distributor=2, skus=6,
                   carriers=2), 56, 4_000),
}
# Consumer bottles picked per scale for the scan log (each is scanned, or marked opened, or copied, or not).
SCAN_BOTTLES = {"demo": 2_500, "bench": 6_000, "small": 60}
# Where diverted bottles and counterfeits turn up (high-price markets and known trouble spots), by region name.
DIVERSION_MARKETS = ("Guangdong", "Shanghai", "Beijing", "Shenzhen", "Henan", "Zhejiang")
COUNTERFEIT_SPOTS = ("Guangdong", "Henan", "Hebei", "Guangxi", "Shandong")


class DemoError(RuntimeError):
    """The demo network cannot be made as asked; the message says what to change."""


def scale_named(name: str, end: int) -> Scale:
    if name not in SCALES:
        raise DemoError(f"unknown scale {name!r}: one of {', '.join(SCALES)}")
    size, days, events = SCALES[name]
    return Scale(**size, target_events=events, days=days, start_time=end - days * DAY, end_time=end)


def default_end(now: float | None = None) -> int:
    """The current hour: the activity's last block comes just before it."""
    now = time.time() if now is None else now
    return int(now) // HOUR * HOUR


def network_counts(network: Network) -> dict[str, int]:
    kinds = Counter(o.kind for o in network.organisations)
    return {"regions": kinds[REGION], "warehouses": kinds[WAREHOUSE], "distributors": kinds[DISTRIBUTOR],
            "stores": kinds[STORE], "carriers": kinds[CARRIER], "auditors": kinds[AUDITOR],
            "skus": len(network.products), "members": len(network.members)}


def describe_counts(counts: dict[str, int]) -> str:
    """The counts as a person reads them: "32 regions, ..., 1 auditor, 40 SKUs"."""
    def noun(kind: str, n: int) -> str:
        word = "SKUs" if kind == "skus" else kind
        return word[:-1] if n == 1 else word
    return ", ".join(f"{n:,} {noun(kind, n)}" for kind, n in counts.items())


# ---------------------------------------------------------------------------------------------- sign-ins


SIGN_IN_ROLES = (
    ("brand admin", "admin"), ("sales director", "sales_director"), ("finance", "finance"),
    ("East China region manager", "east_manager"), ("North China region manager", "north_manager"),
    ("warehouse dispatcher", "east_dispatcher"), ("distributor (the story's)", "distributor"),
    ("its store", "store"), ("carrier", "carrier"), ("auditor", "auditor"),
)


def sign_ins(network: Network, cast: Cast, keystore_dir: Path) -> list[dict]:
    org_name = {o.id: o.name for o in network.organisations}
    org_name[1] = network.brand_name
    rows = []
    for role, field in SIGN_IN_ROLES:
        member = network.members[getattr(cast, field)]
        rows.append({"role": role, "organisation": org_name[member.org], "address": member.address,
                     "keystore": str(keystore_dir / f"{member.address}.json")})
    return rows


def write_keystores(network: Network, directory: Path, password: str) -> int:
    """Every member's keystore (a file already there is kept); returns how many were written."""
    written = 0
    for member in network.members.values():
        if not (directory / f"{member.address}.json").exists():
            write_keystore(directory, member.key, password, iterations=DEV_KDF_ITERATIONS)
            written += 1
    return written


# ---------------------------------------------------------------------------------------------- databases


def remove_sqlite(url: str) -> None:
    """Removes a SQLite database file (with its journal files); other databases are left to their owner."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)


def register_codes(brand: Engine, lot_codes: dict, issued_at: int) -> int:
    """Registers every coded lot; returns the bottles registered."""
    bottles = 0
    for lot, lot_codes_of in lot_codes.items():
        registry.register_lot(brand, lot, lot_codes_of, issued_at=issued_at)
        bottles += len(lot_codes_of.serials)
    return bottles


def mirror_chain(settings: Settings, label: str) -> int:
    """Backfills the mirror up to the head with progress lines; returns the events read."""
    from indexer.cli import build_follower

    follower = build_follower(settings)
    head = follower.node.block_number()
    seen = {"events": 0, "shown": time.monotonic()}
    began = time.monotonic()

    def show(progress) -> None:
        seen["events"] += progress.events
        if time.monotonic() - seen["shown"] >= 2 or progress.last >= head:
            seen["shown"] = time.monotonic()
            elapsed = max(time.monotonic() - began, 1e-9)
            print(f"{label}: mirror at block {progress.last:,}/{head:,}, {seen['events']:,} events, "
                  f"{seen['events'] / elapsed:,.0f} events/s", flush=True)

    follower.on_progress = show
    follower.backfill(head)
    return seen["events"]


# ---------------------------------------------------------------------------------------------- consumer scans


@dataclass(frozen=True)
class PlannedScan:
    at: int
    kind: str  # scan, opened_by_store, opened_by_consumer
    url: str
    serial: str
    device: str
    region: str | None  # the region organisation's code
    place: str | None
    marked_by: str | None = None  # the store's account for a store's opened mark


@dataclass(frozen=True)
class _Bottle:
    url: str
    serial: str
    store: int
    region: str  # code of the store's region
    received_at: int


def _consumer_bottles(brand: Engine, mirror: Engine, lot_codes: dict, public_url: str, rng: random.Random,
                      wanted: int, sites: scanning.Sites) -> list[_Bottle]:
    """Bottles of coded lots (`lot_codes`: lot id -> codes.LotCodes) that reached a store: a few cases of each
    lot, one or two bottles a case."""
    found = []
    # Most of a lot's cases are still with the brand or a distributor: look at several times as many as wanted.
    per_lot = max(8, 6 * wanted // max(1, len(lot_codes)))
    with brand.connect() as reg, mirror.connect() as conn:
        for lot_id in sorted(lot_codes):
            lot = lot_codes[lot_id]
            history = scanning.lot_history(conn, lot_id)
            if history is None or history.lot["recalled"]:
                continue
            for case in sorted(rng.sample(range(1, lot.cases + 1), min(per_lot, lot.cases))):
                serials = lot.serials[(case - 1) * lot.bottles_per_case:case * lot.bottles_per_case]
                record = scanning.record_of(registry.find_bottle(reg, serials[0]), history, sites)
                destination = sites.location(shipped_to(record.stops))
                arrived = [s for s in record.stops if s.step == "received" and destination
                           and s.location == destination["id"]]
                if not arrived or destination["kind"] != "store":
                    continue  # still on its way to a store, or with a distributor
                for serial in serials[: rng.choice((1, 1, 2))]:
                    found.append(_Bottle(codes.digital_link(public_url, lot.gtin, lot.lot, serial), serial,
                                         destination["id"], destination["region_code"], arrived[-1].at))
    rng.shuffle(found)
    return found[:wanted]


def plan_scans(bottles: Sequence[_Bottle], recalled: Sequence[tuple[str, str, str]], coded: Sequence[tuple[str, str]],
               region_codes: dict[str, str], store_staff: dict[int, str], public_url: str, seed: int, start: int,
               end: int, default_region: str) -> tuple[list[PlannedScan], dict[str, str]]:
    """The scan log's entries over the period (in time order) and one sample bottle URL per verdict for a visitor
    scanning now from `default_region`. `recalled`: (gtin, lot number, serial) of recalled bottles; `coded`:
    (gtin, lot number) of the coded lots, under which counterfeits print serials the brand never issued."""
    rng = random.Random(f"scans/{seed}")
    by_name = region_codes
    name_of = {code: name for name, code in region_codes.items()}
    names = sorted(by_name)
    planned: list[PlannedScan] = []
    samples: dict[str, str] = {}

    def device() -> str:
        return f"phone-{rng.getrandbits(64):016x}"

    def when(after: int, low_days: float, high_days: float) -> int | None:
        at = after + int(rng.uniform(low_days, high_days) * DAY)
        return at if start <= at < end else None

    # Every kind of scan happens at least once, whatever the scale; then each bottle draws its fate.
    fates = ["copied", "opened_by_store", "opened_by_consumer", "diverted"]
    for bottle in bottles:
        home = name_of[bottle.region]
        if "genuine" not in samples and bottle.region == default_region:
            samples["genuine"] = bottle.url  # never scanned: genuine for a visitor from its region
            continue
        if "diverted" not in samples and bottle.region != default_region:
            samples["diverted"] = bottle.url  # never scanned: diverted for a visitor from elsewhere
            continue
        fate = fates.pop(0) if fates else rng.choices(
            ("genuine", "diverted", "opened_by_store", "opened_by_consumer", "copied", "unscanned"),
            (55, 12, 5, 4, 2.5, 21.5))[0]
        if fate == "genuine":  # sometimes scanned again by the same buyer
            at = when(bottle.received_at, 0.2, 45)
            if at is None:
                continue
            phone = device()
            planned.append(PlannedScan(at, "scan", bottle.url, bottle.serial, phone, bottle.region, home))
            if rng.random() < 0.3 and (again := when(at, 0.1, 6)) is not None:
                planned.append(PlannedScan(again, "scan", bottle.url, bottle.serial, phone, bottle.region, home))
        elif fate == "diverted":  # sold in a region it was not meant for
            market = rng.choice([m for m in DIVERSION_MARKETS if m in by_name and by_name[m] != bottle.region]
                                or [n for n in names if by_name[n] != bottle.region] or [home])
            if (at := when(bottle.received_at, 3, 40)) is not None:
                planned.append(PlannedScan(at, "scan", bottle.url, bottle.serial, device(), by_name[market], market))
        elif fate.startswith("opened"):  # opened by the store that sold it (a banquet) or by a consumer, then scanned
            if (at := when(bottle.received_at, 0.5, 20)) is not None:
                planned.append(PlannedScan(at, fate, bottle.url, bottle.serial, device(), bottle.region, home,
                                           store_staff[bottle.store]))
                samples.setdefault("opened", bottle.url)
        elif fate == "copied":  # scanned from many phones in many places within days
            latest = 60 if "suspicious" in samples else 15  # the first copied code is a recent one
            first = max(bottle.received_at + DAY, end - int(rng.uniform(4, latest) * DAY))
            for k, market in enumerate(rng.sample(names, min(len(names), 5))):
                if (at := when(first, k * 0.5, k * 0.5 + 0.4)) is not None:
                    planned.append(PlannedScan(at, "scan", bottle.url, bottle.serial, device(), by_name[market],
                                               market))
            if end - 20 * DAY < first < end - 3 * DAY:  # within the copied-code window for a visitor scanning now
                samples.setdefault("suspicious", bottle.url)
    # Counterfeits: serials the brand never issued, printed under real products and lots, at a few hot spots.
    spots = [s for s in COUNTERFEIT_SPOTS if s in by_name] or names
    for _ in range(max(3, len(bottles) // 8)):
        gtin, lot = rng.choice(coded)
        serial = codes.new_serials(1, randbytes=rng.randbytes)[0]
        market = rng.choice(spots) if rng.random() < 0.7 else rng.choice(names)
        at = start + int(rng.random() * (end - start))
        planned.append(PlannedScan(at, "scan", codes.digital_link(public_url, gtin, lot, serial), serial, device(),
                                   by_name[market], market))
    for gtin, lot, serial in recalled:  # bottles of a recalled lot that left before the recall was heard of
        for _ in range(rng.randint(1, 3)):
            market = rng.choice(names)
            planned.append(PlannedScan(end - int(rng.uniform(0.5, 10) * DAY), "scan",
                                       codes.digital_link(public_url, gtin, lot, serial), serial, device(),
                                       by_name[market], market))
        samples.setdefault("recalled", codes.digital_link(public_url, gtin, lot, serial))
    if coded:
        gtin, lot = coded[0]
        samples["counterfeit"] = codes.digital_link(public_url, gtin, lot,
                                                    codes.new_serials(1, randbytes=rng.randbytes)[0])
    planned.sort(key=lambda s: (s.at, s.serial))
    return planned, samples


def bottle_of_shipment(settings: Settings, shipment: int) -> str | None:
    """The Digital Link of a bottle whose case shipment `shipment` delivered (the ledger follows a lot's cases
    first in, first out: `ledger_api.journey`); None when it delivered no case of a coded lot."""
    mirror = open_database(settings.database_url)
    brand = registry.open_registry(settings.brand_database_url)
    try:
        with mirror.connect() as conn:
            lots = conn.execute(select(shipment_lines.c.lot).where(shipment_lines.c.shipment_id == shipment)
                                .order_by(shipment_lines.c.line_no)).scalars().all()
            histories = [scanning.lot_history(conn, int(lot)) for lot in lots]
        with brand.connect() as reg:
            for lot_id, history in zip(lots, histories):
                code = reg.execute(select(registry.code_lots.c.gtin, registry.code_lots.c.lot_number)
                                   .where(registry.code_lots.c.lot_id == str(lot_id))).first()
                if code is None or history is None:
                    continue
                lot = history.lot
                for case in range(1, lot["cases"] + 1):
                    stops = case_journey(case, lot["cases"], lot["commissioned_at"], lot["location"],
                                         history.movements, lot["tx_hash"])
                    if any(stop.step == "received" and stop.shipment == shipment for stop in stops):
                        serial = registry.case_serials(reg, int(lot_id), case)[0]
                        return codes.digital_link(settings.public_url, code.gtin, code.lot_number, serial)
    finally:
        mirror.dispose()
        brand.dispose()
    return None


def log_scans(scanner: scanning.Scanner, planned: Sequence[PlannedScan], label: str) -> Counter:
    """Runs each planned scan through the real scan path at its time; returns the verdicts logged."""
    verdicts: Counter = Counter()
    began = shown = time.monotonic()
    for i, scan in enumerate(planned, 1):
        place = scanning.ScanPlace(scan.place, scan.region)
        if scan.kind == "opened_by_store":
            with scanner.brand.begin() as conn:
                registry.mark_opened(conn, scan.serial, "store", scan.marked_by, scan.at)
        if scan.kind == "opened_by_consumer":
            answer = scanner.mark_opened(scan.url, scan.device, place, scan.at)
        else:
            answer = scanner.scan(scan.url, scan.device, place, scan.at)
        verdicts[answer["verdict"]] += 1
        if time.monotonic() - shown >= 2 or i == len(planned):
            shown = time.monotonic()
            rate = i / max(shown - began, 1e-9)
            print(f"{label}: {i:,}/{len(planned):,} consumer scans logged, {rate:,.0f}/s, "
                  f"ETA {(len(planned) - i) / rate:.0f} s", flush=True)
    return verdicts


def consumer_scans(settings: Settings, activity: StoryActivity, chain_id: int, inventory: str, scale_name: str,
                   label: str) -> tuple[Counter, dict[str, str]]:
    """Plans and logs the period's consumer scans; returns the verdicts logged and the sample bottles."""
    brand = registry.open_registry(settings.brand_database_url)
    mirror = open_database(settings.database_url)
    try:
        sites = scanning.directory(mirror)
        region_codes = {o["name"].removesuffix(" Regional Marketing Centre"): o["code"]
                        for o in sites.organisations.values() if o["kind"] == REGION}
        rng = random.Random(f"scan-bottles/{activity.seed}")
        bottles = _consumer_bottles(brand, mirror, activity.lot_codes, settings.public_url, rng,
                                     SCAN_BOTTLES[scale_name], sites)
        with brand.connect() as reg, mirror.connect() as conn:
            coded = [(g, n) for g, n in reg.execute(select(registry.code_lots.c.gtin, registry.code_lots.c.lot_number)
                                                     .order_by(registry.code_lots.c.ref))]
            recalled = []
            for lot_id in conn.execute(select(mirror_lots.c.id).where(mirror_lots.c.recalled)).scalars():
                lot_row = reg.execute(select(registry.code_lots.c.gtin, registry.code_lots.c.lot_number)
                                      .where(registry.code_lots.c.lot_id == str(lot_id))).first()
                if lot_row:
                    serials = registry.lot_serials(reg, int(lot_id))
                    recalled += [(lot_row.gtin, lot_row.lot_number, s) for s, _ in serials[:4]]
        members = activity.network.members
        store_staff = {loc: members[sender].address for loc, sender in activity.network.sender_at.items()}
        # The region a visitor's scan counts in (by code or name, as the scan endpoint takes it).
        named = settings.scan_default_region or "Beijing"
        default_region = region_codes.get(named, named)
        scale = activity.scale
        planned, samples = plan_scans(bottles, recalled, coded, region_codes, store_staff, settings.public_url,
                                      activity.seed, scale.start_time, scale.end_time, default_region)
        scanner = scanning.Scanner(brand, mirror, ScanRules(settings.scan_window, settings.scan_max_devices,
                                                            settings.scan_max_places),
                                   settings.token_secret.get_secret_value().encode(), chain_id, inventory)
        verdicts = log_scans(scanner, planned, label)
        return verdicts, samples
    finally:
        brand.dispose()
        mirror.dispose()


# ---------------------------------------------------------------------------------------------- the whole run


def read_state(path: Path = STATE) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def found_on_chain(rpc: Rpc, settings: Settings, state: dict | None) -> bool:
    """Whether the chain holds the ledger the state describes, with its activity (its orders at least)."""
    if not state:
        return False
    deployment = live_deployment(rpc, settings.network, settings.deployments_dir)
    if deployment is None or deployment.address("Inventory") != state.get("inventory"):
        return False
    codec = LedgerCodec(load_artifacts(), ["Orders"])
    data = "0x" + codec.encode_call("Orders", "orderCount", []).hex()
    orders = int(rpc.call("eth_call", {"to": deployment.address("Orders"), "data": data}, "latest"), 16)
    return orders >= state["orders"] and int(rpc.call("eth_blockNumber"), 16) >= state["last_block"]


def open_for_business(rpc: Rpc) -> None:
    """The business was mined at its own times, the last block within the hour before the end: one empty block at
    the wall clock's time brings the chain's clock to now (anvil counts on from the latest block), and from here on
    every transaction is mined as it arrives, as the API's writes expect."""
    latest = int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
    rpc.call("evm_mine", {"timestamp": max(int(time.time()), latest + 1), "blocks": 1})
    rpc.call("evm_setAutomine", True)


def generate(seed: int, scale_name: str, end: int, settings: Settings, state_path: Path = STATE,
             label: str = "demo") -> dict:
    """Makes the demo network on the settings' chain, mirror and registry (see the module's docstring); returns
    the state it keeps. Raises DemoError when the chain cannot take the activity."""
    scale = scale_named(scale_name, end)
    rpc = Rpc(settings.rpc_url)
    if not rpc.is_up():
        raise DemoError(f"no node answers at {settings.rpc_url} (LEDGER_RPC_URL)")
    latest = rpc.call("eth_getBlockByNumber", "latest", False)
    first_block_time = scale.start_time - 2 * HOUR  # onboarding's block
    if int(latest["timestamp"], 16) >= first_block_time:
        raise DemoError(
            f"the chain at {settings.rpc_url} is already at {_iso(int(latest['timestamp'], 16))}, after the "
            f"activity's start {_iso(first_block_time)}: blocks cannot go back in time. Start a new chain whose "
            f"genesis is earlier (./dev demo: remove .data/chain) or pass a later --end")
    timings: dict[str, float] = {}
    began = time.perf_counter()
    print(f"{label}: planning the network of seed {seed} at the {scale_name} scale, "
          f"{_iso(scale.start_time)} to {_iso(end)} ...", flush=True)
    activity = StoryActivity(seed, scale, bottle_codes=CODED_SKUS)
    print(f"{label}: " + describe_counts(network_counts(activity.network)), flush=True)
    # A new ledger: the mirror and the registry of any earlier one mean nothing for it.
    state_path.unlink(missing_ok=True)
    remove_sqlite(settings.database_url)
    brand = registry.open_registry(settings.brand_database_url)
    registry.metadata.drop_all(brand)
    registry.metadata.create_all(brand)
    result = fill(rpc, activity, settings.network, deployments=settings.deployments_dir, label=label)
    timings["chain"] = result["seconds"]
    open_for_business(rpc)

    t0 = time.perf_counter()
    bottles = register_codes(brand, activity.lot_codes, issued_at=end)
    brand.dispose()
    timings["codes"] = round(time.perf_counter() - t0, 2)
    print(f"{label}: {bottles:,} bottle codes of {len(activity.lot_codes)} lots in the brand's registry "
          f"({timings['codes']} s)", flush=True)
    store = content.open_store(settings.content_store)
    for data, content_type in story_content():
        store.put(data, content_type)
    t0 = time.perf_counter()
    written = write_keystores(activity.network, settings.keystore_dir, settings.keystore_password.get_secret_value())
    timings["keystores"] = round(time.perf_counter() - t0, 2)
    print(f"{label}: {written:,} member keystores written to {settings.keystore_dir} ({timings['keystores']} s)",
          flush=True)

    t0 = time.perf_counter()
    mirrored = mirror_chain(settings, label)
    timings["mirror"] = round(time.perf_counter() - t0, 2)
    chain_id = int(rpc.call("eth_chainId"), 16)
    t0 = time.perf_counter()
    verdicts, samples = consumer_scans(settings, activity, chain_id, result["addresses"]["Inventory"], scale_name,
                                       label)
    timings["scans"] = round(time.perf_counter() - t0, 2)
    timings["total"] = round(time.perf_counter() - began, 2)
    facts = check(activity, int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16),
                  settings.cover_rules)
    state = {
        "seed": seed, "scale": scale_name, "start": scale.start_time, "end": end, "network": settings.network,
        "chain_id": chain_id, "inventory": result["addresses"]["Inventory"],
        "deployment_block": result["deployment_block"], "last_block": result["last_block"],
        "orders": activity.counters["orders"], "events": result["events"], "mirrored_events": mirrored,
        "bottle_codes": bottles, "scans": dict(verdicts), "samples": samples, "timings": timings,
        "counts": network_counts(activity.network),
        "sign_ins": sign_ins(activity.network, activity.cast, settings.keystore_dir),
        "story": {**asdict(facts), "recalled_lots": [str(lot) for lot in facts.recalled_lots],
                  "flagship_sku": FLAGSHIP, "urgent_cases": 500},
    }
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state_path.write_text(json.dumps(state, indent=2, ensure_ascii=False))
    print(f"{label}: {result['events']:,} events in {result['blocks']:,} blocks ({timings['chain']:.0f} s, "
          f"{result['events_per_second']:,.0f} events/s), codes {timings['codes']:.0f} s, mirror "
          f"{timings['mirror']:.0f} s, {sum(verdicts.values()):,} scans {timings['scans']:.0f} s "
          f"({', '.join(f'{v} {n}' for v, n in verdicts.most_common())}); {timings['total']:.0f} s in all", flush=True)
    return state


def show(state: dict, settings: Settings) -> str:
    """The demo's sign-ins and sample bottles, as text for people."""
    password = settings.keystore_password.get_secret_value()
    lines = [f"  Demo network: seed {state['seed']}, {state['scale']} scale, "
             f"{describe_counts(state['counts'])}; business {_iso(state['start'])[:10]} "
             f"to {_iso(state['end'])[:10]}",
             "", "  Demo sign-ins (console: open the keystore file with its password; or a token on the command line):"]
    for s in state["sign_ins"]:
        lines.append(f"    {s['role']:<28} {s['organisation']}")
        lines.append(f"    {'':<28} {s['address']}  keystore {s['keystore']}")
    lines += [f"    keystore password: {password}",
              "    token:  TOKEN=$(./dev ledger-api token <address>)",
              "", "  Sample bottles (this demo's scans count as made in the default region, "
                  f"{settings.scan_default_region or 'none'}):"]
    for verdict in ("genuine", "opened", "diverted", "suspicious", "recalled", "counterfeit"):
        if verdict in state["samples"]:
            lines.append(f"    {verdict:<12} {state['samples'][verdict]}")
    return "\n".join(lines)


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def _end_time(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text.removesuffix("Z"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date or time like 2026-12-03 or 2026-12-03T10:00")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp()) // HOUR * HOUR


def _seed(text: str) -> int:
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the seed must be a whole number, not {text!r}")
    if seed < 0:
        raise argparse.ArgumentTypeError(f"the seed must be 0 or more, not {seed}")
    return seed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo_network", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=_seed, default=7, help="the network and its activity (default 7)")
    parser.add_argument("--scale", choices=sorted(SCALES), default="demo",
                        help="demo: ~200 distributors, ~2,000 stores, 40 SKUs (default); bench: ~1,000 distributors, "
                             "~12,000 stores, 200 SKUs; small: a few of each")
    parser.add_argument("--end", type=_end_time, default=None,
                        help="when the business ends, UTC (default: the current hour)")
    parser.add_argument("--counts", action="store_true", help="print the scale's network and stop (no chain)")
    parser.add_argument("--show", action="store_true", help="print the demo's sign-ins and sample bottles")
    parser.add_argument("--bottle-of", type=int, metavar="SHIPMENT",
                        help="print the URL of a bottle that this shipment delivered")
    parser.add_argument("--state", type=Path, default=STATE, help=f"what was made is kept here (default {STATE})")
    args = parser.parse_args(argv)
    end = args.end if args.end is not None else default_end()
    if args.counts:
        counts = network_counts(build_network(args.seed, scale_named(args.scale, end)))
        print(describe_counts(counts))
        return 0
    settings = Settings()
    if args.bottle_of is not None:
        url = bottle_of_shipment(settings, args.bottle_of)
        if url is None:
            parser.exit(2, f"demo_network: shipment {args.bottle_of} delivered no case with bottle codes "
                           f"(unknown, still on its way, or of a lot without codes)\n")
        print(url)
        return 0
    state = read_state(args.state)
    if args.show:
        if state is None:
            parser.exit(2, f"demo_network: no demo network yet ({args.state} is missing)\n")
        print(show(state, settings))
        return 0
    rpc = Rpc(settings.rpc_url)
    if rpc.is_up() and found_on_chain(rpc, settings, state):
        if (state["seed"], state["scale"]) != (args.seed, args.scale):
            parser.exit(2, f"demo_network: the chain holds the network of seed {state['seed']} at the "
                           f"{state['scale']} scale; start a new chain for seed {args.seed} at the {args.scale} "
                           f"scale (./dev demo: remove .data/chain)\n")
        rpc.call("evm_setAutomine", True)  # in case the chain was left mining only on demand
        print(f"demo: the chain already holds the network of seed {state['seed']} ({state['events']:,} events up "
              f"to block {state['last_block']:,}); nothing to generate", flush=True)
        return 0
    try:
        generate(args.seed, args.scale, end, settings, args.state)
    except (DemoError, StoryError) as exc:
        parser.exit(2, f"demo_network: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
