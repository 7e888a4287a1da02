"""The ledger's vocabulary as the API speaks it: organisation kinds, roles, approval stages and the states of
orders, shipments, transfers and discrepancies, numbered exactly as in `contracts/lib/LedgerTypes.sol`,
`Orders.sol` and `Inventory.sol`, and named in lower case for JSON."""

from __future__ import annotations

from enum import IntEnum, IntFlag


class OrgKind(IntEnum):
    brand = 1
    region = 2
    warehouse = 3
    distributor = 4
    store = 5
    carrier = 6
    auditor = 7


class Role(IntFlag):
    admin = 1 << 0
    region_manager = 1 << 1
    sales_director = 1 << 2
    finance = 1 << 3
    dispatcher = 1 << 4
    receiver = 1 << 5
    store_staff = 1 << 6
    auditor = 1 << 7
    purchaser = 1 << 8


class Stage(IntEnum):
    """Approval stages, single bits in their normal sequence."""

    region_manager = 1
    sales_director = 2
    finance = 4


class OrderState(IntEnum):
    submitted = 1
    approved = 2
    partially_dispatched = 3
    dispatched = 4
    delivered = 5
    rejected = 6
    cancelled = 7


class ShipmentKind(IntEnum):
    order = 0
    transfer = 1
    delivery = 2


class ShipmentState(IntEnum):
    in_transit = 1
    received = 2


class TransferState(IntEnum):
    requested = 1
    approved = 2
    dispatched = 3
    completed = 4
    rejected = 5


class DiscrepancyState(IntEnum):
    open = 1
    found = 2
    returned = 3
    written_off = 4


class Decommission(IntEnum):
    sold = 0
    damaged = 1
    recalled = 2
    lost = 3


BRAND_ORG = 1


def role_names(roles: int) -> list[str]:
    return [r.name for r in Role if roles & r]


def stage_names(stages: int) -> list[str]:
    return [s.name for s in Stage if stages & s]
