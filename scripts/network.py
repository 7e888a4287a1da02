"""`./dev network`: generate the consortium's Besu QBFT network folder, unlock a node's key, show a network.

    ./dev network new --validators 4 --members 2 --out DIR [--chain-id 1515] [--allow-account ADDR]...
    ./dev network unlock --node DIR/nodes/validator-1 [--to /run/besu/validator-1/key]
    ./dev network show DIR

`new` draws a key for every node and writes the genesis (validators in `extraData`), each node's Besu
configuration, permissions file, static nodes and encrypted keystore, and `network.json`; see
docs/network.md. It refuses a folder that already holds a network unless given --force. Every mistake in
the input ends the command with one line saying what to change (exit code 2).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import typer  # noqa: E402
from eth_account import Account  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402

from consortium import folder as network_folder  # noqa: E402
from consortium import qbft  # noqa: E402
from consortium.folder import FolderError  # noqa: E402
from consortium.genesis import ChainSettings, validators_of  # noqa: E402
from consortium.network import GENESIS_FILE, NetworkSpec, arrange  # noqa: E402
from consortium.nodes import VALIDATOR, EnodeError, parse_enode  # noqa: E402

app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0], pretty_exceptions_enable=False,
                  no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]network:[/] {message}", highlight=False)
    return typer.Exit(code)


@app.command()
def new(
    out_dir: Path = typer.Option(..., "--out", help="the network folder to write"),
    validators: int = typer.Option(4, help="validator nodes (QBFT tolerates f faults with 3f+1; 4 or more)"),
    members: int = typer.Option(0, help="member nodes: full nodes that do not validate"),
    chain_id: int = typer.Option(1515, help="the chain id (EIP-155) of the network"),
    block_period: int = typer.Option(2, help="seconds between blocks (genesis blockperiodseconds)"),
    epoch: int = typer.Option(30_000, help="blocks after which validator votes reset (genesis epochlength)"),
    request_timeout: int = typer.Option(4, help="seconds before a round changes (genesis requesttimeoutseconds)"),
    host: list[str] = typer.Option(["127.0.0.1"], help="the IPv4 address a node advertises in its enode URL: "
                                                         "once for all nodes, or once per node (validators "
                                                         "by name, then members)"),
    base_p2p_port: int = typer.Option(30303, help="the first node's P2P port; the others count up"),
    base_rpc_port: int = typer.Option(8545, help="the first node's JSON-RPC port; the others count up"),
    allow_account: list[str] = typer.Option([], help="an account allowed to send transactions (repeatable): "
                                                      "the brand admin who deploys the ledger, operators"),
    prefund: list[str] = typer.Option([], help="an account given a balance in the genesis (repeatable)"),
    key_dir: str = typer.Option("/run/besu", help="where `unlock` puts each node's plain key at start "
                                                  "(a tmpfs); relative paths are relative to the network folder"),
    force: bool = typer.Option(False, "--force", help="replace a network already in the folder, keys and "
                                                       "node data included"),
) -> None:
    """Writes a new Besu QBFT network into the folder: genesis, node configurations and encrypted keys."""
    settings = ChainSettings(chain_id=chain_id, block_period_seconds=block_period, epoch_length=epoch,
                             request_timeout_seconds=request_timeout)
    spec = NetworkSpec(settings=settings, validators=validators, members=members, hosts=tuple(host),
                       base_p2p_port=base_p2p_port, base_rpc_port=base_rpc_port,
                       allowed_accounts=tuple(allow_account), prefunded=tuple(prefund), key_dir=key_dir,
                       timestamp=int(time.time()))
    problems = spec.problems()
    if problems:
        raise fail("; ".join(problems))
    try:
        network_folder.check_target(out_dir)
    except FolderError as exc:
        raise fail(str(exc)) from None
    held = network_folder.existing_network(out_dir)
    if held and not force:
        shown = ", ".join(held[:3]) + (f" and {len(held) - 3} more" if len(held) > 3 else "")
        raise fail(f"{out_dir} already holds a network ({shown}); choose another --out, or add --force to "
                   "replace it, keys and node data included")
    if validators < 4:
        console.print(f"[yellow]warning:[/] {validators} validator{'s' if validators > 1 else ''}: QBFT tolerates "
                      "no faulty or stopped validator below 4 (3f+1 validators tolerate f)")
    if not allow_account:
        console.print("[yellow]warning:[/] no --allow-account: no account may send transactions until one is "
                      "added to the accounts allowlists (scripts/permissions)")

    network = arrange(spec, [bytes(Account.create().key) for _ in range(validators)],
                      [bytes(Account.create().key) for _ in range(members)])
    with Progress(TextColumn("encrypting node keys (scrypt)"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("keys", total=len(network.nodes))
        locked = network_folder.encrypt_keys(network, lambda name: progress.advance(task))
    try:
        written = network_folder.write_network(out_dir, network, locked, replace=bool(held))
    except OSError as exc:
        raise fail(f"cannot write the network into {out_dir} ({exc.strerror or exc})") from None

    out.print(f"wrote {len(written)} files for {len(network.nodes)} nodes into {out_dir} "
              f"(chain {chain_id}, {validators} validators, {members} members)", highlight=False)
    print_nodes(network_folder.read_manifest(out_dir))
    out.print(f"\nnext, for each node:  ./dev network unlock --node {out_dir}/nodes/<node>\n"
              f"                      (cd {out_dir} && besu --config-file=nodes/<node>/config.toml)", highlight=False)


@app.command()
def unlock(
    node: Path = typer.Option(..., "--node", help="the node's folder, DIR/nodes/<node>"),
    to: Path = typer.Option(None, "--to", help="the key file to write (default: the node-private-key-file "
                                                "of the node's config.toml)"),
    password_file: Path = typer.Option(None, "--password-file", help="the keystore's password (default: the "
                                                                      "node's key.password)"),
) -> None:
    """Decrypts a node's keystore into the 0600 key file Besu reads (run just before the node starts)."""
    try:
        path, address = network_folder.unlock(node, to, password_file)
    except FolderError as exc:
        raise fail(str(exc)) from None
    out.print(f"unlocked {node.name} ({address}) into {path}", highlight=False)


@app.command()
def show(network_dir: Path = typer.Argument(..., metavar="DIR", help="a network folder")) -> None:
    """Prints the network's nodes and enodes, and the validators decoded back from the genesis extraData;
    exits 1 when the genesis, the enodes and the manifest's addresses disagree."""
    try:
        manifest = network_folder.read_manifest(network_dir)
        genesis = network_folder.read_json(network_dir / GENESIS_FILE, "the network's genesis file")
        from_genesis = validators_of(genesis) if isinstance(genesis, dict) else ()
    except (FolderError, qbft.ExtraDataError) as exc:
        raise fail(str(exc)) from None
    out.print(f"chain {manifest.get('chain_id')}, {manifest.get('consensus')}: block period "
              f"{manifest.get('block_period_seconds')} s, epoch {manifest.get('epoch_length')} blocks, "
              f"request timeout {manifest.get('request_timeout_seconds')} s", highlight=False)
    print_nodes(manifest)
    out.print("\nvalidators in the genesis extraData:", highlight=False)
    for i, address in enumerate(from_genesis, 1):
        out.print(f"  {i}. {address}", highlight=False)
    accounts = manifest.get("accounts_allowlist") or []
    out.print(f"accounts allowed to send transactions: {', '.join(accounts) if accounts else 'none'}",
              highlight=False)
    for node in manifest["nodes"]:
        try:
            enode = parse_enode(node["enode"])
        except EnodeError as exc:
            raise fail(f"{node['name']}: {exc}", code=1) from None
        if enode.address.lower() != node["address"].lower():
            raise fail(f"{node['name']}: its enode's key belongs to {enode.address}, not to its address "
                       f"{node['address']}", code=1)
    listed = tuple(n["address"] for n in manifest["nodes"] if n["role"] == VALIDATOR)
    if tuple(a.lower() for a in listed) != tuple(a.lower() for a in from_genesis):
        raise fail("the genesis extraData does not name the manifest's validators in the manifest's order; "
                   "the folder was edited or mixed with another network's", code=1)


def print_nodes(manifest: dict) -> None:
    # Plain lines rather than a table: addresses and enodes are copied from here whole, never cut to fit.
    width = max(len(node["name"]) for node in manifest["nodes"])
    for node in manifest["nodes"]:
        out.print(f"\n{node['name']:<{width}}  {node['role']:<9}  {node['address']}  "
                  f"P2P {node.get('p2p_port', '?')}  JSON-RPC {node.get('rpc_port', '?')}", highlight=False)
        out.print(f"{'':<{width}}  {node['enode']}", highlight=False)


if __name__ == "__main__":
    app()
