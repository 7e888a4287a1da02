"""Tests of the content store: CIDs with no node, the local and the IPFS-daemon stores, the content endpoints.
This package holds what their modules share at collection time: the known-answer CID vectors and their contents."""

from __future__ import annotations

import json
import os
from pathlib import Path

VECTORS = Path(os.environ.get("LEDGER_VECTORS", "/work/shared/vectors")) / "cids.json"
_PERIOD = bytes((i * 7 + 3) % 256 for i in range(256))


def pattern7x3(size: int) -> bytes:
    """`bytes((i * 7 + 3) % 256 for i in range(size))`, built by repeating its 256-byte period."""
    return (_PERIOD * (size // 256 + 1))[:size]


def vector_content(vector: dict) -> bytes:
    if vector["content"] == "hello-world-newline":
        return b"hello world\n"
    assert vector["content"] == "pattern7x3", f"unknown vector content {vector['content']!r}"
    return pattern7x3(vector["size"])


def load_vectors() -> list[dict]:
    """The vectors; a missing file fails the suite by name (as a test, through `vector_ids`) instead of
    silently testing nothing."""
    if not VECTORS.exists():
        raise FileNotFoundError(f"the CID vectors are missing: {VECTORS} (set LEDGER_VECTORS to their folder)")
    return json.loads(VECTORS.read_text())


def vector_id(vector: dict) -> str:
    return f"{vector['content']}-{vector['size']}"
