"""Rebuild benchmark: how long an operator waits for a PostgreSQL mirror rebuilt from the chain, against
restoring the same mirror from a backup.

`./dev bench rebuild` makes sure the chain of `bench/fill_chain.py` exists (filling it on the first run, then
loading the saved state), serves it from anvil, and measures, `--runs` times each (medians reported):
- the rebuild as the operator runs it: `indexer backfill` (a subprocess, its migrations included) into a new,
  empty PostgreSQL database, from the deployment block to the head; events per second;
- `indexer backup` of that rebuilt mirror (pg_dump -Fc): its time and the file's size, and the database's size;
- the baseline: `indexer restore` of that file into a new, empty database (pg_restore), checked once to hold
  exactly the rebuilt mirror's rows;
and the ratio of the two. It writes `bench/results/rebuild.json` and `bench/results/rebuild.md`.
Needs PostgreSQL: `--postgres-url` or `LEDGER_TEST_POSTGRES_URL` (a role that may create databases).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from bench import fill_chain  # noqa: E402
from indexer.db import open_database, scratch_postgres_database  # noqa: E402
from indexer.schema import raw_events  # noqa: E402
from indexer.verify import content_hash  # noqa: E402
from ledger_api.anvil import stop_anvil  # noqa: E402
from ledger_api.rawchain import Rpc  # noqa: E402

RESULTS = ROOT / "bench" / "results"
INDEXER = Path(sys.executable).parent / "indexer"


def indexer(env: dict[str, str], *args: str) -> float:
    """Runs one `indexer` command; its wall time in seconds."""
    began = time.perf_counter()
    done = subprocess.run([str(INDEXER), *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"bench: indexer {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
    return seconds


def mirror_facts(url: str) -> tuple[int, str, int]:
    """The mirror's event count, a hash of every row, and the database's size in bytes."""
    engine = open_database(url)
    try:
        with engine.connect() as conn:
            events = conn.execute(select(func.count()).select_from(raw_events)).scalar()
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
        return events, content_hash(engine), size
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events on the benchmark chain")
    parser.add_argument("--port", type=int, default=8690)
    parser.add_argument("--network", default="bench")
    parser.add_argument("--runs", type=int, default=3, help="runs of each measure (median reported)")
    parser.add_argument("--postgres-url", default=os.environ.get("LEDGER_TEST_POSTGRES_URL"),
                        help="a PostgreSQL role that may create databases [env LEDGER_TEST_POSTGRES_URL]")
    args = parser.parse_args(argv)
    if not args.postgres_url:
        sys.exit("bench: give --postgres-url (or LEDGER_TEST_POSTGRES_URL): a role that may create databases")

    process = fill_chain.serve_filled_chain(args.events, args.port, args.network)
    rebuild, backup, restore = [], [], []
    try:
        rpc = Rpc(f"http://127.0.0.1:{args.port}")
        head = int(rpc.call("eth_blockNumber"), 16)
        base_env = {**os.environ, "LEDGER_RPC_URL": rpc.url, "LEDGER_NETWORK": args.network,
                    "LEDGER_MAX_BLOCK_SPAN": "100000"}
        with tempfile.TemporaryDirectory() as scratch:
            backup_file = Path(scratch) / "mirror.backup"
            for run in range(args.runs):
                with scratch_postgres_database(args.postgres_url, prefix="ledger_bench") as url:
                    env = {**base_env, "LEDGER_DATABASE_URL": url}
                    rebuild.append(indexer(env, "backfill", "--to", str(head)))
                    print(f"bench: rebuild {run + 1}: indexer backfill to block {head:,} in {rebuild[-1]:.1f} s",
                          flush=True)
                    if run == 0:
                        events, rebuilt_hash, database_bytes = mirror_facts(url)
                        for b in range(args.runs):
                            backup.append(indexer(env, "backup", str(backup_file)))
                            print(f"bench: backup {b + 1}: {backup[-1]:.1f} s, {backup_file.stat().st_size:,} bytes",
                                  flush=True)
            # One database at a time: the machine's disk, not the restore, is what the rebuilt copies would fill.
            for run in range(args.runs):
                with scratch_postgres_database(args.postgres_url, prefix="ledger_bench") as url:
                    restore.append(indexer({**base_env, "LEDGER_DATABASE_URL": url}, "restore", str(backup_file)))
                    print(f"bench: restore {run + 1}: {restore[-1]:.1f} s", flush=True)
                    if run == 0 and mirror_facts(url)[:2] != (events, rebuilt_hash):
                        sys.exit("bench: the restored mirror differs from the rebuilt one")
            backup_bytes = backup_file.stat().st_size
    finally:
        stop_anvil(process)

    rebuild_s, backup_s, restore_s = (statistics.median(v) for v in (rebuild, backup, restore))
    result = {
        "chain": {"head": head, "events": events},
        "runs": args.runs,
        "rebuild_seconds": round(rebuild_s, 1), "rebuild_events_per_second": round(events / rebuild_s),
        "restore_seconds": round(restore_s, 1), "restore_events_per_second": round(events / restore_s),
        "rebuild_to_restore": round(rebuild_s / restore_s, 1),
        "backup_seconds": round(backup_s, 1), "backup_bytes": backup_bytes, "database_bytes": database_bytes,
        "rebuild_runs": [round(s, 1) for s in rebuild], "backup_runs": [round(s, 1) for s in backup],
        "restore_runs": [round(s, 1) for s in restore],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "rebuild.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "rebuild.md").write_text(render(result))
    print(render(result))
    print(f"bench: wrote {RESULTS / 'rebuild.json'} and {RESULTS / 'rebuild.md'}")
    return 0


def render(r: dict) -> str:
    return "\n".join([
        "# Mirror rebuild benchmark",
        "",
        f"Chain: {r['chain']['events']:,} ledger events up to block {r['chain']['head']:,} (`bench/fill_chain.py`), "
        f"mirrored into PostgreSQL. Medians of {r['runs']} runs of each command, run as the operator runs it (a "
        f"subprocess), on a 2-core machine shared with other work.",
        "",
        "| measure | seconds | events/s |",
        "| --- | ---: | ---: |",
        f"| rebuild from the chain: `indexer backfill` into a new database | {r['rebuild_seconds']} | "
        f"{r['rebuild_events_per_second']:,} |",
        f"| baseline: `indexer restore` of a backup into a new database | {r['restore_seconds']} | "
        f"{r['restore_events_per_second']:,} |",
        f"| `indexer backup` (pg_dump -Fc) | {r['backup_seconds']} | |",
        "",
        f"Rebuild ÷ restore: {r['rebuild_to_restore']}×. The mirror takes {r['database_bytes'] / 1e6:,.0f} MB in "
        f"PostgreSQL; its backup file {r['backup_bytes'] / 1e6:,.1f} MB.",
        "",
        f"Runs (s): rebuild {r['rebuild_runs']}, backup {r['backup_runs']}, restore {r['restore_runs']}. The restored "
        "mirror was checked to hold exactly the rebuilt one's rows. A restore is as recent as its backup: the "
        "indexer then reads the blocks after the backup's checkpoint from the chain.",
        "",
    ])


if __name__ == "__main__":
    sys.exit(main())
