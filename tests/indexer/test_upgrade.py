"""Replacing a contract under a running mirror (docs/upgrades.md): the deployment file's history, decoding the
logs of retired and current addresses alike, and on a real anvil an `Anchors` retired and succeeded mid-stream
by the steps of scripts/upgrade.py while an `indexer run` process follows: never restarted, it ends with every
log of both addresses, anchor ids that run on across the two contracts, and a mirror `indexer verify` finds
equal to the chain. A mirror too far past the successor's first block to roll back says to rebuild it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from eth_abi import encode
from eth_utils import keccak
from sqlalchemy import select
from web3 import Web3

from indexer.cli import build_follower
from indexer.contracts import Deployment, DeploymentError, abi_hash, load_artifacts, read_deployment, write_deployment
from indexer.db import open_database
from indexer.decode import EventDecoder
from indexer.follower import ContractBeyondJournal
from indexer.schema import PROJECTIONS, raw_events, sync_state
from indexer.settings import Settings
from ledger_api.activity import Scale
from ledger_api.errors import contract_status
from ledger_api.rawchain import RpcError
from scripts.upgrade import UpgradeRefused, upgrade_anchors
from tests.indexer.ledger_chain import deploy_new_ledger, running_anvil

SMALL = Scale(regions=2, warehouses=2, distributors_per_region=2, stores_per_distributor=2, skus=6, carriers=2,
              target_events=3_000, days=12)
NETWORK = "upgrade-test"
PORTS = range(9020, 9030)
INDEXER = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "indexer"
OLD, NEW, ELSEWHERE = "0x" + "a1" * 20, "0x" + "b2" * 20, "0x" + "c3" * 20


def anchors_abi() -> list[dict]:
    return load_artifacts()["Anchors"].abi


def deployment_before_upgrade() -> Deployment:
    abi = anchors_abi()
    return Deployment(NETWORK, 31337, 5, {"Membership": {"address": ELSEWHERE, "abi_hash": "m"},
                                          "Anchors": {"address": OLD, "abi_hash": abi_hash(abi)}})


# ---------------------------------------------------------------------------------------------- no node


def test_replacing_a_contract_lists_the_old_one_as_retired_with_its_blocks_version_and_events():
    before = deployment_before_upgrade()
    events = [item for item in anchors_abi() if item["type"] == "event"]

    after = before.replace("Anchors", NEW, "new-hash", 40, anchors_abi(), "1.1.0")

    assert after.contracts["Anchors"] == {"address": NEW, "abi_hash": "new-hash", "since_block": 40}
    assert after.retired == [{"name": "Anchors", "address": OLD, "version": "1.1.0", "from_block": 5, "to_block": 39,
                              "abi_hash": abi_hash(anchors_abi()), "events": events}]
    assert after.listed() == {OLD: 5, NEW: 40, ELSEWHERE: 5}
    assert before.address("Anchors") == OLD and before.retired == []  # pure: the original is unchanged
    again = after.replace("Anchors", ELSEWHERE[:-2] + "ff", "h3", 90, events, "1.1.1")
    assert [(r["address"], r["from_block"], r["to_block"]) for r in again.retired] == [(OLD, 5, 39), (NEW, 40, 89)]


def test_a_successor_must_come_after_its_predecessor_and_at_a_new_address():
    after = deployment_before_upgrade().replace("Anchors", NEW, "h", 40, [], "1.1.0")
    with pytest.raises(DeploymentError, match="after block 40"):
        after.replace("Anchors", ELSEWHERE[:-2] + "ff", "h", 40, [], "1.1.0")
    with pytest.raises(DeploymentError, match="already listed"):
        after.replace("Anchors", OLD, "h", 50, [], "1.1.0")
    with pytest.raises(DeploymentError, match="no contract 'Orders'"):
        after.replace("Orders", ELSEWHERE[:-2] + "ff", "h", 50, [], "1.0.0")


def test_a_deployment_file_keeps_its_history_and_an_old_file_without_one_still_loads(tmp_path):
    upgraded = deployment_before_upgrade().replace("Anchors", NEW, "h", 40, anchors_abi(), "1.1.0")
    assert read_deployment(write_deployment(upgraded, tmp_path)) == upgraded

    old_file = tmp_path / "old.json"
    old_file.write_text(json.dumps({"network": "old", "chain_id": 1, "start_block": 3,
                                    "contracts": {"Anchors": {"address": OLD, "abi_hash": "h"}}}))
    old = read_deployment(old_file)
    assert (old.retired, old.since_block("Anchors"), old.listed()) == ([], 3, {OLD: 3})


def anchored_log(address: str, anchor_id: int) -> dict:
    topic = "0x" + keccak(text="Anchored(uint256,uint8,bytes32,uint64,uint64,uint32,string,address)").hex()
    data = encode(["bytes32", "uint64", "uint64", "uint32", "string", "address"],
                  [b"\x11" * 32, 100, 200, 7, "bafkreilog", ELSEWHERE])
    return {"address": address, "topics": [topic, "0x" + anchor_id.to_bytes(32, "big").hex(), "0x" + "00" * 32],
            "data": "0x" + data.hex(), "blockNumber": hex(50), "logIndex": "0x0", "transactionHash": "0x" + "00" * 32}


def test_a_deployment_with_a_retired_contract_decodes_the_logs_of_both_addresses():
    upgraded = deployment_before_upgrade().replace("Anchors", NEW, "h", 40, anchors_abi(), "1.1.0")
    # The current contract decodes with this checkout's ABI, the retired one with the events its entry records.
    decoder = EventDecoder.of_deployment(upgraded, {"Membership": [], "Anchors": anchors_abi()})
    without_history = EventDecoder.of_deployment(upgraded, {"Membership": [], "Anchors": []})
    assert without_history.decode(anchored_log(NEW, 2), 0) is None
    assert without_history.decode(anchored_log(OLD, 1), 0).name == "Anchored"

    old, new = decoder.decode(anchored_log(OLD, 1), 0), decoder.decode(anchored_log(NEW, 2), 0)

    assert (old.contract, old.name, old.args["anchorId"]) == ("Anchors", "Anchored", 1)
    assert (new.name, new.args["anchorId"], new.args["contentCid"]) == ("Anchored", 2, "bafkreilog")
    assert sorted(decoder.addresses) == sorted([OLD, NEW, ELSEWHERE])


def test_a_retired_contracts_refusal_reaches_api_callers_as_a_conflict():
    from ledger_api.rawchain import LedgerCodec

    codec = LedgerCodec(load_artifacts())
    selector = "0x" + keccak(text="ContractRetired()")[:4].hex()
    assert codec.revert_reason(selector) == ("ContractRetired", {})
    assert contract_status("ContractRetired") == 409


# ---------------------------------------------------------------------------------------------- on anvil


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """A ledger on this module's own anvil with a small network's business, its rounds played on demand."""
    with running_anvil(PORTS) as rpc:
        ledger = deploy_new_ledger(rpc, 23, SMALL)
        folder = tmp_path_factory.mktemp("deployments")
        ledger.write_deployment(NETWORK, folder)
        yield SimpleNamespace(rpc=rpc, ledger=ledger, rounds=iter(list(ledger.activity.rounds())), folder=folder,
                              first_deployment=read_deployment(folder / f"{NETWORK}.json"))


def play(chain, rounds: int) -> None:
    for planned in [next(chain.rounds) for _ in range(rounds)]:
        chain.ledger.writer.execute_round(planned.timestamp, planned.calls)
    chain.ledger.writer.flush()


def head(chain) -> int:
    return int(chain.rpc.call("eth_blockNumber"), 16)


def upgrade(chain) -> Deployment:
    """scripts/upgrade.py's steps, signed by the network's brand admin, with anvil mining each transaction."""
    ledger = chain.ledger
    admin = ledger.activity.network.admin
    artifacts = load_artifacts()
    w3 = Web3(Web3.HTTPProvider(chain.rpc.url))
    chain.rpc.call("evm_setAutomine", True)
    try:
        upgraded = upgrade_anchors(w3, ledger.writer.signer.addresses[admin], ledger.activity.network.keys[admin],
                                   read_deployment(chain.folder / f"{NETWORK}.json"),
                                   {name: artifacts[name].abi for name in ("Anchors", "Membership")},
                                   artifacts["Anchors"].bytecode, say=lambda line: None)
    finally:
        chain.rpc.call("evm_setAutomine", False)
    # The writer counts its senders' nonces itself, and sends the activity's anchors to the successor now.
    address = ledger.writer.signer.addresses[admin]
    ledger.writer.signer.nonces[admin] = int(chain.rpc.call("eth_getTransactionCount", address, "latest"), 16)
    ledger.writer.addresses["Anchors"] = bytes.fromhex(upgraded.address("Anchors")[2:])
    return upgraded


def logs_by_address(chain, deployment: Deployment, last: int) -> dict[str, int]:
    logs = chain.rpc.call("eth_getLogs", {"fromBlock": hex(deployment.start_block), "toBlock": hex(last),
                                          "address": list(deployment.listed())})
    counts: dict[str, int] = {}
    for entry in logs:
        counts[entry["address"].lower()] = counts.get(entry["address"].lower(), 0) + 1
    return counts


def checkpoint_of(engine) -> int:
    try:
        with engine.connect() as conn:
            return conn.execute(select(sync_state.c.block_number)).scalar() or -1
    except Exception:  # the indexer has not created its tables yet
        return -1


def wait_for(engine, block: int, process: subprocess.Popen, output: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while checkpoint_of(engine) < block:
        assert process.poll() is None, output.read_text()[-3000:]
        assert time.monotonic() < deadline, f"the indexer did not reach block {block}: {output.read_text()[-3000:]}"
        time.sleep(0.1)


def test_a_following_indexer_mirrors_both_addresses_across_an_upgrade_without_a_restart(chain, tmp_path):
    database = f"sqlite:///{tmp_path / 'mirror.sqlite3'}"
    env = {**os.environ, "LEDGER_RPC_URL": chain.rpc.url, "LEDGER_NETWORK": NETWORK,
           "LEDGER_DEPLOYMENTS_DIR": str(chain.folder), "LEDGER_DATABASE_URL": database,
           "LEDGER_POLL_INTERVAL": "0.1"}
    engine = open_database(database)
    output = tmp_path / "indexer.log"
    play(chain, 120)
    with output.open("w") as sink:
        process = subprocess.Popen([str(INDEXER), "run"], env=env, cwd=tmp_path, stdout=sink, stderr=sink)
    try:
        play(chain, 40)
        wait_for(engine, head(chain), process, output)
        old_anchors = chain.first_deployment.address("Anchors")

        upgraded = upgrade(chain)
        # Business goes on, and anchors land on the successor, before the new deployment file is published:
        # the indexer passes the successor's first blocks without reading its logs.
        play(chain, 60)
        wait_for(engine, head(chain), process, output)
        write_deployment(upgraded, chain.folder)
        play(chain, 60)
        last = head(chain)
        wait_for(engine, last, process, output)
        time.sleep(0.5)  # a last poll: a rollback would move the checkpoint back below `last`
        wait_for(engine, last, process, output)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    log = output.read_text()
    assert process.returncode == 0, log[-3000:]
    assert "lacked logs of" in log, log[-3000:]  # the successor's early logs were read again

    new_anchors = upgraded.address("Anchors")
    on_chain = logs_by_address(chain, upgraded, last)
    with engine.connect() as conn:
        stored = conn.execute(select(raw_events.c.address, raw_events.c.name)).all()
        anchor_ids = [row.id for row in conn.execute(select(PROJECTIONS["anchors"].c.id).order_by("id"))]
    mirrored = {address: sum(1 for a, _ in stored if a == address) for address in on_chain}
    assert mirrored == on_chain
    assert on_chain[old_anchors.lower()] > 1 and on_chain[new_anchors.lower()] > 1
    assert sum(1 for _, name in stored if name is None) == 0
    assert ("0x" + old_anchors[2:].lower(), "Retired") in {(a, n) for a, n in stored}
    w3 = Web3(Web3.HTTPProvider(chain.rpc.url))
    successor = w3.eth.contract(address=new_anchors, abi=anchors_abi())
    assert anchor_ids == list(range(1, successor.functions.anchorCount().call() + 1))
    assert successor.functions.firstAnchorId().call() > 1
    # The retired contract refuses new anchors by name.
    with pytest.raises(RpcError, match="0x" + keccak(text="ContractRetired()")[:4].hex()):
        chain.rpc.call("eth_call", {"from": chain.ledger.writer.signer.addresses[chain.ledger.activity.network.admin],
                                    "to": old_anchors, "data": "0x" + chain.ledger.codec.encode_call(
                                        "Anchors", "anchor", [0, b"\x01" * 32, 0, 1, 1, ""]).hex()}, "latest")

    verify = subprocess.run([str(INDEXER), "verify"], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"the mirror equals the chain up to block {last}" in verify.stderr
    engine.dispose()


def test_a_mirror_too_far_past_the_successors_first_block_is_told_to_rebuild(chain, database_url, tmp_path):
    upgraded = read_deployment(chain.folder / f"{NETWORK}.json")
    assert upgraded.retired, "runs after the upgrade above"
    # A mirror built while the deployment file still listed only the first contracts, past the successor's
    # first anchors, with an undo journal of one block.
    stale = write_deployment(chain.first_deployment, tmp_path / "deployments").parent
    settings = Settings(rpc_url=chain.rpc.url, network=NETWORK, deployments_dir=stale, database_url=database_url,
                        reorg_window=1)
    follower = build_follower(settings)
    follower.backfill(head(chain))
    write_deployment(upgraded, stale)

    with pytest.raises(ContractBeyondJournal, match="rebuild it with `indexer backfill` into an empty database"):
        follower.reload_deployment()
    follower.mirror.engine.dispose()
    backfill = subprocess.run([str(INDEXER), "backfill"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "LEDGER_RPC_URL": chain.rpc.url, "LEDGER_NETWORK": NETWORK,
                                   "LEDGER_DEPLOYMENTS_DIR": str(stale), "LEDGER_DATABASE_URL": database_url,
                                   "LEDGER_REORG_WINDOW": "1"})
    assert backfill.returncode == 1
    assert f"the deployment lists {upgraded.address('Anchors').lower()}" in backfill.stderr


def test_the_upgrade_refuses_a_signer_who_is_not_a_brand_admin_and_a_contract_retired_by_someone_else(chain):
    artifacts = load_artifacts()
    abis = {name: artifacts[name].abi for name in ("Anchors", "Membership")}
    w3 = Web3(Web3.HTTPProvider(chain.rpc.url))
    stranger = chain.rpc.call("eth_accounts")[3]
    current = read_deployment(chain.folder / f"{NETWORK}.json")
    with pytest.raises(UpgradeRefused, match=f"cannot retire Anchors: the contract refuses with NotAMember"):
        upgrade_anchors(w3, stranger, None, current, abis, artifacts["Anchors"].bytecode, say=lambda line: None)

    # The first contract was retired by the brand admin, but a stale deployment file still names it current.
    with pytest.raises(UpgradeRefused, match="was retired in block .* by .*records no successor"):
        upgrade_anchors(w3, stranger, None, chain.first_deployment, abis, artifacts["Anchors"].bytecode,
                        say=lambda line: None)
