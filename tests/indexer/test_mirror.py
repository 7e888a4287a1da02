"""The mirror of a real chain: a backfill of a few weeks of a small network's business, on SQLite and on
PostgreSQL, gives exactly the chain's stock, orders, shipments and credit, conserves every lot, survives a
restart without duplicating or skipping anything, follows new blocks, and `verify` names any row that
differs from the chain. The `indexer` command backfills in steps, refuses a gap, and answers a bad setup
with what to fix."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import pytest
from eth_abi import decode
from sqlalchemy import func, select, update

from indexer.cli import build_follower
from indexer.schema import (
    decommissions, discrepancies, lots, orders, raw_events, shipments, stock_balances, stock_in_transit,
)
from indexer.settings import Settings
from indexer.verify import compare_mirrors, content_hash
from ledger_api.activity import Scale
from tests.indexer.ledger_chain import deploy_new_ledger

SMALL = Scale(regions=2, warehouses=2, distributors_per_region=2, stores_per_distributor=2, skus=6, carriers=2,
              target_events=3_000, days=12)
NETWORK = "mirror-test"


@pytest.fixture(scope="module")
def chain(anvil_rpc, tmp_path_factory):
    """A deployed ledger with a small network's activity, and its deployment file in a scratch folder."""
    ledger = deploy_new_ledger(anvil_rpc, 11, SMALL)
    rounds = list(ledger.activity.rounds())
    # The last rounds are held back for the tests that follow the head.
    ledger.play(rounds[:-3])
    deployments = ledger.write_deployment(NETWORK, tmp_path_factory.mktemp("deployments"))
    return SimpleNamespace(rpc=anvil_rpc, codec=ledger.codec, writer=ledger.writer, deployed=ledger.deployed,
                           later=rounds[-3:], deployments=deployments)


def settings_for(chain, database_url: str, **extra) -> Settings:
    return Settings(rpc_url=chain.rpc.url, network=NETWORK, deployments_dir=chain.deployments,
                    database_url=database_url, **extra)


def chain_view(chain, contract: str, function: str, args, returns):
    data = chain.codec.encode_call(contract, function, args)
    answer = chain.rpc.call("eth_call", {"to": chain.deployed.addresses[contract], "data": "0x" + data.hex()}, "latest")
    return decode(list(returns), bytes.fromhex(answer[2:]))


def test_a_backfill_mirrors_the_chains_stock_orders_and_shipments(chain, database_url):
    follower = build_follower(settings_for(chain, database_url))
    head = chain.rpc.call("eth_blockNumber")
    follower.backfill(int(head, 16))

    engine = follower.mirror.engine
    logs = chain.rpc.call("eth_getLogs", {"fromBlock": hex(chain.deployed.start_block), "toBlock": head,
                                          "address": list(chain.deployed.addresses.values())})
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(raw_events)).scalar_one() == len(logs)
        assert conn.execute(select(func.count()).select_from(raw_events).where(raw_events.c.name.is_(None))
                            ).scalar_one() == 0
        balances = conn.execute(select(stock_balances)).mappings().all()
        order_rows = conn.execute(select(orders)).mappings().all()
        shipment_rows = conn.execute(select(shipments)).mappings().all()

    # Every balance the mirror holds is the chain's, including those that went back to zero.
    assert len(balances) > 20
    for row in balances:
        assert chain_view(chain, "Inventory", "balanceOf", (row["location"], row["lot"]), ["uint256"])[0] == row["cases"]
    # Orders: state and approvals as the contract has them.
    assert len(order_rows) > 20
    for row in order_rows:
        state = chain_view(chain, "Orders", "orders", (row["id"],),
                           ["uint32", "uint32", "uint8", "bool", "uint8", "uint8", "uint8", "uint32", "uint32", "uint128"])
        assert (state[2], state[5]) == (row["state"], row["approved_stages"]), row["id"]
    assert {r["state"] for r in shipment_rows} == {1, 2}  # some still in transit, some received


def test_every_lot_is_conserved_in_the_mirror(chain, database_url):
    follower = build_follower(settings_for(chain, database_url))
    follower.backfill(int(chain.rpc.call("eth_blockNumber"), 16))
    held = defaultdict(int)
    with follower.mirror.engine.connect() as conn:
        commissioned = dict(conn.execute(select(lots.c.id, lots.c.cases)).all())
        for table in (stock_balances, stock_in_transit, decommissions):
            for lot, cases in conn.execute(select(table.c.lot, table.c.cases)):
                held[lot] += cases
        for lot, shipped, received in conn.execute(select(discrepancies.c.lot, discrepancies.c.shipped,
                                                          discrepancies.c.received).where(discrepancies.c.state == 1)):
            held[lot] += shipped - received
    assert commissioned and held == commissioned


def test_a_restarted_indexer_continues_from_its_checkpoint_without_duplicates(chain, database_url, tmp_path):
    head = int(chain.rpc.call("eth_blockNumber"), 16)
    build_follower(settings_for(chain, database_url)).backfill(head - 40)
    # A new process: nothing but the database carries over.
    restarted = build_follower(settings_for(chain, database_url))
    assert restarted.checkpoint().block_number == head - 40
    restarted.backfill(head)

    clean = build_follower(settings_for(chain, f"sqlite:///{tmp_path / 'clean.sqlite3'}"))
    clean.backfill(head)
    # Equal content across a restart, and across engines when the restarted mirror is PostgreSQL.
    assert content_hash(restarted.mirror.engine) == content_hash(clean.mirror.engine)


def test_verify_names_a_tampered_row(chain, tmp_path):
    live = build_follower(settings_for(chain, f"sqlite:///{tmp_path / 'live.sqlite3'}"))
    rebuilt = build_follower(settings_for(chain, f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}"))
    head = int(chain.rpc.call("eth_blockNumber"), 16)
    live.backfill(head)
    rebuilt.backfill(head)
    assert compare_mirrors(live.mirror.engine, rebuilt.mirror.engine) == []

    with live.mirror.engine.begin() as conn:
        conn.execute(update(orders).where(orders.c.id == 3).values(state=99))
        location, lot = conn.execute(select(stock_balances.c.location, stock_balances.c.lot)).first()
        conn.execute(stock_balances.delete().where(stock_balances.c.location == location,
                                                   stock_balances.c.lot == lot))

    differences = compare_mirrors(live.mirror.engine, rebuilt.mirror.engine)
    assert len(differences) == 2
    assert differences[0].startswith("orders (3,): state is 99, chain says")
    assert differences[1].startswith(f"stock_balances ({location}, {lot}): missing from the mirror")


def test_a_following_indexer_picks_up_new_blocks(chain, tmp_path):
    follower = build_follower(settings_for(chain, f"sqlite:///{tmp_path / 'follow.sqlite3'}"))
    follower.backfill(int(chain.rpc.call("eth_blockNumber"), 16))
    stop = threading.Event()
    thread = threading.Thread(target=follower.follow, args=(0.05, stop.is_set), daemon=True)
    thread.start()
    try:
        for planned in chain.later:
            chain.writer.execute_round(planned.timestamp, planned.calls)
        chain.writer.flush()
        head = int(chain.rpc.call("eth_blockNumber"), 16)
        deadline = time.monotonic() + 10
        while follower.mirror.checkpoint().block_number < head and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(5)
    assert follower.mirror.checkpoint().block_number == head
    rebuilt = build_follower(settings_for(chain, f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}"))
    rebuilt.backfill(head)
    assert compare_mirrors(follower.mirror.engine, rebuilt.mirror.engine) == []


def test_the_compiled_decoders_read_every_log_as_eth_abi_does(chain, tmp_path):
    follower = build_follower(settings_for(chain, f"sqlite:///{tmp_path / 'decode.sqlite3'}"))
    decoder = follower.decoder
    logs = chain.rpc.call("eth_getLogs", {"fromBlock": hex(chain.deployed.start_block), "toBlock": "latest",
                                          "address": decoder.addresses})
    compiled = 0
    for entry in logs:
        spec = decoder.by_address[entry["address"].lower()][entry["topics"][0]]
        data = bytes.fromhex(entry["data"][2:])
        assert spec.fast_decoder is not None, spec.name
        assert dict(zip(spec.data_names, spec.fast_decoder(data))) == spec.decode_with_eth_abi(data), spec.name
        compiled += 1
    assert compiled == len(logs) > 1000
    # Malformed data is refused, not misread: here, an anchor whose content CID is cut short.
    anchored = next(e for e in logs if e["topics"][0] in decoder.by_address[e["address"].lower()]
                    and decoder.by_address[e["address"].lower()][e["topics"][0]].name == "Anchored")
    assert decoder.decode({**anchored, "data": anchored["data"][:-64]}, 0) is None


# ---------------------------------------------------------------------------------------------- the command line

INDEXER = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "indexer"


def indexer_cli(chain, database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "LEDGER_RPC_URL": chain.rpc.url, "LEDGER_NETWORK": NETWORK,
                   "LEDGER_DEPLOYMENTS_DIR": str(chain.deployments), "LEDGER_DATABASE_URL": database_url, **env}
    return subprocess.run([str(INDEXER), *args], env=environment, capture_output=True, text=True, timeout=120)


def test_the_cli_backfills_in_steps_refuses_a_gap_reports_status_and_verifies_a_clean_mirror(chain, tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    head = int(chain.rpc.call("eth_blockNumber"), 16)
    middle = (chain.deployed.start_block + head) // 2

    first = indexer_cli(chain, url, "backfill", "--to", str(middle))
    assert first.returncode == 0, first.stderr
    assert f"checkpoint {middle}" in first.stderr and "events in" in first.stderr

    gap = indexer_cli(chain, url, "backfill", "--from", str(middle + 5))
    assert gap.returncode == 2
    assert f"continue from block {middle + 1}" in gap.stderr and f"{middle + 1}-{middle + 4}" in gap.stderr
    beyond = indexer_cli(chain, url, "backfill", "--to", str(head + 100))
    assert beyond.returncode == 2 and f"beyond the node's head, block {head}" in beyond.stderr

    status = indexer_cli(chain, url, "status")
    assert status.returncode == 0, status.stderr
    assert f"checkpoint {middle} " in status.stdout and f"lag {head - middle} blocks" in status.stdout

    rest = indexer_cli(chain, url, "backfill", "--from", str(middle + 1))
    assert rest.returncode == 0, rest.stderr
    again = indexer_cli(chain, url, "backfill")
    assert again.returncode == 0 and f"already holds blocks up to {head}" in again.stderr

    verify = indexer_cli(chain, url, "verify")
    assert verify.returncode == 0, verify.stderr
    assert f"the mirror equals the chain up to block {head}" in verify.stderr


@pytest.mark.parametrize("problem, args, env, expected", [
    ("no deployment file", ["status"], {"LEDGER_NETWORK": "nowhere"}, "nowhere.json is missing"),
    ("an unknown database driver", ["status"], {"LEDGER_DATABASE_URL": "mysqlx://mirror"},
     "cannot open the mirror database"),
    ("a database that refuses the login", ["status"],
     {"LEDGER_DATABASE_URL": "postgresql+psycopg://nobody:hunter2@127.0.0.1:1/mirror"},
     "cannot open the mirror database postgresql+psycopg://nobody:***@127.0.0.1:1/mirror"),
    ("a node that does not answer", ["status"], {"LEDGER_RPC_URL": "http://127.0.0.1:1"},
     "did not answer after 3 attempts"),
    ("a negative confirmation count", ["backfill"], {"LEDGER_CONFIRMATIONS": "-1"},
     "LEDGER_CONFIRMATIONS: Input should be greater than or equal to 0"),
    ("a negative block", ["backfill", "--to", "-4"], {}, "Invalid value for '--to'"),
])
def test_the_cli_answers_a_bad_setup_with_what_to_fix_and_no_traceback(chain, tmp_path, problem, args, env,
                                                                         expected):
    answer = indexer_cli(chain, f"sqlite:///{tmp_path / 'bad.sqlite3'}", *args, **env)
    assert answer.returncode != 0, problem
    assert expected in answer.stderr, (problem, answer.stderr)
    assert "Traceback" not in answer.stderr and "hunter2" not in answer.stderr, problem


def test_the_cli_refuses_a_broken_deployment_file_and_a_mirror_of_another_network(chain, tmp_path):
    broken = tmp_path / "deployments"
    broken.mkdir()
    (broken / f"{NETWORK}.json").write_text("{not json")
    answer = indexer_cli(chain, f"sqlite:///{tmp_path / 'a.sqlite3'}", "status", LEDGER_DEPLOYMENTS_DIR=str(broken))
    assert answer.returncode == 2 and "not a deployment file" in answer.stderr, answer.stderr

    url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    first = indexer_cli(chain, url, "backfill", "--to", str(chain.deployed.start_block + 1))
    assert first.returncode == 0, first.stderr
    (broken / "elsewhere.json").write_text((chain.deployments / f"{NETWORK}.json").read_text())
    other = indexer_cli(chain, url, "status", LEDGER_NETWORK="elsewhere", LEDGER_DEPLOYMENTS_DIR=str(broken))
    assert other.returncode == 2, other.stderr
    assert f"this mirror follows {NETWORK}" in other.stderr and "Traceback" not in other.stderr
