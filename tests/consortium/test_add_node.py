"""`./dev network add-node` and `./dev network vote`, run as an operator runs them on a network whose chain
already started: a validator added later gets the next name and ports, a fresh 0600 keystore and a config
rendered as `new` renders one; its enode goes into every node's nodes allowlist and static nodes while each
accounts allowlist stays exactly as it was; the genesis does not change, and `show` compares it with the
genesis validators only while listing the new one as joining by vote; bad input changes nothing. `vote` asks
the current validators of a fake Besu (a JSON-RPC server per validator that counts QBFT proposals and changes
the validators once more than half proposed) and holds to the majority rule with a validator unreachable.
The network is generated once for the module, with 3 validators and 1 member, because each key costs half a
second of scrypt, on purpose.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from eth_account import Account

from consortium import folder as network_folder
from consortium import joining, qbft, voting
from consortium.nodes import parse_enode

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "0xFE3B557E8Fb62b89F4916B721be55cEb828dBd73"
OPERATOR = "0x627306090abaB3A6e1400e9345bC60c78a8BEf57"
# The fake validators' JSON-RPC ports: validator-1..3 at 9070..9072, member-1 at 9073, then the nodes added.
BASE_RPC_PORT = 9070


def network(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "dev"), "network", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "network.json").read_text())


def permissions_of(folder: Path, node: str) -> dict:
    return tomllib.loads((folder / "nodes" / node / "permissions_config.toml").read_text())


def static_of(folder: Path, node: str) -> list[str]:
    return json.loads((folder / "nodes" / node / "static-nodes.json").read_text())


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """A running consortium's folder as `new` wrote it: 3 validators, 1 member, two allowed accounts."""
    workdir = tmp_path_factory.mktemp("operator")
    run = network("new", "--validators", "3", "--members", "1", "--out", "net", "--key-dir", "run",
                  "--base-rpc-port", str(BASE_RPC_PORT), "--allow-account", ADMIN, "--allow-account", OPERATOR,
                  cwd=workdir)
    assert run.returncode == 0, run.stderr
    return workdir / "net"


@pytest.fixture(scope="module")
def joined(made, tmp_path_factory) -> tuple[Path, dict[str, bytes], subprocess.CompletedProcess]:
    """The folder after `add-node --role validator`, with its files from before."""
    folder = tmp_path_factory.mktemp("joined") / "net"
    shutil.copytree(made, folder)
    before = snapshot(folder)
    run = network("add-node", "net", "--role", "validator", cwd=folder.parent)
    assert run.returncode == 0, run.stderr
    return folder, before, run


def test_adding_a_validator_puts_its_enode_in_every_nodes_allowlist_and_keeps_the_accounts(joined):
    folder, before, _run = joined
    new = manifest_of(folder)["nodes"][3]
    for node in ("validator-1", "validator-2", "validator-3", "member-1"):
        old = tomllib.loads(before[f"nodes/{node}/permissions_config.toml"].decode())
        now = permissions_of(folder, node)
        assert now["nodes-allowlist"] == old["nodes-allowlist"] + [new["enode"]]
        assert now["accounts-allowlist"] == old["accounts-allowlist"] == sorted([ADMIN, OPERATOR], key=str.lower)
        assert static_of(folder, node) == json.loads(before[f"nodes/{node}/static-nodes.json"]) + [new["enode"]]
        # The rest of an existing node, its config and keys above all, is left as it was.
        for name in ("config.toml", "key.json", "key.password"):
            assert (folder / "nodes" / node / name).read_bytes() == before[f"nodes/{node}/{name}"]


def test_the_genesis_is_unchanged_and_names_only_the_validators_that_were_in_it(joined):
    folder, before, _run = joined
    assert (folder / "genesis.json").read_bytes() == before["genesis.json"]
    in_genesis = qbft.decode(json.loads(before["genesis.json"])["extraData"]).validators
    nodes = manifest_of(folder)["nodes"]
    assert list(in_genesis) == [n["address"] for n in nodes[:3]]
    assert nodes[3]["address"] not in in_genesis
    assert nodes[3]["joined"] == "by vote" and all("joined" not in n for n in nodes[:3] + nodes[4:])


def test_the_new_validator_gets_the_next_name_and_ports_and_a_config_rendered_as_new_renders_one(joined):
    folder, _before, run = joined
    nodes = manifest_of(folder)["nodes"]
    assert [n["name"] for n in nodes] == ["validator-1", "validator-2", "validator-3", "validator-4", "member-1"]
    new = nodes[3]
    assert (new["role"], new["host"], new["dir"]) == ("validator", "127.0.0.1", "nodes/validator-4")
    assert (new["p2p_port"], new["rpc_port"]) == (30303 + 4, BASE_RPC_PORT + 4)
    config = tomllib.loads((folder / "nodes/validator-4/config.toml").read_text())
    reference = tomllib.loads((folder / "nodes/validator-1/config.toml").read_text())
    assert list(config) == list(reference)
    per_node = {"data-path", "node-private-key-file", "p2p-port", "bootnodes", "static-nodes-file", "rpc-http-port",
                "permissions-nodes-config-file", "permissions-accounts-config-file"}
    assert {k: v for k, v in config.items() if k not in per_node} == {
        k: v for k, v in reference.items() if k not in per_node}
    assert config["node-private-key-file"] == "run/validator-4/key"
    assert config["data-path"] == "nodes/validator-4/data"
    assert (config["p2p-port"], config["rpc-http-port"]) == (new["p2p_port"], new["rpc_port"])
    assert config["bootnodes"] == [n["enode"] for n in nodes[:3]]
    for option in ("static-nodes-file", "permissions-nodes-config-file", "permissions-accounts-config-file"):
        assert (folder / config[option]).is_file()
    assert "nodes-allowlist +1 in nodes/validator-1/permissions_config.toml" in run.stdout
    assert "./dev network unlock --node net/nodes/validator-4" in run.stdout
    assert "./dev network vote net --node validator-4" in run.stdout
    assert "perm_reloadPermissionsFromFile" in run.stdout


def test_the_new_key_is_a_0600_keystore_that_opens_to_the_address_and_enode_of_the_manifest(joined):
    folder, _before, _run = joined
    new = manifest_of(folder)["nodes"][3]
    node_dir = folder / new["dir"]
    for secret in ("key.json", "key.password"):
        assert stat.S_IMODE((node_dir / secret).stat().st_mode) == 0o600
    password = (node_dir / "key.password").read_text().rstrip("\n")
    key = bytes(Account.decrypt(json.loads((node_dir / "key.json").read_text()), password))
    assert Account.from_key(key).address == new["address"] == parse_enode(new["enode"]).address


def test_the_new_node_keeps_every_other_node_static_and_holds_the_same_permissions_file_as_the_others(joined):
    folder, _before, _run = joined
    nodes = manifest_of(folder)["nodes"]
    assert static_of(folder, "validator-4") == [n["enode"] for n in nodes if n["name"] != "validator-4"]
    permissions = (folder / "nodes/validator-4/permissions_config.toml").read_text()
    assert all(permissions == (folder / n["dir"] / "permissions_config.toml").read_text() for n in nodes)
    assert sorted(tomllib.loads(permissions)["nodes-allowlist"]) == sorted(n["enode"] for n in nodes)


def test_show_still_exits_0_and_lists_the_new_validator_as_joining_by_vote(joined, tmp_path):
    folder, _before, _run = joined
    run = network("show", str(folder), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    new = manifest_of(folder)["nodes"][3]
    assert f"validator-4 (joins by QBFT vote)  {new['address']}" in run.stdout
    in_genesis = run.stdout.split("validators in the genesis extraData:")[1].split("validators added")[0]
    assert len(in_genesis.strip().splitlines()) == 3 and new["address"] not in in_genesis


def test_a_member_added_later_goes_after_the_last_member_at_the_host_given(joined, tmp_path):
    folder = tmp_path / "net"
    shutil.copytree(joined[0], folder)
    run = network("add-node", "net", "--role", "member", "--host", "10.0.0.9", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    nodes = manifest_of(folder)["nodes"]
    assert [n["name"] for n in nodes][-2:] == ["member-1", "member-2"]
    member = nodes[-1]
    assert "joined" not in member and "vote" not in run.stdout.split("next:")[1]
    assert (member["p2p_port"], member["rpc_port"]) == (30303 + 5, BASE_RPC_PORT + 5)
    assert parse_enode(member["enode"]).host == "10.0.0.9"
    assert all(member["enode"] in permissions_of(folder, n["name"])["nodes-allowlist"] for n in nodes)
    assert network("show", "net", cwd=tmp_path).returncode == 0


def test_accounts_allowlists_that_differ_give_the_new_node_the_first_validators_with_a_warning(made, tmp_path):
    folder = tmp_path / "net"
    shutil.copytree(made, folder)
    member_file = folder / "nodes/member-1/permissions_config.toml"
    member_file.write_text(member_file.read_text().replace(f'    "{OPERATOR}",\n', ""))
    run = network("add-node", "net", "--role", "member", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "accounts allowlists differ (member-1 from validator-1)" in run.stderr
    assert permissions_of(folder, "member-2")["accounts-allowlist"] == permissions_of(folder, "validator-1")[
        "accounts-allowlist"]
    assert permissions_of(folder, "member-1")["accounts-allowlist"] == [ADMIN]


@pytest.mark.parametrize("args, spoil, message", [
    (["add-node", "net", "--role", "observer"], None, "--role 'observer': a node is a validator or a member"),
    (["add-node", "net", "--role", "member", "--host", "node.example"], None, "'node.example' is not an IPv4"),
    (["add-node", "empty", "--role", "member"], None, "network.json is missing"),
    (["add-node", "net", "--role", "validator"], lambda f: (f / "nodes/validator-4").mkdir(),
     "nodes/validator-4 already exists (empty)"),
    (["add-node", "net", "--role", "validator"],
     lambda f: ((f / "nodes/validator-4").mkdir(), (f / "nodes/validator-4/key.json").write_text("{}")),
     "nodes/validator-4 already exists (key.json)"),
    (["add-node", "net", "--role", "member"], lambda f: (f / "nodes/member-1/static-nodes.json").write_text("{"),
     "nodes/member-1/static-nodes.json is not JSON"),
    (["add-node", "net", "--role", "member"], lambda f: (f / "genesis.json").unlink(), "genesis.json is missing"),
    (["vote", "net", "--node", "validator-9"], None, "no node 'validator-9'"),
    (["vote", "net", "--node", "member-1"], None, "member-1 is a member node"),
])
def test_bad_input_ends_in_one_line_and_exit_code_2_and_writes_nothing(made, tmp_path, args, spoil, message):
    folder = tmp_path / "net"
    shutil.copytree(made, folder)
    (tmp_path / "empty").mkdir()
    if spoil:
        spoil(folder)
    before = snapshot(tmp_path)
    run = network(*args, cwd=tmp_path)
    assert run.returncode == 2
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
    assert snapshot(tmp_path) == before


def test_the_next_ports_skip_those_another_node_on_the_host_uses():
    manifest = {"nodes": [{"host": "10.0.0.1", "p2p_port": 8546, "rpc_port": 8545},
                          {"host": "10.0.0.1", "p2p_port": 30303, "rpc_port": 8547},
                          {"host": "10.0.0.2", "p2p_port": 30304, "rpc_port": 30305}]}
    assert joining.next_ports(manifest, "10.0.0.1") == (30305, 30306)
    assert joining.next_ports(manifest, "10.0.0.2") == (30306, 30307)


# ------------------------------------------------------------------------------------------- voting


class FakeBesu:
    """QBFT voting as Besu does it, for one network: each validator's proposals are recorded; once more than
    half of the current validators proposed the same change, it shows in the validators a few polls later
    (the blocks that carry the votes)."""

    def __init__(self, validators: list[str], polls_until_applied: int = 1, refusing: tuple[str, ...] = ()):
        self.validators = [a.lower() for a in validators]
        self.polls_until_applied = polls_until_applied
        self.refusing = {a.lower() for a in refusing}
        self.proposals: dict[str, dict[str, bool]] = {}
        self.carried: tuple[str, bool, int] | None = None
        self.lock = threading.Lock()
        self.servers: list[ThreadingHTTPServer] = []

    def answer(self, me: str, method: str, params: list) -> dict:
        with self.lock:
            if method == "qbft_proposeValidatorVote" and me not in self.refusing:
                candidate, add = params[0].lower(), params[1]
                self.proposals.setdefault(candidate, {})[me] = add
                votes = sum(1 for v, a in self.proposals[candidate].items() if a == add and v in self.validators)
                if votes > len(self.validators) / 2:
                    self.carried = (candidate, add, self.polls_until_applied)
                return {"result": True}
            if method == "qbft_getValidatorsByBlockNumber" and params == ["latest"]:
                if self.carried:
                    candidate, add, polls = self.carried
                    self.carried = (candidate, add, polls - 1) if polls else None
                    if not polls:
                        self.validators = ([*self.validators, candidate] if add else
                                           [v for v in self.validators if v != candidate])
                return {"result": list(self.validators)}
            return {"error": {"code": -32601, "message": "Method not found"}}

    def serve(self, me: str, port: int) -> None:
        besu = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                request = json.loads(self.rfile.read(int(self.headers["content-length"])))
                body = json.dumps({"jsonrpc": "2.0", "id": request["id"],
                                   **besu.answer(me.lower(), request["method"], request["params"])}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.servers.append(server)

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def besu(joined):
    """Starts a fake Besu for the joined network: `start(validators, running, ...)` serves the JSON-RPC of
    the nodes named in `running`, each at its manifest port; the others are unreachable."""
    nodes = {n["name"]: n for n in manifest_of(joined[0])["nodes"]}
    started = []

    def start(validators: list[str], running: list[str], **options) -> FakeBesu:
        fake = FakeBesu([nodes[v]["address"] for v in validators],
                        refusing=tuple(nodes[r]["address"] for r in options.pop("refusing", ())), **options)
        started.append(fake)
        for name in running:
            fake.serve(nodes[name]["address"], nodes[name]["rpc_port"])
        return fake

    yield start
    for fake in started:
        fake.stop()


GENESIS_VALIDATORS = ["validator-1", "validator-2", "validator-3"]


def test_voting_a_validator_in_needs_more_than_half_and_reports_an_unreachable_validator(joined, besu):
    folder = joined[0]
    fake = besu(GENESIS_VALIDATORS, running=["validator-1", "validator-2"])
    run = network("vote", str(folder), "--node", "validator-4", "--wait", "20", cwd=folder.parent)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "3 current validators, so more than half (2) must propose it" in lines[0]
    assert lines[1].split()[-1] == "true" and lines[2].split()[-1] == "true"
    assert lines[3].startswith("  validator-3") and "unreachable: cannot connect" in lines[3]
    assert "2 of 3 validators proposed it; 2 needed" in run.stdout
    assert "validator-4 is among the validators of the latest block (4 validators" in run.stdout
    assert manifest_of(folder)["nodes"][3]["address"].lower() in fake.validators


def test_fewer_than_a_majority_of_proposals_exits_1_and_changes_no_validator(joined, besu):
    folder = joined[0]
    fake = besu(GENESIS_VALIDATORS, running=["validator-1", "validator-2"], refusing=["validator-2"])
    run = network("vote", str(folder), "--node", "validator-4", "--wait", "3", cwd=folder.parent)
    assert run.returncode == 1
    assert "error: Method not found (code -32601); enable the QBFT API" in run.stdout
    assert "1 of 3 validators proposed it; 2 needed" in run.stdout
    assert "too few proposals" in run.stderr
    assert len(fake.validators) == 3

    # Only the validators given with --rpc are asked; the majority is still of the chain's validators.
    run = network("vote", str(folder), "--node", "validator-4", "--rpc", f"http://127.0.0.1:{BASE_RPC_PORT}",
                  cwd=folder.parent)
    assert run.returncode == 1
    assert f"  http://127.0.0.1:{BASE_RPC_PORT}  true" in run.stdout and "validator-3" not in run.stdout
    assert "1 of 3 validators proposed it; 2 needed" in run.stdout


def test_voting_a_validator_out_waits_until_it_is_gone_and_a_second_vote_has_nothing_to_do(joined, besu):
    folder = joined[0]
    besu([*GENESIS_VALIDATORS, "validator-4"], running=["validator-1", "validator-2", "validator-4"])
    run = network("vote", str(folder), "--node", "validator-4", "--remove", "--wait", "20", cwd=folder.parent)
    assert run.returncode == 0, run.stderr
    assert "4 current validators, so more than half (3) must propose it" in run.stdout
    assert "validator-4 is gone from the validators of the latest block (3 validators" in run.stdout

    run = network("vote", str(folder), "--node", "validator-4", "--remove", cwd=folder.parent)
    assert run.returncode == 0, run.stderr
    assert "is not among the 3 validators of the latest block" in run.stdout and "nothing to vote" in run.stdout


def test_waiting_for_a_vote_that_is_not_carried_yet_times_out_with_exit_1(joined, besu):
    folder = joined[0]
    besu(GENESIS_VALIDATORS, running=GENESIS_VALIDATORS, polls_until_applied=1000)
    run = network("vote", str(folder), "--node", "validator-4", "--wait", "1.5", cwd=folder.parent)
    assert run.returncode == 1
    assert "3 of 3 validators proposed it" in run.stdout
    assert "still not among the validators after 1.5 s" in run.stderr


def test_a_write_that_fails_halfway_puts_every_file_back_and_removes_the_new_node(made, tmp_path, monkeypatch):
    folder = tmp_path / "net"
    shutil.copytree(made, folder)
    before = snapshot(folder)
    manifest = network_folder.read_manifest(folder)
    texts = network_folder.read_node_texts(folder, manifest)
    plan = joining.plan(manifest, texts, "validator", None, bytes([7]) * 32)
    real_write, calls = network_folder.write_atomically, []

    def failing_third_write(path, text):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real_write(path, text)

    monkeypatch.setattr(network_folder, "write_atomically", failing_third_write)
    with pytest.raises(OSError):
        network_folder.write_new_node(folder, plan.node, plan.new_files, "{}\n", "secret\n", plan.changed)
    assert snapshot(folder) == before
    assert sorted(p.name for p in (folder / "nodes").iterdir()) == ["member-1", "validator-1", "validator-2",
                                                                     "validator-3"]


def test_the_chain_decides_who_is_asked_and_how_many_proposals_carry_a_vote(joined):
    manifest = manifest_of(joined[0])
    nodes = {n["name"]: n for n in manifest["nodes"]}
    candidate = nodes["validator-4"]
    genesis = [nodes[v]["address"] for v in GENESIS_VALIDATORS]

    on_chain = voting.ballot(manifest, candidate, True, [], [a.lower() for a in genesis])
    assert [v.label for v in on_chain.voters] == GENESIS_VALIDATORS
    assert (on_chain.validators, on_chain.needed, on_chain.counted_on_chain) == (3, 2, True)
    assert on_chain.voters[0].url == f"http://127.0.0.1:{BASE_RPC_PORT}"

    # Without an answer from the chain, the manifest counts its validators but the one being voted in.
    unanswered = voting.ballot(manifest, candidate, True, [], None)
    assert [v.label for v in unanswered.voters] == GENESIS_VALIDATORS and not unanswered.counted_on_chain
    removal = voting.ballot(manifest, candidate, False, ["http://10.0.0.1:8545"], [*genesis, candidate["address"]])
    assert [v.url for v in removal.voters] == ["http://10.0.0.1:8545"] and removal.needed == 3
    assert [voting.majority(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [1, 2, 2, 3, 3, 4, 4]
