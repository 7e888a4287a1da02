"""The mirror's upkeep commands on SQLite and PostgreSQL: `indexer migrate` brings a new or older schema to
the newest and `--check` tells a deploy pipeline whether it is behind; `indexer backup` writes one consistent
snapshot and `indexer restore` puts it back, after which the indexer continues from the restored checkpoint
and catches up to exactly the chain; a file that is not a mirror backup is refused and the mirror is left as
it was."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from alembic import command

from indexer.db import alembic_config, open_database
from indexer.verify import content_hash
from ledger_api.activity import Scale
from tests.indexer.ledger_chain import deploy_new_ledger

SMALL = Scale(regions=2, warehouses=2, distributors_per_region=2, stores_per_distributor=2, skus=6, carriers=2,
              target_events=1_500, days=8)
NETWORK = "backup-test"
INDEXER = Path(sys.executable).parent / "indexer"


@pytest.fixture(scope="module")
def chain(anvil_rpc, tmp_path_factory):
    ledger = deploy_new_ledger(anvil_rpc, 13, SMALL)
    ledger.play(ledger.activity.rounds())
    deployments = ledger.write_deployment(NETWORK, tmp_path_factory.mktemp("deployments"))
    head = int(anvil_rpc.call("eth_blockNumber"), 16)
    return SimpleNamespace(rpc=anvil_rpc, deployments=deployments, head=head,
                           middle=(ledger.deployed.start_block + head) // 2)


def indexer_cli(chain, database_url: str, *args: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "LEDGER_RPC_URL": chain.rpc.url, "LEDGER_NETWORK": NETWORK,
                   "LEDGER_DEPLOYMENTS_DIR": str(chain.deployments), "LEDGER_DATABASE_URL": database_url}
    return subprocess.run([str(INDEXER), *args], env=environment, capture_output=True, text=True, timeout=120)


def ok(answer: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert answer.returncode == 0, answer.stdout + answer.stderr
    return answer


def mirror_hash(database_url: str) -> str:
    engine = open_database(database_url)
    try:
        return content_hash(engine)
    finally:
        engine.dispose()


def test_a_restored_backup_resumes_from_its_checkpoint_and_catches_up_to_the_chain(chain, database_url, tmp_path):
    backup_file = tmp_path / "mirror.backup"
    ok(indexer_cli(chain, database_url, "backfill", "--to", str(chain.middle)))
    made = ok(indexer_cli(chain, database_url, "backup", str(backup_file)))
    assert f"up to block {chain.middle} " in made.stderr and backup_file.stat().st_size > 0
    ok(indexer_cli(chain, database_url, "backfill"))
    caught_up = mirror_hash(database_url)

    restored = ok(indexer_cli(chain, database_url, "restore", str(backup_file)))
    assert f"{NETWORK} (chain id 31337) up to block {chain.middle} " in restored.stderr
    assert f"continues from block {chain.middle + 1}" in restored.stderr
    status = ok(indexer_cli(chain, database_url, "status"))
    assert f"checkpoint {chain.middle} " in status.stdout

    ok(indexer_cli(chain, database_url, "backfill"))
    assert mirror_hash(database_url) == caught_up
    verified = ok(indexer_cli(chain, database_url, "verify"))
    assert f"the mirror equals the chain up to block {chain.head}" in verified.stderr


def test_restore_refuses_a_file_that_is_not_a_mirror_backup_and_leaves_the_mirror_as_it_was(chain, database_url,
                                                                                             tmp_path):
    ok(indexer_cli(chain, database_url, "backfill", "--to", str(chain.middle)))
    before = mirror_hash(database_url)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a backup\n" * 100)
    other_database = tmp_path / "other.sqlite3"
    with sqlite3.connect(other_database) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    refusals = {notes: "is not a mirror backup", tmp_path / "missing.backup": "does not exist"}
    if database_url.startswith("sqlite"):
        refusals[other_database] = "not a ledger mirror"
        dump = tmp_path / "postgres.backup"
        dump.write_bytes(b"PGDMP" + bytes(200))
        refusals[dump] = "is a PostgreSQL backup"
    else:
        refusals[other_database] = "is a SQLite backup"
    for path, expected in refusals.items():
        answer = indexer_cli(chain, database_url, "restore", str(path))
        assert answer.returncode == 2, (path, answer.stderr)
        assert expected in answer.stderr and "Traceback" not in answer.stderr, (path, answer.stderr)
        assert len(answer.stderr.strip().splitlines()) == 1, answer.stderr
    assert mirror_hash(database_url) == before


def test_migrate_upgrades_an_older_schema_and_check_tells_whether_it_is_behind(chain, database_url):
    engine = open_database(database_url)
    try:
        command.upgrade(alembic_config(engine), "0003")
    finally:
        engine.dispose()
    behind = indexer_cli(chain, database_url, "migrate", "--check")
    assert behind.returncode == 1 and "behind: the mirror's schema is at 0003" in behind.stdout, behind.stdout

    upgraded = ok(indexer_cli(chain, database_url, "migrate"))
    head = upgraded.stdout.split(" to ")[-1].strip()
    assert upgraded.stdout.startswith("migrated the mirror's schema from 0003 to ") and head > "0003"
    assert ok(indexer_cli(chain, database_url, "migrate", "--check")).stdout.strip() == \
        f"current: the mirror's schema is at {head}"
    assert ok(indexer_cli(chain, database_url, "migrate")).stdout.strip() == f"the mirror's schema is already at {head}"


def test_migrate_names_an_unreachable_database_in_one_line(chain):
    answer = indexer_cli(chain, "postgresql+psycopg://nobody:hunter2@127.0.0.1:1/mirror", "migrate", "--check")
    assert answer.returncode == 2
    assert "cannot open the mirror database postgresql+psycopg://nobody:***@127.0.0.1:1/mirror" in answer.stderr
    assert "hunter2" not in answer.stderr and len(answer.stderr.strip().splitlines()) == 1


def test_a_backup_of_a_database_without_a_mirror_says_there_is_nothing_to_back_up(chain, database_url, tmp_path):
    answer = indexer_cli(chain, database_url, "backup", str(tmp_path / "mirror.backup"))
    assert answer.returncode == 2 and "nothing to back up" in answer.stderr, answer.stderr
    assert "Traceback" not in answer.stderr and not (tmp_path / "mirror.backup").exists()
