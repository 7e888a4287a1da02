"""docs/runbook.md is executed as an operator follows it: its `sh runbook` blocks run in order in one bash
shell from the checkout, against an anvil standing in for the consortium's Besu network (chain id 1515, free
gas, the brownie network `consortium`), with a PostgreSQL mirror, and every file they write in a scratch
folder. Afterwards the chain, the allowlists and the mirror are checked against what each procedure promised.
The `sh besu` and `sh systemd` blocks, which need Besu nodes or the production units, are checked for naming
only commands, options and units the project has."""

from __future__ import annotations

import os
import re
import subprocess
import time
import tomllib
from pathlib import Path

import pytest
from eth_abi import decode
from eth_account import Account

from indexer.contracts import read_deployment
from indexer.db import scratch_postgres_database
from ledger_api.anvil import free_port, start_anvil, stop_anvil
from ledger_api.rawchain import LedgerCodec, Rpc
from indexer.contracts import load_artifacts
from tests.conftest import postgres_admin_url

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "runbook.md"
PORTS = range(9050, 9070)
CHAIN_ID = 1515  # the brownie network `consortium`'s, and ./dev network new's default
ANVIL_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
BLOCK = re.compile(r"^```sh (?P<kind>\w+)\n(?P<body>.*?)^```$", re.S | re.M)
KINDS = {"runbook", "besu", "systemd", "env"}
MARKER = "::runbook block "


def blocks(kind: str) -> list[tuple[str, str]]:
    """(section title, body) of the runbook's blocks of one kind, in order."""
    text = RUNBOOK.read_text()
    found = []
    for match in BLOCK.finditer(text):
        if match["kind"] == kind:
            titles = re.findall(r"^## (.+)$", text[:match.start()], flags=re.M)
            found.append((titles[-1] if titles else "preamble", match["body"]))
    return found


def as_script(runbook_blocks: list[tuple[str, str]]) -> str:
    """One bash script of the blocks, each announced by a marker line so a failure names its block. A line
    starting with `! ` is a command the runbook expects to fail: bash's own `!` would never stop the script,
    so it becomes an explicit check."""
    lines = ["set -euo pipefail"]
    for number, (title, body) in enumerate(runbook_blocks, start=1):
        lines.append(f"echo '{MARKER}{number} ({title})' >&2")
        for line in body.splitlines():
            if line.startswith("! "):
                command = line[2:]
                lines.append(f"if {command}; then echo 'expected to fail: {command}' >&2; exit 1; fi")
            else:
                lines.append(line)
    return "\n".join(lines) + "\n"


def active_on_chain(rpc: Rpc, membership: str, address: str) -> bool:
    codec = LedgerCodec(load_artifacts(), ["Membership"])
    answer = rpc.call("eth_call", {"to": membership, "data": "0x" + codec.encode_call("Membership", "accounts",
                                                                                        [address]).hex()}, "latest")
    return decode(["uint32", "uint16", "bool"], bytes.fromhex(answer[2:]))[2]


def test_every_shell_block_of_the_runbook_says_where_it_can_run():
    fences = re.findall(r"^```(.*)$", RUNBOOK.read_text(), flags=re.M)
    openings = fences[0::2]
    assert openings, "the runbook has no blocks"
    assert all(o.startswith("sh ") and o[3:] in KINDS for o in openings), openings
    assert len(blocks("runbook")) >= 15


def test_the_besu_and_systemd_blocks_name_only_commands_options_and_units_the_project_has():
    units = {path.name for path in (ROOT / "deploy" / "systemd").glob("*")}
    for _title, body in blocks("besu") + blocks("systemd"):
        for line in body.splitlines():
            if line.startswith("systemctl"):
                for name in re.findall(r"\b((?:besu|ledger-[a-z]+)(?:@[\w-]+)?)\b", line):
                    template = re.sub(r"@[\w-]+$", "@", name) + ".service"
                    assert template in units, f"{line}: no unit {template} in deploy/systemd"
            elif line.startswith("./dev "):
                words = line.split()
                command = words[:3] if words[1] == "network" else words[:2]
                shown = subprocess.run([*command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                                       env=os.environ | {"COLUMNS": "200"})
                assert shown.returncode == 0, f"{line}: {shown.stderr}"
                for option in re.findall(r"(--[a-z][a-z-]*)", line):
                    assert option in shown.stdout, f"{line}: {' '.join(command)} has no option {option}"


@pytest.fixture
def consortium(tmp_path):
    """An anvil with the consortium's chain id and two empty PostgreSQL databases: the mirror and the one a
    rebuild goes into."""
    port = free_port(PORTS)
    anvil = start_anvil(port, int(time.time()), log=tmp_path / "anvil.log", chain_id=CHAIN_ID)
    try:
        with scratch_postgres_database(postgres_admin_url(), prefix="ledger_runbook") as mirror, \
                scratch_postgres_database(postgres_admin_url(), prefix="ledger_runbook") as empty:
            yield Rpc(f"http://127.0.0.1:{port}"), mirror, empty
    finally:
        stop_anvil(anvil)


def test_the_runbook_runs_from_the_first_network_to_a_verified_mirror(consortium, tmp_path):
    rpc, mirror_url, empty_url = consortium
    admin = Account.from_key(ANVIL_KEY_0).address
    etc = tmp_path / "etc"
    env = {**os.environ,
           "NETWORK_DIR": str(etc / "network"), "ONBOARDING": str(etc / "onboarding"),
           "BACKUPS": str(tmp_path / "backups"), "BRAND_ADMIN": admin,
           "LEDGER_DEPLOYER_KEY": ANVIL_KEY_0, "LEDGER_ADMIN_KEY": ANVIL_KEY_0,
           "LEDGER_RPC_URL": rpc.url, "LEDGER_NETWORK": "consortium",
           "LEDGER_DEPLOYMENTS_DIR": str(etc / "deployments"), "LEDGER_DATABASE_URL": mirror_url,
           "LEDGER_KEYSTORE_DIR": str(etc / "keystore"), "LEDGER_KEYSTORE_PASSWORD": "runbook keystore password",
           "EMPTY_DATABASE_URL": empty_url, "COLUMNS": "200"}
    env.pop("LEDGER_ENVIRONMENT", None)

    done = subprocess.run(["bash", "-c", as_script(blocks("runbook"))], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)

    log = done.stdout + done.stderr
    failed_in = [line for line in done.stderr.splitlines() if line.startswith(MARKER)][-1:]
    assert done.returncode == 0, f"the runbook failed in {failed_in}:\n{log[-6000:]}"
    # 1. The first network: six nodes and a deployed ledger, in the scratch folder and not in the checkout.
    network = etc / "network"
    nodes = sorted(path.name for path in (network / "nodes").iterdir())
    assert nodes == ["member-1", "member-2", "member-3", "validator-1", "validator-2", "validator-3", "validator-4",
                     "validator-5"]
    deployment = read_deployment(etc / "deployments" / "consortium.json")
    assert deployment.chain_id == CHAIN_ID
    assert not (ROOT / "deployments" / "consortium.json").exists()
    assert not list((ROOT / "build" / "deployments").glob(f"{CHAIN_ID}/*.json")), "brownie recorded its own deployments"
    # 2-4. Every node admits the brand admin and exactly the accounts the registry holds active; the rotated
    # key replaced the old one on chain and in the files, and the new nodes carry the same lists.
    keys = sorted(path.stem for path in (etc / "keystore").glob("0x*.json"))
    assert len(keys) == 4
    membership = deployment.address("Membership")
    active = sorted(key for key in keys if active_on_chain(rpc, membership, key))
    assert len(active) == 3, "the rotated key is the only one deactivated"
    for node in nodes:
        lists = tomllib.loads((network / "nodes" / node / "permissions_config.toml").read_text())
        assert sorted(lists["accounts-allowlist"]) == sorted([admin, *active]), node
        assert len(lists["nodes-allowlist"]) == 8, node
    assert "must reload" in log
    # 5-6. The mirror was backed up, restored and rebuilt, and verify found it equal to the chain.
    assert (tmp_path / "backups" / "mirror.dump").stat().st_size > 0
    assert re.search(r"the mirror equals the chain up to block \d+", log), log[-3000:]
