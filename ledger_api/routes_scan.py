"""The consumer's scan endpoints, public and without sign-in: `POST /v1/scans` judges a scanned bottle URL,
`POST /v1/scans/opened` lets the consumer mark the bottle opened. A store marks a bottle it sold opened with
`POST /v1/bottles/opened`, signed in.

Scans are limited per client address (`LEDGER_SCAN_RATE_LIMIT`, a sliding window), so the codes cannot be
harvested by trying serials: with 85 random bits a serial is not guessed, and the limit keeps the attempt
slow. The limit's counters live in the process; replicas behind a load balancer each count their own share.
"""

from __future__ import annotations

import time

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi import Path as PathParam
from anyio import CapacityLimiter, to_thread
from fastapi.concurrency import run_in_threadpool
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from indexer.schema import anchors
from ledger_api import anchoring, codes, registry, scanning
from ledger_api.auth import WritingCaller
from ledger_api.errors import ApiError
from ledger_api.models import ErrorBody
from ledger_api.journey import Stop
from ledger_api.routes_writes import write
from ledger_api.services import Services, services
from ledger_api.vocabulary import BRAND_ORG, OrgKind, Role

router = APIRouter(tags=["scans"], responses={s: {"model": ErrorBody} for s in (400, 401, 403, 404, 409, 422, 429)})

ANONYMOUS = "anonymous"


class ScanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2048, description="the bottle's GS1 Digital Link URL, as scanned")
    device: str = Field(ANONYMOUS, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                        description="an anonymous id the scanning device keeps (the scan page makes one)")


class StoreOpened(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2048, description="the bottle's GS1 Digital Link URL")


class ScanLimiter:
    """Per-client sliding-window limit on scans: two counters per client (this window's and the last one's,
    weighted by how much of it still overlaps), where a moving window would keep every hit."""

    def __init__(self, limit: str):
        self.item = parse(limit)
        self.limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    def check(self, client: str) -> None:
        if not self.limiter.hit(self.item, "scan", client):
            reset = self.limiter.get_window_stats(self.item, "scan", client).reset_time
            retry = max(1, int(reset - time.time()))
            raise ApiError(429, "RateLimited", {"limit": str(self.item), "retry_after": retry})


def _limiter(request: Request) -> ScanLimiter:
    app = request.app
    if getattr(app.state, "scan_limiter", None) is None:
        app.state.scan_limiter = ScanLimiter(app.state.settings.scan_rate_limit)
    return app.state.scan_limiter


async def _in_scan_thread(request: Request, work, *args):
    """Runs a scan in one of the process's few scan threads (`LEDGER_SCAN_THREADS`): a scan waits on its
    databases only briefly, so a few threads keep the cores busy, and more would only queue for Python's
    interpreter lock, costing a thread switch each time a statement returns."""
    app = request.app
    if getattr(app.state, "scan_threads", None) is None:
        app.state.scan_threads = CapacityLimiter(app.state.settings.scan_threads)
    return await to_thread.run_sync(work, *args, limiter=app.state.scan_threads)


def _place(request: Request, svc: Services) -> scanning.ScanPlace:
    settings = svc.settings
    place = (request.headers.get(settings.scan_place_header) or "").strip()[:64] or None
    named = (request.headers.get(settings.scan_region_header) or settings.scan_default_region).strip()[:64]
    return scanning.ScanPlace(place, svc.scanner.region_code(named) if named else None)


def _invalid(error: Exception) -> ApiError:
    if isinstance(error, scanning.UnknownGtin):
        return ApiError(404, "UnknownGtin", {"gtin": str(error), "message": "the brand makes no product with this "
                                                                          "GTIN: the code is not the brand's"})
    return ApiError(400, "InvalidCode", {"reason": error.reason, "message": str(error)})


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/v1/scans", summary="Judge a scanned bottle code (public)")
async def scan(body: ScanRequest, request: Request, svc: Services = Depends(services)) -> Response:
    _limiter(request).check(_client(request))
    try:
        answer = await _in_scan_thread(request, svc.scanner.scan, body.url, body.device, _place(request, svc),
                                       int(time.time()))
    except (codes.CodeError, scanning.UnknownGtin) as error:
        raise _invalid(error) from None
    # Serialised once, directly: the answer is plain JSON already.
    return Response(orjson.dumps(answer), media_type="application/json")


@router.post("/v1/scans/opened", summary="The consumer marks the scanned bottle opened (public)")
async def consumer_opened(body: ScanRequest, request: Request, svc: Services = Depends(services)) -> dict:
    _limiter(request).check(_client(request))
    try:
        answer = await _in_scan_thread(request, svc.scanner.mark_opened, body.url, body.device,
                                       _place(request, svc), int(time.time()))
    except (codes.CodeError, scanning.UnknownGtin) as error:
        raise _invalid(error) from None
    if answer is None:
        raise ApiError(404, "NotFound", {"what": "bottle", "url": body.url})
    return answer


def _last_received(stops: list[Stop]) -> int | None:
    for stop in reversed(stops):
        if stop.step == "received":
            return stop.location
    return None


@router.post("/v1/bottles/opened", tags=["stock"], summary="A store marks a bottle it sold as opened (store staff)")
async def store_opened(body: StoreOpened, caller: WritingCaller, svc: Services = Depends(services)) -> dict:
    try:
        code = codes.parse_digital_link(body.url)
    except (codes.CodeError, scanning.UnknownGtin) as error:
        raise _invalid(error) from None
    if caller.org_kind is not OrgKind.store:
        raise ApiError(403, "NotAStore", {"hint": "only the store that received the bottle marks it opened"})

    def mark() -> dict:
        with svc.brand.connect() as brand:
            issued = registry.find_bottle(brand, code.serial)
        if issued is None or issued.gtin != code.gtin or issued.lot_number != code.lot:
            raise ApiError(404, "NotFound", {"what": "bottle", "url": body.url})
        with svc.engine.connect() as mirror:
            record = scanning.bottle_record(mirror, issued)
        # A store may mark only what reached it: the bottle's case was last received at one of its locations.
        if _last_received(record.stops) not in caller.locations:
            raise ApiError(403, "NotThisStoresBottle", {"serial": code.serial})
        with svc.brand.begin() as brand:
            first = registry.mark_opened(brand, code.serial, "store", caller.address, int(time.time()))
        return {"serial": code.serial, "opened_by": "store", "newly_marked": first}

    return await run_in_threadpool(mark)


class AnchorLog(BaseModel):
    model_config = ConfigDict(extra="forbid")
    until: int | None = Field(None, ge=1, le=2**63 - 1,
                              description="the period's end (unix seconds, exclusive); default: the chain's now")


@router.post("/v1/anchors/{log}", tags=["scans"], status_code=201,
             summary="Anchor the scan log or the opened marks since the last anchor (brand admin)")
async def anchor_log(body: AnchorLog, caller: WritingCaller,
                     log: str = PathParam(pattern="^(consumer-scans|opened-bottles)$"),
                     svc: Services = Depends(services)):
    kind = anchoring.KINDS[log]
    if caller.org != BRAND_ORG or not caller.has(Role.admin):
        raise ApiError(403, "MissingRole", {"account": caller.address, "role": "admin",
                                            "hint": "the brand's admins anchor the logs"})
    with svc.engine.connect() as mirror:
        since = mirror.execute(select(func.max(anchors.c.period_end)).where(anchors.c.kind == kind)).scalar() or 0
    chain_now = int((await svc.rpc.call("eth_getBlockByNumber", "latest", False))["timestamp"], 16)
    until = min(body.until or chain_now, chain_now)
    if until <= since:
        raise ApiError(409, "NothingToAnchor", {"anchored_until": since, "until": until})

    def entries():
        with svc.brand.connect() as brand:
            if kind == anchoring.CONSUMER_SCANS:
                return registry.scans_between(brand, since, until)
            return registry.opened_between(brand, since, until)

    rows = await run_in_threadpool(entries)
    if not rows:
        raise ApiError(409, "NothingToAnchor", {"anchored_until": since, "until": until, "entries": 0})
    root = anchoring.log_root(kind, rows)
    cid = await run_in_threadpool(svc.content_store.put, anchoring.log_document(kind, rows, since, until),
                                  "application/json")
    return await write(svc, caller, "Anchors", "anchor", [kind, root, since, until, len(rows), cid],
                       lambda conn, o: {"anchor": o.topic("Anchored"), "log": log, "merkle_root": "0x" + root.hex(),
                                        "period_start": since, "period_end": until, "entries": len(rows),
                                        "content_cid": cid})
