"""A consumer's scan, end to end: the scanned Digital Link URL is parsed, the code looked up in the brand's
registry, the bottle's lot and journey read from the mirror, the verdict decided (`verdicts.judge`), the scan
logged, and the answer assembled with the product, the journey, the brand story and the bottle's Merkle proof
against its lot's root on chain.

`scan` and `bottle_answer` are synchronous (the routes run them in a worker thread); they read two databases,
the registry and the mirror, and never the chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine, select

from indexer.schema import (decommissions, locations, lots, organisations, shipment_checkpoints, shipment_lines,
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


def _movements(mirror, lot_id: int) -> list[Movement]:
    """The lot's dispatches, checkpoints, receipts and decommissions, each ordered by its log's place in the
    chain (many share a block's time)."""
    moves: list[Movement] = []
    lines = mirror.execute(
        select(shipments.c.id, shipments.c.from_location, shipments.c.to_location, shipments.c.carrier,
               shipments.c.eta, shipments.c.dispatched_at, shipments.c.received_at, shipments.c.tx_hash,
               shipments.c.dispatched_block, shipments.c.dispatched_log, shipments.c.received_block,
               shipments.c.received_log, shipments.c.received_tx_hash, shipment_lines.c.cases,
               shipment_lines.c.received)
        .join(shipment_lines, shipment_lines.c.shipment_id == shipments.c.id)
        .where(shipment_lines.c.lot == lot_id)).all()
    ids = set()
    for r in lines:
        ids.add(r.id)
        moves.append(Movement((r.dispatched_block or 0, r.dispatched_log or 0), "dispatch", r.dispatched_at, r.cases,
                              r.id, r.from_location, r.to_location, r.carrier, r.eta, tx_hash=r.tx_hash))
        if r.received_at is not None:
            moves.append(Movement((r.received_block or 0, r.received_log or 0), "receive", r.received_at,
                                  r.received or 0, r.id, r.from_location, r.to_location, tx_hash=r.received_tx_hash))
    if ids:
        for c in mirror.execute(select(shipment_checkpoints).where(shipment_checkpoints.c.shipment_id.in_(ids))):
            moves.append(Movement((c.block_number, c.log_index), "checkpoint", c.time, shipment=c.shipment_id,
                                  carrier=c.carrier, place=c.place, status=c.status))
    for d in mirror.execute(select(decommissions).where(decommissions.c.lot == lot_id)):
        moves.append(Movement((d.block_number, d.log_index), "decommission", d.time, d.cases,
                              from_location=d.location, decommission=d.reason))
    return moves


DIRECTORY_TTL = 1.0  # seconds a process trusts its copy of the registry before it looks at the version again

_directories: dict[str, tuple[float, int, Sites]] = {}


def _directory(mirror) -> Sites:
    """Every location and organisation, copied once per process and again when the indexer reports a change
    of the registry (`sync_state.registry_version`); a journey names a handful, and a scan must not pay for
    two lookups of names that change a few times a year."""
    key = str(mirror.engine.url)
    now = time.monotonic()
    cached = _directories.get(key)
    if cached and now - cached[0] < DIRECTORY_TTL:
        return cached[2]
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


def _sites(mirror, stops: list[Stop], lot_location: int) -> Sites:
    return _directory(mirror)


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


def bottle_record(mirror, issued: registry.IssuedBottle) -> BottleRecord:
    row = mirror.execute(
        select(lots, skus.c.gtin, skus.c.name.label("sku_name"), skus.c.bottles_per_case, skus.c.content_cid)
        .join(skus, skus.c.id == lots.c.sku).where(lots.c.id == issued.lot_id)).mappings().first()
    if row is None:
        return BottleRecord(issued, None, [], Sites({}, {}))
    stops = case_journey(issued.case_number, row["cases"], row["commissioned_at"], row["location"],
                         _movements(mirror, issued.lot_id), row["tx_hash"])
    return BottleRecord(issued, dict(row), stops, _sites(mirror, stops, row["location"]))


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

    def _facts(self, code: codes.BottleCode):
        with self.brand.connect() as brand:
            return self._facts_in(brand, code)

    @staticmethod
    def _facts_in(brand, code: codes.BottleCode):
        issued = registry.find_bottle(brand, code.serial)
        if issued is not None and (issued.gtin != code.gtin or issued.lot_number != code.lot):
            issued = None  # a real serial printed under another product or lot is not that bottle
        opened = registry.opened_by(brand, code.serial) if issued else None
        earlier = registry.earlier_scans(brand, code.serial)
        earlier_total = registry.scan_total(brand, code.serial) if len(earlier) >= 1_000 else len(earlier)
        return issued, opened, earlier, earlier_total

    def scan(self, url: str, device: str, place: ScanPlace, at: int) -> dict:
        """Judges and logs one consumer scan of `url`.

        Raises:
            codes.CodeError: the URL is not a bottle's GS1 Digital Link.
            UnknownGtin: the URL names no product of the brand's.
        """
        code = codes.parse_digital_link(url)
        self._check_gtin(code.gtin)
        now = Scan(at, device_key(self.device_secret, device), place.place, place.region)
        # One brand transaction reads the code's facts, logs the scan and reads the proof.
        with self.brand.begin() as brand:
            issued, opened, earlier, earlier_total = self._facts_in(brand, code)
            record = None
            if issued is not None:
                with self.mirror.connect() as mirror:
                    record = bottle_record(mirror, issued)
            bottle = self._bottle(record, opened)
            answer = judge(bottle, [Scan(r.at, r.device, r.place, r.region) for r in earlier], now, self.rules,
                           earlier_count=earlier_total)
            registry.log_scan(brand, code.serial, code.gtin, now.device, now.place, now.region, at,
                              answer.verdict.value)
            proof = proof_json(brand, issued, self.chain_id, self.inventory, url) if record and record.lot else None
        product_story = story(self.content_store, record.lot["content_cid"]) if record and record.lot else None
        return answer_json(answer, code, url, record, now, proof, product_story)

    def _bottle(self, record: BottleRecord | None, opened: str | None) -> Bottle | None:
        if record is None or record.lot is None:
            return None  # not issued, or issued but never commissioned on chain: no genuine bottle either way
        destination = record.sites.location(shipped_to(record.stops))
        meant_for = destination if destination and destination["kind"] in ("distributor", "store") else None
        return Bottle(recalled=bool(record.lot["recalled"]), opened_by=opened,
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
        issued, opened, _earlier, earlier_total = self._facts(code)
        if issued is None:
            return None
        with self.mirror.connect() as mirror:
            record = bottle_record(mirror, issued)
        with self.brand.connect() as brand:
            proof = proof_json(brand, issued, self.chain_id, self.inventory, url) if record.lot else None
        body = answer_json(judge(self._bottle(record, opened), [], Scan(0, "")), code, url, record, Scan(0, ""),
                           proof, None)
        for key in ("verdict", "reason_code", "reason", "first_scan", "this_scan", "scan_count"):
            body.pop(key)
        body["case"] = issued.case_number
        body["opened_by"] = opened
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
