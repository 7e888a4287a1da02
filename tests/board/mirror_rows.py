"""Rows the board's figure tests share: a member as the API would see it after sign-in, and the checkpoint that
seals a hand-written mirror at `now` (the board's "now" is the mirror's newest block, never the wall clock)."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from indexer.schema import blocks, sync_state
from ledger_api.caller import Caller
from ledger_api.vocabulary import OrgKind, Role

CHECKPOINT_HASH = "0x" + "ab" * 32


def member(kind: OrgKind, org: int, region: int = 0, locations_run: frozenset[int] = frozenset(),
           tier: int = 0) -> Caller:
    return Caller("0x" + "00" * 20, "someone", org, kind, "an organisation", region, Role.admin, tier, locations_run)


def seal_mirror(conn: Connection, now: int, block: int = 9) -> None:
    """The mirror's newest block and checkpoint, both at `now`."""
    conn.execute(insert(blocks).values(number=block, hash=CHECKPOINT_HASH, parent_hash="0x" + "aa" * 32, time=now))
    conn.execute(insert(sync_state).values(id=1, network="test", chain_id=1, block_number=block,
                                           block_hash=CHECKPOINT_HASH, undecoded=0, updated_at=now))
