"""The brand's fulfilment and risk board over HTTP: each endpoint answers one panel of the board (`/board`) from
the mirror, through the pure figures of `ledger_api.board` and its sibling modules, and always within the
caller's reach: the brand and auditors see every region, regional staff their own, and other members only
what they may see of their own orders, shipments and stock. "Now" on the board is the mirror's newest block,
so figures over a chain that keeps its own time (the demo's) read as they would on the day."""

from __future__ import annotations

from fastapi import APIRouter

from ledger_api.models import ErrorBody

router = APIRouter(prefix="/v1/analytics", tags=["board"],
                   responses={s: {"model": ErrorBody} for s in (401, 403, 404, 422)})
