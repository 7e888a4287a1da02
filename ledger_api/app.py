"""The Ledger API application: `create_app(settings)` wires sign-in, the write and read endpoints, health,
readiness and metrics around the services a running API holds.

Each request is logged as one JSON line (method, route, status, milliseconds, the signed-in account) and
counted in Prometheus metrics by route template. Neither ever holds a header, a token, a body or a key.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ledger_api import (__version__, auth, errors, routes_board, routes_content, routes_epcis, routes_pages,
                        routes_provenance, routes_reads, routes_scan, routes_writes)
from ledger_api.chain import Keyring
from ledger_api.services import Services
from ledger_api.settings import Settings

log = logging.getLogger("ledger_api.requests")

DESCRIPTION = """\
The baijiu distribution ledger for its members: orders with multi-level approval, shipments confirmed by both
sides, stock transfers, the catalog and the membership registry.

**Sign in** with Ethereum (EIP-4361): `POST /v1/auth/nonce` with your address, sign the returned message with
`personal_sign`, `POST /v1/auth/token` with the message and signature, then send
`Authorization: Bearer <access_token>`.

**Writes** are signed with your organisation's key held by this API (or send your own signed transaction to
`/v1/transactions/raw`). A write answers once the transaction is mined *and* mirrored, with the resulting
object, so you read your own write; if that takes longer than the API's write timeout it answers `202` with
the transaction hash. A contract's refusal comes back by name, e.g. `{"error": "InsufficientStock",
"detail": {...}}`.

**Reads** come from the mirror and cover only what your organisation may see: a distributor its own orders,
shipments and stock; regional staff their region; the brand and auditors everything. Auditors cannot write.
"""


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": round(record.created, 3), "level": record.levelname.lower(), "logger": record.name,
                 "message": record.getMessage()}
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger("ledger_api")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("ledger_api_requests", "requests answered", ["method", "route", "status"],
                                registry=self.registry)
        self.seconds = Histogram("ledger_api_request_seconds", "time to answer", ["method", "route"],
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10), registry=self.registry)
        self.chain_head = Gauge("ledger_api_chain_head_block", "the node's head as last seen", registry=self.registry)
        self.mirror_block = Gauge("ledger_api_mirror_block", "the mirror's checkpoint as last seen",
                                  registry=self.registry)


class Observed:
    """Logs and counts every request as plain ASGI middleware (Starlette's `BaseHTTPMiddleware` costs a task
    and a stream per request). The route template labels the metrics, so ids in paths do not multiply them."""

    def __init__(self, app, metrics: ApiMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        began = time.perf_counter()
        request_id = uuid.uuid4().hex[:16]
        status = 500

        async def sending(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - began
            template = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.seconds.labels(method, template).observe(seconds)
            log.info("request", extra={"fields": {
                "request_id": request_id, "method": method, "route": template, "status": status,
                "ms": round(seconds * 1000, 2), "account": scope.get("state", {}).get("caller")}})


def create_app(settings: Settings | None = None, keyring: Keyring | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.services = await Services.start(settings, keyring)
        app.state.content_store = app.state.services.content_store
        try:
            yield
        finally:
            await app.state.services.close()

    app = FastAPI(title="Baijiu Ledger API", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  openapi_tags=[{"name": n} for n in ("sign-in", "orders", "shipments", "transfers", "stock",
                                                      "catalog", "members", "transactions", "scans", "provenance",
                                                      "content", "epcis", "scan page", "service")])
    app.state.settings = settings
    app.state.metrics = metrics
    errors.install(app)

    app.add_middleware(Observed, metrics=metrics)
    app.include_router(auth.router)
    app.include_router(routes_writes.router)
    app.include_router(routes_reads.router)
    app.include_router(routes_board.router)
    app.include_router(routes_scan.router)
    app.include_router(routes_provenance.router)
    app.include_router(routes_content.router)
    app.include_router(routes_epcis.router)
    app.include_router(routes_pages.router)

    @app.get("/health", tags=["service"], summary="The process is up")
    def health() -> dict:
        return {"status": "ok", "version": __version__}

    @app.get("/ready", tags=["service"], summary="Ready: the node answers and the mirror is close behind it",
             responses={503: {"description": "not ready"}})
    def ready(request: Request):
        svc: Services = request.app.state.services
        head, mirrored = svc.chain.chain.height, svc.chain.mirror.height
        lag = head - mirrored if head >= 0 and mirrored >= 0 else None
        body = {"chain_head": head, "mirror_block": mirrored, "lag_blocks": lag,
                "max_lag_blocks": settings.ready_max_lag}
        if lag is None or lag > settings.ready_max_lag:
            return JSONResponse({"status": "not_ready", **body}, status_code=503)
        return {"status": "ready", **body}

    @app.get("/metrics", tags=["service"], summary="Prometheus metrics", response_class=Response)
    def prometheus(request: Request) -> Response:
        svc: Services = request.app.state.services
        metrics.chain_head.set(svc.chain.chain.height)
        metrics.mirror_block.set(svc.chain.mirror.height)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
