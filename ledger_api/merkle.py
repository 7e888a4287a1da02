"""Merkle commitments in OpenZeppelin's StandardMerkleTree convention.

A lot's bottles are committed on chain by one Merkle root, and a consumer's scan answer carries the
proof for one bottle. The tree must be exactly the one OpenZeppelin's `@openzeppelin/merkle-tree`
builds, so that `MerkleProof.verify` in the contracts (and any third party's verifier) accepts our
proofs: each leaf is `keccak256(keccak256(abi.encode(values)))`, leaves are sorted, pairs are hashed
in sorted order, and the tree is stored as a flat array with the root at index 0. Pure functions
only: no chain, no files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from eth_abi import encode
from eth_utils import keccak


def leaf_hash(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """The double-hashed leaf for `values` ABI-encoded as `types`."""
    return keccak(keccak(encode(list(types), list(values))))


def hash_pair(a: bytes, b: bytes) -> bytes:
    """Commutative node hash: the smaller child goes first."""
    return keccak(a + b) if a < b else keccak(b + a)


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that `proof` leads to from `leaf`, as `MerkleProof.processProof` computes it."""
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node


@dataclass(frozen=True)
class StandardMerkleTree:
    """A built tree: `nodes` is the flat array (root at 0), `leaf_index[i]` is where value i's leaf sits."""

    types: tuple[str, ...]
    nodes: tuple[bytes, ...]
    leaf_index: tuple[int, ...]

    @classmethod
    def of(cls, values: Sequence[Sequence[Any]], types: Sequence[str]) -> "StandardMerkleTree":
        """Builds the tree over `values`, each a tuple matching `types`.

        Raises:
            ValueError: no values were given.
        """
        if not values:
            raise ValueError("a Merkle tree needs at least one leaf")
        hashed = [(leaf_hash(types, v), i) for i, v in enumerate(values)]
        # OpenZeppelin sorts leaves by hash, then fills the array from the end.
        hashed.sort(key=lambda pair: pair[0])
        n = len(hashed)
        nodes: list[bytes] = [b""] * (2 * n - 1)
        leaf_index = [0] * n
        for position, (h, original) in enumerate(hashed):
            slot = len(nodes) - 1 - position
            nodes[slot] = h
            leaf_index[original] = slot
        for i in range(len(nodes) - 1 - n, -1, -1):
            nodes[i] = hash_pair(nodes[2 * i + 1], nodes[2 * i + 2])
        return cls(tuple(types), tuple(nodes), tuple(leaf_index))

    @property
    def root(self) -> bytes:
        return self.nodes[0]

    def proof(self, value_index: int) -> list[bytes]:
        """Sibling hashes from value `value_index`'s leaf up to the root."""
        i = self.leaf_index[value_index]
        path: list[bytes] = []
        while i > 0:
            sibling = i - 1 if i % 2 == 0 else i + 1
            path.append(self.nodes[sibling])
            i = (i - 1) // 2
        return path

    def verify(self, values: Sequence[Any], proof: Sequence[bytes]) -> bool:
        return process_proof(leaf_hash(self.types, values), proof) == self.root
