"""`./dev permissions` on a real chain, run the way an operator runs it: a network folder made by
`./dev network new`, a ledger deployed and its members onboarded on a fresh anvil, and the command run as a
subprocess from the chain and from the indexer's mirror. The written accounts allowlists are the standing
accounts and exactly the accounts Membership's `accounts(address)` says are active; after one account is
deactivated and another added, the diff names exactly those two and every node must reload; a run after that
changes nothing; `--check` fails before writing and passes after; a lagging mirror is refused; `--reload`
reports each node's answer and leaves the files written when a node is down."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from eth_abi import decode
from eth_account import Account
from eth_utils import to_checksum_address

from ledger_api.activity import Call, Scale
from ledger_api.anvil import free_port
from tests.indexer.ledger_chain import deploy_new_ledger, running_anvil

ROOT = Path(__file__).resolve().parents[2]
PORTS = range(9010, 9020)
TINY = Scale(regions=1, warehouses=1, distributors_per_region=1, stores_per_distributor=1, skus=5, carriers=1,
             target_events=300, days=2)
NODES = ["validator-1", "validator-2", "validator-3", "validator-4", "member-1", "member-2"]
OPERATOR = to_checksum_address("0x" + "0e" * 20)  # a standing account the registry does not hold
RELOAD_LINE = ("must reload: validator-1, validator-2, validator-3, validator-4, member-1, member-2 "
               "(perm_reloadPermissionsFromFile on each, no restart needed)")


class ReloadingNode(BaseHTTPRequestHandler):
    """A node's JSON-RPC answering `perm_reloadPermissionsFromFile` as Besu does, recording the calls."""

    calls: list[str] = []

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ReloadingNode.calls.append(request["method"])
        body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": "Success"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """A tiny ledger with its members onboarded, its deployment file, and a network folder whose first
    node's JSON-RPC answers reloads (the others answer nothing)."""
    scratch = tmp_path_factory.mktemp("permissions")
    with running_anvil(PORTS) as rpc:
        ledger = deploy_new_ledger(rpc, 23, TINY)
        ledger.play([next(iter(ledger.activity.rounds()))])  # the onboarding round: organisations, accounts
        deployments = ledger.write_deployment("permissions-test", scratch / "deployments")
        reload_port = free_port(PORTS)
        server = ThreadingHTTPServer(("127.0.0.1", reload_port), ReloadingNode)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        admin = ledger.activity.network.members[ledger.activity.network.admin].address
        made = subprocess.run(
            [str(ROOT / "dev"), "network", "new", "--validators", "4", "--members", "2", "--out",
             str(scratch / "network"), "--base-rpc-port", str(reload_port), "--allow-account", admin,
             "--allow-account", OPERATOR],
            capture_output=True, text=True, timeout=120)
        assert made.returncode == 0, made.stderr
        env = os.environ | {"LEDGER_RPC_URL": rpc.url, "LEDGER_NETWORK": "permissions-test",
                            "LEDGER_DEPLOYMENTS_DIR": str(deployments),
                            "LEDGER_DATABASE_URL": f"sqlite:///{scratch / 'mirror.sqlite3'}"}
        try:
            yield ledger, scratch / "network", env
        finally:
            server.shutdown()


def permissions(env: dict, folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "dev"), "permissions", "--network-dir", str(folder), *args],
                          capture_output=True, text=True, env=env, timeout=120)


def backfill(env: dict) -> None:
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "indexer"), "backfill"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr


def allowlists(folder: Path) -> dict[str, list[str]]:
    return {node: tomllib.loads((folder / "nodes" / node / "permissions_config.toml").read_text())
            ["accounts-allowlist"] for node in NODES}


def registry_active(ledger, addresses) -> set[str]:
    """The addresses `Membership.accounts(address)` says are active, read from the chain one by one."""
    membership = ledger.deployed.addresses["Membership"]
    active = set()
    for address in addresses:
        data = ledger.codec.encode_call("Membership", "accounts", [address])
        answer = ledger.rpc.call("eth_call", {"to": membership, "data": "0x" + data.hex()}, "latest")
        _org, _roles, is_active = decode(["uint32", "uint16", "bool"], bytes.fromhex(answer[2:]))
        if is_active:
            active.add(to_checksum_address(address))
    return active


def changed_accounts(diff: str) -> list[tuple[str, str]]:
    return re.findall(r'^([+-]) {4}"(0x[0-9a-fA-F]{40})",$', diff, flags=re.M)


def test_the_allowlists_follow_the_registry_from_the_chain_and_from_the_mirror(chain):
    ledger, network, env = chain
    net = ledger.activity.network
    members = list(net.members.values())
    standing = {to_checksum_address(net.members[net.admin].address), OPERATOR}
    from_mirror = network.parent / "network-from-mirror"
    shutil.copytree(network, from_mirror)
    before = {node: (network / "nodes" / node / "permissions_config.toml").read_text() for node in NODES}

    check = permissions(env, network, "--check")
    assert check.returncode == 1, check.stderr
    assert f"out of date: {', '.join(NODES)}" in check.stdout
    assert {node: (network / "nodes" / node / "permissions_config.toml").read_text() for node in NODES} == before

    first = permissions(env, network)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    assert RELOAD_LINE in first.stdout
    expected = sorted(registry_active(ledger, [m.address for m in members]) | standing, key=str.lower)
    assert len(expected) == len(members) + 1
    assert allowlists(network) == {node: expected for node in NODES}
    for node in NODES:  # the nodes allowlist is kept as it was
        assert (tomllib.loads((network / "nodes" / node / "permissions_config.toml").read_text())["nodes-allowlist"]
                == tomllib.loads(before[node])["nodes-allowlist"])

    backfill(env)
    mirrored = permissions(env, from_mirror, "--from", "mirror")
    assert mirrored.returncode == 0, mirrored.stderr
    assert allowlists(from_mirror) == allowlists(network)

    # One account leaves the network and another joins.
    leaving = next(m for m in members if m.org != 1)
    joining = Account.create().address
    ledger.writer.execute_round(None, [
        Call(net.admin, "Membership", "deactivateAccount", (leaving.address,), ("AccountDeactivated",)),
        Call(net.admin, "Membership", "setAccount", (joining, leaving.org, leaving.roles, "new staff"),
             ("AccountSet",)),
    ])
    ledger.writer.flush()

    assert permissions(env, network, "--check").returncode == 1
    second = permissions(env, network)
    assert second.returncode == 0, second.stderr
    assert "differs" not in second.stderr  # the folded events agree with Membership.accounts
    diffs = second.stdout.split("--- a/")[1:]
    assert [d.split("/permissions_config.toml")[0] for d in diffs] == [f"nodes/{n}" for n in NODES]
    for diff in diffs:
        assert sorted(changed_accounts(diff)) == sorted([("-", to_checksum_address(leaving.address)),
                                                         ("+", to_checksum_address(joining))])
    assert RELOAD_LINE in second.stdout
    expected = sorted(registry_active(ledger, [m.address for m in members] + [joining]) | standing, key=str.lower)
    assert to_checksum_address(leaving.address) not in expected and joining in expected
    assert allowlists(network) == {node: expected for node in NODES}

    third = permissions(env, network)
    assert third.returncode == 0, third.stderr
    assert "up to date (6 nodes)" in third.stdout and "--- a/" not in third.stdout
    assert permissions(env, network, "--check").returncode == 0

    lagging = permissions(env, from_mirror, "--from", "mirror", "--max-lag", "0")
    assert lagging.returncode == 2
    assert re.search(r"the mirror is \d+ blocks? behind the node \(checkpoint \d+, head \d+", lagging.stderr)
    backfill(env)
    caught_up = permissions(env, from_mirror, "--from", "mirror", "--max-lag", "0")
    assert caught_up.returncode == 0, caught_up.stderr
    assert allowlists(from_mirror) == allowlists(network)


def test_reload_asks_each_changed_node_and_a_node_that_is_down_keeps_its_written_file(chain):
    _, network, env = chain
    folder = network.parent / "network-reload"
    shutil.copytree(network, folder)
    for node in NODES:  # every node's file as it was before the members joined
        path = folder / "nodes" / node / "permissions_config.toml"
        path.write_text(path.read_text().split("accounts-allowlist")[0] + "accounts-allowlist = []\n")
    ReloadingNode.calls.clear()
    reloaded = permissions(env, folder, "--reload")
    assert reloaded.returncode == 1
    assert ReloadingNode.calls == ["perm_reloadPermissionsFromFile"]
    lines = [line for line in reloaded.stdout.splitlines() if line.startswith(tuple(f"{n}:" for n in NODES))]
    assert lines[0].startswith("validator-1: reloaded")
    assert [line.split(":")[0] for line in lines[1:]] == NODES[1:]
    assert all(": reload failed: " in line for line in lines[1:])
    assert allowlists(folder) == allowlists(network)
    assert "did not reload (validator-2, validator-3, validator-4, member-1, member-2)" in reloaded.stderr


@pytest.mark.parametrize("name, arrange, expected", [
    ("no-manifest", lambda folder: (folder / "network.json").unlink(), "network.json: missing"),
    ("bad-toml", lambda folder: (folder / "nodes/member-1/permissions_config.toml").write_text("nodes-allowlist = [\n"),
     "nodes/member-1/permissions_config.toml: not valid TOML"),
    ("no-file", lambda folder: (folder / "nodes/validator-3/permissions_config.toml").unlink(),
     "nodes/validator-3/permissions_config.toml: missing (node validator-3"),
])
def test_a_broken_network_folder_is_refused_in_one_line(chain, name, arrange, expected):
    _, network, env = chain
    folder = network.parent / f"broken-{name}"
    shutil.copytree(network, folder)
    arrange(folder)
    refused = permissions(env, folder)
    assert refused.returncode == 2
    assert expected in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name, source, expected", [
    ("no-deployment", "chain", "no deployment for network 'nowhere'"),
    ("node-down", "chain", "cannot read the registry from the node"),
    ("mirror-empty", "mirror", "is empty: fill it with `indexer backfill`"),
    ("database-down", "mirror", "cannot read the mirror database"),
])
def test_no_deployment_and_an_unreachable_node_or_mirror_are_refused_in_one_line(chain, tmp_path, name, source,
                                                                                   expected):
    _, network, env = chain
    settings = env | {
        "no-deployment": {"LEDGER_NETWORK": "nowhere"},
        "node-down": {"LEDGER_RPC_URL": f"http://127.0.0.1:{free_port(PORTS)}"},
        "mirror-empty": {"LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"},
        "database-down": {"LEDGER_DATABASE_URL": "postgresql+psycopg://nobody:x@127.0.0.1:1/none"},
    }[name]
    refused = permissions(settings, network, "--from", source, "--check")
    assert refused.returncode == 2, refused.stdout
    assert "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines() == [refused.stderr.strip().splitlines()[0]]
    assert expected in refused.stderr
