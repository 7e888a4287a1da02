"""Anchoring the off-chain logs: the consumer scan log and the opened-bottle marks are committed, one period at
a time, by a Merkle root in `Anchors.anchor`, so a scan count or an opened mark cannot be quietly edited or
dropped afterwards: recomputing a period's root from the log must give the root on chain.

Each entry is one leaf in OpenZeppelin's StandardMerkleTree layout; the entries of a period are those logged
in [period_start, period_end), in log order. Pure functions over rows.
"""

from __future__ import annotations

from typing import Sequence

import orjson

from ledger_api.merkle import StandardMerkleTree

CONSUMER_SCANS, OPENED_BOTTLES = 0, 1  # Anchors.LogKind
KINDS = {"consumer-scans": CONSUMER_SCANS, "opened-bottles": OPENED_BOTTLES}

SCAN_TYPES = ("uint256", "string", "string", "string", "uint64", "string", "string")
OPENED_TYPES = ("string", "string", "string", "uint64")


def scan_leaf(row) -> tuple:
    """(id, serial, gtin, device, at, region, verdict) of one logged scan."""
    return (int(row.id), row.serial, row.gtin, row.device, int(row.at), row.region or "", row.verdict)


def opened_leaf(row) -> tuple:
    """(serial, opened_by, marked_by, marked_at) of one opened mark."""
    return (row.serial, row.opened_by, row.marked_by, int(row.marked_at))


def leaves(kind: int, rows: Sequence) -> list[tuple]:
    return [scan_leaf(r) for r in rows] if kind == CONSUMER_SCANS else [opened_leaf(r) for r in rows]


def log_root(kind: int, rows: Sequence) -> bytes:
    """The root a period's entries commit to.

    Raises:
        ValueError: the period has no entries (nothing to anchor).
    """
    values = leaves(kind, rows)
    if not values:
        raise ValueError("the period has no entries")
    return StandardMerkleTree.of(values, SCAN_TYPES if kind == CONSUMER_SCANS else OPENED_TYPES).root


def log_document(kind: int, rows: Sequence, period_start: int, period_end: int) -> bytes:
    """The period's entries as one JSON document, kept in the content store beside the anchor."""
    names = (("id", "serial", "gtin", "device", "at", "region", "verdict") if kind == CONSUMER_SCANS
             else ("serial", "opened_by", "marked_by", "marked_at"))
    return orjson.dumps({"kind": kind, "period_start": period_start, "period_end": period_end,
                         "entries": [dict(zip(names, leaf)) for leaf in leaves(kind, rows)]})
