"""Bottle commitments follow OpenZeppelin's StandardMerkleTree exactly: roots and proofs equal what the
reference JavaScript library (`@openzeppelin/merkle-tree`, run under node) builds for the same values, and
every proof verifies while a tampered value or proof does not."""

from __future__ import annotations

import json
import random
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.contracts import PROJECT_ROOT
from ledger_api.merkle import StandardMerkleTree, process_proof, leaf_hash

REFERENCE = """
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = cases.map(({ types, values }) => {
  const tree = StandardMerkleTree.of(values, types);
  return { root: tree.root, proofs: values.map((_, i) => tree.getProof(i)) };
});
process.stdout.write(JSON.stringify(out));
"""


def reference_trees(cases: list[dict]) -> list[dict]:
    done = subprocess.run(
        ["node", "-e", REFERENCE], input=json.dumps(cases), capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def python_value(abi_type: str, value: str):
    if abi_type == "bytes32":
        return bytes.fromhex(value[2:])
    return int(value) if abi_type.startswith("uint") else value


def hexed(value: bytes) -> str:
    return "0x" + value.hex()


def test_roots_and_proofs_equal_the_openzeppelin_reference():
    rng = random.Random(20261125)
    cases = []
    # Sizes around powers of two are where the flat-array layout is easiest to get wrong.
    for size in (1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 100):
        # Numbers travel as decimal strings: JSON numbers above 2**53 lose digits in JavaScript.
        bottles = [[hexed(rng.randbytes(32)), str(rng.randrange(1 << 64))] for _ in range(size)]
        cases.append({"types": ["bytes32", "uint256"], "values": bottles})
    cases.append({"types": ["string"], "values": [["0101234567890128" + str(i)] for i in range(6)]})

    expected = reference_trees(cases)

    for case, reference in zip(cases, expected):
        values = [[python_value(t, v) for t, v in zip(case["types"], row)] for row in case["values"]]
        tree = StandardMerkleTree.of(values, case["types"])
        assert hexed(tree.root) == reference["root"]
        assert [[hexed(p) for p in tree.proof(i)] for i in range(len(values))] == reference["proofs"]


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40, unique=True), st.data())
def test_every_proof_verifies_and_a_tampered_one_does_not(codes, data):
    tree = StandardMerkleTree.of([[c] for c in codes], ["bytes32"])
    i = data.draw(st.integers(0, len(codes) - 1))
    stranger = data.draw(st.binary(min_size=32, max_size=32).filter(lambda c: c not in codes))
    proof = tree.proof(i)

    assert tree.verify([codes[i]], proof)
    assert not tree.verify([stranger], proof)
    if proof:
        bent = [bytes(b ^ 1 for b in proof[0])] + proof[1:]
        assert process_proof(leaf_hash(["bytes32"], [codes[i]]), bent) != tree.root


def test_an_empty_tree_is_refused():
    with pytest.raises(ValueError, match="at least one leaf"):
        StandardMerkleTree.of([], ["bytes32"])
