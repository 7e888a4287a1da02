"""The read endpoints: filters and pages over the mirror, always within the caller's reach (`ledger_api.reads`
applies it). An object outside that reach answers 404 exactly like one that does not exist. Times in query
strings are ISO 8601 (`2026-06-01`, `2026-06-01T08:00:00+08:00`) or Unix seconds; times in answers are Unix
seconds of block time."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Literal

from fastapi import APIRouter, Depends, Path, Query

from ledger_api import reads
from ledger_api.auth import CurrentCaller
from ledger_api.errors import not_found
from ledger_api.models import ErrorBody, Page
from ledger_api.services import Services, services

router = APIRouter(prefix="/v1", responses={s: {"model": ErrorBody} for s in (401, 403, 404, 422)})

OrderStateName = Literal["submitted", "approved", "partially_dispatched", "dispatched", "delivered", "rejected",
                         "cancelled"]
# Factories, not shared instances: FastAPI binds a parameter object to the first name it is used for.


def Id():  # noqa: N802
    return Path(ge=1, le=2**63 - 1)


def Limit():  # noqa: N802
    return Query(50, ge=1, le=500)


def Offset():  # noqa: N802
    return Query(0, ge=0, le=10**9)


def Location():  # noqa: N802
    return Query(None, ge=0, le=2**32 - 1)


def unix(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def found(value, what: str, key):
    if value is None:
        raise not_found(what, key)
    return value


# ------------------------------------------------------------------------------------------------ orders


@router.get("/orders", response_model=Page, tags=["orders"], summary="Orders, newest first")
def list_orders(caller: CurrentCaller, svc: Services = Depends(services),
                state: list[OrderStateName] | None = Query(None, description="any of these states"),
                region: int | None = Query(None, ge=0, le=2**32 - 1),
                distributor: int | None = Query(None, ge=0, le=2**32 - 1),
                submitted_from: datetime | None = None, submitted_to: datetime | None = None,
                urgent: bool | None = None,
                pending_for_me: bool = Query(False, description="only orders awaiting an approval stage of mine"),
                limit: int = Limit(), offset: int = Offset()):
    with svc.engine.connect() as conn:
        return reads.list_orders(conn, caller, states=state, region=region, distributor=distributor,
                                 submitted_from=unix(submitted_from), submitted_to=unix(submitted_to), urgent=urgent,
                                 pending_for_me=pending_for_me, limit=limit, offset=offset)


@router.get("/orders/{order_id}", tags=["orders"], summary="One order with its lines, approvals and shipments")
def get_order(caller: CurrentCaller, order_id: int = Id(), svc: Services = Depends(services)) -> dict:
    with svc.engine.connect() as conn:
        return found(reads.get_order(conn, caller, order_id), "order", order_id)


@router.get("/analytics/cycle-times", tags=["orders"],
            summary="Order cycle time (submit → approved → delivered): median and p90 per region")
def cycle_times(caller: CurrentCaller, svc: Services = Depends(services),
                region: int | None = Query(None, ge=0, le=2**32 - 1),
                submitted_from: datetime | None = None, submitted_to: datetime | None = None,
                urgent: bool | None = None) -> dict:
    with svc.engine.connect() as conn:
        return reads.cycle_times(conn, caller, region=region, submitted_from=unix(submitted_from),
                                 submitted_to=unix(submitted_to), urgent=urgent)


# ------------------------------------------------------------------------------------------- shipments


@router.get("/shipments", response_model=Page, tags=["shipments"], summary="Shipments, newest first")
def list_shipments(caller: CurrentCaller, svc: Services = Depends(services),
                   state: Literal["in_transit", "received"] | None = None,
                   kind: Literal["order", "transfer", "delivery"] | None = None,
                   overdue: bool | None = Query(None, description="in transit past the ETA, or received late"),
                   from_location: int | None = Location(), to_location: int | None = Location(),
                   carrier: int | None = Location(), limit: int = Limit(), offset: int = Offset()):
    with svc.engine.connect() as conn:
        return reads.list_shipments(conn, caller, state=state, kind=kind, overdue=overdue,
                                    from_location=from_location, to_location=to_location, carrier=carrier,
                                    now=int(time.time()), limit=limit, offset=offset)


@router.get("/shipments/{shipment_id}", tags=["shipments"],
            summary="One shipment with its lines, checkpoints and discrepancies")
def get_shipment(caller: CurrentCaller, shipment_id: int = Id(), svc: Services = Depends(services)) -> dict:
    with svc.engine.connect() as conn:
        return found(reads.get_shipment(conn, caller, shipment_id, now=int(time.time())), "shipment", shipment_id)


# ------------------------------------------------------------------------------------------- transfers


@router.get("/transfers", response_model=Page, tags=["transfers"], summary="Stock transfers, newest first")
def list_transfers(caller: CurrentCaller, svc: Services = Depends(services),
                   state: Literal["requested", "approved", "dispatched", "completed", "rejected"] | None = None,
                   limit: int = Limit(), offset: int = Offset()):
    with svc.engine.connect() as conn:
        return reads.list_transfers(conn, caller, state=state, limit=limit, offset=offset)


@router.get("/transfers/{transfer_id}", tags=["transfers"], summary="One transfer with its lines")
def get_transfer(caller: CurrentCaller, transfer_id: int = Id(), svc: Services = Depends(services)) -> dict:
    with svc.engine.connect() as conn:
        return found(reads.get_transfer(conn, caller, transfer_id), "transfer", transfer_id)


# ------------------------------------------------------------------------------------------------ stock


@router.get("/stock", response_model=Page, tags=["stock"],
            summary="Stock per location and lot: on hand, and in transit towards the location")
def stock(caller: CurrentCaller, svc: Services = Depends(services), location: int | None = Location(),
          region: int | None = Location(), sku: int | None = Location(), include_in_transit: bool = True,
          limit: int = Query(500, ge=1, le=500), offset: int = Offset()):
    with svc.engine.connect() as conn:
        return reads.stock(conn, caller, location=location, region=region, sku=sku,
                           include_in_transit=include_in_transit, limit=limit, offset=offset)


@router.get("/analytics/stock-cover", tags=["stock"],
            summary="Days of cover per region and SKU from sell-through, with shortage and surplus flags")
def stock_cover(caller: CurrentCaller, svc: Services = Depends(services),
                region: int | None = Query(None, ge=0, le=2**32 - 1),
                sku: int | None = Query(None, ge=0, le=2**32 - 1)) -> dict:
    with svc.engine.connect() as conn:
        return reads.stock_cover(conn, caller, svc.settings.cover_rules, region=region, sku=sku)


@router.get("/stock/summary", tags=["stock"], summary="Stock totals per location, region or SKU")
def stock_summary(caller: CurrentCaller, svc: Services = Depends(services),
                  group_by: Literal["location", "region", "sku"] = "region", location: int | None = Location(),
                  region: int | None = Location(), sku: int | None = Location()) -> list[dict]:
    with svc.engine.connect() as conn:
        return reads.stock_summary(conn, caller, group_by=group_by, location=location, region=region, sku=sku)


# --------------------------------------------------------------------------------------------- catalog


@router.get("/skus", tags=["catalog"], summary="The catalog")
def list_skus(caller: CurrentCaller, svc: Services = Depends(services)) -> list[dict]:
    with svc.engine.connect() as conn:
        return reads.list_skus(conn, caller)


@router.get("/skus/{sku_id}", tags=["catalog"], summary="One SKU")
def get_sku(caller: CurrentCaller, sku_id: int = Path(ge=1, le=2**32 - 1), svc: Services = Depends(services)) -> dict:
    with svc.engine.connect() as conn:
        return found(reads.get_sku(conn, caller, sku_id), "sku", sku_id)


@router.get("/lots", response_model=Page, tags=["catalog"], summary="Commissioned lots, newest first")
def list_lots(caller: CurrentCaller, svc: Services = Depends(services), sku: int | None = Location(),
              limit: int = Limit(), offset: int = Offset()):
    with svc.engine.connect() as conn:
        return reads.list_lots(conn, caller, sku=sku, limit=limit, offset=offset)


@router.get("/lots/{lot}", tags=["catalog"], summary="One lot")
def get_lot(caller: CurrentCaller, lot: str = Path(pattern=r"^[0-9]{1,78}$"),
            svc: Services = Depends(services)) -> dict:
    with svc.engine.connect() as conn:
        return found(reads.get_lot(conn, caller, int(lot)) if int(lot) < 2**256 else None, "lot", lot)


@router.get("/prices", tags=["catalog"], summary="Current prices per SKU and tier (fen per case)")
def current_prices(caller: CurrentCaller, svc: Services = Depends(services), sku: int | None = Location(),
                   tier: int | None = Query(None, ge=0, le=255)) -> list[dict]:
    with svc.engine.connect() as conn:
        return reads.current_prices(conn, caller, sku=sku, tier=tier)


@router.get("/prices/history", response_model=Page, tags=["catalog"], summary="Price changes, newest first")
def price_history(caller: CurrentCaller, svc: Services = Depends(services), sku: int | None = Location(),
                  tier: int | None = Query(None, ge=0, le=255), changed_from: datetime | None = None,
                  changed_to: datetime | None = None, limit: int = Query(100, ge=1, le=500), offset: int = Offset()):
    with svc.engine.connect() as conn:
        return reads.price_history(conn, caller, sku=sku, tier=tier, changed_from=unix(changed_from),
                                   changed_to=unix(changed_to), limit=limit, offset=offset)


# --------------------------------------------------------------------------------------------- members


@router.get("/organisations", tags=["members"], summary="Member organisations within the caller's reach")
def list_organisations(caller: CurrentCaller, svc: Services = Depends(services),
                       kind: Literal["brand", "region", "warehouse", "distributor", "store", "carrier", "auditor"]
                       | None = None) -> list[dict]:
    with svc.engine.connect() as conn:
        return reads.list_organisations(conn, caller, kind=kind)


@router.get("/locations", tags=["members"], summary="Locations within the caller's reach")
def list_locations(caller: CurrentCaller, svc: Services = Depends(services),
                   org: int | None = Query(None, ge=0, le=2**32 - 1)) -> list[dict]:
    with svc.engine.connect() as conn:
        return reads.list_locations(conn, caller, org=org)


@router.get("/accounts", tags=["members"], summary="Accounts within the caller's reach")
def list_accounts(caller: CurrentCaller, svc: Services = Depends(services)) -> list[dict]:
    with svc.engine.connect() as conn:
        return reads.list_accounts(conn, caller)


@router.get("/credits/{distributor}", tags=["members"], summary="A distributor's credit limit and exposure")
def credit(caller: CurrentCaller, distributor: int = Path(ge=1, le=2**32 - 1),
           svc: Services = Depends(services)) -> dict:
    with svc.engine.connect() as conn:
        return found(reads.credit(conn, caller, distributor), "credit", distributor)
