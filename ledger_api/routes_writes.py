"""The write endpoints: each turns a member's request into one contract call, signed with the member's key.

Follow one shipment: `POST /v1/shipments` checks the caller may see the order it ships, sorts the lines as the
contract wants them, and calls `Inventory.dispatch` through `ChainClient.send`, which estimates (a refusal
comes back as the contract's error by name), signs, sends and waits for the receipt and the mirror; the
answer is the shipment as the indexer has now projected it from `ShipmentDispatched` (`reads.get_shipment`).
If the receipt or the mirror takes longer than `write_timeout`, the answer is `202` with the transaction hash,
which `GET /v1/transactions/{hash}` follows up.

Objects a write names are looked up through the caller's read scope first, so a member acting on someone
else's order gets the same 404 as for an order that does not exist, and no contract error about it.

A member that keeps its key to itself (the member console signs in the browser) sends `X-Ledger-Signing:
client`: the write runs the same checks and the same gas estimate, so a refusal still comes back by name, and
then answers `200` with the unsigned transaction instead of signing it. The member signs that and sends it to
`POST /v1/transactions/raw`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from eth_utils import to_checksum_address

from ledger_api import models, reads
from ledger_api.auth import CurrentCaller, WritingCaller
from ledger_api.caller import Caller, Reach
from ledger_api.chain import KeyNotHeld, Outcome
from ledger_api.errors import ApiError, not_found
from ledger_api.models import ErrorBody, Pending, UnsignedTransaction, Written
from ledger_api.services import Services, services
from ledger_api.vocabulary import OrgKind, Role, ShipmentKind, Stage

# 400: a body that cannot even be decoded as text (malformed JSON text is a 422).
ERRORS = {status: {"model": ErrorBody} for status in (400, 401, 403, 404, 409, 422, 503)}
WRITE_RESPONSES = {**ERRORS, 202: {"model": Pending, "description": "sent; not yet mined or mirrored"}}

UNSIGNED = "the unsigned transaction, for `X-Ledger-Signing: client`: sign it, then POST /v1/transactions/raw"
RELAY = "/v1/transactions/raw"

# Set by every write route's `signing` dependency for its own request, read by `write()`.
_client_signs: ContextVar[bool] = ContextVar("client_signs", default=False)


async def signing(x_ledger_signing: Annotated[Literal["server", "client"], Header(
        alias="X-Ledger-Signing",
        description="`client`: answer the unsigned transaction for the caller to sign itself (after the same "
                    "checks and gas estimate), instead of signing it with a key this API holds")] = "server") -> None:
    # An async dependency runs in the request's own task, so the endpoint after it sees this value.
    _client_signs.set(x_ledger_signing == "client")


class WriteRoute(APIRoute):
    """This router's routes. Every POST but the relay sends a contract call through `write()`: it also takes
    `X-Ledger-Signing`, and its OpenAPI names the unsigned transaction beside its usual answer. (Applied again,
    as when the router is included in the app, it changes nothing more.)"""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any):
        if "POST" in (kwargs.get("methods") or ()) and path != RELAY:
            dependencies = list(kwargs.get("dependencies") or ())
            if not any(d.dependency is signing for d in dependencies):
                dependencies.append(Depends(signing))
            kwargs["dependencies"] = dependencies
            if kwargs.get("status_code") in (None, 200):  # one answer code, two shapes
                kwargs["response_model"] = kwargs["response_model"] | UnsignedTransaction
            else:
                kwargs["responses"] = {**(kwargs.get("responses") or {}),
                                       200: {"model": UnsignedTransaction, "description": UNSIGNED}}
        super().__init__(path, endpoint, **kwargs)


router = APIRouter(prefix="/v1", responses=WRITE_RESPONSES, route_class=WriteRoute)


def object_id():
    return Path(ge=1, le=2**63 - 1)


STAGE_ROLE = {Stage.region_manager: Role.region_manager, Stage.sales_director: Role.sales_director,
              Stage.finance: Role.finance}


async def write(svc: Services, caller: Caller, contract: str, function: str, args: list,
                result: Callable[[Any, Outcome], dict | None]) -> Any:
    """Sends the call as `caller`, then answers with `result(conn, outcome)` read from the mirror; or, when the
    caller signs for itself, answers the unsigned transaction."""
    if _client_signs.get():
        unsigned = await svc.chain.unsigned(caller.address, contract, function, args)
        return JSONResponse(UnsignedTransaction.model_validate(unsigned).model_dump(by_alias=True))
    if not svc.chain.keyring.holds(caller.address):
        raise KeyNotHeld(caller.address)
    outcome = await svc.chain.send(caller.address, contract, function, args, svc.settings.write_timeout)
    return await answer(svc, outcome, result)


async def answer(svc: Services, outcome: Outcome, result: Callable[[Any, Outcome], dict | None]) -> Any:
    if outcome.receipt is None or not outcome.mirrored:
        status = "pending" if outcome.receipt is None else "mined"
        return JSONResponse(Pending(tx_hash=outcome.tx_hash, status=status, block=outcome.block).model_dump(),
                            status_code=202)

    # The object's few indexed reads run on the event loop: cheaper than a hop to a thread and back, which under
    # load waits for the interpreter lock as long as the reads take.
    with svc.engine.connect() as conn:
        written = result(conn, outcome)
    return Written(tx_hash=outcome.tx_hash, block=outcome.block, result=written)


async def require(svc: Services, what: str, key: Any, fetch: Callable[..., dict | None], *args: Any,
                  **kwargs: Any) -> dict:
    """The object a write acts on, if the caller may see it; 404 otherwise."""
    with svc.engine.connect() as conn:
        found = fetch(conn, *args, **kwargs)
    if found is None:
        raise not_found(what, key)
    return found


def now() -> int:
    return int(time.time())


# ------------------------------------------------------------------------------------------------ orders


@router.post("/orders", status_code=201, response_model=Written, tags=["orders"],
             summary="Submit an order (a distributor's purchaser)")
async def submit_order(body: models.SubmitOrder, caller: WritingCaller, svc: Services = Depends(services)):
    lines = sorted((line.sku, line.cases) for line in body.lines)
    return await write(svc, caller, "Orders", "submitOrder",
                       [body.deliver_to, body.urgent, [s for s, _ in lines], [c for _, c in lines]],
                       lambda conn, o: reads.get_order(conn, caller, o.topic("OrderSubmitted")))


def pending_stage(order: dict, caller: Caller, asked: str | None) -> Stage:
    """The stage the caller acts at: the one asked for, or else the earliest pending stage it holds the role of."""
    if asked is not None:
        return Stage[asked]
    for name in order.get("pending_stages", []):
        stage = Stage[name]
        if caller.has(STAGE_ROLE[stage]):
            return stage
    raise ApiError(409, "NoPendingStage", {"order": order["id"], "pending_stages": order.get("pending_stages", []),
                                           "problem": "no pending stage of this order is one the caller approves"})


@router.post("/orders/{order_id}/approve", response_model=Written, tags=["orders"],
             summary="Approve an order at a stage (regional manager, sales director, finance)")
async def approve_order(body: models.ApproveOrder, caller: WritingCaller, order_id: int = object_id(),
                        svc: Services = Depends(services)):
    order = await require(svc, "order", order_id, reads.get_order, caller, order_id)
    stage = pending_stage(order, caller, body.stage)
    return await write(svc, caller, "Orders", "approveOrder", [order_id, int(stage)],
                       lambda conn, o: reads.get_order(conn, caller, order_id))


@router.post("/orders/{order_id}/reject", response_model=Written, tags=["orders"], summary="Reject an order")
async def reject_order(body: models.RejectOrder, caller: WritingCaller, order_id: int = object_id(),
                       svc: Services = Depends(services)):
    order = await require(svc, "order", order_id, reads.get_order, caller, order_id)
    stage = pending_stage(order, caller, body.stage)
    return await write(svc, caller, "Orders", "rejectOrder", [order_id, int(stage), body.reason_code],
                       lambda conn, o: reads.get_order(conn, caller, order_id))


@router.post("/orders/{order_id}/cancel", response_model=Written, tags=["orders"],
             summary="Cancel an order nothing has been dispatched against (its distributor)")
async def cancel_order(body: models.CancelOrder, caller: WritingCaller, order_id: int = object_id(),
                       svc: Services = Depends(services)):
    await require(svc, "order", order_id, reads.get_order, caller, order_id)
    return await write(svc, caller, "Orders", "cancelOrder", [order_id, body.reason_code],
                       lambda conn, o: reads.get_order(conn, caller, order_id))


# ------------------------------------------------------------------------------------------- shipments


@router.post("/shipments", status_code=201, response_model=Written, tags=["shipments"],
             summary="Dispatch stock: against an approved order or transfer, or a delivery to a store")
async def dispatch(body: models.Dispatch, caller: WritingCaller, svc: Services = Depends(services)):
    kind = ShipmentKind[body.kind]
    if kind is ShipmentKind.order:
        await require(svc, "order", body.ref, reads.get_order, caller, body.ref)
    elif kind is ShipmentKind.transfer:
        await require(svc, "transfer", body.ref, reads.get_transfer, caller, body.ref)
    lines = sorted((line.lot, line.cases) for line in body.lines)
    consignment = (int(kind), body.ref, body.from_location, body.to_location, body.carrier, body.eta,
                   body.document_cid)
    return await write(svc, caller, "Inventory", "dispatch",
                       [consignment, [lot for lot, _ in lines], [c for _, c in lines]],
                       lambda conn, o: reads.get_shipment(conn, caller, o.topic("ShipmentDispatched"), now=now()))


@router.post("/shipments/{shipment_id}/checkpoints", status_code=201, response_model=Written, tags=["shipments"],
             summary="Report where a shipment is (its carrier)")
async def add_checkpoint(body: models.Checkpoint, caller: WritingCaller, shipment_id: int = object_id(),
                         svc: Services = Depends(services)):
    await require(svc, "shipment", shipment_id, reads.get_shipment, caller, shipment_id, now=now())
    return await write(svc, caller, "Inventory", "recordCheckpoint", [shipment_id, body.status, body.place],
                       lambda conn, o: reads.get_shipment(conn, caller, shipment_id, now=now()))


@router.post("/shipments/{shipment_id}/receipt", response_model=Written, tags=["shipments"],
             summary="Confirm what arrived, line by line; short lines open discrepancies")
async def confirm_receipt(body: models.Receipt, caller: WritingCaller, shipment_id: int = object_id(),
                          svc: Services = Depends(services)):
    shipment = await require(svc, "shipment", shipment_id, reads.get_shipment, caller, shipment_id, now=now())
    shipped = [(int(line["lot"]), line["cases"]) for line in sorted(shipment["lines"], key=lambda x: x["line_no"])]
    counted = {line.lot: line.received for line in body.lines}
    if len(counted) != len(body.lines) or set(counted) != {lot for lot, _ in shipped}:
        raise ApiError(422, "ReceiptLinesMismatch", {
            "shipment": shipment_id, "lots": [str(lot) for lot, _ in shipped],
            "problem": "give one received count for each lot of the shipment, and no other lot"})
    manifest = (ShipmentKind[shipment["kind"]].value, shipment["ref"], shipment["from_location"],
                [lot for lot, _ in shipped], [cases for _, cases in shipped])
    return await write(svc, caller, "Inventory", "confirmReceipt",
                       [shipment_id, manifest, [counted[lot] for lot, _ in shipped]],
                       lambda conn, o: reads.get_shipment(conn, caller, shipment_id, now=now()))


@router.post("/sales", status_code=201, response_model=Written, tags=["stock"],
             summary="Record cases sold to consumers from a store's stock (store staff)")
async def record_sale(body: models.Sale, caller: WritingCaller, svc: Services = Depends(services)):
    await require(svc, "location", body.location, reads.get_location, caller, body.location)

    def left(conn, o: Outcome) -> dict:
        rows = reads.stock(conn, caller, location=body.location, sku=body.lot >> 160, include_in_transit=False)
        on_hand = next((r["on_hand"] for r in rows["items"] if r["lot"] == str(body.lot)), 0)
        return {"location": body.location, "lot": str(body.lot), "sold": body.cases, "on_hand": on_hand}

    return await write(svc, caller, "Inventory", "recordSale", [body.location, body.lot, body.cases], left)


# ------------------------------------------------------------------------------------------- transfers


@router.post("/transfers", status_code=201, response_model=Written, tags=["transfers"],
             summary="Ask to move stock between two of the brand's sites")
async def request_transfer(body: models.RequestTransfer, caller: WritingCaller, svc: Services = Depends(services)):
    lines = sorted((line.lot, line.cases) for line in body.lines)
    return await write(svc, caller, "Inventory", "requestTransfer",
                       [body.from_location, body.to_location, [lot for lot, _ in lines], [c for _, c in lines]],
                       lambda conn, o: reads.get_transfer(conn, caller, o.topic("TransferRequested")))


@router.post("/transfers/{transfer_id}/approve", response_model=Written, tags=["transfers"],
             summary="Approve a requested transfer (the brand's sales director)")
async def approve_transfer(caller: WritingCaller, transfer_id: int = object_id(), svc: Services = Depends(services)):
    await require(svc, "transfer", transfer_id, reads.get_transfer, caller, transfer_id)
    return await write(svc, caller, "Inventory", "approveTransfer", [transfer_id],
                       lambda conn, o: reads.get_transfer(conn, caller, transfer_id))


@router.post("/transfers/{transfer_id}/reject", response_model=Written, tags=["transfers"],
             summary="Reject a requested transfer (the brand's sales director)")
async def reject_transfer(body: models.RejectTransfer, caller: WritingCaller, transfer_id: int = object_id(),
                          svc: Services = Depends(services)):
    await require(svc, "transfer", transfer_id, reads.get_transfer, caller, transfer_id)
    return await write(svc, caller, "Inventory", "rejectTransfer", [transfer_id, body.reason_code],
                       lambda conn, o: reads.get_transfer(conn, caller, transfer_id))


# --------------------------------------------------------------------------------------------- catalog


@router.post("/skus", status_code=201, response_model=Written, tags=["catalog"],
             summary="Register a SKU (brand admin)")
async def register_sku(body: models.RegisterSku, caller: WritingCaller, svc: Services = Depends(services)):
    return await write(svc, caller, "Catalog", "registerSku",
                       [int(body.gtin), body.bottles_per_case, body.name, body.content_cid],
                       lambda conn, o: reads.get_sku(conn, caller, o.topic("SkuRegistered")))


@router.post("/prices", response_model=Written, tags=["catalog"],
             summary="Set prices per SKU and tier (brand sales director)")
async def set_prices(body: models.SetPrices, caller: WritingCaller, svc: Services = Depends(services)):
    changes = [(c.sku, c.tier, c.price) for c in body.changes]
    changed = {(c.sku, c.tier) for c in body.changes}
    return await write(svc, caller, "Catalog", "setPrices", [changes], lambda conn, o: {"prices": [
        p for sku in sorted({sku for sku, _ in changed}) for p in reads.current_prices(conn, caller, sku=sku)
        if (sku, p["tier"]) in changed]})


@router.post("/lots", status_code=201, response_model=Written, tags=["catalog"],
             summary="Commission a lot with its bottles' Merkle root (brand dispatcher)")
async def commission_lot(body: models.CommissionLot, caller: WritingCaller, svc: Services = Depends(services)):
    lot_number = body.lot_number.encode().ljust(20, b"\0")
    return await write(svc, caller, "Inventory", "commissionLot",
                       [body.sku, lot_number, body.location, body.cases, body.bottles,
                        bytes.fromhex(body.merkle_root[2:]), body.document_cid],
                       lambda conn, o: reads.get_lot(conn, caller, o.topic("LotCommissioned")))


@router.post("/lots/{lot}/recall", response_model=Written, tags=["catalog"], summary="Recall a lot (brand admin)")
async def recall_lot(body: models.RecallLot, caller: WritingCaller, lot: str = Path(pattern=r"^[0-9]{1,78}$"),
                     svc: Services = Depends(services)):
    lot_id = int(lot)
    if not 0 < lot_id < 2**256:
        raise not_found("lot", lot)
    await require(svc, "lot", lot, reads.get_lot, caller, lot_id)
    return await write(svc, caller, "Inventory", "recallLot", [lot_id, body.reason_code],
                       lambda conn, o: reads.get_lot(conn, caller, lot_id))


# --------------------------------------------------------------------------------------------- members


@router.post("/credits/{distributor}", response_model=Written, tags=["members"],
             summary="Set a distributor's credit limit (brand finance)")
async def set_credit_limit(body: models.CreditLimit, caller: WritingCaller,
                           distributor: int = Path(ge=1, le=2**32 - 1), svc: Services = Depends(services)):
    return await write(svc, caller, "Orders", "setCreditLimit", [distributor, body.limit],
                       lambda conn, o: reads.credit(conn, caller, distributor))


@router.post("/organisations", status_code=201, response_model=Written, tags=["members"],
             summary="Register a member organisation (brand admin)")
async def register_organisation(body: models.RegisterOrganisation, caller: WritingCaller,
                                svc: Services = Depends(services)):
    kind = OrgKind[body.kind]

    return await write(svc, caller, "Membership", "registerOrganisation",
                       [int(kind), body.parent, body.price_tier, body.name, body.code],
                       lambda conn, o: reads.get_organisation(conn, caller, o.topic("OrganisationRegistered")))


@router.post("/locations", status_code=201, response_model=Written, tags=["members"],
             summary="Register a location of a member organisation (brand admin)")
async def register_location(body: models.RegisterLocation, caller: WritingCaller, svc: Services = Depends(services)):
    return await write(svc, caller, "Membership", "registerLocation", [body.org, body.name, body.gln],
                       lambda conn, o: reads.get_location(conn, caller, o.topic("LocationRegistered")))


@router.post("/accounts", response_model=Written, tags=["members"],
             summary="Onboard an account or change its roles (brand admin)")
async def set_account(body: models.SetAccount, caller: WritingCaller, svc: Services = Depends(services)):
    address = to_checksum_address(body.address)
    roles = sum(int(Role[name]) for name in set(body.roles))
    return await write(svc, caller, "Membership", "setAccount", [address, body.org, roles, body.name],
                       lambda conn, o: reads.get_account(conn, caller, address))


@router.post("/accounts/{address}/deactivate", response_model=Written, tags=["members"],
             summary="Deactivate an account: it loses access at once (brand admin)")
async def deactivate_account(caller: WritingCaller, address: str = Path(pattern=r"^0x[0-9a-fA-F]{40}$"),
                             svc: Services = Depends(services)):
    account = to_checksum_address(address)
    return await write(svc, caller, "Membership", "deactivateAccount", [account],
                       lambda conn, o: reads.get_account(conn, caller, account))


# ---------------------------------------------------------------------------------------- transactions


@router.post("/transactions/raw", status_code=201, response_model=Written, tags=["transactions"],
             summary="Relay a transaction the member signed itself")
async def relay(body: models.RawTransaction, caller: WritingCaller, svc: Services = Depends(services)):
    outcome = await svc.chain.relay(body.raw, caller.address, svc.settings.write_timeout)
    return await answer(svc, outcome, lambda conn, o: {"events": [
        {"contract": e["contract"], "event": e["event"]} for e in o.events]})


@router.get("/transactions/{tx_hash}", tags=["transactions"], responses=ERRORS,
            summary="A transaction's status: pending, mined, mirrored or failed")
async def transaction(caller: CurrentCaller, tx_hash: str = Path(pattern=r"^0x[0-9a-fA-F]{64}$"),
                      svc: Services = Depends(services)) -> dict:
    outcome = await svc.chain.status(tx_hash.lower())
    # Members see their own transactions; the brand and auditors see every one.
    if outcome is None or (caller.reach is not Reach.ledger and outcome.sender != caller.address):
        raise not_found("transaction", tx_hash)
    if outcome.receipt is None:
        return {"tx_hash": outcome.tx_hash, "status": "pending", "block": None, "events": []}
    failed = int(outcome.receipt["status"], 16) != 1
    status = "failed" if failed else ("mirrored" if outcome.mirrored else "mined")
    return {"tx_hash": outcome.tx_hash, "status": status, "block": outcome.block,
            "events": [{"contract": e["contract"], "event": e["event"]} for e in outcome.events]}
