"""`./dev permissions`: regenerate every Besu node's accounts allowlist from the ledger's membership registry.

    ./dev permissions --network-dir DIR [--from chain|mirror] [--check] [--reload] [--max-lag N]

Reads the network folder's manifest (`DIR/network.json`) and each node's `permissions_config.toml`, reads the
registry's active accounts from the node (`--from chain`, the default) or from the indexer's mirror
(`--from mirror`, refused when it lags the node by more than `--max-lag` blocks), and prints, for each node
whose accounts change, the unified diff of its file, then the nodes that must reload it. The files are
written atomically unless `--check`, which instead exits 1 when any file is out of date (for cron);
`--reload` then asks each changed node to reload its file (`perm_reloadPermissionsFromFile`, which needs the
PERM API enabled on the node's HTTP JSON-RPC). Settings are the indexer's `LEDGER_*` variables: the node
(`LEDGER_RPC_URL`), the deployment (`LEDGER_NETWORK`) and the mirror (`LEDGER_DATABASE_URL`). A mistake
the user can fix ends the command with one line saying what is wrong (exit 2).
"""

from __future__ import annotations

import enum
import logging
import sys
from pathlib import Path

import requests
import typer
from pydantic import ValidationError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from consortium.folder import write_atomically  # noqa: E402
from consortium.membership import Registry, RegistryUnavailable, read_chain, read_mirror  # noqa: E402
from consortium.permissions import (  # noqa: E402
    MANIFEST, Manifest, NetworkFolderError, NodeUpdate, parse_manifest, regenerate,
)
from indexer.settings import Settings, settings_problems  # noqa: E402

RELOAD_TIMEOUT = 5.0

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, help=__doc__.split("\n\n")[0])


class Source(str, enum.Enum):
    chain = "chain"
    mirror = "mirror"


def say(message: str) -> None:
    print(message, file=sys.stderr)


@app.command()
def permissions(
    network_dir: Path = typer.Option(..., "--network-dir", help="the network folder (with network.json)"),
    source: Source = typer.Option(Source.chain, "--from", help="read the registry from the node or the mirror"),
    check: bool = typer.Option(False, "--check", help="write nothing; exit 1 when a node's file is out of date"),
    reload: bool = typer.Option(False, "--reload", help="ask each changed node to reload its permissions file"),
    max_lag: int = typer.Option(10, "--max-lag", min=0, help="blocks the mirror may lag the node (--from mirror)"),
) -> None:
    """Regenerate the nodes' accounts allowlists from the membership registry."""
    manifest = read_manifest(network_dir)
    files = read_node_files(network_dir, manifest)
    settings = Settings()
    registry = read_chain(settings) if source is Source.chain else read_mirror(settings, max_lag)
    for line in registry.warnings:
        say(f"permissions: warning: {line}")
    for line in registry.differences:
        say(f"permissions: differs: {line}")
    regeneration = regenerate(manifest, files, registry.active)
    print(describe(manifest, registry))
    changed = regeneration.changed
    if not changed:
        print(f"every node's accounts allowlist is up to date ({len(manifest.nodes)} nodes)")
        return
    for update in changed:
        print(update.diff(), end="")
    if check:
        print(f"out of date: {', '.join(u.node.name for u in changed)} (run without --check to write them)")
        raise typer.Exit(1)
    for update in changed:
        write_atomically(network_dir / update.node.permissions_path, update.after)
    print(regeneration.reload_line())
    if reload:
        failed = [u.node.name for u in changed if not reload_node(u)]
        if failed:
            say(f"permissions: {len(failed)} node(s) did not reload ({', '.join(failed)}); their files are written, "
                "reload them once they are up")
            raise typer.Exit(1)


def read_manifest(network_dir: Path) -> Manifest:
    path = network_dir / MANIFEST
    if not network_dir.is_dir():
        raise NetworkFolderError(f"{network_dir}: no such folder (make one with `./dev network new ... --out DIR`)")
    if not path.is_file():
        raise NetworkFolderError(f"{path}: missing; {network_dir} is not a network folder "
                                 "(make one with `./dev network new ... --out DIR`)")
    return parse_manifest(path.read_text(encoding="utf-8"), str(path))


def read_node_files(network_dir: Path, manifest: Manifest) -> dict[str, str]:
    files = {}
    for node in manifest.nodes:
        path = network_dir / node.permissions_path
        try:
            files[node.name] = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NetworkFolderError(f"{path}: missing (node {node.name} of {MANIFEST})") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise NetworkFolderError(f"{path}: cannot be read ({exc})") from None
    return files


def describe(manifest: Manifest, registry: Registry) -> str:
    return (f"accounts allowlist: {len(manifest.standing_accounts)} standing accounts and {len(registry.active)} "
            f"active in the registry ({registry.source}, block {registry.block}) for {len(manifest.nodes)} nodes")


def reload_node(update: NodeUpdate) -> bool:
    """Asks the node to reload its permissions file; prints ok or why not."""
    node = update.node
    body = {"jsonrpc": "2.0", "id": 1, "method": "perm_reloadPermissionsFromFile", "params": []}
    try:
        response = requests.post(node.rpc_url, json=body, timeout=RELOAD_TIMEOUT)
        answer = response.json()
    except requests.Timeout:
        reason = f"no answer from {node.rpc_url} within {RELOAD_TIMEOUT:g} s"
    except requests.ConnectionError:
        reason = f"cannot connect to {node.rpc_url} (is the node running?)"
    except ValueError:
        reason = f"{node.rpc_url} answered HTTP {response.status_code} without JSON-RPC"
    else:
        error = answer.get("error") if isinstance(answer, dict) else None
        if error is None:
            print(f"{node.name}: reloaded ({node.rpc_url})")
            return True
        reason = f"{node.rpc_url} answered {error.get('message', error)} (code {error.get('code')})"
        if error.get("code") == -32601:
            reason += "; enable the PERM API (rpc-http-api) on the node"
    print(f"{node.name}: reload failed: {reason}")
    return False


def main() -> None:
    # The node client logs each retry; the command says in one line when the node did not answer at all.
    logging.getLogger("indexer.rpc").setLevel(logging.ERROR)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except ValidationError as exc:
        problems = settings_problems(exc)
        say(f"permissions: invalid settings: {problems}")
        sys.exit(2)
    except (NetworkFolderError, RegistryUnavailable) as exc:
        say(f"permissions: {exc}")
        sys.exit(2)
    except OSError as exc:
        say(f"permissions: {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
