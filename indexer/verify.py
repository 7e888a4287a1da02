"""Comparing two mirrors row by row: the auditor's check that the live mirror says what the chain says.

Both mirrors are read table by table, keyed by primary key, and every difference is named: a row only
one side has, or a column whose values differ. `content_hash` fingerprints a mirror's projections, so
two mirrors built in different ways (one run, or many interrupted ones) can be compared in one line.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import Engine, select

from indexer.schema import PROJECTIONS, primary_key


def _rows(engine: Engine, table: str) -> dict[tuple, dict[str, Any]]:
    t = PROJECTIONS[table]
    keys = primary_key(t)
    with engine.connect() as conn:
        return {tuple(r[k] for k in keys): dict(r) for r in conn.execute(select(t)).mappings()}


def compare_mirrors(live: Engine, rebuilt: Engine) -> list[str]:
    """Every difference between the two mirrors' projections, one line each; empty when they agree."""
    differences = []
    for table in PROJECTIONS:
        mine, truth = _rows(live, table), _rows(rebuilt, table)
        for key in sorted(truth.keys() - mine.keys(), key=repr):
            differences.append(f"{table} {key}: missing from the mirror (chain has {truth[key]})")
        for key in sorted(mine.keys() - truth.keys(), key=repr):
            differences.append(f"{table} {key}: in the mirror but not on chain ({mine[key]})")
        for key in sorted(mine.keys() & truth.keys(), key=repr):
            for column, value in truth[key].items():
                if mine[key][column] != value:
                    differences.append(f"{table} {key}: {column} is {mine[key][column]!r}, chain says {value!r}")
    return differences


def content_hash(engine: Engine) -> str:
    """A SHA-256 over every projection row, in key order."""
    digest = hashlib.sha256()
    for table in PROJECTIONS:
        rows = _rows(engine, table)
        for key in sorted(rows, key=repr):
            digest.update(json.dumps([table, rows[key]], sort_keys=True, default=str).encode())
    return digest.hexdigest()
