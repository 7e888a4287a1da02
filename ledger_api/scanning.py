"""A consumer's scan, end to end: the scanned Digital Link URL is parsed, the code looked up in the brand's
registry, the bottle's lot and journey read from the mirror, the verdict decided (`verdicts.judge`), the scan
logged, and the answer assembled with the product, the journey, the brand story and the bottle's Merkle proof
against its lot's root on chain.

`scan` and `provenance` are synchronous (the routes run them in a worker thread); they read two databases,
the registry and the mirror, and never the chain. A scan costs a handful of indexed reads, each statement built
once, and its share of a commit: the scan log commits the scans that arrive together in one transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import (BigInteger, Connection, Engine, Integer, Text, bindparam, cast, literal, null, or_, select,
                        union, union_all)

from indexer.schema import (blocks, decommissions, locations, lots, organisations, shipment_checkpoints, shipment_lines,
                            shipments, skus, sync_state)
from ledger_api import codes, registry
from ledger_api.journey import Movement, Stop, case_journey, shipped_to
from ledger_api.verdicts import Bottle, Scan, ScanRules, judge
from ledger_api.vocabulary import OrgKind

STEP_KINDS = {OrgKind.brand: "brand", OrgKind.region: "region", OrgKind.warehouse: "warehouse",
              OrgKind.distributor: "distributor", OrgKind.store: "store", OrgKind.carrier: "carrier",
              OrgKind.auditor: "auditor"}


def iso(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def device_key(secret: bytes, device: str) -> str:
    """The scan log keeps a keyed hash of the consumer's anonymous device id, never the id itself."""
    return hmac.new(secret, device.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class ScanPlace:
    """Where a scan comes from, as the deployment's geo proxy reports it."""

    place: str | None
    region: str | None  # a region organisation's code, or None when the proxy named no known region


@dataclass
class Sites:
    """Names and regions of the locations and organisations a journey mentions."""

    locations: dict[int, dict]
    organisations: dict[int, dict]

    def location(self, location: int | None) -> dict | None:
        if not location or location not in self.locations:
            return None
        loc = self.locations[location]
        org = self.organisations.get(loc["org"], {})
        region = self.organisations.get(loc["region"], {})
        return {"id": location, "name": loc["name"], "organisation": org.get("name"),
                "kind": STEP_KINDS.get(OrgKind(org["kind"])) if org else None,
                "region": region.get("name"), "region_code": region.get("code")}

    def name(self, org: int | None) -> str | None:
        return self.organisations.get(org, {}).get("name") if org else None


def regions(mirror) -> dict[str, str]:
    """Region codes by every way a geo proxy may name them (code or name, any case)."""
    known = {}
    for code, name in mirror.execute(select(organisations.c.code, organisations.c.name)
                                     .where(organisations.c.kind == int(OrgKind.region))):
        known[code.lower()] = code
        known[name.lower()] = code
    return known


def _movement_rows():
    """The lot's dispatches, receipts, checkpoints and decommissions, as one statement with one row shape."""
    lot = bindparam("lot")
    none = null()
    lines = shipments.join(shipment_lines, shipment_lines.c.shipment_id == shipments.c.id)
    dispatches = select(
        literal("dispatch").label("kind"), shipments.c.dispatched_block.label("block"),
        shipments.c.dispatched_log.label("log"), shipments.c.dispatched_at.label("at"), shipment_lines.c.cases,
        shipments.c.id.label("shipment"), shipments.c.from_location, shipments.c.to_location, shipments.c.carrier,
        # The first branch types the columns of all four: PostgreSQL reads an untyped NULL as text.
        shipments.c.eta, cast(none, Text).label("place"), cast(none, Integer).label("status"),
        cast(none, Integer).label("reason"), shipments.c.tx_hash,
    ).select_from(lines).where(shipment_lines.c.lot == lot)
    receipts = select(
        literal("receive"), shipments.c.received_block, shipments.c.received_log, shipments.c.received_at,
        shipment_lines.c.received, shipments.c.id, shipments.c.from_location, shipments.c.to_location, none, none,
        none, none, none, shipments.c.received_tx_hash,
    ).select_from(lines).where(shipment_lines.c.lot == lot, shipments.c.received_at.is_not(None))
    checkpoints = select(
        literal("checkpoint"), shipment_checkpoints.c.block_number, shipment_checkpoints.c.log_index,
        shipment_checkpoints.c.time, none, shipment_checkpoints.c.shipment_id, none, none,
        shipment_checkpoints.c.carrier, none, shipment_checkpoints.c.place, shipment_checkpoints.c.status, none, none,
    ).where(shipment_checkpoints.c.shipment_id.in_(select(shipment_lines.c.shipment_id)
                                                    .where(shipment_lines.c.lot == lot)))
    sales = select(
        literal("decommission"), decommissions.c.block_number, decommissions.c.log_index, decommissions.c.time,
        decommissions.c.cases, none, decommissions.c.location, none, none, none, none, none, decommissions.c.reason,
        none,
    ).where(decommissions.c.lot == lot)
    return union_all(dispatches, receipts, checkpoints, sales)


_MOVEMENTS = _movement_rows()


def movements(mirror, lot_id: int) -> list[Movement]:
    """The lot's movements, each ordered by its log's place in the chain (many share a block's time)."""
    return [Movement((block or 0, log or 0), kind, at, cases or 0, *rest)
            for kind, block, log, at, cases, *rest in mirror.execute(_MOVEMENTS, {"lot": lot_id})]


DIRECTORY_TTL = 1.0  # seconds a process trusts its copy of the registry before it looks at the version again

_directories: dict[str, tuple[float, int, Sites]] = {}


def directory(mirror: Engine | Connection) -> Sites:
    """Every location and organisation, copied once per process and again when the indexer reports a change
    of the registry (`sync_state.registry_version`); a journey names a handful, and a scan must not pay for
    two lookups of names that change a few times a year."""
    key = str(mirror.engine.url)
    now = time.monotonic()
    cached = _directories.get(key)
    if cached and now - cached[0] < DIRECTORY_TTL:
        return cached[2]
    if isinstance(mirror, Engine):
        with mirror.connect() as conn:
            return directory(conn)
    version = mirror.execute(select(sync_state.c.registry_version).where(sync_state.c.id == 1)).scalar() or 0
    if cached and cached[1] == version:
        _directories[key] = (now, version, cached[2])
        return cached[2]
    locs = {r.id: dict(r._mapping) for r in mirror.execute(
        select(locations.c.id, locations.c.org, locations.c.region, locations.c.name))}
    orgs = {r.id: dict(r._mapping) for r in mirror.execute(
        select(organisations.c.id, organisations.c.name, organisations.c.kind, organisations.c.code))}
    sites = Sites(locs, orgs)
    _directories[key] = (now, version, sites)
    return sites


def _stop_json(stop: Stop, sites: Sites) -> dict:
    return {"step": stop.step, "at": iso(stop.at), "location": sites.location(stop.location),
            "to": sites.location(stop.to_location), "carrier": sites.name(stop.carrier), "eta": iso(stop.eta),
            "place": stop.place, "shipment": stop.shipment, "tx_hash": stop.tx_hash}


@dataclass
class BottleRecord:
    """Everything the ledger says of one issued bottle."""

    issued: registry.IssuedBottle
    lot: dict | None  # the mirror's lot row with its SKU, None while the lot is not yet on chain
    stops: list[Stop]
    sites: Sites


_LOT = (select(lots, skus.c.gtin, skus.c.name.label("sku_name"), skus.c.bottles_per_case, skus.c.content_cid)
        .join(skus, skus.c.id == lots.c.sku).where(lots.c.id == bindparam("lot")))


@dataclass(frozen=True)
class LotHistory:
    """A lot as the mirror has it: its row with its SKU's, and its movements in chain order."""

    lot: dict
    movements: list[Movement]


def lot_history(mirror, lot_id: int) -> LotHistory | None:
    """The lot's history, or None while the lot is not on chain."""
    row = mirror.execute(_LOT, {"lot": lot_id}).mappings().first()
    if row is None:
        return None
    return LotHistory(dict(row), sorted(movements(mirror, lot_id), key=lambda m: m.order))


def record_of(issued: registry.IssuedBottle, history: LotHistory | None, sites: Sites) -> BottleRecord:
    """The bottle's record: its case's journey through the lot's movements."""
    if history is None:
        return BottleRecord(issued, None, [], Sites({}, {}))
    lot = history.lot
    stops = case_journey(issued.case_number, lot["cases"], lot["commissioned_at"], lot["location"],
                         history.movements, lot["tx_hash"])
    return BottleRecord(issued, lot, stops, sites)


def bottle_record(mirror, issued: registry.IssuedBottle) -> BottleRecord:
    return record_of(issued, lot_history(mirror, issued.lot_id), directory(mirror))


_HEAD = select(sync_state.c.block_number, sync_state.c.block_hash, blocks.c.time).select_from(
    sync_state.outerjoin(blocks, blocks.c.number == sync_state.c.block_number)).where(sync_state.c.id == 1)
_STORED_HASH = select(blocks.c.hash).where(blocks.c.number == bindparam("number"))


def _changed_lots():
    """The lots whose history the blocks after `after` touched: a shipment of theirs dispatched or received,
    a checkpoint on one, a sale or write-off, a recall (by time: a recall keeps no block)."""
    after = bindparam("after", type_=BigInteger)
    return union(
        select(shipment_lines.c.lot).join(shipments, shipments.c.id == shipment_lines.c.shipment_id)
        .where(or_(shipments.c.dispatched_block > after, shipments.c.received_block > after)),
        select(shipment_lines.c.lot).join(shipment_checkpoints,
                                          shipment_checkpoints.c.shipment_id == shipment_lines.c.shipment_id)
        .where(shipment_checkpoints.c.block_number > after),
        select(decommissions.c.lot).where(decommissions.c.block_number > after),
        select(lots.c.id).where(lots.c.recalled_at >= bindparam("since", type_=BigInteger)),
    )


_CHANGED_LOTS = _changed_lots()


class LotHistories:
    """The lot histories a process has read, kept while the mirror shows no change to them, so that a scan
    reads the mirror only for a lot the process has not seen yet.

    At most every `check_every` seconds a reader looks at the mirror's checkpoint. When it moved on, the lots
    the new blocks touched are dropped; when the block the kept histories were read at is no longer in the
    mirror with the same hash (a reorg rolled it back), all are. A history read while a check was dropping
    lots is not kept, since it may predate the change. A scan's answer is thus never more than `check_every`
    behind the mirror, which itself trails the chain by a block or so."""

    def __init__(self, capacity: int = 16_384, check_every: float = 1.0):
        self.capacity = capacity
        self.check_every = check_every
        self._kept: OrderedDict[int, LotHistory] = OrderedDict()
        self._lock = threading.Lock()
        self._checking = threading.Lock()
        self._stamp: tuple | None = None  # (block number, hash, time) of the checkpoint the histories match
        self._checked = -math.inf
        self._generation = 0

    def get(self, mirror: Engine, lot_id: int) -> LotHistory | None:
        if time.monotonic() - self._checked >= self.check_every and self._checking.acquire(blocking=False):
            try:
                with mirror.connect() as conn:
                    self._check(conn)
            finally:
                self._checking.release()
        with self._lock:
            kept = self._kept.get(lot_id)
            if kept is not None:
                self._kept.move_to_end(lot_id)
                return kept
            generation = self._generation
        with mirror.connect() as conn:
            history = lot_history(conn, lot_id)
        if history is not None:
            with self._lock:
                if generation == self._generation:
                    self._kept[lot_id] = history
                    if len(self._kept) > self.capacity:
                        self._kept.popitem(last=False)
        return history

    def _check(self, conn) -> None:
        head = conn.execute(_HEAD).first()
        stamp = tuple(head) if head else None
        if stamp != self._stamp:
            dropped = None  # None: every lot
            old = self._stamp
            if old is not None and stamp is not None and stamp[0] >= old[0] and old[2] is not None \
                    and conn.execute(_STORED_HASH, {"number": old[0]}).scalar() == old[1]:
                dropped = {int(lot) for lot in conn.execute(_CHANGED_LOTS, {"after": old[0], "since": old[2]})
                           .scalars()}
            with self._lock:
                self._generation += 1
                if dropped is None:
                    self._kept.clear()
                else:
                    for lot in dropped:
                        self._kept.pop(lot, None)
                self._stamp = stamp
        self._checked = time.monotonic()


def story(content_store, cid: str) -> dict | None:
    """The brand story manifest a SKU's content id names (JSON: title, text, media), or None."""
    if not cid or content_store is None:
        return None
    if cid in _STORIES:
        return _STORIES[cid]
    found = _read_story(content_store, cid)
    if found is not None:
        # Content is addressed by its hash, so a story read once never changes: keep it.
        if len(_STORIES) > 1_000:
            _STORIES.clear()
        _STORIES[cid] = found
    return found


_STORIES: dict[str, dict] = {}


def _read_story(content_store, cid: str) -> dict | None:
    try:
        manifest = json.loads(content_store.get(cid))
    except Exception:  # noqa: BLE001 - a missing or malformed story must not fail the consumer's scan
        return None
    if not isinstance(manifest, dict):
        return None
    media = []
    for item in manifest.get("media", []):
        if isinstance(item, dict) and item.get("cid"):
            media.append({"kind": item.get("kind", "image"), "content_type": item.get("content_type"),
                          "cid": item["cid"], "url": f"/content/{item['cid']}"})
    return {"title": manifest.get("title"), "text": manifest.get("text"), "media": media}


def answer_json(answer, code: codes.BottleCode, url: str, record: BottleRecord | None, now: Scan,
                proof: dict | None, product_story: dict | None) -> dict:
    first = answer.first_scan
    body = {
        "verdict": answer.verdict.value, "reason_code": answer.reason_code, "reason": answer.reason,
        "scan_count": answer.scan_count,
        "first_scan": {"at": iso(first.at), "place": first.place, "region": first.region},
        "this_scan": {"at": iso(now.at), "place": now.place, "region": now.region},
        "code": {"gtin": code.gtin, "lot": code.lot, "serial": code.serial, "url": url},
        "product": None, "lot": None, "journey": [], "proof": proof,
    }
    if record is not None and record.lot is not None:
        lot = record.lot
        body["product"] = {"gtin": lot["gtin"], "name": lot["sku_name"], "bottles_per_case": lot["bottles_per_case"],
                           "story": product_story}
        body["lot"] = {"id": str(lot["id"]), "number": record.issued.lot_number,
                       "commissioned_at": iso(lot["commissioned_at"]), "recalled": lot["recalled"],
                       "recall_reason": lot["recall_reason"], "recalled_at": iso(lot["recalled_at"]),
                       "merkle_root": lot["merkle_root"], "tx_hash": lot["tx_hash"]}
        body["journey"] = [_stop_json(s, record.sites) for s in record.stops]
    return body


def proof_json(brand, issued: registry.IssuedBottle, chain_id: int, inventory: str, url: str) -> dict:
    leaf, siblings = registry.read_proof(brand, issued)
    return {"lot_id": str(issued.lot_id), "serial": issued.serial, "case": issued.case_number,
            "leaf": "0x" + leaf.hex(), "siblings": ["0x" + s.hex() for s in siblings], "root": issued.merkle_root,
            "chain_id": chain_id, "inventory": inventory, "verify_command": f"./dev ledger-api verify-scan '{url}'"}


REGIONS_TTL = 60.0  # seconds a scanner trusts its lists of regions and GTINs (both are rarely added)


class UnknownGtin(LookupError):
    """The URL names a product (GTIN) the brand does not make: the code is not the brand's at all."""


@dataclass
class Scanner:
    """What a scan needs besides its input: both databases, the rules and the chain's coordinates."""

    brand: Engine
    mirror: Engine
    rules: ScanRules
    device_secret: bytes
    chain_id: int
    inventory: str
    content_store: object = None
    _regions: tuple[float, dict[str, str]] = (0.0, {})
    _gtins: tuple[float, frozenset[str]] = (0.0, frozenset())

    def __post_init__(self):
        self.log = registry.ScanLog(self.brand)
        self.histories = LotHistories()
        # Reads outside a transaction: no BEGIN and ROLLBACK around each of a scan's lookups.
        self._brand_reads = self.brand.execution_options(isolation_level="AUTOCOMMIT")
        self._mirror_reads = self.mirror.execution_options(isolation_level="AUTOCOMMIT")

    def _check_gtin(self, gtin: str) -> None:
        loaded, known = self._gtins
        if gtin not in known and time.monotonic() - loaded > 1.0:
            with self.mirror.connect() as mirror:
                known = frozenset(mirror.execute(select(skus.c.gtin)).scalars())
            self._gtins = (time.monotonic(), known)
        if gtin not in known:
            raise UnknownGtin(gtin)

    def region_code(self, named: str) -> str | None:
        """The region code a geo proxy's name for a region stands for (code or name, any case), or None."""
        loaded, known = self._regions
        if time.monotonic() - loaded > REGIONS_TTL:
            with self.mirror.connect() as mirror:
                known = regions(mirror)
            self._regions = (time.monotonic(), known)
        return known.get(named.lower())

    def _facts(self, brand, code: codes.BottleCode):
        """The issued bottle (None unless its serial, GTIN and lot all match the registry's) and its earlier
        scans: the first one and the latest thousand, with their total."""
        issued = registry.find_bottle(brand, code.serial)
        if issued is not None and (issued.gtin != code.gtin or issued.lot_number != code.lot):
            issued = None  # a real serial printed under another product or lot is not that bottle
        earlier = registry.earlier_scans(brand, code.serial)
        earlier_total = registry.scan_total(brand, code.serial) if len(earlier) >= 1_000 else len(earlier)
        return issued, earlier, earlier_total

    def scan(self, url: str, device: str, place: ScanPlace, at: int) -> dict:
        """Judges and logs one consumer scan of `url`; returns once the scan is committed to the log.

        Raises:
            codes.CodeError: the URL is not a bottle's GS1 Digital Link.
            UnknownGtin: the URL names no product of the brand's.
        """
        code = codes.parse_digital_link(url)
        self._check_gtin(code.gtin)
        now = Scan(at, device_key(self.device_secret, device), place.place, place.region)
        proof = record = None
        with self._brand_reads.connect() as brand:
            issued, earlier, earlier_total = self._facts(brand, code)
            if issued is not None:
                proof = proof_json(brand, issued, self.chain_id, self.inventory, url)
        if issued is not None:
            record = record_of(issued, self.histories.get(self._mirror_reads, issued.lot_id),
                               directory(self._mirror_reads))
        bottle = self._bottle(record)
        answer = judge(bottle, [Scan(r.at, r.device, r.place, r.region) for r in earlier], now, self.rules,
                       earlier_count=earlier_total)
        self.log.append(code.serial, code.gtin, now.device, now.place, now.region, at, answer.verdict.value)
        product_story = None
        if record is None or record.lot is None:
            proof = None  # no lot root on chain to check the proof against
        else:
            product_story = story(self.content_store, record.lot["content_cid"])
        return answer_json(answer, code, url, record, now, proof, product_story)

    def _bottle(self, record: BottleRecord | None) -> Bottle | None:
        if record is None or record.lot is None:
            return None  # not issued, or issued but never commissioned on chain: no genuine bottle either way
        destination = record.sites.location(shipped_to(record.stops))
        meant_for = destination if destination and destination["kind"] in ("distributor", "store") else None
        return Bottle(recalled=bool(record.lot["recalled"]), opened_by=record.issued.opened_by,
                      meant_for_region=meant_for["region_code"] if meant_for else None,
                      meant_for=meant_for["name"] if meant_for else None)

    def provenance(self, url: str) -> dict | None:
        """The bottle's product, lot, journey and proof, without judging or logging a scan; None if unknown.

        Raises:
            codes.CodeError: the URL is not a bottle's GS1 Digital Link.
            UnknownGtin: the URL names no product of the brand's.
        """
        code = codes.parse_digital_link(url)
        self._check_gtin(code.gtin)
        with self._brand_reads.connect() as brand:
            issued, _earlier, earlier_total = self._facts(brand, code)
            if issued is None:
                return None
            proof = proof_json(brand, issued, self.chain_id, self.inventory, url)
        with self._mirror_reads.connect() as mirror:
            record = bottle_record(mirror, issued)
        if record.lot is None:
            proof = None
        body = answer_json(judge(self._bottle(record), [], Scan(0, "")), code, url, record, Scan(0, ""),
                           proof, None)
        for key in ("verdict", "reason_code", "reason", "first_scan", "this_scan", "scan_count"):
            body.pop(key)
        body["case"] = issued.case_number
        body["opened_by"] = issued.opened_by
        body["scans"] = earlier_total
        return body

    def mark_opened(self, url: str, device: str, place: ScanPlace, at: int) -> dict | None:
        """The consumer marks the bottle opened, then the bottle is scanned again; None for an unknown code."""
        code = codes.parse_digital_link(url)
        with self.brand.begin() as brand:
            issued = registry.find_bottle(brand, code.serial)
            if issued is None or issued.gtin != code.gtin or issued.lot_number != code.lot:
                return None
            registry.mark_opened(brand, code.serial, "consumer", device_key(self.device_secret, device), at)
        return self.scan(url, device, place, at)
