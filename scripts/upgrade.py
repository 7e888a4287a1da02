"""Rolls out a fixed `Anchors` by retire-then-succeed and records it in `deployments/<network>.json`.

Run by the brand's node operator as `./dev brownie run scripts/upgrade.py anchors --network <network>`,
with the same signer as scripts/deploy.py (the node's first unlocked account on `development` and
`anvil-local`, else the key in `LEDGER_DEPLOYER_KEY`), who must be a brand admin. It retires the current
Anchors (which then refuses new anchors), deploys this checkout's Anchors naming the retired one as its
predecessor, checks that the successor carried over the anchor count and every log kind's anchored period,
and writes the deployment file: the old contract moves to `retired` with its version, the blocks it was
current in and its event ABI, and the new one becomes current from the block it was deployed in. Every
step is printed; a run that stopped after retiring picks up from there. docs/upgrades.md says why the ledger
upgrades this way and what every member's operator does next.

Brownie only picks the network and the signer; the steps (`upgrade_anchors`) are plain web3.py, so the
indexer's tests run the same ones against their own anvil.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable

from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3.exceptions import BadFunctionCallOutput, ContractCustomError, ContractLogicError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from indexer.contracts import Deployment, abi_hash, load_deployment, script_deployments, write_deployment  # noqa: E402

LOG_KINDS = (0, 1)  # Anchors.LogKind: ConsumerScans, OpenedBottles
RETIRED_TOPIC = "0x" + keccak(text="Retired(address)").hex()


class UpgradeRefused(Exception):
    """The upgrade cannot go ahead as things are; the message says why and what to do."""


def upgrade_anchors(w3, sender: str, key: str | bytes | None, deployment: Deployment,
                    abis: dict[str, list[dict[str, Any]]], bytecode: str,
                    say: Callable[[str], None] = print) -> Deployment:
    """Retires the deployment's Anchors (unless this signer already did), deploys the successor from
    `abis["Anchors"]` and `bytecode`, checks its carried-over state and returns the deployment that records
    it; the caller writes it. `key` signs the transactions; None sends them from an account the node
    unlocks. `abis` holds the ABIs of Anchors and Membership, whose errors a refusal is named by."""
    sender = to_checksum_address(sender)
    old_address = to_checksum_address(deployment.address("Anchors"))
    retired_events = _deployed_events(deployment, abis["Anchors"])
    old = w3.eth.contract(address=old_address, abi=abis["Anchors"])
    version = _version_that_retires(w3, old)
    say(f"upgrade: Anchors {version} at {old_address}, current since block {deployment.since_block('Anchors')}")

    if old.functions.retired().call():
        block, by = _retirement(w3, old_address, deployment.since_block("Anchors"))
        if by != sender:
            raise UpgradeRefused(
                f"Anchors at {old_address} was retired in block {block} by {by}, and deployments/"
                f"{deployment.network}.json records no successor: take the deployment file from {by}'s operator "
                f"if they deployed one, or sign with {by}'s key to deploy it")
        say(f"upgrade: {old_address} was retired by this signer in block {block}; deploying its successor")
    else:
        _send(w3, sender, key, old.functions.retire(), abis, "retire Anchors")
        say(f"upgrade: retired {old_address}; it refuses new anchors from now on")

    factory = w3.eth.contract(abi=abis["Anchors"], bytecode=bytecode)
    receipt = _send(w3, sender, key, factory.constructor(deployment.address("Membership"), old_address), abis,
                    "deploy the successor")
    new_address, since_block = to_checksum_address(receipt["contractAddress"]), receipt["blockNumber"]
    say(f"upgrade: deployed the successor at {new_address} in block {since_block}")

    successor = w3.eth.contract(address=new_address, abi=abis["Anchors"])
    _check_carried_over(old, successor)
    say(f"upgrade: the successor continues at anchor id {successor.functions.firstAnchorId().call()} with every "
        f"log kind's anchored period carried over (VERSION {successor.functions.VERSION().call()})")
    return deployment.replace("Anchors", new_address, abi_hash(abis["Anchors"]), since_block, retired_events, version)


def _deployed_events(deployment: Deployment, abi: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The event ABI of the deployed Anchors, which the indexer will decode its logs with ever after: this
    checkout's, which must be the deployed contract's (same ABI hash)."""
    recorded = deployment.contracts["Anchors"]["abi_hash"]
    if recorded != abi_hash(abi):
        raise UpgradeRefused(
            f"the deployed Anchors' ABI (hash {recorded[:12]}...) is not this checkout's ({abi_hash(abi)[:12]}...), "
            "so its events cannot be recorded for the indexer: run the upgrade from a checkout whose Anchors "
            "keeps the deployed contract's interface, or retire it from the deployed version's checkout first")
    return [item for item in abi if item["type"] == "event"]


def _version_that_retires(w3, contract) -> str:
    if not w3.eth.get_code(contract.address):
        raise UpgradeRefused(f"there is no contract at {contract.address} on this chain: is the deployment file "
                             "for this network?")
    version = contract.functions.VERSION().call()
    try:
        contract.functions.retired().call()
    except (ContractLogicError, BadFunctionCallOutput, ValueError) as exc:
        raise UpgradeRefused(f"Anchors {version} at {contract.address} has no read-only mode ({exc}): it cannot be "
                             "retired, only abandoned with a new ledger") from exc
    return version


def _retirement(w3, address: str, since: int) -> tuple[int, str]:
    """(block, signer) of the contract's Retired event."""
    logs = w3.eth.get_logs({"address": address, "topics": [RETIRED_TOPIC], "fromBlock": since, "toBlock": "latest"})
    if not logs:
        raise UpgradeRefused(f"{address} reads as retired but no Retired event was found from block {since}")
    entry = logs[0]
    return entry["blockNumber"], to_checksum_address(bytes(entry["data"])[12:32])


def _check_carried_over(old, successor) -> None:
    pairs = {
        "predecessor": (old.address, successor.functions.predecessor().call()),
        "anchorCount": (old.functions.anchorCount().call(), successor.functions.anchorCount().call()),
        **{f"anchoredUntil({kind})": (old.functions.anchoredUntil(kind).call(),
                                      successor.functions.anchoredUntil(kind).call()) for kind in LOG_KINDS},
    }
    wrong = [f"{name}: {mine} on the successor, {theirs} expected" for name, (theirs, mine) in pairs.items()
             if theirs != mine]
    if wrong:
        raise UpgradeRefused(f"the successor at {successor.address} did not carry over the predecessor's state "
                             f"({'; '.join(wrong)}); the deployment file was not changed")


def _send(w3, sender: str, key: str | bytes | None, call, abis: dict[str, list[dict[str, Any]]], what: str):
    """Sends `call` (a contract function or constructor) and waits for its receipt. The gas estimate runs it
    first, so a refusal is named by its custom error before anything is signed."""
    try:
        tx = call.build_transaction({"from": sender, "nonce": w3.eth.get_transaction_count(sender, "pending")})
    except (ContractCustomError, ContractLogicError) as exc:
        reason = _error_name(getattr(exc, "data", None), abis) or str(exc)
        raise UpgradeRefused(f"{sender} cannot {what}: the contract refuses with {reason}"
                             + (" (sign with a brand admin's key: LEDGER_DEPLOYER_KEY)"
                                if reason.split("(")[0] in ("NotAMember", "MissingRole", "WrongOrganisation")
                                else "")) from exc
    if key is None:
        tx_hash = w3.eth.send_transaction(tx)
    else:
        tx_hash = w3.eth.send_raw_transaction(Account.sign_transaction(tx, key).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
    if receipt["status"] != 1:
        raise UpgradeRefused(f"the transaction to {what} (0x{bytes(tx_hash).hex()}) failed in block {receipt['blockNumber']}")
    return receipt


def _error_name(data: Any, abis: dict[str, list[dict[str, Any]]]) -> str | None:
    """`Name(arg, ...)` of a custom error of the ledger's ABIs, from its revert data."""
    from eth_abi import decode  # eth-abi is web3's own dependency

    if not isinstance(data, str) or len(data) < 10:
        return None
    for abi in abis.values():
        for item in abi:
            if item["type"] != "error":
                continue
            types = [p["type"] for p in item["inputs"]]
            if "0x" + keccak(text=f"{item['name']}({','.join(types)})")[:4].hex() == data[:10]:
                values = decode(types, bytes.fromhex(data[10:]))
                return f"{item['name']}({', '.join(map(str, values))})"
    return None


# ---------------------------------------------------------------------------------------------- brownie


def anchors() -> None:
    """`brownie run scripts/upgrade.py anchors --network <network>`: retire the current Anchors, deploy its
    successor and record both in the deployment file."""
    from brownie import Anchors, Membership, network, web3

    from scripts.deploy import deployer

    name = network.show_active()
    signer = deployer()
    deployment = load_deployment(name, script_deployments())
    print(f"upgrade: network {name} (chain id {web3.eth.chain_id}), signer {signer.address}")
    if deployment.chain_id != web3.eth.chain_id:
        sys.exit(f"upgrade: {script_deployments() / name}.json is for chain id {deployment.chain_id}, not {web3.eth.chain_id}")
    try:
        upgraded = upgrade_anchors(web3, signer.address, getattr(signer, "private_key", None), deployment,
                                   {"Anchors": Anchors.abi, "Membership": Membership.abi}, Anchors.bytecode)
    except UpgradeRefused as exc:
        sys.exit(f"upgrade: {exc}")
    path = write_deployment(upgraded, script_deployments())
    print(f"upgrade: wrote {path}: Anchors is {upgraded.address('Anchors')} from block "
          f"{upgraded.since_block('Anchors')}, {deployment.address('Anchors')} is listed as retired")
    print("upgrade: next, every member's operator pulls this file (their indexer follows both addresses on its "
          "own) and restarts the API replicas one at a time")


def main() -> None:
    sys.exit("upgrade: name the contract to replace: `brownie run scripts/upgrade.py anchors --network "
             f"{os.environ.get('LEDGER_NETWORK', '<network>')}` (only Anchors can be replaced on its own)")
