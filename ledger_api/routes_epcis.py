"""EPCIS 2.0 for auditors and members: `GET /v1/epcis/events`, a simple event query (by EPC, bizStep, event time
and location, paged), and `GET /v1/epcis/export`, the ledger (or a time window of it) as one EPCISDocument,
streamed a day of block time at a time. Both answer JSON-LD built by `ledger_api.epcis` from the mirror and
cover only what the caller may read, by the scopes of `ledger_api.reads`: the brand and auditors every event,
regional staff their region's, a site its own locations' shipments and sales, a carrier what it carried; lots
are public (the catalog), so their commissioning and recall are seen by every member. Each source table is
filtered in SQL and read no further than the page needs."""

from __future__ import annotations

import heapq
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import Connection, false, func, select, true

from indexer.schema import (decommissions, locations, lots, organisations, shipment_checkpoints, shipment_lines,
                            shipments, skus, sync_state)
from ledger_api import epcis, reads, registry
from ledger_api.activity import lot_id
from ledger_api.auth import CurrentCaller
from ledger_api.caller import Caller, Reach
from ledger_api.errors import ApiError
from ledger_api.models import ErrorBody
from ledger_api.reads import InvalidQuery
from ledger_api.services import Services, services

router = APIRouter(prefix="/v1/epcis", tags=["epcis"], responses={s: {"model": ErrorBody} for s in (401, 403, 422)})

MEDIA_TYPE = "application/ld+json"
MAX_OFFSET = 100_000
EXPORT_SLICE = 86_400  # seconds of block time read at once while streaming an export

# The bizSteps this ledger writes, by the source that writes them (decommissions: by reason).
STEP_SOURCES = {"commissioning": "commissioning", "shipping": "dispatch", "transporting": "checkpoint",
                "receiving": "receipt", "holding": "recall", "retail_selling": "decommission",
                "destroying": "decommission", "decommissioning": "decommission"}
SOURCES = ("commissioning", "dispatch", "checkpoint", "receipt", "decommission", "recall")  # order at one instant


@dataclass(frozen=True)
class EventFilter:
    """What an EPCIS query asks, resolved to the mirror's keys; None: any."""

    lot: int | None = None
    steps: frozenset[str] | None = None
    start: int | None = None  # Unix seconds, inclusive
    end: int | None = None  # exclusive
    sites: tuple[int, ...] | None = None  # location ids of the asked GLN (empty: a GLN no location has)


# ------------------------------------------------------------------------------------------ the directory

_directories: dict[tuple, epcis.Directory] = {}


def load_directory(conn: Connection) -> epcis.Directory:
    """Locations, SKUs and organisations as the events name them, read again only when the registry or catalog
    changed (the registry's version, the number of SKUs)."""
    key = (conn.execute(select(sync_state.c.registry_version)).scalar(),
           conn.execute(select(func.count()).select_from(skus)).scalar_one())
    if key not in _directories:
        _directories.clear()
        _directories[key] = epcis.Directory(
            locations={r["id"]: r for r in conn.execute(select(locations.c.id, locations.c.gln, locations.c.org,
                                                               locations.c.kind)).mappings()},
            skus={r["id"]: r for r in conn.execute(select(skus.c.id, skus.c.gtin, skus.c.bottles_per_case)
                                                   ).mappings()},
            organisations={r["id"]: r for r in conn.execute(select(organisations.c.id, organisations.c.kind)
                                                            ).mappings()})
    return _directories[key]


# ------------------------------------------------------------------------------------------ reading events


def _between(column, f: EventFilter) -> list:
    return reads._between(column, f.start, f.end)


def _at(column, f: EventFilter) -> list:
    return [] if f.sites is None else [column.in_(f.sites) if f.sites else false()]


def _wanted(source: str, f: EventFilter) -> bool:
    return f.steps is None or any(STEP_SOURCES.get(step) == source for step in f.steps)


def _lines(conn: Connection, shipment_ids: list[int]) -> dict[int, list]:
    found: dict[int, list] = {i: [] for i in shipment_ids}
    if shipment_ids:
        rows = conn.execute(select(shipment_lines, lots.c.lot_number).join(lots, lots.c.id == shipment_lines.c.lot)
                            .where(shipment_lines.c.shipment_id.in_(shipment_ids))
                            .order_by(shipment_lines.c.shipment_id, shipment_lines.c.line_no)).mappings()
        for row in rows:
            found[row["shipment_id"]].append(row)
    return found


def _limited(query, need: int | None):
    return query if need is None else query.limit(need)


def read_events(conn: Connection, caller: Caller, directory: epcis.Directory, f: EventFilter,
                need: int | None) -> list[tuple[tuple, dict]]:
    """The events matching `f` that the caller may see, as (order key, event) in event-time order; with `need`,
    only the first `need` of them (each source reads no more than that)."""
    found: list[tuple[tuple, dict]] = []
    rank = {source: i for i, source in enumerate(SOURCES)}
    shipment_scope = reads._shipment_scope(caller)
    has_lot = (true() if f.lot is None else
               shipments.c.id.in_(select(shipment_lines.c.shipment_id).where(shipment_lines.c.lot == f.lot)))

    if _wanted("commissioning", f):
        query = select(lots).where(*_between(lots.c.commissioned_at, f), *_at(lots.c.location, f),
                                   *([lots.c.id == f.lot] if f.lot is not None else []))
        for row in conn.execute(_limited(query.order_by(lots.c.commissioned_at, lots.c.sku, lots.c.lot_number),
                                         need)).mappings():
            key = (row["commissioned_at"], rank["commissioning"], row["sku"], row["lot_number"])
            found.extend((key + (i,), e) for i, e in enumerate(epcis.commissioning_events(row, directory)))

    for source, moment, site in (("dispatch", shipments.c.dispatched_at, shipments.c.from_location),
                                 ("receipt", shipments.c.received_at, shipments.c.to_location)):
        if not _wanted(source, f):
            continue
        query = select(shipments).where(shipment_scope, has_lot, moment.is_not(None), *_between(moment, f),
                                        *_at(site, f))
        rows = list(conn.execute(_limited(query.order_by(moment, shipments.c.id), need)).mappings())
        lines = _lines(conn, [r["id"] for r in rows])
        for row in rows:
            build = epcis.dispatch_event if source == "dispatch" else epcis.receipt_event
            found.append(((row[moment.name], rank[source], row["id"]), build(row, lines[row["id"]], directory)))

    if _wanted("checkpoint", f) and f.sites is None:  # a carrier's checkpoint names a place, no location
        cp = shipment_checkpoints
        query = (select(cp, shipments.c.id, shipments.c.kind, shipments.c.ref, shipments.c.from_location)
                 .join(shipments, shipments.c.id == cp.c.shipment_id)
                 .where(shipment_scope, has_lot, *_between(cp.c.time, f)))
        rows = list(conn.execute(_limited(query.order_by(cp.c.time, cp.c.block_number, cp.c.log_index), need)
                                 ).mappings())
        lines = _lines(conn, sorted({r["shipment_id"] for r in rows}))
        for row in rows:
            checkpoint = {"time": row["time"], "place": row["place"], "status": row["status"],
                          "carrier": row["carrier"]}
            found.append(((row["time"], rank["checkpoint"], row["block_number"], row["log_index"]),
                          epcis.checkpoint_event(checkpoint, row, lines[row["shipment_id"]], directory)))

    if _wanted("decommission", f):
        reasons = [int(r) for r, (step, _) in epcis.DECOMMISSION_STEPS.items() if f.steps is None or step in f.steps]
        d = decommissions
        query = (select(d, lots.c.lot_number).join(lots, lots.c.id == d.c.lot)
                 .where(reads._stock_scope(caller, d.c.location), d.c.reason.in_(reasons), *_between(d.c.time, f),
                        *_at(d.c.location, f), *([d.c.lot == f.lot] if f.lot is not None else [])))
        for row in conn.execute(_limited(query.order_by(d.c.time, d.c.block_number, d.c.log_index), need)
                                ).mappings():
            found.append(((row["time"], rank["decommission"], row["block_number"], row["log_index"]),
                          epcis.decommission_event(row, directory)))

    if _wanted("recall", f) and f.sites is None:
        query = select(lots).where(lots.c.recalled.is_(True), lots.c.recalled_at.is_not(None),
                                   *_between(lots.c.recalled_at, f),
                                   *([lots.c.id == f.lot] if f.lot is not None else []))
        for row in conn.execute(_limited(query.order_by(lots.c.recalled_at, lots.c.sku, lots.c.lot_number), need)
                                ).mappings():
            found.append(((row["recalled_at"], rank["recall"], row["sku"], row["lot_number"]),
                          epcis.recall_event(row, directory)))

    found.sort(key=lambda pair: pair[0])
    return found if need is None else found[:need]


# ------------------------------------------------------------------------------------------ the query


def _seconds(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return math.ceil(moment.timestamp())  # block times are whole seconds: t >= 10.5 is t >= 11


def resolve_filter(conn: Connection, *, epc: str | None, biz_step: list[str] | None, ge: datetime | None,
                   lt: datetime | None, location: str | None) -> EventFilter:
    """The query's filters as mirror keys; `InvalidQuery` naming the filter that cannot be read."""
    lot = None
    if epc is not None:
        item = epcis.parse_item(epc)
        if item is None:
            raise InvalidQuery(f"epc {epc!r} is no lot or bottle: send https://id.gs1.org/01/<gtin>/10/<lot> or "
                               ".../10/<lot>/21/<serial>")
        gtin, text, _ = item
        if not text.isascii() or len(text.encode()) > 20:
            raise InvalidQuery(f"lot {text!r} is not a lot number of this ledger (at most 20 ASCII characters)")
        sku = conn.execute(select(skus.c.id).where(skus.c.gtin == gtin)).scalar()
        lot = lot_id(sku, text) if sku is not None else 0  # 0: no lot, so no event
    steps = None
    if biz_step:
        steps = set()
        for value in biz_step:
            short = epcis.short_biz_step(value)
            if short is None:
                raise InvalidQuery(f"bizStep {value!r} is not a CBV 2.0 business step: send e.g. shipping or "
                                   "https://ref.gs1.org/cbv/BizStep-shipping")
            steps.add(short)
        steps = frozenset(steps)
    sites = None
    if location is not None:
        gln = epcis.parse_gln(location)
        if gln is None:
            raise InvalidQuery(f"location {location!r} is no GLN: send 13 digits or https://id.gs1.org/414/<gln>")
        sites = tuple(conn.execute(select(locations.c.id).where(locations.c.gln == gln)).scalars())
    start, end = _seconds(ge), _seconds(lt)
    if start is not None and end is not None and start >= end:
        raise InvalidQuery("ge_event_time must be before lt_event_time")
    return EventFilter(lot=lot, steps=steps, start=start, end=end, sites=sites)


def _ld(body: dict, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(body, media_type=MEDIA_TYPE, headers=headers)


@router.get("/events", summary="EPCIS events by EPC, bizStep, event time and location (EPCISQueryDocument)",
            response_class=JSONResponse, responses={200: {"content": {MEDIA_TYPE: {}}}})
def query_events(request: Request, caller: CurrentCaller, svc: Services = Depends(services),
                 epc: str | None = Query(None, max_length=300,
                                         description="a lot class or bottle Digital Link URI (a bottle: its lot)"),
                 biz_step: list[str] | None = Query(None, max_length=100, description="short name or CBV URI"),
                 ge_event_time: datetime | None = Query(None, description="ISO 8601, inclusive"),
                 lt_event_time: datetime | None = Query(None, description="ISO 8601, exclusive"),
                 location: str | None = Query(None, max_length=100,
                                              description="a GLN or https://id.gs1.org/414/<gln>: readPoint or "
                                                          "bizLocation"),
                 limit: int = Query(100, ge=1), offset: int = Query(0, ge=0, le=MAX_OFFSET)):
    if limit > svc.settings.page_limit:
        raise InvalidQuery(f"limit must be 1-{svc.settings.page_limit}, not {limit}")
    with svc.engine.connect() as conn:
        f = resolve_filter(conn, epc=epc, biz_step=biz_step, ge=ge_event_time, lt=lt_event_time, location=location)
        found = read_events(conn, caller, load_directory(conn), f, offset + limit + 1)
    page = [event for _, event in found[offset:offset + limit]]
    headers = {}
    if len(found) > offset + limit:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "offset"]
        headers["Link"] = f'<{request.url.path}?{urlencode(params + [("offset", offset + limit)])}>; rel="next"'
    return _ld(epcis.query_document(page, int(time.time())), headers)


# ------------------------------------------------------------------------------------------ the export


def _first_and_last(conn: Connection) -> tuple[int, int] | None:
    times = [conn.execute(select(func.min(c), func.max(c))).one() for c in (
        lots.c.commissioned_at, shipments.c.dispatched_at, shipments.c.received_at, shipment_checkpoints.c.time,
        decommissions.c.time, lots.c.recalled_at)]
    known = [t for pair in times for t in pair if t is not None]
    return (min(known), max(known)) if known else None


def exported(svc: Services, caller: Caller, start: int | None, end: int | None, bottles: bool) -> Iterator[bytes]:
    """The EPCISDocument as bytes, its events read one slice of block time at a time."""
    head = json.dumps(epcis.document([], int(time.time())), ensure_ascii=False)
    opening, closing = head.rsplit("[]", 1)
    yield opening.encode() + b"["
    first = True
    with svc.engine.connect() as conn, svc.brand.connect() as codes:
        directory = load_directory(conn)
        span = _first_and_last(conn)
        if span is not None:
            low, high = max(span[0], start or span[0]), min(span[1] + 1, end or span[1] + 1)
            for slice_start in range(low, high, EXPORT_SLICE):
                f = EventFilter(start=slice_start, end=min(slice_start + EXPORT_SLICE, high))
                events = [e for _, e in read_events(conn, caller, directory, f, None)]
                if bottles:
                    events = list(heapq.merge(events, _packing(conn, codes, directory, f),
                                              key=lambda e: e["eventTime"]))
                for event in events:
                    yield (b"" if first else b",") + json.dumps(event, ensure_ascii=False).encode()
                    first = False
    yield b"]" + closing.encode()


def _packing(conn: Connection, codes: Connection, directory: epcis.Directory, f: EventFilter) -> list[dict]:
    """The packing of the lots commissioned in `f`'s window, from the brand's bottle codes."""
    found = []
    for row in conn.execute(select(lots).where(*_between(lots.c.commissioned_at, f))
                            .order_by(lots.c.commissioned_at, lots.c.sku, lots.c.lot_number)).mappings():
        found.extend(epcis.commissioning_events(row, directory, registry.lot_serials(codes, row["id"]))[1:])
    return found


@router.get("/export", summary="The ledger's events (or a window of them) as one EPCISDocument, streamed",
            response_class=StreamingResponse, responses={200: {"content": {MEDIA_TYPE: {}}}})
def export(caller: CurrentCaller, svc: Services = Depends(services),
           ge_event_time: datetime | None = Query(None, description="ISO 8601, inclusive"),
           lt_event_time: datetime | None = Query(None, description="ISO 8601, exclusive"),
           bottles: bool = Query(False, description="packing of every bottle into its case (brand and auditors)")):
    if bottles and caller.reach is not Reach.ledger:
        raise ApiError(403, "BottleCodesRefused", {"problem": "bottle codes are exported to the brand and auditors "
                                                              "only", "hint": "ask again without bottles=true"})
    start, end = _seconds(ge_event_time), _seconds(lt_event_time)
    if start is not None and end is not None and start >= end:
        raise InvalidQuery("ge_event_time must be before lt_event_time")
    return StreamingResponse(exported(svc, caller, start, end, bottles), media_type=MEDIA_TYPE,
                             headers={"Content-Disposition": 'attachment; filename="ledger-epcis.jsonld"'})

