"""Plays a simulated network's activity (`ledger_api.activity`) onto a chain with the raw writer
(`ledger_api.rawchain`): deploys the ledger as the network's brand admin, writes `deployments/<network>.json`,
mines the activity round by round, prints progress with rates and an ETA, checks that the chain emitted
exactly the planned events, and returns the measurements. Also tells whether a chain already holds a live
deployment with its events, so a filled chain is found again instead of filled twice. Shared by the benchmark
chain (`bench/fill_chain.py`) and the demo network (`ledger_api.demo_network`).
"""

from __future__ import annotations

import time
from pathlib import Path

from indexer.contracts import DEPLOYMENTS, load_artifacts, load_deployment
from ledger_api.activity import DAY, Activity
from ledger_api.rawchain import (LEDGER_CONTRACTS, LedgerCodec, LedgerWriter, Rpc, Signer, has_code,
                                 write_ledger_deployment)

LOG_CHUNK_BLOCKS = 500


def count_ledger_events(rpc: Rpc, addresses: list[str], start_block: int) -> int:
    """Every log the ledger's contracts emitted since deployment, counted in block ranges."""
    latest = int(rpc.call("eth_blockNumber"), 16)
    total = 0
    for low in range(start_block, latest + 1, LOG_CHUNK_BLOCKS):
        high = min(low + LOG_CHUNK_BLOCKS - 1, latest)
        total += len(rpc.call("eth_getLogs", {"fromBlock": hex(low), "toBlock": hex(high), "address": addresses}))
    return total


def live_deployment(rpc: Rpc, network: str, directory: Path = DEPLOYMENTS):
    """The deployment of `network` if the node serves its chain and its contracts have code there, else None."""
    try:
        deployment = load_deployment(network, directory)
    except (FileNotFoundError, ValueError):
        return None
    addresses = [deployment.address(name) for name in LEDGER_CONTRACTS]
    if deployment.chain_id != int(rpc.call("eth_chainId"), 16) or not has_code(rpc, addresses):
        return None
    return deployment


def already_filled(rpc: Rpc, network: str, target: int) -> int | None:
    """The number of ledger events on the chain if it already holds a live deployment with `target` of them."""
    deployment = live_deployment(rpc, network)
    if deployment is None:
        return None
    events = count_ledger_events(rpc, [deployment.address(n) for n in LEDGER_CONTRACTS], deployment.start_block)
    return events if events >= target else None


def fill(rpc: Rpc, activity: Activity, network: str, impersonate: bool = False, progress_every: float = 2.0,
         deployments: Path = DEPLOYMENTS, label: str = "fill") -> dict:
    """Deploys the ledger and writes the activity's rounds until its end; returns the measurements."""
    codec = LedgerCodec(load_artifacts())
    net = activity.network
    writer = LedgerWriter(rpc, codec, Signer(net.keys, int(rpc.call("eth_chainId"), 16)), impersonate=impersonate)
    progress = Progress(activity, writer, label)
    writer.prepare()
    deployed = writer.deploy_ledger(net.admin, net.brand_name)
    path = write_ledger_deployment(deployed, network, codec, deployments)
    print(f"{label}: deployed the ledger in block {deployed.start_block}, wrote {path}", flush=True)
    last_report = time.perf_counter()
    generating = 0.0
    rounds = iter(activity.rounds())
    last_time = activity.scale.start_time
    while True:
        t0 = time.perf_counter()
        try:
            next_round = next(rounds)
        except StopIteration:
            break
        generating += time.perf_counter() - t0
        writer.execute_round(next_round.timestamp, next_round.calls)
        last_time = next_round.timestamp
        now = time.perf_counter()
        if now - last_report >= progress_every:
            last_report = now
            progress.show(last_time)
    totals = writer.flush()
    writer.close()
    progress.show(last_time, final=True)
    if totals.events != activity.planned:
        raise RuntimeError(f"events on chain differ from the plan: {(totals.events - activity.planned)} more, "
                           f"{(activity.planned - totals.events)} fewer")
    elapsed = progress.elapsed()
    return {
        "network": network,
        "signing": "impersonated (unsigned)" if impersonate else f"local ({_ecc_backend()})",
        "deployment_block": deployed.start_block,
        "last_block": int(rpc.call("eth_blockNumber"), 16),
        "events": totals.event_count,
        "transactions": totals.transactions,
        "blocks": totals.blocks,
        "seconds": round(elapsed, 2),
        "seconds_generating": round(generating, 2),
        "seconds_writing": round(totals.seconds, 2),
        "tx_per_second": round(totals.transactions / elapsed, 1),
        "events_per_second": round(totals.event_count / elapsed, 1),
        "simulated_days": round((last_time - activity.scale.start_time) / DAY, 1),
        "events_by_type": dict(totals.events.most_common()),
        "addresses": deployed.addresses,
    }


class Progress:
    """Progress lines of a fill: events, transactions, blocks, rates, the simulated day and an ETA, estimated
    from the events still to come or, for an activity with an end time, from the simulated time still to pass."""

    def __init__(self, activity: Activity, writer: LedgerWriter, label: str) -> None:
        self.activity, self.writer, self.label = activity, writer, label
        self.began = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.began

    def show(self, simulated_now: int, final: bool = False) -> None:
        scale, totals, elapsed = self.activity.scale, self.writer.totals, self.elapsed()
        events = totals.event_count
        rate = events / elapsed if elapsed else 0.0
        if scale.end_time is not None:
            done = (simulated_now - scale.start_time) / (scale.end_time - scale.start_time)
            eta = elapsed * (1 - done) / done if done > 0 else 0.0
            goal = f"{done:6.1%} of {(scale.end_time - scale.start_time) / DAY:.0f} days"
        else:
            eta = (scale.target_events - events) / rate if rate and events < scale.target_events else 0.0
            goal = f"/ {scale.target_events:,} events"
        line = (f"{self.label}: {events:>9,} events {goal}  {totals.transactions:>8,} tx  {totals.blocks:>6,} blocks  "
                f"{rate:>7,.0f} events/s  {totals.transactions / elapsed if elapsed else 0:>6,.0f} tx/s  ")
        if final:
            line += f"{elapsed:.0f} s in total"
        else:
            line += f"day {(simulated_now - scale.start_time) / DAY:5.1f}  ETA {eta:4.0f} s"
        print(line, flush=True)


def _ecc_backend() -> str:
    """eth-keys signs with coincurve (libsecp256k1) when it is installed, else in pure Python, ~15x slower."""
    from eth_keys.backends import get_backend

    return type(get_backend()).__name__
