"""The mirror under faults, on a real anvil, SQLite and PostgreSQL: a backfill killed with SIGKILL at random
moments more than twenty times, and restarted each time, ends with every log stored once and the same
projections as one uninterrupted run; a follower behind a misbehaving node (refusing connections, hanging,
answering HTTP 500, or reporting a head below the mirror's checkpoint) retries, logs which node failed,
never crashes, never skips or rolls back a block, and catches up once the node is back; and a log from a
ledger address that no ABI decodes is stored raw and counted rather than dropped."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from indexer.cli import build_follower
from indexer.db import open_database
from indexer.schema import raw_events, sync_state
from indexer.settings import Settings
from indexer.verify import compare_mirrors, content_hash
from ledger_api.activity import Scale
from ledger_api.anvil import free_port
from tests.indexer.ledger_chain import deploy_new_ledger, running_anvil

SMALL = Scale(regions=2, warehouses=2, distributors_per_region=2, stores_per_distributor=2, skus=6, carriers=2,
              target_events=3_000, days=12)
NETWORK = "faults-test"
PORTS = range(8710, 8720)
INDEXER = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "indexer"
KILLS = 22
UNKNOWN_TOPIC = "0x" + "ab" * 32


@pytest.fixture(scope="module")
def anvil_rpc():
    """This module's own anvil, on a port of its own range so it never meets another suite's node."""
    with running_anvil(PORTS) as rpc:
        yield rpc


@pytest.fixture(scope="module")
def chain(anvil_rpc, tmp_path_factory):
    """A deployed ledger with a small network's business; later rounds are held back, to be mined while a
    follower watches (`chain.mine_next_round()`)."""
    ledger = deploy_new_ledger(anvil_rpc, 11, SMALL)
    writer, deployed = ledger.writer, ledger.deployed
    rounds = list(ledger.activity.rounds())
    ledger.play(rounds[:-24])
    deployments = ledger.write_deployment(NETWORK, tmp_path_factory.mktemp("deployments"))
    later = iter(rounds[-24:])

    def mine_next_round() -> None:
        # Rounds must be mined in order; an empty one mines no block, so go on to one with calls.
        for planned in later:
            writer.execute_round(planned.timestamp, planned.calls)
            if planned.calls:
                break
        writer.flush()

    return SimpleNamespace(rpc=anvil_rpc, deployed=deployed, deployments=deployments, mine_next_round=mine_next_round,
                           head=int(anvil_rpc.call("eth_blockNumber"), 16))


def settings_for(chain, database_url: str, **extra) -> Settings:
    return Settings(**{"rpc_url": chain.rpc.url, "network": NETWORK, "deployments_dir": chain.deployments,
                       "database_url": database_url, **extra})


def head_of(chain) -> int:
    return int(chain.rpc.call("eth_blockNumber"), 16)


def chain_logs(chain, last: int, topics: list | None = None) -> list[dict]:
    query = {"fromBlock": hex(chain.deployed.start_block), "toBlock": hex(last),
             "address": list(chain.deployed.addresses.values())}
    if topics:
        query["topics"] = topics
    return chain.rpc.call("eth_getLogs", query)


def stored_logs(engine) -> tuple[int, int]:
    """(rows in raw_events, distinct (block, log index) among them)."""
    with engine.connect() as conn:
        rows = conn.execute(select(raw_events.c.block_number, raw_events.c.log_index)).all()
    return len(rows), len(set(rows))


def checkpoint_of(engine) -> int | None:
    """The checkpoint as another process sees it; None before the indexer has created its tables."""
    try:
        with engine.connect() as conn:
            return conn.execute(select(sync_state.c.block_number)).scalar()
    except SQLAlchemyError:
        return None


# ---------------------------------------------------------------------------------------------- crash safety


def test_a_backfill_killed_at_random_moments_ends_as_one_uninterrupted_run(chain, database_url, tmp_path):
    target = chain.head
    env = {**os.environ, "LEDGER_RPC_URL": chain.rpc.url, "LEDGER_NETWORK": NETWORK,
           "LEDGER_DEPLOYMENTS_DIR": str(chain.deployments), "LEDGER_DATABASE_URL": database_url,
           # One block per range: hundreds of transactions, so a kill lands between or inside them.
           "LEDGER_MAX_BLOCK_SPAN": "1"}
    observer = open_database(database_url)
    output = tmp_path / "backfill.log"
    rng = random.Random(20261101)
    landed = mid_write = runs = 0
    # Kills while writing come a random moment after the run's first range, within `window` seconds; the
    # window shrinks when a run gets through too much of the chain, so the backfill outlasts the kills on
    # any machine. `startup` is how long the last run took to write its first range.
    window, startup, budget = 0.08, 1.0, (target - chain.deployed.start_block) / (2 * KILLS)
    try:
        while True:
            runs += 1
            before = checkpoint_of(observer) or -1
            began = time.monotonic()
            with output.open("a") as sink:
                process = subprocess.Popen([str(INDEXER), "backfill", "--to", str(target)], env=env, cwd=tmp_path,
                                           stdout=sink, stderr=sink)
            if landed >= KILLS:
                assert process.wait(timeout=120) == 0, output.read_text()[-3000:]
                break
            if runs % 4 == 1:
                # Anywhere before the first range: start-up, migrations, the starting checkpoint.
                time.sleep(rng.uniform(0.0, startup))
            else:
                deadline = began + 60
                while process.poll() is None and (checkpoint_of(observer) or -1) <= before:
                    assert time.monotonic() < deadline, "the restarted backfill made no progress in 60 s"
                    time.sleep(0.002)
                startup = time.monotonic() - began
                time.sleep(rng.uniform(0.0, window))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                landed += 1
                progress = (checkpoint_of(observer) or -1) - before
                mid_write += progress > 0
                if progress > budget:
                    window /= 2
            else:
                assert process.returncode == 0, output.read_text()[-3000:]
                break
        # How many kills landed while the indexer ran; `mid_write` of them after it had written ranges.
        print(f"{landed} kills landed mid-run ({mid_write} after the run had written ranges), {runs} runs")
        assert landed >= 20
        assert mid_write >= 10

        stored, distinct = stored_logs(observer)
        assert stored == distinct == len(chain_logs(chain, target))
        with observer.connect() as conn:
            number, block_hash = conn.execute(select(sync_state.c.block_number, sync_state.c.block_hash)).one()
        assert (number, block_hash) == (target, chain.rpc.call("eth_getBlockByNumber", hex(target), False)["hash"])

        clean = build_follower(settings_for(chain, f"sqlite:///{tmp_path / 'clean.sqlite3'}"))
        clean.backfill(target)
        assert content_hash(observer) == content_hash(clean.mirror.engine)
    finally:
        observer.dispose()


# ---------------------------------------------------------------------------------------------- node faults


class NodeProxy:
    """A JSON-RPC node in front of anvil that can be made to fail: `pass` forwards, `down` refuses
    connections (nothing listens), `hang` never answers, `http500` answers HTTP 500, and `behind` forwards
    but reports `reported_head` for eth_blockNumber. It also records every eth_getLogs block range."""

    def __init__(self, port: int, upstream: str):
        self.port, self.upstream = port, upstream
        self.mode, self.reported_head = "pass", 0
        self.ranges: list[tuple[int, int]] = []
        self.server: ThreadingHTTPServer | None = None
        self._listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def switch(self, mode: str, reported_head: int = 0) -> None:
        self.mode, self.reported_head = mode, reported_head
        if mode == "down" and self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        elif mode != "down" and self.server is None:
            self._listen()

    def close(self) -> None:
        self.switch("down")

    def _listen(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if proxy.mode == "hang":
                    # Hold the connection open without a word until told otherwise, well past the client timeout.
                    deadline = time.monotonic() + 10
                    while proxy.mode == "hang" and time.monotonic() < deadline:
                        time.sleep(0.01)
                    self.close_connection = True
                    return
                if proxy.mode == "http500":
                    self._answer(500, b"node unavailable")
                    return
                calls = json.loads(body)
                calls = calls if isinstance(calls, list) else [calls]
                for call in calls:
                    if call["method"] == "eth_getLogs":
                        proxy.ranges.append((int(call["params"][0]["fromBlock"], 16),
                                             int(call["params"][0]["toBlock"], 16)))
                answer = requests.post(proxy.upstream, data=body, headers={"Content-Type": "application/json"},
                                       timeout=30).content
                if proxy.mode == "behind":
                    head_ids = {c["id"] for c in calls if c["method"] == "eth_blockNumber"}
                    answers = json.loads(answer)
                    for entry in answers if isinstance(answers, list) else [answers]:
                        if entry.get("id") in head_ids:
                            entry["result"] = hex(proxy.reported_head)
                    answer = json.dumps(answers).encode()
                self._answer(200, answer)

            def _answer(self, status: int, content: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args):  # keep the test output to the indexer's own logs
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def proxy(chain):
    node = NodeProxy(free_port(PORTS), chain.rpc.url)
    try:
        yield node
    finally:
        node.close()


def test_a_backfill_reads_no_more_blocks_at_a_time_than_max_block_span(chain, proxy, tmp_path):
    follower = build_follower(settings_for(chain, f"sqlite:///{tmp_path / 'span.sqlite3'}", rpc_url=proxy.url,
                                           max_block_span=50))
    follower.backfill(chain.head)
    assert proxy.ranges and max(last - first + 1 for first, last in proxy.ranges) <= 50


def test_a_follower_waits_out_a_failing_or_lagging_node_and_catches_up_exactly(chain, proxy, database_url, tmp_path,
                                                                               caplog):
    caplog.set_level(logging.INFO, logger="indexer")
    follower = build_follower(settings_for(chain, database_url, rpc_url=proxy.url, rpc_timeout=0.5))
    follower.backfill(head_of(chain))
    engine = follower.mirror.engine
    stop, crashed, seen = threading.Event(), [], []

    def follow():
        try:
            follower.follow(0.05, stop.is_set)
        except BaseException as exc:  # the assertion below names it
            crashed.append(exc)

    def watch():
        # Every checkpoint the mirror passes through, to show it never goes back.
        while not stop.is_set():
            seen.append(checkpoint_of(engine))
            time.sleep(0.01)

    def caught_up() -> int:
        head = head_of(chain)
        deadline = time.monotonic() + 20
        while checkpoint_of(engine) != head:
            assert time.monotonic() < deadline, f"stuck at {checkpoint_of(engine)}, head {head}"
            time.sleep(0.02)
        return head

    threads = [threading.Thread(target=follow, daemon=True), threading.Thread(target=watch, daemon=True)]
    for thread in threads:
        thread.start()
    try:
        for mode, trace in [("down", "refused"), ("hang", "timed out"), ("http500", "HTTP 500"),
                            ("behind", "behind the mirror's checkpoint")]:
            caplog.clear()
            held = checkpoint_of(engine)
            proxy.switch(mode, reported_head=held - 5)
            chain.mine_next_round()  # the chain moves on while the node is unusable
            time.sleep(1.2)
            assert checkpoint_of(engine) == held, mode  # nothing skipped ahead, nothing rolled back
            warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            if mode == "behind":
                assert any(trace in message for message in warnings), warnings
                assert not any("reorg" in r.getMessage() for r in caplog.records)
            else:
                # Each retry says which node failed and why.
                assert any(proxy.url in message and trace in message for message in warnings), (mode, warnings)
            proxy.switch("pass")
            head = caught_up()
            assert not crashed and threads[0].is_alive(), crashed
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert not crashed, crashed
    assert [n for n in seen if n is not None] == sorted(n for n in seen if n is not None)

    stored, distinct = stored_logs(engine)
    assert stored == distinct == len(chain_logs(chain, head))
    rebuilt = build_follower(settings_for(chain, f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}"))
    rebuilt.backfill(head)
    assert compare_mirrors(engine, rebuilt.mirror.engine) == []


# ---------------------------------------------------------------------------------------------- undecodable logs


def test_a_log_no_abi_decodes_is_stored_raw_counted_and_passed(chain, database_url, tmp_path):
    rpc = chain.rpc
    anchors = chain.deployed.addresses["Anchors"]
    original = rpc.call("eth_getCode", anchors, "latest")
    # PUSH32 <topic> PUSH1 0 PUSH1 0 LOG1 STOP: one log with a topic no ledger ABI has, from a ledger address.
    rpc.call("anvil_setCode", anchors, "0x7f" + UNKNOWN_TOPIC[2:] + "60006000a100")
    try:
        sender = rpc.call("eth_accounts")[0]
        tx_hash = rpc.call("eth_sendTransaction", {"from": sender, "to": anchors, "gas": hex(100_000),
                                                   "gasPrice": hex(10**9)})
        latest = rpc.call("eth_getBlockByNumber", "latest", False)
        rpc.call("evm_mine", {"timestamp": int(latest["timestamp"], 16) + 1, "blocks": 1})
        receipt = rpc.call("eth_getTransactionReceipt", tx_hash)
        assert int(receipt["status"], 16) == 1 and len(receipt["logs"]) == 1
    finally:
        rpc.call("anvil_setCode", anchors, original)
    unknown_block = int(receipt["blockNumber"], 16)
    chain.mine_next_round()  # ledger business after the unknown log, which the mirror must still read
    head = head_of(chain)
    unknown = len(chain_logs(chain, head, [UNKNOWN_TOPIC]))  # one per engine's run of this test

    settings = settings_for(chain, database_url)
    follower = build_follower(settings)
    follower.backfill(head)
    with follower.mirror.engine.connect() as conn:
        row = conn.execute(select(raw_events).where(raw_events.c.tx_hash == tx_hash)).mappings().one()
        decoded_after = conn.execute(select(func.count()).select_from(raw_events).where(
            raw_events.c.block_number > unknown_block, raw_events.c.name.is_not(None))).scalar_one()
    assert (row["name"], row["contract"], row["address"]) == (None, None, anchors.lower())
    assert (bytes(row["topics"]), bytes(row["data"])) == (bytes.fromhex(UNKNOWN_TOPIC[2:]), b"")
    checkpoint = follower.mirror.checkpoint()
    assert (checkpoint.block_number, checkpoint.undecoded) == (head, unknown)
    assert decoded_after > 0
    stored, _ = stored_logs(follower.mirror.engine)
    assert stored == len(chain_logs(chain, head))

    status = subprocess.run(
        [str(INDEXER), "status"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**os.environ, "LEDGER_RPC_URL": chain.rpc.url, "LEDGER_NETWORK": NETWORK,
             "LEDGER_DEPLOYMENTS_DIR": str(chain.deployments), "LEDGER_DATABASE_URL": database_url},
    )
    assert status.returncode == 0, status.stderr
    assert f"undecoded logs {unknown}" in status.stdout
