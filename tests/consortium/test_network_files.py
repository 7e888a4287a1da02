"""`./dev network`, run as a node operator runs it: `new` writes every file of a 4-validator, 2-member network;
the genesis names the manifest's validators in order; each keystore opens with its password to the key the
manifest's address and enode belong to; the Besu TOML files parse and point at files that are there; every
permissions file lists all six nodes and the allowed accounts; a second `new` without --force changes nothing,
with --force it writes new keys; `unlock` writes Besu's key file readable by its owner only; `show` reads it
all back; bad input ends in one line, never a traceback; and nodes on separate machines each get their own host.

The network is generated once for the module: its keys are encrypted with scrypt at full cost, on purpose.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest
from eth_account import Account
from eth_keys import keys

from consortium import qbft
from consortium.genesis import ChainSettings
from consortium.network import NetworkSpec, arrange, network_files
from consortium.nodes import EnodeError, parse_enode

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = ["0xFE3B557E8Fb62b89F4916B721be55cEb828dBd73", "0x627306090abaB3A6e1400e9345bC60c78a8BEf57"]
PREFUNDED = "0xf17f52151EbEF6C7334FAD080c5704D77216b732"
NAMES = ["validator-1", "validator-2", "validator-3", "validator-4", "member-1", "member-2"]
NODE_FILES = ["config.toml", "permissions_config.toml", "static-nodes.json", "key.json", "key.password"]


def network(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "dev"), "network", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """The network folder, written with a relative --out from the caller's folder, as an operator would."""
    workdir = tmp_path_factory.mktemp("operator")
    run = network("new", "--validators", "4", "--members", "2", "--out", "net", "--chain-id", "2024",
                  "--key-dir", "run", "--allow-account", ALLOWED[0], "--allow-account", ALLOWED[1].lower(),
                  "--prefund", PREFUNDED, cwd=workdir)
    assert run.returncode == 0, run.stderr
    return workdir / "net"


@pytest.fixture(scope="module")
def manifest(made) -> dict:
    return json.loads((made / "network.json").read_text())


@pytest.fixture(scope="module")
def keys_opened(made, manifest) -> dict[str, bytes]:
    """Each node's private key, from its keystore and password (half a second each: scrypt)."""
    opened = {}
    for node in manifest["nodes"]:
        folder = made / node["dir"]
        password = (folder / "key.password").read_text().rstrip("\n")
        opened[node["name"]] = bytes(Account.decrypt(json.loads((folder / "key.json").read_text()), password))
    return opened


def test_new_writes_the_manifest_the_genesis_and_every_file_of_every_node(made, manifest):
    expected = {"network.json", "genesis.json"} | {f"nodes/{n}/{f}" for n in NAMES for f in NODE_FILES}
    assert set(snapshot(made)) == expected
    assert [n["name"] for n in manifest["nodes"]] == NAMES
    assert [n["role"] for n in manifest["nodes"]] == ["validator"] * 4 + ["member"] * 2
    assert [n["dir"] for n in manifest["nodes"]] == [f"nodes/{n}" for n in NAMES]
    assert [n["p2p_port"] for n in manifest["nodes"]] == list(range(30303, 30309))
    assert [n["rpc_port"] for n in manifest["nodes"]] == list(range(8545, 8551))
    assert {key: manifest[key] for key in ("chain_id", "consensus", "block_period_seconds", "epoch_length",
                                           "request_timeout_seconds")} == {
        "chain_id": 2024, "consensus": "qbft", "block_period_seconds": 2, "epoch_length": 30000,
        "request_timeout_seconds": 4}


def test_the_genesis_extra_data_names_exactly_the_manifest_validators_in_ascending_order(made, manifest):
    genesis = json.loads((made / "genesis.json").read_text())
    in_genesis = qbft.decode(genesis["extraData"]).validators
    listed = [n["address"] for n in manifest["nodes"] if n["role"] == "validator"]
    assert list(in_genesis) == listed
    assert listed == sorted(listed, key=str.lower)
    assert genesis["config"]["chainId"] == 2024
    assert genesis["config"]["qbft"] == {"blockperiodseconds": 2, "epochlength": 30000, "requesttimeoutseconds": 4}
    assert genesis["config"]["zeroBaseFee"] is True
    assert list(genesis["alloc"]) == [PREFUNDED.lower()[2:]]


def test_each_keystore_opens_with_its_password_to_the_key_the_manifest_names(made, manifest, keys_opened):
    for node in manifest["nodes"]:
        assert Account.from_key(keys_opened[node["name"]]).address == node["address"]
        for secret in ("key.json", "key.password"):
            assert stat.S_IMODE((made / node["dir"] / secret).stat().st_mode) == 0o600
    assert len(set(keys_opened.values())) == 6


def test_each_enode_carries_the_public_key_of_the_node_key_and_its_host_and_port(manifest, keys_opened):
    for node in manifest["nodes"]:
        public_key = "0x" + keys.PrivateKey(keys_opened[node["name"]]).public_key.to_bytes().hex()
        enode = parse_enode(node["enode"])
        assert (enode.public_key, enode.host, enode.port) == (public_key, "127.0.0.1", node["p2p_port"])
        assert node["public_key"] == public_key
        assert enode.address == node["address"]


def test_every_config_parses_and_points_at_the_files_of_its_own_node(made, manifest):
    enodes = {n["name"]: n["enode"] for n in manifest["nodes"]}
    validators = [n["enode"] for n in manifest["nodes"] if n["role"] == "validator"]
    for node in manifest["nodes"]:
        config = tomllib.loads((made / node["dir"] / "config.toml").read_text())
        for option in ("genesis-file", "static-nodes-file", "permissions-nodes-config-file",
                       "permissions-accounts-config-file"):
            assert (made / config[option]).is_file(), (node["name"], option)
        assert config["permissions-nodes-config-file"] == f"{node['dir']}/permissions_config.toml"
        assert config["data-path"] == f"{node['dir']}/data"
        assert config["node-private-key-file"] == f"run/{node['name']}/key"
        assert config["p2p-port"] == node["p2p_port"] and config["rpc-http-port"] == node["rpc_port"]
        assert config["permissions-nodes-config-file-enabled"] is True
        assert config["permissions-accounts-config-file-enabled"] is True
        assert config["min-gas-price"] == 0
        assert {"QBFT", "ADMIN", "PERM", "ETH", "NET", "WEB3"} <= set(config["rpc-http-api"])
        assert config["bootnodes"] == [e for e in validators if e != enodes[node["name"]]]
        static = json.loads((made / config["static-nodes-file"]).read_text())
        assert static == [e for name, e in enodes.items() if name != node["name"]]


def test_every_permissions_file_lists_all_six_nodes_and_the_allowed_accounts_sorted(made, manifest):
    for node in manifest["nodes"]:
        permissions = tomllib.loads((made / node["dir"] / "permissions_config.toml").read_text())
        assert set(permissions) == {"nodes-allowlist", "accounts-allowlist"}
        assert permissions["nodes-allowlist"] == [n["enode"] for n in manifest["nodes"]]
        assert permissions["accounts-allowlist"] == sorted(ALLOWED, key=str.lower)
    assert manifest["accounts_allowlist"] == sorted(ALLOWED, key=str.lower)


def test_a_second_new_without_force_exits_2_and_changes_no_file(made):
    before = snapshot(made)
    run = network("new", "--out", str(made), cwd=made.parent)
    assert run.returncode == 2
    assert "already holds a network" in run.stderr and "--force" in run.stderr
    assert snapshot(made) == before


def test_new_with_force_replaces_the_network_with_new_keys(made, manifest, tmp_path):
    copy = tmp_path / "net"
    shutil.copytree(made, copy)
    run = network("new", "--validators", "1", "--out", str(copy), "--force", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "QBFT tolerates no faulty" in run.stderr
    replaced = json.loads((copy / "network.json").read_text())
    assert [n["name"] for n in replaced["nodes"]] == ["validator-1"]
    assert replaced["nodes"][0]["address"] not in {n["address"] for n in manifest["nodes"]}
    assert sorted(p.name for p in (copy / "nodes").iterdir()) == ["validator-1"]
    genesis = json.loads((copy / "genesis.json").read_text())
    assert qbft.decode(genesis["extraData"]).validators == (replaced["nodes"][0]["address"],)


def test_unlock_writes_the_node_key_where_its_config_says_readable_by_its_owner_only(made, manifest, keys_opened,
                                                                                    tmp_path):
    member = manifest["nodes"][4]
    run = network("unlock", "--node", f"net/{member['dir']}", cwd=made.parent)
    assert run.returncode == 0, run.stderr
    key_file = made / "run" / member["name"] / "key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text() == "0x" + keys_opened[member["name"]].hex()

    # A key file left behind readable by others (an earlier start) is overwritten and made private again.
    elsewhere = tmp_path / "tmpfs" / "key"
    elsewhere.parent.mkdir()
    elsewhere.write_text("an old key that is longer than the new one, every byte of it replaced")
    os.chmod(elsewhere, 0o644)
    run = network("unlock", "--node", str(made / member["dir"]), "--to", str(elsewhere), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert elsewhere.read_text() == key_file.read_text()
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o600


def test_show_prints_the_nodes_and_the_validators_decoded_from_the_genesis(made, manifest, tmp_path):
    run = network("show", str(made), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    for node in manifest["nodes"]:
        assert node["enode"] in run.stdout
    listed = run.stdout.split("validators in the genesis extraData:")[1]
    assert [line.split(". ")[1] for line in listed.strip().splitlines()[:4]] == [
        n["address"] for n in manifest["nodes"][:4]]

    mixed = tmp_path / "mixed"
    shutil.copytree(made, mixed, ignore=shutil.ignore_patterns("key*", "run"))
    genesis = json.loads((mixed / "genesis.json").read_text())
    validators = list(qbft.decode(genesis["extraData"]).validators)
    genesis["extraData"] = qbft.genesis_extra_data(validators[::-1])
    (mixed / "genesis.json").write_text(json.dumps(genesis))
    run = network("show", str(mixed), cwd=tmp_path)
    assert run.returncode == 1
    assert "does not name the manifest's validators" in run.stderr


@pytest.mark.parametrize("args, message", [
    (["new", "--validators", "0", "--out", "fresh"], "at least 1 validator"),
    (["new", "--chain-id", "0", "--out", "fresh"], "chain id must be a positive number"),
    (["new", "--out", "a-file"], "a-file is a file"),
    (["show", "a-file"], "a-file is not a folder"),
    (["show", "."], "network.json is missing"),
    (["unlock", "--node", "."], "key.json is missing"),
])
def test_bad_input_ends_in_one_line_and_exit_code_2(tmp_path, args, message):
    (tmp_path / "a-file").write_text("not a folder")
    run = network(*args, cwd=tmp_path)
    assert run.returncode == 2
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
    assert not (tmp_path / "fresh").exists()


def test_one_host_per_node_puts_each_node_at_its_own_address_in_naming_order():
    hosts = tuple(f"10.0.0.{i}" for i in range(1, 7))
    spec = NetworkSpec(settings=ChainSettings(chain_id=1515), validators=4, members=2, hosts=hosts)
    assert spec.problems() == []
    arranged = arrange(spec, [bytes([i]) * 32 for i in range(1, 5)], [bytes([9]) * 32, bytes([10]) * 32])
    assert [(n.name, parse_enode(n.enode).host) for n in arranged.nodes] == list(zip(NAMES, hosts, strict=True))
    permissions = tomllib.loads(network_files(arranged)["nodes/member-2/permissions_config.toml"])
    assert [parse_enode(e).host for e in permissions["nodes-allowlist"]] == list(hosts)


def test_a_host_count_that_is_neither_one_nor_one_per_node_is_refused():
    spec = NetworkSpec(settings=ChainSettings(chain_id=1515), validators=4, members=2, hosts=("10.0.0.1", "10.0.0.2"))
    assert any("one per node (6" in problem for problem in spec.problems())


@pytest.mark.parametrize("url, problem", [
    ("enode://" + "01" * 64 + "@127.0.0.1:30303", "not a secp256k1 public key"),
    ("enode://" + "ab" * 64 + "@10.0.0.1:99999", "99999 is not a TCP port"),
    ("enode://" + "ab" * 64 + "@node.example:30303", "not an IPv4 address"),
    ("enode://abc@1.2.3.4:30303", "is not an enode URL"),
])
def test_an_enode_that_besu_could_not_dial_is_refused_naming_why(url, problem):
    with pytest.raises(EnodeError, match=problem):
        parse_enode(url)
