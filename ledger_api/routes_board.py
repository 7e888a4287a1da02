"""The brand's fulfilment and risk board over HTTP: each endpoint answers one panel of the board (`/board`) from
the mirror, through the pure figures of `ledger_api.board` and its sibling modules, and always within the
caller's reach: the brand and auditors see every region, regional staff their own, and other members only
what they may see of their own orders, shipments and stock. "Now" on the board is the mirror's newest block,
so figures over a chain that keeps its own time (the demo's) read as they would on the day."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query

from ledger_api import board_figures, board_reads
from ledger_api.auth import CurrentCaller
from ledger_api.errors import not_found
from ledger_api.models import ErrorBody
from ledger_api.routes_reads import unix
from ledger_api.services import Services, services

router = APIRouter(prefix="/v1/analytics", tags=["board"],
                   responses={s: {"model": ErrorBody} for s in (401, 403, 404, 422)})


def Region():  # noqa: N802
    return Query(None, ge=0, le=2**32 - 1, description="a region organisation's id")


@router.get("/cycle-times/weekly",
            summary="Order cycle time per week: submit → approved → delivered, median and p90 against the targets")
def weekly_cycle_times(caller: CurrentCaller, svc: Services = Depends(services), region: int | None = Region()) -> dict:
    with svc.engine.connect() as conn:
        return board_figures.weekly_cycle_times(conn, caller, weeks=svc.settings.board_weeks, region=region)


@router.get("/price-alerts", summary="Price changes beyond the alert threshold, and the revisions that made them")
def price_alerts(caller: CurrentCaller, svc: Services = Depends(services),
                 since: datetime | None = Query(None, description="ISO 8601 or Unix seconds; default: the start "
                                                                  "of the board's weeks (LEDGER_BOARD_WEEKS)")) -> dict:
    with svc.engine.connect() as conn:
        return board_figures.price_alerts(conn, caller, since=unix(since), weeks=svc.settings.board_weeks)


@router.get("/distributor-health",
            summary="Distributor health score (0-100) with its formula, components and the top 20% marked")
def distributor_health(caller: CurrentCaller, svc: Services = Depends(services), region: int | None = Region()) -> dict:
    with svc.engine.connect() as conn:
        return board_figures.distributor_health(conn, caller, svc.settings.health_rules, region=region)


@router.get("/scans", summary="Consumer scan verdicts by week and region, and the counterfeit, opened and diversion "
                              "hot spots (the brand, auditors and regional staff)")
def scans(caller: CurrentCaller, svc: Services = Depends(services), region: int | None = Region()) -> dict:
    with svc.engine.connect() as mirror, svc.brand.connect() as brand:
        return board_figures.scan_intelligence(mirror, brand, caller, weeks=svc.settings.board_weeks, region=region)


@router.get("/delay-warnings",
            summary="Shipments on the road predicted to miss their ETA, highest risk first, with the warning's backtest")
def delay_warnings(caller: CurrentCaller, svc: Services = Depends(services),
                   region: int | None = Query(None, ge=0, le=2**32 - 1,
                                              description="shipments from or to a site of this region")) -> dict:
    with svc.engine.connect() as conn:
        return board_reads.delay_warnings(conn, caller, svc.settings.delay_rules, region=region)


@router.get("/transfer-suggestions",
            summary="Transfers between warehouses that bring short regions to the cover target, best first")
def transfer_suggestions(caller: CurrentCaller, svc: Services = Depends(services),
                         region: int | None = Query(None, ge=0, le=2**32 - 1, description="the short region"),
                         sku: int | None = Query(None, ge=0, le=2**32 - 1)) -> dict:
    with svc.engine.connect() as conn:
        return board_reads.transfer_suggestions(conn, caller, svc.settings.cover_rules, svc.settings.sourcing_rules,
                                                svc.settings.delay_rules, region=region, sku=sku)


@router.get("/sourcing", summary="The warehouses that could ship an order, ranked by cover, lead time and cost")
def order_sourcing(caller: CurrentCaller, svc: Services = Depends(services),
                   order: int = Query(ge=1, le=2**63 - 1, description="the order's id")) -> dict:
    with svc.engine.connect() as conn:
        found = board_reads.order_sourcing(conn, caller, svc.settings.sourcing_rules, svc.settings.delay_rules,
                                           order)
    if found is None:
        raise not_found("order", order)
    return found
