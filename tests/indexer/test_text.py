"""Strings a member puts on chain are mirrored whatever they hold: a NUL, which PostgreSQL's text cannot store
and which would otherwise stop a PostgreSQL mirror at that block for good, is mirrored as U+FFFD on every
engine, so SQLite and PostgreSQL mirrors of one chain stay equal."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from indexer.cli import build_follower
from indexer.schema import accounts
from indexer.settings import Settings
from ledger_api.activity import Call, Scale
from tests.indexer.ledger_chain import deploy_new_ledger

TINY = Scale(regions=1, warehouses=1, distributors_per_region=1, stores_per_distributor=1, skus=5, carriers=1,
             target_events=300, days=2)


@pytest.fixture(scope="module")
def chain(anvil_rpc, tmp_path_factory):
    """A tiny ledger whose one account is renamed with a NUL in its name."""
    ledger = deploy_new_ledger(anvil_rpc, 31, TINY)
    ledger.play(ledger.activity.rounds())
    network = ledger.activity.network
    member = next(m for m in network.members.values() if m.org != 1)
    ledger.writer.execute_round(None, [Call(network.admin, "Membership", "setAccount",
                                            (member.address, member.org, member.roles, "night\x00desk"),
                                            ("AccountSet",))])
    ledger.writer.flush()
    return ledger.write_deployment("text-test", tmp_path_factory.mktemp("deployments")), member


def test_a_nul_in_an_event_string_is_mirrored_as_a_replacement_character(anvil_rpc, chain, database_url):
    folder, member = chain
    follower = build_follower(Settings(rpc_url=anvil_rpc.url, network="text-test", deployments_dir=folder,
                                       database_url=database_url))
    follower.backfill(int(anvil_rpc.call("eth_blockNumber"), 16))
    with follower.mirror.engine.connect() as conn:
        name = conn.execute(select(accounts.c.name).where(accounts.c.address == member.address.lower())).scalar_one()
    assert name == "night\ufffddesk"
    assert follower.checkpoint().undecoded == 0
