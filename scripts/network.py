"""`./dev network`: generate the consortium's Besu QBFT network folder, add a node to it, vote a validator in or
out, unlock a node's key, show a network.

    ./dev network new --validators 4 --members 2 --out DIR [--chain-id 1515] [--allow-account ADDR]...
    ./dev network add-node DIR --role validator|member [--host IPv4]
    ./dev network vote DIR --node validator-5 [--remove] [--rpc URL]... [--wait SECONDS]
    ./dev network unlock --node DIR/nodes/validator-1 [--to /run/besu/validator-1/key]
    ./dev network show DIR

`new` draws a key for every node and writes the genesis (validators in `extraData`), each node's Besu
configuration, permissions file, static nodes and encrypted keystore, and `network.json`; see
docs/network.md. It refuses a folder that already holds a network unless given --force. `add-node` adds
one node to a network whose chain already runs, leaving the genesis alone; `vote` asks the current
validators over JSON-RPC to vote a validator in or out. Every mistake in the input ends the command with one
line saying what to change (exit code 2).
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
from consortium import joining, qbft, voting  # noqa: E402
from consortium.folder import FolderError  # noqa: E402
from consortium.genesis import ChainSettings, validators_of  # noqa: E402
from consortium.network import GENESIS_FILE, NetworkSpec, arrange, genesis_validators, joins_by_vote  # noqa: E402
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


@app.command("add-node")
def add_node(
    network_dir: Path = typer.Argument(..., metavar="DIR", help="the network folder"),
    role: str = typer.Option(..., "--role", help="validator (validates once voted in) or member"),
    host: str = typer.Option(None, "--host", help="the IPv4 address the node advertises in its enode URL "
                                                  "(default: the host of the network's last node)"),
) -> None:
    """Adds one node to a network whose chain already runs: a new key, its files, and its enode in every
    node's nodes allowlist and static nodes. The genesis is left as it is."""
    try:
        joining.check_role(role)
        manifest = network_folder.read_manifest(network_dir)
        # The new node starts from the same genesis; a folder without one cannot give it that.
        network_folder.read_json(network_dir / GENESIS_FILE, "the network's genesis file")
        texts = network_folder.read_node_texts(network_dir, manifest)
        plan = joining.plan(manifest, texts, role, host, bytes(Account.create().key))
        network_folder.check_new_node_free(network_dir, plan.node.dir)
    except FolderError as exc:
        raise fail(str(exc)) from None
    for warning in plan.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    node = plan.node
    with console.status(f"encrypting {node.name}'s key (scrypt)"):
        keystore, password = network_folder.encrypt_key(node.private_key)
    try:
        network_folder.write_new_node(network_dir, node, plan.new_files, keystore, password, plan.changed)
    except OSError as exc:
        raise fail(f"cannot write into {network_dir} ({exc.strerror or exc}); the folder is as it was") from None

    out.print(f"added {node.name} ({node.role}, {node.address}) at {node.host}: P2P {node.p2p_port}, "
              f"JSON-RPC {node.rpc_port}; the genesis is unchanged", highlight=False)
    for line in plan.summary:
        out.print(f"  {line}", highlight=False)
    by_name = {n["name"]: n for n in manifest["nodes"]}
    reload = ", ".join(f"{name} (port {by_name[name]['rpc_port']})" for name in plan.must_reload)
    steps = [
        f"reload the nodes allowlist on each running node, on its own machine: {reload}\n"
        "       curl -s -X POST -H 'content-type: application/json' --data "
        "'{\"jsonrpc\":\"2.0\",\"method\":\"perm_reloadPermissionsFromFile\",\"params\":[],\"id\":1}' "
        "http://127.0.0.1:<port>\n"
        "     (or restart the node; a restart also reads its new static-nodes.json)",
        f"give {node.name}'s operator genesis.json and {node.dir}/, then on its machine:\n"
        f"       ./dev network unlock --node {network_dir}/{node.dir}\n"
        f"       (cd {network_dir} && besu --config-file={node.dir}/config.toml)",
    ]
    if plan.joins_by_vote:
        steps.append(f"once it runs, vote it in from more than half of the current validators:\n"
                     f"       ./dev network vote {network_dir} --node {node.name} --wait 60")
    out.print("\nnext:", highlight=False)
    for number, step in enumerate(steps, 1):
        out.print(f"  {number}. {step}", highlight=False)


@app.command()
def vote(
    network_dir: Path = typer.Argument(..., metavar="DIR", help="the network folder"),
    node_name: str = typer.Option(..., "--node", help="the validator to vote in (or out, with --remove)"),
    remove: bool = typer.Option(False, "--remove", help="vote the validator out instead of in"),
    rpc: list[str] = typer.Option([], "--rpc", help="a validator's JSON-RPC URL (repeatable; default: each "
                                                    "current validator's http://<host>:<rpc_port>)"),
    wait: float = typer.Option(0, "--wait", min=0, help="seconds to wait until the latest block's validators "
                                                        "show the change (0: do not wait)"),
) -> None:
    """Asks the current validators to propose voting a validator in or out (qbft_proposeValidatorVote);
    exits 1 when fewer than a majority of them accepted, or when --wait runs out."""
    try:
        manifest = network_folder.read_manifest(network_dir)
    except FolderError as exc:
        raise fail(str(exc)) from None
    by_name = {n["name"]: n for n in manifest["nodes"]}
    target = by_name.get(node_name)
    if target is None:
        raise fail(f"no node {node_name!r} in {network_dir}/network.json (its nodes: {', '.join(by_name)})")
    if target["role"] != VALIDATOR:
        raise fail(f"{node_name} is a {target['role']} node; add a validator with ./dev network add-node "
                   f"{network_dir} --role validator and vote that one in")
    add = not remove
    address = target["address"]
    latest = voting.first_answer(list(rpc) or [v.url for v in voting.manifest_voters(manifest)])
    if latest is not None and (address.lower() in {a.lower() for a in latest[1]}) == add:
        out.print(f"{node_name} ({address}) is {'already' if add else 'not'} among the {len(latest[1])} "
                  f"validators of the latest block ({latest[0]}); nothing to vote", highlight=False)
        return
    ballot = voting.ballot(manifest, target, add, rpc, latest[1] if latest else None)
    count, needed, asked = ballot.validators, ballot.needed, ballot.voters
    counted = "" if ballot.counted_on_chain else " (as network.json counts them: no validator told the chain's)"
    out.print(f"proposing to {'add' if add else 'remove'} {node_name} ({address}) {'to' if add else 'from'} the "
              f"validators: {count} current validator{'s' if count != 1 else ''}{counted}, so more than half "
              f"({needed}) must propose it", highlight=False)
    width = max(len(v.label) for v in asked) if asked else 0
    accepted = 0
    for voter in asked:
        answer = voting.propose(voter, address, add)
        accepted += answer.accepted
        where = "" if voter.label == voter.url else f"  {voter.url}"
        out.print(f"  {voter.label:<{width}}{where}  {answer.text}", highlight=False)
    out.print(f"{accepted} of {count} validator{'s' if count != 1 else ''} proposed it; {needed} needed (Besu: "
              "\"propose adding the new validator from more than half the number of current validators\")",
              highlight=False)
    if accepted < needed:
        raise fail(f"too few proposals ({accepted} of {needed} needed): start the validators that did not answer, "
                   "or ask them with --rpc, and run the vote again", code=1)
    if wait > 0:
        wait_for_change(node_name, address, add, [v.url for v in asked], wait)


POLL_SECONDS = 1.0


def wait_for_change(node_name: str, address: str, add: bool, urls: list[str], wait: float) -> None:
    """Polls the latest block's validators on the first validator that answers until `address` is (or is no
    longer) among them."""
    wanted = "among" if add else "gone from"
    deadline = time.monotonic() + wait
    with Progress(TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task(f"waiting until {node_name} is {wanted} the validators", total=None)
        while True:
            latest = voting.first_answer(urls)
            if latest is not None:
                url, validators = latest
                present = address.lower() in {a.lower() for a in validators}
                if present == add:
                    progress.stop()
                    out.print(f"{node_name} is {wanted} the validators of the latest block ({len(validators)} "
                              f"validators, asked {url})", highlight=False)
                    return
                progress.update(task, description=f"waiting until {node_name} is {wanted} the "
                                                  f"{len(validators)} validators ({url})")
            if time.monotonic() >= deadline:
                break
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
    raise fail(f"{node_name} is still {'not among' if add else 'among'} the validators after {wait:g} s; the "
               "proposals stay pending (qbft_getPendingVotes on a validator) until carried or the epoch ends", code=1)


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
    voted = [n for n in manifest["nodes"] if joins_by_vote(n)]
    if voted:
        out.print("validators added after the genesis (each validates once more than half of the validators "
                  "voted it in; qbft_getValidatorsByBlockNumber tells):", highlight=False)
        for node in voted:
            out.print(f"  {node['name']} (joins by QBFT vote)  {node['address']}", highlight=False)
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
    listed = tuple(n["address"] for n in genesis_validators(manifest))
    if tuple(a.lower() for a in listed) != tuple(a.lower() for a in from_genesis):
        raise fail("the genesis extraData does not name the manifest's validators (all but those joining by "
                   "vote) in the manifest's order; the folder was edited or mixed with another network's", code=1)


def print_nodes(manifest: dict) -> None:
    # Plain lines rather than a table: addresses and enodes are copied from here whole, never cut to fit.
    width = max(len(node["name"]) for node in manifest["nodes"])
    for node in manifest["nodes"]:
        voted = "  (joins by QBFT vote)" if joins_by_vote(node) else ""
        out.print(f"\n{node['name']:<{width}}  {node['role']:<9}  {node['address']}  "
                  f"P2P {node.get('p2p_port', '?')}  JSON-RPC {node.get('rpc_port', '?')}{voted}", highlight=False)
        out.print(f"{'':<{width}}  {node['enode']}", highlight=False)


if __name__ == "__main__":
    app()
