"""Every error the API answers is JSON of one shape, `{"error": "<Name>", "detail": {...}}`, with a status that
says whose fault it is: a contract's custom error keeps its Solidity name (`InsufficientStock`, with the
error's arguments as detail), and the API's own refusals are named the same way. No stack trace, no internal
message and no secret ever reaches a response; unexpected failures answer `500 InternalError` and are logged.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger_api.chain import ChainUnavailable, ContractError, InvalidTransaction, KeyNotHeld, KeystoreError
from ledger_api.reads import InvalidQuery

log = logging.getLogger("ledger_api")

# Contract errors by who must act: the caller lacks the right (403), names nothing that exists (404), sent
# a request that can never succeed (422); every other refusal is a conflict with the ledger's state (409).
FORBIDDEN = {"NotAMember", "MissingRole", "WrongOrganisation", "NotAllowedToRequestTransfer",
             "CannotDeactivateSelf", "CannotDropOwnAdmin", "OnlyInventory"}
NOT_FOUND = {"UnknownOrder", "UnknownSku", "UnknownLot", "UnknownShipment", "UnknownTransfer", "UnknownDiscrepancy",
             "UnknownOrganisation", "UnknownLocation"}
INVALID = {"InvalidLines", "LinesNotSorted", "ZeroCases", "InvalidGtin", "InvalidBottlesPerCase", "ZeroPrice",
           "InvalidThreshold", "InvalidLotNumber", "InvalidMerkleRoot", "BottleCountMismatch", "EtaInPast",
           "InvalidStage", "InvalidKind", "InvalidParent", "RolesNotAllowed", "ZeroAddress", "SameLocation",
           "InvalidPeriod", "InvalidResolution", "SoldIsNotAWriteOff", "AmountTooLarge", "InvalidApprovalPolicy",
           "UnexpectedReference", "Panic"}


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: Any = None):
        self.status, self.error, self.detail = status, error, detail if detail is not None else {}
        super().__init__(f"{status} {error}")


def not_found(what: str, key: Any) -> ApiError:
    """The answer for an object that does not exist and for one the caller may not see, alike."""
    return ApiError(404, "NotFound", {"what": what, "id": key})


def contract_status(name: str) -> int:
    if name in FORBIDDEN:
        return 403
    if name in NOT_FOUND:
        return 404
    if name in INVALID:
        return 422
    return 409


def error_body(error: str, detail: Any) -> dict:
    return {"error": error, "detail": jsonable_encoder(detail)}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError):
        return JSONResponse(error_body(exc.error, exc.detail), status_code=exc.status)

    @app.exception_handler(ContractError)
    async def _contract_error(_: Request, exc: ContractError):
        return JSONResponse(error_body(exc.name, exc.detail), status_code=contract_status(exc.name))

    @app.exception_handler(KeyNotHeld)
    async def _key_not_held(_: Request, exc: KeyNotHeld):
        return JSONResponse(error_body("KeyNotHeld", {
            "account": str(exc),
            "hint": "this API holds no key for the account: sign the transaction yourself and POST it to "
                    "/v1/transactions/raw"}), status_code=403)

    @app.exception_handler(InvalidTransaction)
    async def _invalid_transaction(_: Request, exc: InvalidTransaction):
        return JSONResponse(error_body("InvalidTransaction", {"reason": str(exc)}), status_code=422)

    @app.exception_handler(KeystoreError)
    async def _keystore(_: Request, exc: KeystoreError):
        log.error("%s", exc)
        return JSONResponse(error_body("KeystoreUnavailable", {"reason": "the signing key could not be opened"}),
                            status_code=503)

    @app.exception_handler(InvalidQuery)
    async def _invalid_query(_: Request, exc: InvalidQuery):
        return JSONResponse(error_body("InvalidQuery", {"problem": str(exc)}), status_code=422)

    @app.exception_handler(ChainUnavailable)
    async def _chain_unavailable(_: Request, exc: ChainUnavailable):
        log.warning("chain unavailable: %s", exc)
        return JSONResponse(error_body("ChainUnavailable", {"reason": "the ledger node did not answer"}),
                            status_code=503)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError):
        problems = [{"where": list(e.get("loc", ())), "problem": e.get("msg", ""), "type": e.get("type", "")}
                    for e in exc.errors()]
        return JSONResponse(error_body("InvalidRequest", problems), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException):
        names = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed"}
        return JSONResponse(error_body(names.get(exc.status_code, "HttpError"), {"reason": exc.detail}),
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unexpected failure in %s %s", request.method, request.url.path)
        return JSONResponse(error_body("InternalError", {}), status_code=500)
