"""`indexer`: the command line of the chain mirror.

    indexer run                 follow the head (Prometheus metrics with --metrics-port)
    indexer backfill [--from N] [--to N]
                                read up to block N (default: the head) with a progress bar, then stop
    indexer status              head, checkpoint and lag
    indexer verify              rebuild the projections from the chain into a scratch database and name
                                every difference from the live mirror
    indexer migrate [--check]   upgrade the mirror's schema to the newest (--check: exit 1 when it is behind)
    indexer backup PATH         write a consistent backup of the mirror to PATH
    indexer restore PATH        replace the mirror with a backup; the indexer then catches up from its checkpoint

Settings come from `LEDGER_*` environment variables (see indexer/settings.py); options override them.
A mistake the user can fix (a missing deployment file, a bad database URL, an unreachable node for a
one-off command, a mirror of another chain) ends the command with one line saying what is wrong.
"""

from __future__ import annotations

import logging
import signal
import sys
import tempfile
import time
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from indexer.contracts import DeploymentError, deployment_path, load_artifacts, load_deployment
from indexer import backup
from indexer.db import migrate, open_database, schema_revisions
from indexer.follower import DeploymentFile, Follower
from indexer.metrics import Metrics
from indexer.rpc import NodeClient, NodeUnavailable, RpcError
from indexer.settings import Settings, settings_problems
from indexer.store import DeepReorg, ForeignMirror, Mirror
from indexer.verify import compare_mirrors

app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0], pretty_exceptions_enable=False)
console = Console(stderr=True, soft_wrap=True)


class UsageError(Exception):
    """Something the user asked for or configured that cannot work; the message says what to change."""


def build_follower(settings: Settings, database_url: str | None = None, node_attempts: int | None = None) -> Follower:
    """The follower of `settings`' deployment into `database_url` (default: the settings' mirror). With
    `node_attempts`, calls to the node give up after that many tries instead of waiting for it."""
    deployment = load_deployment(settings.network, settings.deployments_dir)  # a missing file is named here
    node = NodeClient(settings.rpc_url, timeout=settings.rpc_timeout, max_attempts=node_attempts)
    chain_id = node.chain_id()
    if chain_id != deployment.chain_id:
        raise UsageError(
            f"{settings.rpc_url} serves chain id {chain_id}, but deployments/{settings.network}.json is for "
            f"chain id {deployment.chain_id}: point LEDGER_RPC_URL at that chain's node"
        )
    artifacts = load_artifacts()
    # Current contracts decode with this checkout's ABIs, retired ones with the events their entries record;
    # `follow` rereads the file when it changes.
    deployment_file = DeploymentFile.read(deployment_path(settings.network, settings.deployments_dir),
                                          {name: artifacts[name].abi for name in deployment.contracts})
    url = database_url or settings.database_url
    try:
        engine = open_database(url)
        migrate(engine)
    except (ArgumentError, OperationalError) as exc:
        raise UsageError(f"cannot open the mirror database {make_url_safe(url)}: {_first_line(exc)}") from exc
    mirror = Mirror(engine, settings.network, chain_id)
    return Follower(node, mirror, deployment_file.decoder(), deployment.start_block,
                    confirmations=settings.confirmations, reorg_window=settings.reorg_window,
                    max_span=settings.max_block_span, deployment_file=deployment_file)


def _settings(rpc_url: str | None, database_url: str | None, network: str | None) -> Settings:
    overrides = {k: v for k, v in {"rpc_url": rpc_url, "database_url": database_url, "network": network}.items() if v}
    return Settings(**overrides)


RpcOption = typer.Option(None, "--rpc-url", help="JSON-RPC endpoint [env LEDGER_RPC_URL]")
DbOption = typer.Option(None, "--database-url", help="SQLAlchemy URL of the mirror [env LEDGER_DATABASE_URL]")
NetworkOption = typer.Option(None, "--network", help="deployment name [env LEDGER_NETWORK]")


@app.command()
def run(rpc_url: str | None = RpcOption, database_url: str | None = DbOption, network: str | None = NetworkOption,
        metrics_port: int | None = typer.Option(None, help="serve Prometheus metrics on this port")) -> None:
    """Follow the chain's head and keep the mirror current."""
    settings = _settings(rpc_url, database_url, network)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    follower = build_follower(settings)
    metrics = Metrics(follower)
    port = metrics_port or settings.metrics_port
    if port:
        metrics.serve(port)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    follower.on_progress = metrics.record
    follower.catch_up_on_successors()
    done = follower.checkpoint()
    console.print(f"indexer: following {settings.network} at {settings.rpc_url} from block {done.block_number + 1}")
    follower.follow(settings.poll_interval, should_stop=lambda: bool(stopping))
    console.print("indexer: stopped at block", follower.checkpoint().block_number)


@app.command()
def backfill(from_block: int | None = typer.Option(
                 None, "--from", min=0,
                 help="first block to read: the block after the mirror's checkpoint, or the deployment block "
                      "for an empty mirror (default); blocks already mirrored are not read again"),
             to: int | None = typer.Option(None, "--to", min=0, help="last block to read (default: the head)"),
             rpc_url: str | None = RpcOption, database_url: str | None = DbOption,
             network: str | None = NetworkOption) -> None:
    """Read the chain up to a block with a progress bar, then stop."""
    settings = _settings(rpc_url, database_url, network)
    follower = build_follower(settings)
    follower.catch_up_on_successors()
    start = follower.checkpoint().block_number
    head = follower.node.block_number()
    end = to if to is not None else head - settings.confirmations
    if from_block is not None and from_block > start + 1:
        # Projections accumulate (balances, order states): a skipped block would make every later row wrong.
        raise UsageError(
            f"the mirror holds blocks up to {start}, so it must continue from block {start + 1}; reading from "
            f"{from_block} would leave blocks {start + 1}-{from_block - 1} out (leave --from out to continue)"
        )
    if end > head:
        raise UsageError(f"--to {end} is beyond the node's head, block {head}")
    if end <= start:
        console.print(f"indexer: the mirror already holds blocks up to {start}; nothing to read up to {end}")
        return
    events = 0
    began = time.monotonic()
    with Progress(TextColumn("[bold]backfill"), BarColumn(), TextColumn("block {task.completed:,.0f}/{task.total:,.0f}"),
                  TextColumn("{task.fields[events]:,} events, {task.fields[rate]:,.0f}/s"), TimeRemainingColumn(),
                  console=console) as bar:
        task = bar.add_task("backfill", total=end, completed=start, events=0, rate=0)

        def show(p):
            nonlocal events
            events += p.events
            bar.update(task, completed=p.last, events=events, rate=events / max(time.monotonic() - began, 1e-9))

        follower.on_progress = show
        follower.backfill(end)
    elapsed = time.monotonic() - began
    console.print(f"indexer: {events:,} events in {elapsed:.1f} s ({events / max(elapsed, 1e-9):,.0f}/s); "
                  f"checkpoint {follower.checkpoint().block_number}")


@app.command()
def status(rpc_url: str | None = RpcOption, database_url: str | None = DbOption,
           network: str | None = NetworkOption) -> None:
    """Show the head, the checkpoint and the lag."""
    settings = _settings(rpc_url, database_url, network)
    follower = build_follower(settings, node_attempts=3)
    head = follower.node.block_number()
    done = follower.mirror.checkpoint()
    if done is None:
        console.print(f"head {head}; the mirror is empty (it starts at block {follower.start_block})")
        return
    print(f"head {head}\ncheckpoint {done.block_number} ({done.block_hash})\nlag {head - done.block_number} blocks\n"
          f"undecoded logs {done.undecoded}")


@app.command()
def verify(rpc_url: str | None = RpcOption, database_url: str | None = DbOption,
           network: str | None = NetworkOption) -> None:
    """Rebuild the mirror from the chain into a scratch database and compare it with the live one."""
    settings = _settings(rpc_url, database_url, network)
    live = build_follower(settings)
    checkpoint = live.checkpoint().block_number
    with tempfile.TemporaryDirectory() as scratch:
        fresh = build_follower(settings, f"sqlite:///{Path(scratch) / 'verify.sqlite3'}")
        console.print(f"verify: rebuilding blocks {fresh.start_block}-{checkpoint} from {settings.rpc_url}")
        fresh.backfill(checkpoint)
        differences = compare_mirrors(live.mirror.engine, fresh.mirror.engine)
    if differences:
        for line in differences:
            print(line)
        console.print(f"verify: {len(differences)} difference(s) between the mirror and the chain")
        raise typer.Exit(1)
    console.print(f"verify: the mirror equals the chain up to block {checkpoint}")


@app.command("migrate")
def migrate_schema(check: bool = typer.Option(False, "--check", help="change nothing; exit 1 when the schema is "
                                                                     "behind (for deploy pipelines)"),
                   database_url: str | None = DbOption) -> None:
    """Upgrade the mirror's schema to the newest migration (the API never migrates; run this before it)."""
    url = database_url or Settings().database_url
    try:
        engine = open_database(url, pool_size=1)
        try:
            current, head = schema_revisions(engine)
            if check:
                if current != head:
                    print(f"behind: the mirror's schema is at {current or 'none'}, this code's is {head}")
                    raise typer.Exit(1)
                print(f"current: the mirror's schema is at {head}")
                return
            if current == head:
                print(f"the mirror's schema is already at {head}")
                return
            migrate(engine)
            print(f"migrated the mirror's schema from {current or 'none (a new database)'} to {head}")
        finally:
            engine.dispose()
    except (ArgumentError, OperationalError) as exc:
        raise UsageError(f"cannot open the mirror database {make_url_safe(url)}: {_first_line(exc)}") from exc


@app.command("backup")
def backup_mirror(path: Path = typer.Argument(..., dir_okay=False, help="the backup file to write"),
                  database_url: str | None = DbOption) -> None:
    """Write a consistent backup of the mirror (PostgreSQL: pg_dump -Fc; SQLite: a copy of the database)."""
    url = database_url or Settings().database_url
    done = _mirror_file_operation(backup.backup, url, path)
    console.print(f"indexer: backed up {done.checkpoint.describe()} to {path} ({done.bytes:,} bytes in "
                  f"{done.seconds:.1f} s)")


@app.command("restore")
def restore_mirror(path: Path = typer.Argument(..., dir_okay=False, help="a file written by `indexer backup`"),
                   database_url: str | None = DbOption) -> None:
    """Replace the mirror with a backup (stop the indexer first); the indexer then continues from its checkpoint."""
    url = database_url or Settings().database_url
    done = _mirror_file_operation(backup.restore, url, path)
    console.print(f"indexer: restored {done.checkpoint.describe()} into {make_url_safe(url)} in "
                  f"{done.seconds:.1f} s; the indexer continues from block "
                  f"{'its deployment block' if done.checkpoint.block_number is None else done.checkpoint.block_number + 1}")


def _mirror_file_operation(operation, url: str, path: Path):
    try:
        return operation(url, path)
    except backup.BackupError as exc:
        raise UsageError(str(exc)) from exc
    except (ArgumentError, OperationalError) as exc:
        raise UsageError(f"cannot open the mirror database {make_url_safe(url)}: {_first_line(exc)}") from exc


def make_url_safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url)


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except ValidationError as exc:
        problems = settings_problems(exc)
        console.print(f"indexer: invalid settings: {problems}")
        sys.exit(2)
    except (UsageError, FileNotFoundError, DeploymentError, ForeignMirror) as exc:
        console.print(f"indexer: {exc}")
        sys.exit(2)
    except (NodeUnavailable, DeepReorg, RpcError) as exc:
        console.print(f"indexer: {exc}")
        sys.exit(1)


if __name__ == "__main__":
    main()
