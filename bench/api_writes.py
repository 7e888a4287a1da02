"""API write benchmark: how many orders a second distributors submit through the Ledger API to anvil, each answered
only once it is mined and mirrored (read-your-writes), beside a plain web3.py `transact()` loop on the same chain.

`./dev bench api_writes` measures on a whole stack of real processes, started afresh for every measured load: anvil
on a free port of 8760-8769 with automine, a newly deployed ledger with a small network's activity played on it
(32 distributors, so many accounts submit at once: the API serialises sends per account), the indexer
(`indexer run`) mirroring it into a SQLite file, and the API (`ledger-api serve`, one uvicorn process) holding
keystores for every member. A fresh stack each time because anvil 1.7 mines a block more slowly the longer its
chain (measured here: about 2.5 ms a block at first, 55 ms after 6,000 blocks) and automine makes a block of
every send, one or two orders each: on one long-lived chain the later loads would measure anvil's history more
than the API.
- ours: C asyncio workers (httpx, a connection each), each signed in with Ethereum as a distributor's purchaser, loop
  `POST /v1/orders` (one line, one case) for `--warmup` + `--duration` seconds, for each `--concurrency` C.
  A 201 means mined and mirrored: orders/s counts the 201s answered in the measured window, latency is request
  to answer. A 202 (the API's write timeout passed first) misses the latency target and is counted apart. Every
  `--check-every`-th 201 is followed at once by `GET /v1/orders/{id}`, which must answer 200.
- the baseline, on the first stack of each run, before the API's load: a web3.py loop, one order at a time,
  `contract.functions.submitOrder(...).transact()` signed locally (`SignAndSendRawMiddlewareBuilder`; the API signs
  locally too) then `wait_for_transaction_receipt`, latency transact to receipt, no mirror; and the same loop in
  as many threads as the largest C (at most one per distributor), one account each. It sends from accounts of its own, added to the same distributors, so its nonces
  never collide with the API's.
Runs rotate the order of the concurrencies, so the machine's noise spreads over all of them. The CPU each process
used during the API loads (and what other processes on the machine took meanwhile) says where the time goes.
It prints the figures and writes `bench/results/api_writes.json` and `bench/results/api_writes.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak
from web3 import HTTPProvider, Web3
from web3.middleware import SignAndSendRawMiddlewareBuilder

from indexer.contracts import load_artifacts, write_deployment
from indexer.db import migrate, open_database
from ledger_api.activity import DAY, PURCHASER, Activity, Call, Scale
from ledger_api.anvil import CHAIN_ID, free_port, start_anvil, stop_anvil, stop_process
from ledger_api.chain import write_keystore
from ledger_api.rawchain import LedgerCodec, LedgerWriter, Rpc, Signer

RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
PORTS = range(8760, 8770)
NETWORK = "bench-api-writes"
PASSWORD = "bench-api-writes-keystore-password"
# 32 distributors, each with its own purchaser account; the rest of the network is small, and two days of
# activity (about 70 blocks) put orders, stock and prices in the mirror without making the chain long.
SCALE = Scale(regions=4, warehouses=2, distributors_per_region=8, stores_per_distributor=1, skus=6, carriers=1,
              target_events=400, days=2)
TARGETS = {"orders_per_second": 200, "p99_seconds": 0.5}
TICK = os.sysconf("SC_CLK_TCK")
BLOCK_NUMBER = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}


@dataclass(frozen=True)
class Purchaser:
    """An account that may submit orders for a distributor, and the location its orders are delivered to."""

    label: str
    key: bytes
    address: str
    deliver_to: int


@dataclass
class Ledger:
    orders_address: str
    sku: int
    purchasers: list[Purchaser]  # the network's own: they sign in to the API
    baseline: list[Purchaser]  # added to the same distributors for the web3.py baseline


@dataclass
class Stack:
    rpc: Rpc
    ledger: Ledger
    url: str
    pids: dict[str, int]


# ---------------------------------------------------------------------------------------------- setup


def deploy(rpc: Rpc, seed: int, folder: Path) -> tuple[Ledger, Activity]:
    """Deploys a ledger, plays the network's activity, adds one baseline purchaser per distributor, writes the
    deployment file under `folder` and switches automine on."""
    codec = LedgerCodec(load_artifacts())
    activity = Activity(seed, SCALE)
    net = activity.network
    writer = LedgerWriter(rpc, codec, Signer(net.keys, CHAIN_ID), block_size=200)
    writer.prepare()
    deployed = writer.deploy_ledger(net.admin, net.brand_name)
    for planned in activity.rounds():
        writer.execute_round(planned.timestamp, planned.calls)
    writer.flush()

    purchasers, baseline = [], []
    for n, place in enumerate(net.distributor_places, 1):
        member = net.members[net.sender_at[place]]
        purchasers.append(Purchaser(member.label, member.key, member.address, place))
        key = keccak(text=f"bench api_writes baseline purchaser/{seed}/{n}")
        label = f"distributor.{n}.baseline"
        writer.signer.add_key(label, key)
        baseline.append(Purchaser(label, key, writer.signer.addresses[label], place))
    writer.prepare([p.label for p in baseline])  # funds them and reads their nonces
    org_of = {p.id: p.org for p in net.places}
    writer.execute_round(None, [Call(net.admin, "Membership", "setAccount",
                                     (p.address, org_of[p.deliver_to], PURCHASER, "baseline purchaser"),
                                     ("AccountSet",)) for p in baseline])
    writer.close()
    # The writer mines its own blocks; from here on every transaction is mined as it arrives.
    rpc.call("evm_setAutomine", True)
    write_deployment(deployed.deployment(NETWORK, codec), folder / "deployments")
    return Ledger(deployed.addresses["Orders"], net.products[0].id, purchasers, baseline), activity


def start_services(rpc: Rpc, activity: Activity, folder: Path, args: argparse.Namespace
                   ) -> tuple[subprocess.Popen, subprocess.Popen, str]:
    """Starts the indexer and the API, each a process of its own; returns them and the API's URL once ready."""
    for member in activity.network.members.values():
        write_keystore(folder / "keystore", member.key, PASSWORD, iterations=16)
    database_url = f"sqlite:///{folder / 'mirror.sqlite3'}"
    engine = open_database(database_url)
    migrate(engine)  # once, before the indexer and the API both open the database
    engine.dispose()
    env = {**os.environ, "LEDGER_RPC_URL": rpc.url, "LEDGER_NETWORK": NETWORK,
           "LEDGER_DEPLOYMENTS_DIR": str(folder / "deployments"), "LEDGER_DATABASE_URL": database_url,
           "LEDGER_POLL_INTERVAL": str(args.poll_interval)}
    indexer = subprocess.Popen([str(BIN / "indexer"), "run"], env=env, stdout=(folder / "indexer.log").open("w"),
                               stderr=subprocess.STDOUT)
    port = free_port(PORTS)
    url = f"http://127.0.0.1:{port}"
    api_env = {**env, "LEDGER_API_PORT": str(port), "LEDGER_KEYSTORE_DIR": str(folder / "keystore"),
               "LEDGER_KEYSTORE_PASSWORD": PASSWORD, "LEDGER_SIWE_DOMAIN": f"127.0.0.1:{port}",
               "LEDGER_PUBLIC_URL": url}
    if args.mirror_poll is not None:
        api_env["LEDGER_MIRROR_POLL"] = str(args.mirror_poll)
    api = subprocess.Popen([str(BIN / "ledger-api"), "serve"], env=api_env, stdout=(folder / "api.log").open("w"),
                           stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        for name, process in (("indexer", indexer), ("API", api)):
            if process.poll() is not None:
                stop_process(indexer, 10)
                stop_process(api, 10)
                raise RuntimeError(f"the {name} exited with {process.returncode}; see {folder}/*.log")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return indexer, api, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_process(indexer, 10)
            stop_process(api, 10)
            raise RuntimeError(f"the API was not ready within 120 s; see {folder}/api.log")
        time.sleep(0.1)


@contextmanager
def running_stack(args: argparse.Namespace, folder: Path) -> Iterator[Stack]:
    """A fresh anvil, ledger, indexer and API, stopped again (only these processes) when the block ends."""
    folder.mkdir(parents=True)
    began = time.perf_counter()
    port = free_port(PORTS)
    chain = folder / "chain.json" if args.block_time else None
    anvil = start_anvil(port, SCALE.start_time - DAY, folder / "anvil.log", state=chain)
    try:
        rpc = Rpc(f"http://127.0.0.1:{port}")
        ledger, activity = deploy(rpc, args.seed, folder)
        if args.block_time:
            # The activity mines its own blocks, which interval mining would interleave with: it is played
            # first, and the chain it built is loaded into an anvil that mines every block period.
            stop_anvil(anvil)
            anvil = start_anvil(port, SCALE.start_time - DAY, folder / "anvil-interval.log", state=chain,
                                keep_state=False, block_time=args.block_time)
        indexer, api, url = start_services(rpc, activity, folder, args)
        try:
            print(f"bench:   fresh stack ready in {time.perf_counter() - began:.1f} s: anvil :{port} (block "
                  f"{int(rpc.call('eth_blockNumber'), 16)}), indexer pid {indexer.pid}, API {url} pid {api.pid}",
                  flush=True)
            yield Stack(rpc, ledger, url, {"anvil": anvil.pid, "indexer": indexer.pid, "api": api.pid})
        finally:
            stop_process(api, 10)
            stop_process(indexer, 10)
    finally:
        stop_anvil(anvil)


class CpuMeter:
    """CPU seconds (user + system) that each named process, and the whole machine, spent between `start` and
    `stop`, summed over calls; read from /proc."""

    def __init__(self) -> None:
        self.seconds: Counter = Counter()
        self.elapsed = 0.0
        self._pids: dict[str, int] = {}
        self._began: tuple[float, dict[str, float], float] | None = None

    @staticmethod
    def _process(pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime

    @staticmethod
    def _machine() -> float:
        ticks = [int(x) for x in Path("/proc/stat").read_text().split()[1:9]]
        return (sum(ticks) - ticks[3] - ticks[4]) / TICK  # all but idle and iowait

    def start(self, pids: dict[str, int]) -> None:
        self._pids = pids
        self._began = (time.perf_counter(), {n: self._process(p) for n, p in pids.items()}, self._machine())

    def stop(self) -> None:
        at, processes, machine = self._began
        self.elapsed += time.perf_counter() - at
        ours = 0.0
        for name, pid in self._pids.items():
            used = self._process(pid) - processes[name]
            self.seconds[name] += used
            ours += used
        self.seconds["other processes"] += self._machine() - machine - ours

    def cores(self) -> dict[str, float]:
        # "other processes" is a difference of clock-tick counts, so it can come out a tick below zero
        return {name: round(max(0.0, s / self.elapsed), 2) for name, s in self.seconds.items()}

    def add(self, other: CpuMeter) -> None:
        self.seconds.update(other.seconds)
        self.elapsed += other.elapsed


# ---------------------------------------------------------------------------------------------- ours


async def sign_in(client: httpx.AsyncClient, purchaser: Purchaser) -> dict[str, str]:
    nonce = await client.post("/v1/auth/nonce", json={"address": purchaser.address})
    nonce.raise_for_status()
    message = nonce.json()["message"]
    signature = Account.sign_message(encode_defunct(text=message), purchaser.key).signature.hex()
    token = await client.post("/v1/auth/token", json={"message": message, "signature": "0x" + signature})
    token.raise_for_status()
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def api_load(stack: Stack, concurrency: int, args: argparse.Namespace, cpu: CpuMeter) -> dict:
    """C workers submit orders for `warmup` + `duration` seconds; what was answered in the measured window.
    The CPU used in the window is added to `cpu`."""
    meter = CpuMeter()
    async with httpx.AsyncClient(base_url=stack.url, timeout=60) as client:
        signed_in = [(p, await sign_in(client, p)) for p in stack.ledger.purchasers]
        latencies: list[float] = []
        statuses: Counter = Counter()
        checks: Counter = Counter()
        problems: list[str] = []
        blocks: list[int] = []
        began = time.perf_counter()
        window = (began + args.warmup, began + args.warmup + args.duration)

        async def worker(i: int) -> None:
            # A client (one connection) per worker: httpx looks over every connection of its pool for each
            # request, so one shared pool would cost the load generator more per order the more workers it has.
            async with httpx.AsyncClient(base_url=stack.url, timeout=60) as own:
                await work(own, *signed_in[i % len(signed_in)])

        async def work(client: httpx.AsyncClient, purchaser: Purchaser, headers: dict) -> None:
            body = {"deliver_to": purchaser.deliver_to, "urgent": False,
                    "lines": [{"sku": stack.ledger.sku, "cases": 1}]}
            while time.perf_counter() < window[1]:
                sent = time.perf_counter()
                answer = await client.post("/v1/orders", json=body, headers=headers)
                done = time.perf_counter()
                if not window[0] <= done <= window[1]:
                    continue
                statuses[answer.status_code] += 1
                if answer.status_code == 201:
                    latencies.append(done - sent)
                    if len(latencies) % args.check_every == 0:
                        order = answer.json()["result"]
                        seen = await client.get(f"/v1/orders/{order['id']}", headers=headers)
                        read = seen.status_code == 200 and seen.json()["id"] == order["id"]
                        checks["read" if read else "missed"] += 1
                elif len(problems) < 5:
                    problems.append(f"{answer.status_code} {answer.text[:200]}")

        async def measure_window() -> None:
            """The CPU and the blocks mined in the measured window."""
            await asyncio.sleep(max(0.0, window[0] - time.perf_counter()))
            blocks.append(int((await client.post(stack.rpc.url, json=BLOCK_NUMBER)).json()["result"], 16))
            meter.start({**stack.pids, "load generator": os.getpid()})
            await asyncio.sleep(max(0.0, window[1] - time.perf_counter()))
            meter.stop()
            blocks.append(int((await client.post(stack.rpc.url, json=BLOCK_NUMBER)).json()["result"], 16))

        await asyncio.gather(measure_window(), *(worker(i) for i in range(concurrency)))
    cpu.add(meter)
    return summarise(latencies, args.duration) | {
        "concurrency": concurrency, "answers": {str(k): v for k, v in sorted(statuses.items())},
        "timed_out_202": statuses[202], "read_back": checks["read"], "read_back_missed": checks["missed"],
        "blocks": blocks[1] - blocks[0], "other_cores": meter.cores()["other processes"], "problems": problems}


def summarise(latencies: list[float], seconds: float) -> dict:
    ordered = sorted(latencies)

    def percentile(p: float) -> float | None:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 4) if ordered else None

    return {"orders": len(ordered), "seconds": round(seconds, 2),
            "orders_per_second": round(len(ordered) / seconds, 1), "p50_seconds": percentile(0.50),
            "p99_seconds": percentile(0.99)}


# ---------------------------------------------------------------------------------------------- baseline


def web3_orders(stack: Stack, purchasers: list[Purchaser]):
    """The Orders contract as a web3.py user holds it, with the purchasers' keys signing locally."""
    w3 = Web3(HTTPProvider(stack.rpc.url))
    # A name of our own: web3 8.0.0's inject() without one fails with a KeyError (the generated name changes).
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build([p.key for p in purchasers]), name="signing",
                               layer=0)
    return w3.eth.contract(address=Web3.to_checksum_address(stack.ledger.orders_address),
                           abi=load_artifacts()["Orders"].abi)


def web3_loop(stack: Stack, orders, purchasers: list[Purchaser], seconds: float) -> tuple[list[float], float]:
    """The way a web3.py user writes it: transact, wait for the receipt, next; the accounts take turns.
    Returns each order's latency (transact to receipt) and the seconds the loop ran."""
    w3 = orders.w3
    latencies = []
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        p = purchasers[len(latencies) % len(purchasers)]
        sent = time.perf_counter()
        tx = orders.functions.submitOrder(p.deliver_to, False, [stack.ledger.sku], [1]).transact({"from": p.address})
        receipt = w3.eth.wait_for_transaction_receipt(tx)
        if receipt["status"] != 1:
            raise RuntimeError(f"the baseline's order {tx.to_0x_hex()} reverted")
        latencies.append(time.perf_counter() - sent)
    return latencies, time.perf_counter() - began


def web3_threads(stack: Stack, threads: int, seconds: float) -> tuple[list[float], float]:
    """The same loop in `threads` threads at once, one account each; timed from when all are ready."""
    results: list[list[float]] = [[] for _ in range(threads)]
    errors: list[Exception] = []
    clients = [web3_orders(stack, [stack.ledger.baseline[i]]) for i in range(threads)]
    ready = threading.Barrier(threads + 1)

    def run(i: int) -> None:
        ready.wait()
        try:
            results[i] = web3_loop(stack, clients[i], [stack.ledger.baseline[i]], seconds)[0]
        except Exception as exc:  # noqa: BLE001 - raised again in the main thread
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    ready.wait()
    began = time.perf_counter()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]
    return [x for r in results for x in r], time.perf_counter() - began


# ---------------------------------------------------------------------------------------------- main


def median_of(results: list[dict], key: str) -> float | None:
    values = [r[key] for r in results if r[key] is not None]
    return round(statistics.median(values), 4) if values else None


def medians(results: list[dict]) -> dict:
    return {key: median_of(results, key) for key in ("orders_per_second", "p50_seconds", "p99_seconds")}


def show(what: str, r: dict) -> None:
    print(f"bench:   {what}: {r['orders']:,} orders in {r['seconds']:.1f} s = {r['orders_per_second']:,.1f}/s, "
          f"p50 {r['p50_seconds']} s, p99 {r['p99_seconds']} s", flush=True)


def git(*args: str) -> str:
    """What a read-only git command prints about this checkout (empty without git)."""
    try:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds of every variant (medians reported)")
    parser.add_argument("--concurrency", type=lambda s: [int(c) for c in s.split(",")], default=[16, 32, 64],
                        help="comma-separated API worker counts to try (the best is reported)")
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds per API load")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each API load is measured")
    parser.add_argument("--baseline-seconds", type=float, default=5.0, help="seconds per web3.py loop")
    parser.add_argument("--check-every", type=int, default=10,
                        help="read back every Nth written order at once with GET /v1/orders/{id}")
    parser.add_argument("--poll-interval", type=float, default=0.02, help="the indexer's LEDGER_POLL_INTERVAL")
    parser.add_argument("--mirror-poll", type=float, default=None,
                        help="the API's LEDGER_MIRROR_POLL (default: the API's own)")
    parser.add_argument("--block-time", type=float, default=0.0,
                        help="mine a block every this many seconds (0: anvil's automine, a block per transaction)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the stacks' folders (logs, mirrors)")
    args = parser.parse_args(argv)

    began = time.perf_counter()
    load_before = os.getloadavg()
    commit, changed = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "ledger_api", "indexer")
    scratch = Path(tempfile.mkdtemp(prefix="bench-api-writes-"))
    ours: dict[int, list[dict]] = {c: [] for c in args.concurrency}
    baseline: list[dict] = []
    threaded: list[dict] = []
    cpu = CpuMeter()
    threads = min(max(args.concurrency), SCALE.regions * SCALE.distributors_per_region)
    try:
        for run in range(args.runs):
            shift = run % len(args.concurrency)
            for k, concurrency in enumerate(args.concurrency[shift:] + args.concurrency[:shift]):
                print(f"bench: run {run + 1} of {args.runs}, {concurrency} API workers: starting a fresh stack ...",
                      flush=True)
                with running_stack(args, scratch / f"run{run + 1}-c{concurrency}") as stack:
                    if k == 0:
                        latencies, seconds = web3_loop(stack, web3_orders(stack, stack.ledger.baseline),
                                                       stack.ledger.baseline, args.baseline_seconds)
                        baseline.append(summarise(latencies, seconds))
                        show("web3.py loop", baseline[-1])
                        latencies, seconds = web3_threads(stack, threads, args.baseline_seconds)
                        threaded.append(summarise(latencies, seconds))
                        show(f"web3.py loop in {threads} threads", threaded[-1])
                    result = asyncio.run(api_load(stack, concurrency, args, cpu))
                ours[concurrency].append(result)
                show(f"ours, {concurrency} workers", result)
                print(f"bench:     answers {result['answers']}, {result['blocks']:,} blocks, read back "
                      f"{result['read_back']}/{result['read_back'] + result['read_back_missed']}, other processes "
                      f"took {result['other_cores']} cores", flush=True)
                for problem in result["problems"]:
                    print(f"bench:     {problem}", flush=True)
    finally:
        if args.keep:
            print(f"bench: logs and mirrors kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    best = max(args.concurrency, key=lambda c: median_of(ours[c], "orders_per_second"))
    everything = [r for rs in ours.values() for r in rs]
    result = {
        "runs": args.runs,
        "commit": commit + (" with uncommitted changes in ledger_api/ or indexer/" if changed else ""),
        "machine": {"cores": os.cpu_count(), "load_average_before": round(load_before[0], 2),
                    "load_average_after": round(os.getloadavg()[0], 2)},
        "network": {"distributors": SCALE.regions * SCALE.distributors_per_region, "skus": SCALE.skus},
        "mining": "automine: a block per arrival" if not args.block_time else f"a block every {args.block_time} s",
        "settings": {"duration_seconds": args.duration, "warmup_seconds": args.warmup,
                     "baseline_seconds": args.baseline_seconds, "indexer_poll_interval": args.poll_interval,
                     "api_mirror_poll": args.mirror_poll or "default", "check_every": args.check_every},
        "concurrency": best,
        **medians(ours[best]),
        "timed_out_202": sum(r["timed_out_202"] for r in ours[best]),
        "orders_per_block": round(sum(r["orders"] for r in ours[best]) / max(1, sum(r["blocks"] for r in ours[best])),
                                  2),
        "read_back": sum(r["read_back"] for r in everything),
        "read_back_missed": sum(r["read_back_missed"] for r in everything),
        "by_concurrency": {str(c): {**medians(rs), "runs": [{k: r[k] for k in ("orders_per_second", "p50_seconds",
                                                                                  "p99_seconds", "answers", "blocks",
                                                                                  "other_cores")}
                                                             for r in rs]}
                           for c, rs in ours.items()},
        "baseline": {"method": "web3.py submitOrder(...).transact() signed locally, then wait_for_transaction_receipt,"
                               " one at a time", **medians(baseline), "runs": [r["orders_per_second"] for r in baseline]},
        "baseline_threads": {"threads": threads, **medians(threaded), "runs": [r["orders_per_second"] for r in threaded]},
        "cpu_cores_while_loading": cpu.cores(),
        # CPU milliseconds per order answered 201, over every API load: what each process costs an order.
        "cpu_ms_per_order": {name: round(1000 * seconds / sum(r["orders"] for r in everything), 2)
                             for name, seconds in cpu.seconds.items() if name != "other processes"},
        "seconds_total": round(time.perf_counter() - began, 1),
    }
    # What the stack could do with both cores to itself, if its CPU per order stayed as measured.
    result["orders_per_second_ceiling"] = round(os.cpu_count() * 1000 / sum(result["cpu_ms_per_order"].values()))
    result["ratio_to_baseline"] = round(result["orders_per_second"] / result["baseline"]["orders_per_second"], 1)
    result["ratio_to_baseline_threads"] = round(
        result["orders_per_second"] / result["baseline_threads"]["orders_per_second"], 1)
    result["targets"] = TARGETS
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "api_writes" if not args.block_time else "api_writes_interval"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(render(result))
    print(render(result))
    print(f"bench: wrote {RESULTS / f'{name}.json'} and {RESULTS / f'{name}.md'} "
          f"({result['seconds_total']:.0f} s in all)")
    return 0


def render(r: dict) -> str:
    def status(key: str, higher_is_better: bool = True) -> str:
        if r[key] is None:
            return "miss"
        return "pass" if (r[key] >= TARGETS[key] if higher_is_better else r[key] <= TARGETS[key]) else "miss"

    b, t, m = r["baseline"], r["baseline_threads"], r["machine"]
    lines = [
        "# API write benchmark",
        "",
        (f"Orders submitted through the Ledger API (`POST /v1/orders`, one line) to anvil ({r['mining']}) by "
         f"the purchasers of "
         f"{r['network']['distributors']} distributors, each answered once mined and mirrored by the indexer "
         f"(SQLite). Medians of {r['runs']} runs of {r['settings']['duration_seconds']:.0f} s (after "
         f"{r['settings']['warmup_seconds']:.0f} s of warm-up) per concurrency, each on a fresh stack, with the "
         f"baseline on the same chains. Everything (anvil, indexer, API, load generator) shares one "
         f"{m['cores']}-core machine, which other work shared too (load average {m['load_average_before']} before, "
         f"{m['load_average_after']} after). Code at commit {r['commit']}."),
        "",
        f"| measure | ours (API, read-your-writes) | web3.py loop | web3.py loop, {t['threads']} threads | target | status |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
        (f"| orders/s | {r['orders_per_second']:,} ({r['concurrency']} workers) | {b['orders_per_second']:,} | "
         f"{t['orders_per_second']:,} | ≥ 200 | {status('orders_per_second')} |"),
        f"| latency p50, s | {r['p50_seconds']} | {b['p50_seconds']} | {t['p50_seconds']} | | |",
        (f"| latency p99, s | {r['p99_seconds']} | {b['p99_seconds']} | {t['p99_seconds']} | ≤ 0.5 | "
         f"{status('p99_seconds', higher_is_better=False)} |"),
        f"| ours ÷ baseline, orders/s | | {r['ratio_to_baseline']}× | {r['ratio_to_baseline_threads']}× | | |",
        "",
        "| API workers | orders/s | p50, s | p99, s | runs, orders/s | other processes' CPU in those runs, cores |",
        "| ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for c, x in r["by_concurrency"].items():
        lines.append(f"| {c} | {x['orders_per_second']:,} | {x['p50_seconds']} | {x['p99_seconds']} | "
                     f"{[run['orders_per_second'] for run in x['runs']]} | {[run['other_cores'] for run in x['runs']]} |")
    cpu = ", ".join(f"{name} {cores}" for name, cores in r["cpu_cores_while_loading"].items())
    per_order = ", ".join(f"{name} {ms}" for name, ms in r["cpu_ms_per_order"].items())
    lines += [
        "",
        (f"At the best concurrency {r['timed_out_202']} answers timed out as 202, and anvil put "
         f"{r['orders_per_block']} orders in a block. Read-your-writes: {r['read_back']} of "
         f"{r['read_back'] + r['read_back_missed']} orders read back at once with `GET /v1/orders/{{id}}` were "
         f"there. Baseline runs: {b['runs']}, and {t['runs']} with threads, orders/s."),
        "",
        (f"CPU during the API loads, in cores (of {m['cores']}): {cpu}. Per order written, in CPU milliseconds: "
         f"{per_order}; at that cost the stack alone on {m['cores']} cores would top out near "
         f"{r['orders_per_second_ceiling']:,} orders/s."),
        "",
        ("How measured: each API worker (asyncio, httpx) is signed in with Ethereum as a distributor's purchaser and "
         "submits one order after another; orders/s counts the 201 answers in the window, latency is request to "
         "answer. The API estimates, signs with the purchaser's keystore key, sends, and answers once the receipt is "
         "in a block and the indexer's checkpoint has passed it. The baseline is "
         f"{b['method']}; its latency is transact to receipt and includes no mirror. Indexer poll "
         f"{r['settings']['indexer_poll_interval']} s, API mirror poll {r['settings']['api_mirror_poll']}. Each load "
         "runs on a fresh stack, since anvil mines more slowly the longer its chain."),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
