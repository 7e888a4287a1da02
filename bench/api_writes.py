"""API write benchmark: how many orders a second distributors can submit through the Ledger API to anvil, each
answered only once it is mined and mirrored (read-your-writes), and what a plain web3.py `transact()` loop
achieves on the same chain.

`./dev bench api_writes` starts, as real processes on this machine: anvil on a free port of 8760-8769, a newly
deployed ledger with a small network's activity played on it (32 distributors, so many accounts submit at
once: the API serialises sends per account), the indexer (`indexer run`) mirroring it into a SQLite file,
and the API (`ledger-api serve`, one uvicorn process) with keystores for every member. Then, `--runs` times,
interleaved so the machine's noise spreads over every variant:
- ours: for each `--concurrency` C, C asyncio workers (httpx), each signed in with Ethereum as a
  distributor's purchaser, loop `POST /v1/orders` (one line, one case) for `--warmup` + `--duration` seconds.
  A 201 means mined and mirrored: orders/s counts the 201s answered within the measured window, latency is
  request to answer. A 202 (the write timeout passed first) misses the latency target and is counted apart.
  Every `--check-every`-th 201 is followed at once by `GET /v1/orders/{id}`, which must be 200;
- the baseline: a web3.py loop, one order at a time, `contract.functions.submitOrder(...).transact()` signed
  locally (`SignAndSendRawMiddlewareBuilder`, as the API signs locally too) then
  `wait_for_transaction_receipt`; its latency is transact to receipt and includes no mirror. The same loop in
  C threads (one account each) is reported beside it. The baseline sends from accounts of its own, added to the
  same distributors, so its nonces never collide with the API's.
The CPU each process used during the measured windows says where the time goes. It prints the figures and
writes `bench/results/api_writes.json` and `bench/results/api_writes.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_account.messages import encode_defunct  # noqa: E402
from eth_utils import keccak  # noqa: E402
from web3 import HTTPProvider, Web3  # noqa: E402
from web3.middleware import SignAndSendRawMiddlewareBuilder  # noqa: E402

from indexer.contracts import load_artifacts, write_deployment  # noqa: E402
from indexer.db import migrate, open_database  # noqa: E402
from ledger_api.activity import DAY, PURCHASER, Activity, Call, Scale  # noqa: E402
from ledger_api.anvil import CHAIN_ID, free_port, start_anvil, stop_anvil  # noqa: E402
from ledger_api.chain import write_keystore  # noqa: E402
from ledger_api.rawchain import LedgerCodec, LedgerWriter, Rpc, Signer  # noqa: E402

RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
PORTS = range(8760, 8770)
NETWORK = "bench-api-writes"
PASSWORD = "bench-api-writes-keystore-password"
# 32 distributors, each with its own purchaser account; the rest of the network is kept small.
SCALE = Scale(regions=4, warehouses=2, distributors_per_region=8, stores_per_distributor=1, skus=6, carriers=1,
              target_events=1_500, days=10)
TARGETS = {"orders_per_second": 200, "p99_seconds": 0.5}


@dataclass(frozen=True)
class Purchaser:
    """An account that may submit orders for a distributor, and the location its orders are delivered to."""

    label: str
    key: bytes
    address: str
    deliver_to: int


@dataclass
class Ledger:
    activity: Activity
    orders_address: str
    sku: int
    purchasers: list[Purchaser]  # the network's own: they sign in to the API
    baseline: list[Purchaser]  # added to the same distributors for the web3.py baseline


# ---------------------------------------------------------------------------------------------- setup


def deploy(rpc: Rpc, seed: int, folder: Path) -> Ledger:
    """Deploys a ledger, plays the network's activity, adds one baseline purchaser per distributor, writes the
    deployment file under `folder` and switches automine on."""
    codec = LedgerCodec(load_artifacts())
    activity = Activity(seed, SCALE)
    net = activity.network
    writer = LedgerWriter(rpc, codec, Signer(net.keys, CHAIN_ID), block_size=200)
    writer.prepare()
    deployed = writer.deploy_ledger(net.admin, net.brand_name)
    began, rounds = time.perf_counter(), 0
    for planned in activity.rounds():
        writer.execute_round(planned.timestamp, planned.calls)
        rounds += 1
        if rounds % 50 == 0:
            print(f"bench: playing the network's activity: {rounds} rounds, "
                  f"{writer.totals.event_count:,} events ...", flush=True)
    writer.flush()
    print(f"bench: deployed the ledger in block {deployed.start_block} and played {rounds} rounds "
          f"({writer.totals.event_count:,} events) in {time.perf_counter() - began:.1f} s", flush=True)

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
    return Ledger(activity, deployed.addresses["Orders"], net.products[0].id, purchasers, baseline)


def start_stack(rpc: Rpc, ledger: Ledger, folder: Path, args: argparse.Namespace) -> tuple[subprocess.Popen, ...]:
    """Starts the indexer and the API as processes of their own; returns them and the API's URL once ready."""
    for member in ledger.activity.network.members.values():
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
    api_env = {**env, "LEDGER_API_PORT": str(port), "LEDGER_KEYSTORE_DIR": str(folder / "keystore"),
               "LEDGER_KEYSTORE_PASSWORD": PASSWORD, "LEDGER_SIWE_DOMAIN": f"127.0.0.1:{port}",
               "LEDGER_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    if args.mirror_poll is not None:
        api_env["LEDGER_MIRROR_POLL"] = str(args.mirror_poll)
    api = subprocess.Popen([str(BIN / "ledger-api"), "serve"], env=api_env, stdout=(folder / "api.log").open("w"),
                           stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        for name, process in (("indexer", indexer), ("API", api)):
            if process.poll() is not None:
                raise RuntimeError(f"the {name} exited with {process.returncode}; see {folder}/*.log")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return indexer, api, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the API was not ready within 120 s; see {folder}/api.log")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class CpuMeter:
    """CPU seconds (user + system) each process spent, read from /proc, between `start` and `stop`."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, pids: dict[str, int]):
        self.pids, self.seconds = pids, Counter()
        self._began: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        now = {}
        for name, pid in self.pids.items():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            now[name] = (int(fields[11]) + int(fields[12])) / self.TICK  # utime, stime
        return now

    def start(self) -> None:
        self._began = self._now()

    def stop(self) -> None:
        for name, value in self._now().items():
            self.seconds[name] += value - self._began[name]


# ---------------------------------------------------------------------------------------------- ours


async def sign_in(client: httpx.AsyncClient, purchaser: Purchaser) -> dict[str, str]:
    nonce = await client.post("/v1/auth/nonce", json={"address": purchaser.address})
    nonce.raise_for_status()
    message = nonce.json()["message"]
    signature = Account.sign_message(encode_defunct(text=message), purchaser.key).signature.hex()
    token = await client.post("/v1/auth/token", json={"message": message, "signature": "0x" + signature})
    token.raise_for_status()
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def api_load(client: httpx.AsyncClient, signed_in: list[tuple[Purchaser, dict]], sku: int, concurrency: int,
                   warmup: float, duration: float, check_every: int) -> dict:
    """C workers submit orders for `warmup` + `duration` seconds; what was answered in the measured window."""
    began = time.perf_counter()
    window = (began + warmup, began + warmup + duration)
    latencies: list[float] = []
    statuses: Counter = Counter()
    checks: Counter = Counter()
    problems: list[str] = []

    async def worker(i: int) -> None:
        purchaser, headers = signed_in[i % len(signed_in)]
        body = {"deliver_to": purchaser.deliver_to, "urgent": False, "lines": [{"sku": sku, "cases": 1}]}
        written = 0
        while time.perf_counter() < window[1]:
            sent = time.perf_counter()
            answer = await client.post("/v1/orders", json=body, headers=headers)
            done = time.perf_counter()
            if not window[0] <= done <= window[1]:
                continue
            statuses[answer.status_code] += 1
            if answer.status_code == 201:
                latencies.append(done - sent)
                written += 1
                if written % check_every == 0:
                    order = answer.json()["result"]
                    seen = await client.get(f"/v1/orders/{order['id']}", headers=headers)
                    ok = seen.status_code == 200 and seen.json()["id"] == order["id"]
                    checks["read" if ok else "missed"] += 1
            elif len(problems) < 5:
                problems.append(f"{answer.status_code} {answer.text[:200]}")

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return summarise(latencies, duration) | {
        "concurrency": concurrency, "answers": {str(k): v for k, v in sorted(statuses.items())},
        "timed_out_202": statuses[202], "read_your_writes_checked": checks["read"] + checks["missed"],
        "read_your_writes_missed": checks["missed"], "problems": problems}


def summarise(latencies: list[float], duration: float) -> dict:
    ordered = sorted(latencies)

    def pct(p: float) -> float | None:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 4) if ordered else None

    return {"orders": len(ordered), "seconds": duration, "orders_per_second": round(len(ordered) / duration, 1),
            "p50_seconds": pct(0.50), "p99_seconds": pct(0.99)}


# ---------------------------------------------------------------------------------------------- baseline


def web3_loop(rpc_url: str, ledger: Ledger, purchasers: list[Purchaser], seconds: float) -> tuple[list[float], float]:
    """The way a web3.py user writes it: transact, wait for the receipt, next; the accounts take turns.
    Returns each order's latency (transact to receipt) and the seconds it ran."""
    w3 = Web3(HTTPProvider(rpc_url))
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build([p.key for p in purchasers]), layer=0)
    orders = w3.eth.contract(address=Web3.to_checksum_address(ledger.orders_address),
                             abi=load_artifacts()["Orders"].abi)
    latencies = []
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        p = purchasers[len(latencies) % len(purchasers)]
        sent = time.perf_counter()
        tx = orders.functions.submitOrder(p.deliver_to, False, [ledger.sku], [1]).transact({"from": p.address})
        receipt = w3.eth.wait_for_transaction_receipt(tx)
        if receipt["status"] != 1:
            raise RuntimeError(f"the baseline's order {tx.to_0x_hex()} reverted")
        latencies.append(time.perf_counter() - sent)
    return latencies, time.perf_counter() - began


def web3_threads(rpc_url: str, ledger: Ledger, threads: int, seconds: float) -> tuple[list[float], float]:
    """The same loop in `threads` threads at once, one account each."""
    results: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = web3_loop(rpc_url, ledger, [ledger.baseline[i]], seconds)[0]
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    began = time.perf_counter()
    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]
    return [x for r in results for x in r], time.perf_counter() - began


# ---------------------------------------------------------------------------------------------- main


async def measure_ours(url: str, ledger: Ledger, args: argparse.Namespace, run: int, cpu: CpuMeter,
                       runs: dict[int, list[dict]]) -> None:
    limits = httpx.Limits(max_connections=max(args.concurrency) + 8, max_keepalive_connections=max(args.concurrency))
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        signed_in = [(p, await sign_in(client, p)) for p in ledger.purchasers]
        for concurrency in args.concurrency:
            cpu.start()
            result = await api_load(client, signed_in, ledger.sku, concurrency, args.warmup, args.duration,
                                    args.check_every)
            cpu.stop()
            runs[concurrency].append(result)
            print(f"bench: run {run + 1}, ours, {concurrency} workers: {result['orders']:,} orders in "
                  f"{args.duration:.0f} s = {result['orders_per_second']:,.1f}/s, p50 {result['p50_seconds']} s, "
                  f"p99 {result['p99_seconds']} s, answers {result['answers']}, read-your-writes "
                  f"{result['read_your_writes_checked'] - result['read_your_writes_missed']}/"
                  f"{result['read_your_writes_checked']}", flush=True)
            for problem in result["problems"]:
                print(f"bench:   {problem}", flush=True)


def median_of(results: list[dict], key: str) -> float | None:
    values = [r[key] for r in results if r[key] is not None]
    return round(statistics.median(values), 4) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds of every variant (medians reported)")
    parser.add_argument("--concurrency", type=lambda s: [int(c) for c in s.split(",")], default=[16, 32, 64],
                        help="comma-separated API worker counts to try (the best is reported)")
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds per API load")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each API load is measured")
    parser.add_argument("--baseline-seconds", type=float, default=8.0, help="seconds per web3.py loop")
    parser.add_argument("--check-every", type=int, default=10,
                        help="read back every Nth written order of each worker at once with GET /v1/orders/{id}")
    parser.add_argument("--poll-interval", type=float, default=0.02, help="the indexer's LEDGER_POLL_INTERVAL")
    parser.add_argument("--mirror-poll", type=float, default=None,
                        help="the API's LEDGER_MIRROR_POLL (default: the API's own)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, mirror) and print it")
    args = parser.parse_args(argv)

    began = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="bench-api-writes-"))
    port = free_port(PORTS)
    print(f"bench: starting anvil on port {port}", flush=True)
    anvil = start_anvil(port, SCALE.start_time - DAY, folder / "anvil.log")
    indexer = api = None
    ours: dict[int, list[dict]] = {c: [] for c in args.concurrency}
    baseline: list[dict] = []
    threaded: list[dict] = []
    try:
        rpc = Rpc(f"http://127.0.0.1:{port}")
        ledger = deploy(rpc, args.seed, folder)
        indexer, api, url = start_stack(rpc, ledger, folder, args)
        print(f"bench: indexer (pid {indexer.pid}) and API (pid {api.pid}, {url}) ready", flush=True)
        cpu = CpuMeter({"anvil": anvil.pid, "indexer": indexer.pid, "api": api.pid, "load generator": os.getpid()})
        threads = min(max(args.concurrency), len(ledger.baseline))
        for run in range(args.runs):
            asyncio.run(measure_ours(url, ledger, args, run, cpu, ours))
            latencies, seconds = web3_loop(rpc.url, ledger, ledger.baseline, args.baseline_seconds)
            baseline.append(summarise(latencies, seconds))
            print(f"bench: run {run + 1}, web3.py loop: {len(latencies):,} orders in {seconds:.1f} s = "
                  f"{baseline[-1]['orders_per_second']:,.1f}/s, p50 {baseline[-1]['p50_seconds']} s, "
                  f"p99 {baseline[-1]['p99_seconds']} s", flush=True)
            latencies, seconds = web3_threads(rpc.url, ledger, threads, args.baseline_seconds)
            threaded.append(summarise(latencies, seconds))
            print(f"bench: run {run + 1}, web3.py loop in {threads} threads: {len(latencies):,} orders in "
                  f"{seconds:.1f} s = {threaded[-1]['orders_per_second']:,.1f}/s, p50 {threaded[-1]['p50_seconds']} "
                  f"s, p99 {threaded[-1]['p99_seconds']} s", flush=True)
        chain_head = int(rpc.call("eth_blockNumber"), 16)
    finally:
        for process in (api, indexer):
            if process is not None:
                stop(process)
        stop_anvil(anvil)
        if args.keep:
            print(f"bench: logs and mirror kept in {folder}")

    best = max(args.concurrency, key=lambda c: median_of(ours[c], "orders_per_second"))
    measured = args.runs * len(args.concurrency) * args.duration
    result = {
        "runs": args.runs,
        "machine": f"{os.cpu_count()} cores shared by anvil, the indexer, the API and the load generator",
        "network": {"distributors": len(ledger.purchasers), "skus": SCALE.skus, "chain_head": chain_head},
        "settings": {"duration_seconds": args.duration, "warmup_seconds": args.warmup,
                     "indexer_poll_interval": args.poll_interval, "api_mirror_poll": args.mirror_poll or "default",
                     "check_every": args.check_every},
        "concurrency": best,
        "orders_per_second": median_of(ours[best], "orders_per_second"),
        "p50_seconds": median_of(ours[best], "p50_seconds"),
        "p99_seconds": median_of(ours[best], "p99_seconds"),
        "timed_out_202": sum(r["timed_out_202"] for r in ours[best]),
        "read_your_writes_checked": sum(r["read_your_writes_checked"] for rs in ours.values() for r in rs),
        "read_your_writes_missed": sum(r["read_your_writes_missed"] for rs in ours.values() for r in rs),
        "by_concurrency": {str(c): {"orders_per_second": median_of(rs, "orders_per_second"),
                                    "p50_seconds": median_of(rs, "p50_seconds"),
                                    "p99_seconds": median_of(rs, "p99_seconds"),
                                    "runs": [{k: r[k] for k in ("orders_per_second", "p50_seconds", "p99_seconds",
                                                                "answers")} for r in rs]}
                           for c, rs in ours.items()},
        "baseline": {"method": "web3.py submitOrder(...).transact() signed locally, then "
                               "wait_for_transaction_receipt, one at a time (no mirror)",
                     "orders_per_second": median_of(baseline, "orders_per_second"),
                     "p50_seconds": median_of(baseline, "p50_seconds"),
                     "p99_seconds": median_of(baseline, "p99_seconds"),
                     "runs": [r["orders_per_second"] for r in baseline]},
        "baseline_threads": {"threads": threads, "orders_per_second": median_of(threaded, "orders_per_second"),
                             "p50_seconds": median_of(threaded, "p50_seconds"),
                             "p99_seconds": median_of(threaded, "p99_seconds"),
                             "runs": [r["orders_per_second"] for r in threaded]},
        # Over every API load window, all concurrencies: the share of one core each process used.
        "cpu_cores_used_while_loading": {name: round(s / measured, 2) for name, s in cpu.seconds.items()},
        "seconds_total": round(time.perf_counter() - began, 1),
    }
    result["ratio_to_baseline"] = round(result["orders_per_second"] / result["baseline"]["orders_per_second"], 1)
    result["ratio_to_baseline_threads"] = round(
        result["orders_per_second"] / result["baseline_threads"]["orders_per_second"], 1)
    result["targets"] = TARGETS
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "api_writes.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "api_writes.md").write_text(render(result))
    print(render(result))
    print(f"bench: wrote {RESULTS / 'api_writes.json'} and {RESULTS / 'api_writes.md'} "
          f"({result['seconds_total']:.0f} s in all)")
    return 0


def render(r: dict) -> str:
    def status(key: str, higher_is_better: bool = True) -> str:
        if r[key] is None:
            return "miss"
        return "pass" if (r[key] >= TARGETS[key] if higher_is_better else r[key] <= TARGETS[key]) else "miss"

    b, t = r["baseline"], r["baseline_threads"]
    lines = [
        "# API write benchmark",
        "",
        f"Orders submitted through the Ledger API (`POST /v1/orders`, one line) to anvil by {r['network']['distributors']} "
        f"distributors' purchasers, each answered once mined and mirrored by the indexer (SQLite). Medians of "
        f"{r['runs']} runs of {r['settings']['duration_seconds']:.0f} s (after {r['settings']['warmup_seconds']:.0f} s "
        f"of warm-up) at each concurrency, interleaved with the baseline on the same chain. All on one machine: "
        f"{r['machine']}.",
        "",
        "| measure | ours (API, read-your-writes) | web3.py loop | web3.py loop, "
        f"{t['threads']} threads | target | status |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
        f"| orders/s | {r['orders_per_second']:,} ({r['concurrency']} workers) | {b['orders_per_second']:,} | "
        f"{t['orders_per_second']:,} | ≥ 200 | {status('orders_per_second')} |",
        f"| latency p50, s | {r['p50_seconds']} | {b['p50_seconds']} | {t['p50_seconds']} | | |",
        f"| latency p99, s | {r['p99_seconds']} | {b['p99_seconds']} | {t['p99_seconds']} | ≤ 0.5 | "
        f"{status('p99_seconds', higher_is_better=False)} |",
        f"| ours ÷ baseline | | {r['ratio_to_baseline']}× | {r['ratio_to_baseline_threads']}× | | |",
        "",
        "| API workers | orders/s | p50, s | p99, s | runs, orders/s |",
        "| ---: | ---: | ---: | ---: | --- |",
    ]
    for c, x in r["by_concurrency"].items():
        lines.append(f"| {c} | {x['orders_per_second']:,} | {x['p50_seconds']} | {x['p99_seconds']} | "
                     f"{[run['orders_per_second'] for run in x['runs']]} |")
    cpu = ", ".join(f"{name} {cores}" for name, cores in r["cpu_cores_used_while_loading"].items())
    lines += [
        "",
        f"Answers timed out as 202 at the best concurrency: {r['timed_out_202']}. Read-your-writes: "
        f"{r['read_your_writes_checked'] - r['read_your_writes_missed']} of {r['read_your_writes_checked']} "
        f"orders read back at once with `GET /v1/orders/{{id}}` were there. Baseline runs: {b['runs']} and "
        f"{t['runs']} (threads) orders/s.",
        "",
        "How measured: each API worker (asyncio, httpx) is signed in with Ethereum as a distributor's purchaser and "
        "submits one order after another; orders/s counts the 201 answers within the window, latency is request to "
        "answer. The API signs with the purchaser's keystore key, estimates, sends, and answers when the receipt is "
        "in a block and the indexer's checkpoint has passed it. The baseline is "
        f"{b['method']}; its latency is transact to receipt and includes no mirror. Every transaction is mined on "
        f"its own (automine). Indexer poll {r['settings']['indexer_poll_interval']} s, API mirror poll "
        f"{r['settings']['api_mirror_poll']}.",
        "",
        f"CPU while the API was loaded, in cores (of {os.cpu_count()}): {cpu}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
