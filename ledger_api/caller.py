"""Who is asking: a signed-in member, as the mirrored on-chain registry describes its account right now.

A `Caller` is built for every request from the account row and its organisation (never from the token alone),
so a role taken away or an account deactivated on chain changes what the next request may do. Its `reach`
says how far its reads extend: the whole ledger (the brand and auditors), one region (regional staff), or
its own organisation's locations (everyone else).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ledger_api.vocabulary import OrgKind, Role


class Reach(Enum):
    ledger = "ledger"  # every row: the brand's head office and auditors
    region = "region"  # orders, shipments, transfers and stock of one region
    own = "own"  # the caller's own organisation and locations


@dataclass(frozen=True)
class Caller:
    address: str  # EIP-55 checksum
    name: str
    org: int
    org_kind: OrgKind
    org_name: str
    region: int  # the region organisation for regional staff, distributors and stores; else 0
    roles: Role
    price_tier: int
    locations: frozenset[int]  # locations run by the caller's organisation

    @property
    def reach(self) -> Reach:
        if self.org_kind in (OrgKind.brand, OrgKind.auditor):
            return Reach.ledger
        if self.org_kind is OrgKind.region:
            return Reach.region
        return Reach.own

    @property
    def read_only(self) -> bool:
        """Auditors read everything and write nothing."""
        return self.org_kind is OrgKind.auditor or self.roles == Role.auditor

    def has(self, role: Role) -> bool:
        return bool(self.roles & role)
