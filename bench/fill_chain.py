"""Fills a local anvil chain with realistic ledger activity, as fast as the node takes it.

`./dev bench fill_chain --events 200000` starts anvil from node_modules on `--port` (its state is
dumped to and loaded from `.data/bench/<network>.state.json`), deploys the ledger with
`ledger_api.rawchain`, writes `deployments/<network>.json`, and plays `ledger_api.activity` (onboarding,
then months of orders, shipments, transfers, sales, prices and anchors) round by round, one block per
round, until at least `--events` events were emitted (`ledger_api.filling`, shared with the demo). It prints
progress and the totals, and writes them to `bench/results/fill_chain.json`. A second run finds the deployment
live and the events on the loaded chain and does nothing more, so the indexer benchmark can start from the
filled chain at once; `--keep-running` leaves the chain serving until Ctrl-C. Network members use keys
derived from `--seed`, not anvil's 20 accounts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from indexer.contracts import load_artifacts  # noqa: E402
from ledger_api.activity import DAY, Activity, Scale  # noqa: E402
from ledger_api.anvil import CHAIN_ID, AnvilError, free_port, start_anvil, stop_anvil  # noqa: E402
from ledger_api.filling import already_filled, fill  # noqa: E402
from ledger_api.rawchain import LedgerCodec, LedgerWriter, Rpc, Signer  # noqa: E402

DATA = ROOT / ".data" / "bench"
RESULTS = ROOT / "bench" / "results"


def measure_baseline(port: int, seed: int, scale: Scale, calls: int, impersonate: bool) -> dict:
    """The same activity written the conventional way, on a throwaway anvil: onboarding goes in fast, then
    the first `calls` business calls are sent one at a time, each mined on its own and confirmed before
    the next. Measured in the same run as the fill, on the same machine, for comparison."""
    process = start_anvil(free_port(range(port + 1, port + 10)), scale.start_time - DAY)
    try:
        rpc = Rpc(f"http://127.0.0.1:{process.args[process.args.index('--port') + 1]}")
        activity = Activity(seed, scale)
        writer = LedgerWriter(rpc, LedgerCodec(load_artifacts()), Signer(activity.network.keys, CHAIN_ID),
                              impersonate=impersonate)
        writer.prepare()
        writer.deploy_ledger(activity.network.admin, activity.network.brand_name)
        rounds = activity.rounds()
        for onboarding in (next(rounds), next(rounds)):
            writer.execute_round(onboarding.timestamp, onboarding.calls)
        writer.flush()
        business = []
        for planned in rounds:
            business.append(planned)
            if sum(len(r.calls) for r in business) >= calls:
                break
        before = writer.totals.transactions, writer.totals.event_count
        began = time.perf_counter()
        for planned in business:
            writer.send_each(planned.timestamp, planned.calls)
        elapsed = time.perf_counter() - began
        writer.close()
        sent, events = writer.totals.transactions - before[0], writer.totals.event_count - before[1]
        return {"method": "one call per request and per block (automine), receipt awaited before the next",
                "transactions": sent, "events": events, "seconds": round(elapsed, 2),
                "tx_per_second": round(sent / elapsed, 1), "events_per_second": round(events / elapsed, 1)}
    finally:
        stop_anvil(process)


def serve_filled_chain(events: int, port: int, network: str):
    """An anvil on `port` serving the benchmark chain of `events` events, filled on the first call and loaded
    from its saved state after. What the caller adds to it is not saved, so every run reads the same chain;
    stop it with `stop_anvil`."""
    # fill_chain saves its state when it stops its anvil.
    if main(["--events", str(events), "--port", str(port), "--network", network, "--baseline-calls", "0"]) != 0:
        sys.exit("bench: could not prepare the benchmark chain")
    state = DATA / f"{network}.state.json"
    print(f"bench: loading the chain from {state} ...", flush=True)
    return start_anvil(port, Scale().start_time - DAY, DATA / f"{network}.anvil.log", state, keep_state=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="ledger events to emit (default 200000)")
    parser.add_argument("--port", type=int, default=8690, help="anvil's port (default 8690)")
    parser.add_argument("--network", default="bench", help="deployment name: deployments/<network>.json")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--regions", type=int, default=Scale.regions)
    parser.add_argument("--warehouses", type=int, default=Scale.warehouses)
    parser.add_argument("--distributors-per-region", type=int, default=Scale.distributors_per_region)
    parser.add_argument("--stores-per-distributor", type=int, default=Scale.stores_per_distributor)
    parser.add_argument("--skus", type=int, default=Scale.skus)
    parser.add_argument("--days", type=int, default=Scale.days, help="span the order rate is set for")
    parser.add_argument("--fresh", action="store_true", help="discard the saved chain state and fill again")
    parser.add_argument("--impersonate", action="store_true",
                        help="send unsigned transactions from impersonated members (anvil only; no signing cost)")
    parser.add_argument("--baseline-calls", type=int, default=1_000,
                        help="calls to send one by one on a throwaway chain for comparison (0: skip)")
    parser.add_argument("--keep-running", action="store_true", help="keep anvil serving until Ctrl-C")
    args = parser.parse_args(argv)

    scale = Scale(regions=args.regions, warehouses=args.warehouses,
                  distributors_per_region=args.distributors_per_region,
                  stores_per_distributor=args.stores_per_distributor, skus=args.skus,
                  target_events=args.events, days=args.days)
    state = DATA / f"{args.network}.state.json"
    if args.fresh and state.exists():
        state.unlink()
    log = DATA / f"{args.network}.anvil.log"
    try:
        process = start_anvil(args.port, scale.start_time - DAY, log, state)
    except AnvilError as exc:
        sys.exit(f"fill: {exc}")
    try:
        rpc = Rpc(f"http://127.0.0.1:{args.port}")
        found = None if args.fresh else already_filled(rpc, args.network, args.events)
        if found is not None:
            print(f"fill: the chain on port {args.port} already holds the ledger of deployments/{args.network}.json "
                  f"with {found:,} events; nothing to do (--fresh fills again)")
        else:
            if int(rpc.call("eth_blockNumber"), 16) > 0:
                # A saved chain without the events asked for: start over rather than mix two fills.
                stop_anvil(process)
                state.unlink(missing_ok=True)
                process = start_anvil(args.port, scale.start_time - DAY, log, state)
            print(f"fill: generating the network (seed {args.seed}) ...", flush=True)
            activity = Activity(args.seed, scale)
            result = fill(rpc, activity, args.network, args.impersonate)
            del result["addresses"], result["last_block"]  # in deployments/<network>.json already
            result["scale"] = asdict(scale)
            result["seed"] = args.seed
            if args.baseline_calls:
                print(f"fill: baseline: {args.baseline_calls:,} calls one by one on a throwaway anvil ...", flush=True)
                result["baseline"] = measure_baseline(args.port, args.seed, scale, args.baseline_calls,
                                                      args.impersonate)
                result["speedup_over_baseline"] = round(result["tx_per_second"] / result["baseline"]["tx_per_second"], 1)
            RESULTS.mkdir(parents=True, exist_ok=True)
            (RESULTS / "fill_chain.json").write_text(json.dumps(result, indent=2) + "\n")
            print(f"fill: {result['events']:,} events in {result['transactions']:,} transactions and "
                  f"{result['blocks']:,} blocks, {result['seconds']} s: {result['tx_per_second']:,} tx/s, "
                  f"{result['events_per_second']:,} events/s ({result['simulated_days']} simulated days)")
            if "baseline" in result:
                print(f"fill: baseline {result['baseline']['tx_per_second']:,} tx/s sending one call at a time: "
                      f"the fill is {result['speedup_over_baseline']}x faster")
            print(f"fill: wrote {RESULTS / 'fill_chain.json'}")
        if args.keep_running:
            print(f"fill: anvil serves http://127.0.0.1:{args.port}; Ctrl-C stops it and saves {state}")
            try:
                process.wait()
            except KeyboardInterrupt:
                pass
    finally:
        print(f"fill: stopping anvil and saving its state to {state} ...", flush=True)
        stop_anvil(process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
