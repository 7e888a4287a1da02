"""Checks a scan or provenance answer against the chain itself, trusting nothing the answering server says:
the bottle's leaf is recomputed from its serial and case, the proof hashed up to a root, and that root compared
with `Inventory.lotRoot(lot)` read through any JSON-RPC node; `Inventory.verifyBottle` is asked as well, so the
contract's own check agrees. The Inventory address should come from the brand's published deployment, not
from the answer; when it is not given, the answer's address is used and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from web3 import Web3

from ledger_api.merkle import leaf_hash, process_proof

BOTTLE_TYPES = ("string", "uint32")

# Only the two views the check needs, so the verifier depends on no build artifact of ours.
INVENTORY_VIEWS = [
    {"type": "function", "name": "lotRoot", "stateMutability": "view",
     "inputs": [{"name": "lot", "type": "uint256"}], "outputs": [{"name": "", "type": "bytes32"}]},
    {"type": "function", "name": "verifyBottle", "stateMutability": "view",
     "inputs": [{"name": "lot", "type": "uint256"}, {"name": "serial", "type": "string"},
                {"name": "caseNumber", "type": "uint32"}, {"name": "proof", "type": "bytes32[]"}],
     "outputs": [{"name": "", "type": "bool"}]},
]


@dataclass
class Verification:
    genuine_on_chain: bool
    checks: list[tuple[str, bool, str]] = field(default_factory=list)  # (what, passed, detail)

    def add(self, what: str, passed: bool, detail: str = "") -> bool:
        self.checks.append((what, passed, detail))
        return passed


def _bytes32(text: str) -> bytes:
    value = bytes.fromhex(text.removeprefix("0x"))
    if len(value) != 32:
        raise ValueError(f"not a 32-byte hash: {text}")
    return value


def verify_answer(answer: dict, rpc_url: str, inventory: str | None = None, chain_id: int | None = None,
                  timeout: float = 10.0) -> Verification:
    """Verifies the bottle proof in a scan answer (`answer["proof"]`) against the chain at `rpc_url`.

    Raises:
        ValueError: the answer carries no proof (an unknown code has none) or a malformed one.
    """
    proof = answer.get("proof")
    if not proof:
        raise ValueError("the answer carries no proof: the code is not a commissioned bottle")
    result = Verification(False)
    serial, case = proof["serial"], int(proof["case"])
    lot = int(proof["lot_id"])
    siblings = [_bytes32(s) for s in proof["siblings"]]
    leaf = leaf_hash(BOTTLE_TYPES, (serial, case))
    result.add("leaf = keccak256(keccak256(abi.encode(serial, case)))", leaf == _bytes32(proof["leaf"]),
               "0x" + leaf.hex())
    root = process_proof(leaf, siblings)
    result.add("the proof leads to the answer's root", root == _bytes32(proof["root"]), "0x" + root.hex())

    web3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    node_chain = web3.eth.chain_id
    expected_chain = chain_id if chain_id is not None else int(proof["chain_id"])
    result.add("the node serves the ledger's chain", node_chain == expected_chain,
               f"node chain id {node_chain}, expected {expected_chain}")
    address = inventory or proof["inventory"]
    result.add("the Inventory address comes from the brand's deployment", inventory is not None,
               address if inventory else f"{address} taken from the answer itself")
    contract = web3.eth.contract(address=Web3.to_checksum_address(address), abi=INVENTORY_VIEWS)
    on_chain = bytes(contract.functions.lotRoot(lot).call())
    root_ok = result.add("Inventory.lotRoot(lot) equals the proof's root", on_chain == root, "0x" + on_chain.hex())
    contract_ok = result.add("Inventory.verifyBottle(lot, serial, case, proof) is true",
                             bool(contract.functions.verifyBottle(lot, serial, case, siblings).call()))
    result.genuine_on_chain = root_ok and contract_ok and node_chain == expected_chain
    return result
