"""Provenance: where a bottle, a case, a lot or an order's goods have been, from commissioning through
warehouses, shipments (carriers, ETAs, checkpoints) and sellers to the sale, with the transaction hashes
and, for a bottle, its Merkle proof against the lot's root on chain.

A bottle's provenance is public, like its scan (and limited the same way); cases, lots and orders are for
members: the brand and auditors see every lot, and an order is shown to whoever may see the order itself.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from indexer.schema import lots, shipment_checkpoints, shipment_lines, shipments
from ledger_api import codes, reads, registry, scanning
from ledger_api.auth import CurrentCaller
from ledger_api.caller import Reach
from ledger_api.errors import ApiError, not_found
from ledger_api.models import ErrorBody
from ledger_api.journey import case_journey
from ledger_api.routes_scan import _client, _invalid, _limiter
from ledger_api.services import Services, services

router = APIRouter(prefix="/v1/provenance", tags=["provenance"],
                   responses={s: {"model": ErrorBody} for s in (400, 401, 403, 404, 422, 429)})

LOT_ID = r"^[0-9]{1,78}$"


@router.get("/bottle", summary="A bottle's journey and Merkle proof, from its Digital Link URL (public)")
async def bottle(request: Request, url: str = Query(min_length=1, max_length=2048),
                 svc: Services = Depends(services)) -> dict:
    _limiter(request).check(_client(request))
    try:
        answer = await run_in_threadpool(svc.scanner.provenance, url)
    except (codes.CodeError, scanning.UnknownGtin) as error:
        raise _invalid(error) from None
    if answer is None:
        raise not_found("bottle", url)
    return answer


def _brand_or_auditor(caller) -> None:
    if caller.reach is not Reach.ledger:
        raise ApiError(403, "NotAllowed", {"hint": "lot and case provenance is for the brand and auditors"})


def _lot_record(svc: Services, lot: int, case: int) -> dict:
    with svc.engine.connect() as mirror:
        history = scanning.lot_history(mirror, lot)
        if history is None:
            raise not_found("lot", str(lot))
        row = history.lot
        if not 1 <= case <= row["cases"]:
            raise not_found("case", f"{lot}/{case}")
        stops = case_journey(case, row["cases"], row["commissioned_at"], row["location"], history.movements,
                             row["tx_hash"])
        sites = scanning.directory(mirror)
    with svc.brand.connect() as brand:
        serials = registry.case_serials(brand, lot, case)
    return {"lot": {"id": str(lot), "sku": row["sku"], "gtin": row["gtin"], "name": row["sku_name"],
                    "cases": row["cases"], "bottles": row["bottles"], "merkle_root": row["merkle_root"],
                    "recalled": row["recalled"], "commissioned_at": scanning.iso(row["commissioned_at"]),
                    "tx_hash": row["tx_hash"]},
            "case": case, "serials": serials, "journey": [scanning._stop_json(s, sites) for s in stops]}


@router.get("/lots/{lot}/cases/{case}", summary="One case's journey and its bottles (brand, auditors)")
async def case_provenance(caller: CurrentCaller, lot: str = Path(pattern=LOT_ID), case: int = Path(ge=1, le=2**32 - 1),
                          svc: Services = Depends(services)) -> dict:
    _brand_or_auditor(caller)
    return await run_in_threadpool(_lot_record, svc, int(lot), case)


def _shipment_json(mirror, rows) -> list[dict]:
    ids = [r.id for r in rows]
    lines: dict[int, list] = {}
    checkpoints: dict[int, list] = {}
    if ids:
        for line in mirror.execute(select(shipment_lines).where(shipment_lines.c.shipment_id.in_(ids))
                                   .order_by(shipment_lines.c.shipment_id, shipment_lines.c.line_no)):
            lines.setdefault(line.shipment_id, []).append({"lot": str(line.lot), "sku": line.sku, "cases": line.cases,
                                                           "received": line.received})
        for c in mirror.execute(select(shipment_checkpoints).where(shipment_checkpoints.c.shipment_id.in_(ids))
                                .order_by(shipment_checkpoints.c.block_number, shipment_checkpoints.c.log_index)):
            checkpoints.setdefault(c.shipment_id, []).append({"at": scanning.iso(c.time), "place": c.place,
                                                              "status": c.status, "carrier": c.carrier})
    return [{"id": r.id, "kind": r.kind, "ref": r.ref, "from_location": r.from_location, "to_location": r.to_location,
             "carrier": r.carrier, "eta": scanning.iso(r.eta), "dispatched_at": scanning.iso(r.dispatched_at),
             "received_at": scanning.iso(r.received_at), "shortfall": r.shortfall, "tx_hash": r.tx_hash,
             "lines": lines.get(r.id, []), "checkpoints": checkpoints.get(r.id, [])} for r in rows]


@router.get("/lots/{lot}", summary="A lot's commissioning and every shipment that carried it (brand, auditors)")
async def lot_provenance(caller: CurrentCaller, lot: str = Path(pattern=LOT_ID),
                         svc: Services = Depends(services)) -> dict:
    _brand_or_auditor(caller)

    def read() -> dict:
        with svc.engine.connect() as mirror:
            row = mirror.execute(select(lots).where(lots.c.id == int(lot))).mappings().first()
            if row is None:
                raise not_found("lot", lot)
            carried = mirror.execute(
                select(shipments).join(shipment_lines, shipment_lines.c.shipment_id == shipments.c.id)
                .where(shipment_lines.c.lot == int(lot)).distinct().order_by(shipments.c.id)).all()
            return {"lot": reads._lot_json(row), "shipments": _shipment_json(mirror, carried)}

    return await run_in_threadpool(read)


@router.get("/orders/{order_id}", summary="An order and the shipments that carried its goods (who may see it)")
async def order_provenance(caller: CurrentCaller, order_id: int = Path(ge=1, le=2**63 - 1),
                           svc: Services = Depends(services)) -> dict:
    def read() -> dict:
        with svc.engine.connect() as mirror:
            order = reads.get_order(mirror, caller, order_id)
            if order is None:
                raise not_found("order", order_id)
            carried = mirror.execute(select(shipments).where(shipments.c.kind == 0, shipments.c.ref == order_id)
                                     .order_by(shipments.c.id)).all()
            return {"order": order, "shipments": _shipment_json(mirror, carried)}

    return await run_in_threadpool(read)
