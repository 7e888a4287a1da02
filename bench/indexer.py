"""Indexer benchmark: how fast the mirror backfills a filled chain into SQLite and PostgreSQL, how far it
lags behind the head while following, and what the naive web3.py way achieves on the same chain.

`./dev bench indexer` makes sure the chain of `bench/fill_chain.py` exists (filling it on the first
run, then loading the saved state), serves it from anvil, and measures:
- our backfill (`indexer.cli.build_follower(...).backfill`) into a fresh SQLite file and a fresh PostgreSQL
  database, `--runs` times each; events per second, median of the runs;
- the naive baseline a web3.py user would write, on the same chain, into SQLite: for each event type of each
  contract `contract.events.<Name>.get_logs(...)` (one eth_getLogs per event type, each log decoded by
  web3's `process_log`), and one SQLAlchemy ORM object added per event (committed per event type); over
  the whole chain, or the first `--naive-events` events when given, and reports events per second;
- the lag while following: a follower polls every 0.1 s while transactions land one by one; lag is the
  time from a transaction's receipt to the mirror's checkpoint passing its block (median and p95).
It prints the figures and the ratios and writes `bench/results/indexer.json` and `bench/results/indexer.md`.
Needs PostgreSQL: `--postgres-url` or `LEDGER_TEST_POSTGRES_URL` (a role that may create databases).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import JSON, BigInteger, Integer, String, create_engine, select  # noqa: E402
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column  # noqa: E402
from web3 import Web3  # noqa: E402

from bench import fill_chain  # noqa: E402
from indexer.cli import build_follower  # noqa: E402
from indexer.contracts import load_artifacts, load_deployment  # noqa: E402
from indexer.db import scratch_postgres_database  # noqa: E402
from indexer.schema import accounts, organisations  # noqa: E402
from indexer.settings import Settings  # noqa: E402
from ledger_api.anvil import stop_anvil  # noqa: E402
from ledger_api.rawchain import Rpc  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TARGETS = {"sqlite_events_per_second": 20_000, "postgresql_events_per_second": 15_000, "ratio_to_naive": 10,
           "lag_seconds": 1.0}


class NaiveBase(DeclarativeBase):
    pass


class NaiveEvent(NaiveBase):
    """What the naive indexer stores: one row per decoded event."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contract: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    block_number: Mapped[int] = mapped_column(BigInteger)
    log_index: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[str] = mapped_column(String(66))
    args: Mapped[dict] = mapped_column(JSON)


def _jsonable(value):
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):  # web3's AttributeDict for structs too
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def naive_backfill(rpc_url: str, network: str, last_block: int, database_url: str) -> int:
    """The web3.py way, block range [deployment start, last_block]; returns the events stored."""
    deployment = load_deployment(network)
    artifacts = load_artifacts()
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 300}))
    engine = create_engine(database_url)
    NaiveBase.metadata.create_all(engine)
    stored = 0
    with Session(engine) as session:
        for name, entry in deployment.contracts.items():
            contract = w3.eth.contract(address=Web3.to_checksum_address(entry["address"]), abi=artifacts[name].abi)
            for item in artifacts[name].abi:
                if item["type"] != "event":
                    continue
                # One eth_getLogs per event type; web3 decodes each log with process_log.
                for decoded in contract.events[item["name"]].get_logs(from_block=deployment.start_block,
                                                                      to_block=last_block):
                    session.add(NaiveEvent(contract=name, name=decoded["event"], block_number=decoded["blockNumber"],
                                           log_index=decoded["logIndex"], tx_hash=decoded["transactionHash"].to_0x_hex(),
                                           args=_jsonable(dict(decoded["args"]))))
                    stored += 1
                session.commit()
    engine.dispose()
    return stored


def ours(settings: Settings, database_url: str, head: int) -> tuple[int, float]:
    follower = build_follower(settings, database_url)
    events = 0

    def count(progress):
        nonlocal events
        events += progress.events

    follower.on_progress = count
    began = time.perf_counter()
    follower.backfill(head)
    elapsed = time.perf_counter() - began
    follower.mirror.engine.dispose()
    return events, elapsed


def block_holding(rpc: Rpc, network: str, events: int) -> int:
    """The first block by which the ledger emitted `events` events."""
    deployment = load_deployment(network)
    addresses = [c["address"] for c in deployment.contracts.values()]
    seen, block, head = 0, deployment.start_block, int(rpc.call("eth_blockNumber"), 16)
    while block <= head:
        last = min(block + 199, head)
        logs = rpc.call("eth_getLogs", {"fromBlock": hex(block), "toBlock": hex(last), "address": addresses})
        if seen + len(logs) >= events:
            return int(logs[events - seen - 1]["blockNumber"], 16)
        seen += len(logs)
        block = last + 1
    return head


def measure_lag(settings: Settings, rpc: Rpc, samples: int, workdir: Path) -> list[float]:
    """Seconds from a transaction's receipt to the mirror's checkpoint passing its block."""
    follower = build_follower(settings, f"sqlite:///{workdir / 'follow.sqlite3'}")
    follower.backfill(int(rpc.call("eth_blockNumber"), 16))
    with follower.mirror.engine.connect() as conn:
        admin = conn.execute(select(accounts.c.address).where(accounts.c.org == 1, accounts.c.roles.op("&")(1) == 1)
                             ).scalar_one()
        distributor = conn.execute(select(organisations.c.id).where(organisations.c.kind == 4)).scalars().first()
    deployment = load_deployment(settings.network)
    membership = load_artifacts()["Membership"]
    w3 = Web3(Web3.HTTPProvider(settings.rpc_url))
    contract = w3.eth.contract(address=Web3.to_checksum_address(deployment.address("Membership")), abi=membership.abi)
    rpc.call("anvil_impersonateAccount", admin)
    stop = threading.Event()
    thread = threading.Thread(target=follower.follow, args=(0.1, stop.is_set), daemon=True)
    thread.start()
    lags = []
    try:
        for i in range(samples):
            data = contract.encode_abi("setPriceTier", [distributor, i % 3])
            tx = rpc.call("eth_sendTransaction", {"from": admin, "to": contract.address, "data": data,
                                                  "gas": hex(200_000)})
            receipt = None
            while receipt is None:
                receipt = rpc.call("eth_getTransactionReceipt", tx)
            mined = time.perf_counter()
            block = int(receipt["blockNumber"], 16)
            while follower.mirror.checkpoint().block_number < block:
                time.sleep(0.005)
            lags.append(time.perf_counter() - mined)
            time.sleep(0.13)  # arrivals spread over the poll interval
    finally:
        stop.set()
        thread.join(10)
        rpc.call("anvil_stopImpersonatingAccount", admin)
    return lags


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events on the benchmark chain")
    parser.add_argument("--port", type=int, default=8690)
    parser.add_argument("--network", default="bench")
    parser.add_argument("--runs", type=int, default=5, help="backfills per database (median reported)")
    parser.add_argument("--naive-events", type=int, default=0,
                        help="events the naive baseline reads (default 0: the whole chain, as ours)")
    parser.add_argument("--lag-samples", type=int, default=40)
    parser.add_argument("--postgres-url", default=os.environ.get("LEDGER_TEST_POSTGRES_URL"),
                        help="a PostgreSQL role that may create databases [env LEDGER_TEST_POSTGRES_URL]")
    args = parser.parse_args(argv)
    if not args.postgres_url:
        sys.exit("bench: give --postgres-url (or LEDGER_TEST_POSTGRES_URL): a role that may create databases")

    # The lag measurement adds transactions; they are not saved, so every run reads the same chain.
    process = fill_chain.serve_filled_chain(args.events, args.port, args.network)
    try:
        rpc = Rpc(f"http://127.0.0.1:{args.port}")
        settings = Settings(rpc_url=rpc.url, network=args.network, max_block_span=100_000)
        head = int(rpc.call("eth_blockNumber"), 16)
        result: dict = {"chain": {"head": head}, "runs": args.runs}
        with tempfile.TemporaryDirectory() as scratch:
            work = Path(scratch)
            sqlite_runs, pg_runs = [], []
            for run in range(args.runs):
                events, seconds = ours(settings, f"sqlite:///{work / f'ours{run}.sqlite3'}", head)
                sqlite_runs.append(events / seconds)
                print(f"bench: ours, SQLite, run {run + 1}: {events:,} events in {seconds:.1f} s "
                      f"= {events / seconds:,.0f}/s", flush=True)
                with scratch_postgres_database(args.postgres_url, prefix="ledger_bench") as url:
                    events, seconds = ours(settings, url, head)
                pg_runs.append(events / seconds)
                print(f"bench: ours, PostgreSQL, run {run + 1}: {events:,} events in {seconds:.1f} s "
                      f"= {events / seconds:,.0f}/s", flush=True)
            result["chain"]["events"] = events
            result["sqlite_events_per_second"] = round(statistics.median(sqlite_runs))
            result["postgresql_events_per_second"] = round(statistics.median(pg_runs))
            result["sqlite_runs"] = [round(r) for r in sqlite_runs]
            result["postgresql_runs"] = [round(r) for r in pg_runs]

            last = block_holding(rpc, args.network, args.naive_events) if args.naive_events else head
            began = time.perf_counter()
            naive_events = naive_backfill(rpc.url, args.network, last, f"sqlite:///{work / 'naive.sqlite3'}")
            naive_seconds = time.perf_counter() - began
            result["naive_events"] = naive_events
            result["naive_events_per_second"] = round(naive_events / naive_seconds)
            result["ratio_to_naive"] = round(result["sqlite_events_per_second"] / result["naive_events_per_second"], 1)
            print(f"bench: naive web3.py, SQLite: {naive_events:,} events in {naive_seconds:.1f} s "
                  f"= {result['naive_events_per_second']:,}/s", flush=True)

            lags = measure_lag(settings, rpc, args.lag_samples, work)
            result["lag_seconds"] = round(statistics.median(lags), 3)
            result["lag_p95_seconds"] = round(sorted(lags)[int(0.95 * (len(lags) - 1))], 3)
            print(f"bench: lag while following: median {result['lag_seconds']} s, p95 {result['lag_p95_seconds']} s")
    finally:
        stop_anvil(process)

    result["targets"] = TARGETS
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "indexer.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "indexer.md").write_text(render(result))
    print(render(result))
    print(f"bench: wrote {RESULTS / 'indexer.json'} and {RESULTS / 'indexer.md'}")
    return 0


def render(r: dict) -> str:
    def status(key, higher_is_better=True):
        target = TARGETS[key]
        ok = r[key] >= target if higher_is_better else r[key] <= target
        return "pass" if ok else "miss"

    return "\n".join([
        "# Indexer benchmark",
        "",
        f"Chain: {r['chain']['events']:,} ledger events up to block {r['chain']['head']:,} "
        f"(`bench/fill_chain.py`). Backfill figures are medians of {r['runs']} runs on a shared 2-core machine.",
        "",
        "| measure | ours | target | status |",
        "| --- | ---: | ---: | --- |",
        f"| backfill into SQLite, events/s | {r['sqlite_events_per_second']:,} | ≥ 20,000 | {status('sqlite_events_per_second')} |",
        f"| backfill into PostgreSQL, events/s | {r['postgresql_events_per_second']:,} | ≥ 15,000 | "
        f"{status('postgresql_events_per_second')} |",
        f"| naive web3.py baseline into SQLite, events/s ({r['naive_events']:,} events) | "
        f"{r['naive_events_per_second']:,} | | |",
        f"| ours ÷ naive (SQLite) | {r['ratio_to_naive']}× | ≥ 10× | {status('ratio_to_naive')} |",
        f"| lag behind the head while following, median (p95) | {r['lag_seconds']} s ({r['lag_p95_seconds']} s) | "
        f"≤ 1 s | {status('lag_seconds', higher_is_better=False)} |",
        "",
        f"Runs: SQLite {r['sqlite_runs']}, PostgreSQL {r['postgresql_runs']} events/s.",
        "",
        "Ours writes every projection (stock per location and lot, orders, shipments, credit ...) besides the raw "
        "logs; the naive baseline stores only one decoded row per event.",
        "",
    ])


if __name__ == "__main__":
    sys.exit(main())
