"""The mirror survives chain reorganisations: on a real anvil, `anvil_reorg` replaces the last 1 to 10 blocks
of a small network's business, and a follower whose reorg window covers the depth rolls back to the common
ancestor and replays, ending equal to a fresh rebuild from the new chain, on SQLite and on PostgreSQL, with
no log or header of the replaced blocks left behind. An order's approval and a shipment's receipt that the
new chain does not have are undone, whether the reorg is found at the head, at the start of a range or
while a range is being read; a reorg below the journal stops with `DeepReorg` and leaves the mirror as it
was. Every test puts the chain back the way it found it (`anvil_rollback`, or a reorg that mines the
original transactions again), so the activity's model of the chain stays true from test to test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from eth_abi import decode
from sqlalchemy import select

from indexer.cli import build_follower
from indexer.follower import Follower
from indexer.rpc import NodeClient
from indexer.schema import (
    blocks, credits, discrepancies, order_approvals, orders, raw_events, shipment_lines, stock_balances,
    stock_in_transit,
)
from indexer.settings import Settings
from indexer.store import DeepReorg
from indexer.verify import compare_mirrors, content_hash
from ledger_api.activity import STAGES, Scale
from ledger_api.rawchain import CALL_GAS, GAS_PRICE, Signer
from tests.indexer.ledger_chain import deploy_new_ledger, running_anvil

SMALL = Scale(regions=1, warehouses=2, distributors_per_region=3, stores_per_distributor=1, skus=6, carriers=1,
              target_events=1_500, days=5)
NETWORK = "reorg-test"
MAX_DEPTH = 10
MIN_ROUNDS = 120


@pytest.fixture(scope="module")
def anvil_rpc():
    """A fresh anvil of this module's own (anvil_reorg refuses a chain loaded from a state dump)."""
    with running_anvil(range(8700, 8710)) as rpc:
        yield rpc


@pytest.fixture(scope="module")
def chain(anvil_rpc, tmp_path_factory):
    """A deployed ledger with a small network's business, ending in MAX_DEPTH blocks that can be mined again.

    Blocks a reorg mines carry their ancestor's timestamp, and `Anchors.anchor` refuses a period that ends
    after its block; so the activity is cut where the last MAX_DEPTH blocks hold no anchor, and any of them
    can be mined again at an earlier time."""
    ledger = deploy_new_ledger(anvil_rpc, 7, SMALL)
    codec, activity, writer, deployed = ledger.codec, ledger.activity, ledger.writer, ledger.deployed
    played: list[bool] = []  # per block mined: does it anchor?
    for number, planned in enumerate(activity.rounds()):
        if planned.calls:
            writer.execute_round(planned.timestamp, planned.calls)
            played.append(any(call.contract == "Anchors" for call in planned.calls))
        if number >= MIN_ROUNDS and not any(played[-MAX_DEPTH:]):
            break
    writer.flush()
    assert not any(played[-MAX_DEPTH:]), "the activity ended before a tail without anchors; raise target_events"
    deployments = ledger.write_deployment(NETWORK, tmp_path_factory.mktemp("deployments"))
    return SimpleNamespace(rpc=anvil_rpc, codec=codec, activity=activity, deployed=deployed,
                           deployments=deployments, network=activity.network)


@dataclass(frozen=True)
class Tail:
    """The chain's last blocks as a test found them: their number and, per block, its raw transactions."""

    head: int
    raws: list[list[str]]  # raws[k]: block head - MAX_DEPTH + 1 + k
    hashes: list[str]


@pytest.fixture
def tail(chain) -> Iterator[Tail]:
    """The chain's last MAX_DEPTH blocks; after the test, the chain is put back to them."""
    head = block_number(chain)
    numbers = range(head - MAX_DEPTH + 1, head + 1)
    found = [chain.rpc.call("eth_getBlockByNumber", hex(n), False) for n in numbers]
    raws = [[chain.rpc.call("eth_getRawTransactionByHash", h) for h in b["transactions"]] for b in found]
    original = Tail(head, raws, [b["hash"] for b in found])
    yield original
    now = block_number(chain)
    if now > original.head:
        chain.rpc.call("anvil_rollback", now - original.head)
    if chain.rpc.call("eth_getBlockByNumber", hex(original.head), False)["hash"] != original.hashes[-1]:
        # Same transactions in the same blocks: the same state, under new hashes.
        reorg(chain, MAX_DEPTH, [[raw, k] for k, block in enumerate(original.raws) for raw in block])


# ---------------------------------------------------------------------------------------------- helpers


def settings_for(chain, database_url: str, **extra) -> Settings:
    return Settings(rpc_url=chain.rpc.url, network=NETWORK, deployments_dir=chain.deployments,
                    database_url=database_url, **extra)


def block_number(chain) -> int:
    return int(chain.rpc.call("eth_blockNumber"), 16)


def reorg(chain, depth: int, pairs: list[list]) -> None:
    """Replaces the last `depth` blocks by as many new ones holding `pairs` ([raw tx, block offset]), and
    checks that every replacement transaction succeeded (a failed one would leave a chain nobody planned)."""
    head = block_number(chain)
    chain.rpc.call("anvil_reorg", depth, pairs)
    assert block_number(chain) == head
    for n in range(head - depth + 1, head + 1):
        for receipt in chain.rpc.call("eth_getBlockReceipts", hex(n)):
            assert int(receipt["status"], 16) == 1, f"replacement tx {receipt['transactionHash']} failed"


def mine(chain, raws: list[str]) -> int:
    """Mines one block holding `raws` (automine is off); returns its number after checking the receipts."""
    for raw in raws:
        chain.rpc.call("eth_sendRawTransaction", raw)
    chain.rpc.call("evm_mine")
    number = block_number(chain)
    receipts = chain.rpc.call("eth_getBlockReceipts", hex(number))
    assert len(receipts) == len(raws) and all(int(r["status"], 16) == 1 for r in receipts), receipts
    return number


def signer_at(chain, block: int, *labels: str) -> Signer:
    """A signer whose nonces are the chain's at `block`: what a replacement of later blocks must use."""
    signer = Signer(chain.network.keys, 31337)
    for label in labels:
        signer.nonces[label] = int(chain.rpc.call("eth_getTransactionCount", signer.addresses[label], hex(block)), 16)
    return signer


def sign_call(chain, signer: Signer, sender: str, contract: str, function: str, args) -> str:
    to = bytes.fromhex(chain.deployed.addresses[contract][2:])
    raw, _ = signer.sign(sender, to, chain.codec.encode_call(contract, function, args), CALL_GAS, GAS_PRICE)
    return raw


def chain_logs(chain, first: int, last: int) -> set[tuple[int, int, str]]:
    found = chain.rpc.call("eth_getLogs", {"fromBlock": hex(first), "toBlock": hex(last),
                                           "address": list(chain.deployed.addresses.values())})
    return {(int(e["blockNumber"], 16), int(e["logIndex"], 16), e["transactionHash"]) for e in found}


def mirrored_logs(follower: Follower) -> set[tuple[int, int, str]]:
    with follower.mirror.engine.connect() as conn:
        return {tuple(r) for r in conn.execute(select(raw_events.c.block_number, raw_events.c.log_index,
                                                      raw_events.c.tx_hash))}


def mirrored_hashes(follower: Follower) -> set[str]:
    with follower.mirror.engine.connect() as conn:
        return set(conn.execute(select(blocks.c.hash)).scalars())


def rows(follower: Follower, table, *conditions) -> list[dict]:
    with follower.mirror.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table).where(*conditions)).mappings()]


def catch_up(follower: Follower) -> list:
    """Steps until the follower has nothing new to read; returns what each step did."""
    steps = []
    for _ in range(100):
        progress = follower.step()
        if progress is None:
            return steps
        steps.append(progress)
    raise AssertionError("the follower never caught up")


def assert_equals_rebuild(chain, follower: Follower, tmp_path) -> None:
    """The mirror equals one rebuilt from scratch from the chain as it is now, and holds its logs exactly."""
    head = block_number(chain)
    assert follower.mirror.checkpoint().block_number == head
    assert follower.mirror.checkpoint().block_hash == chain.rpc.call("eth_getBlockByNumber", hex(head), False)["hash"]
    rebuilt = build_follower(settings_for(chain, f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}"))
    rebuilt.backfill(head)
    assert compare_mirrors(follower.mirror.engine, rebuilt.mirror.engine) == []
    assert content_hash(follower.mirror.engine) == content_hash(rebuilt.mirror.engine)
    assert mirrored_logs(follower) == chain_logs(chain, chain.deployed.start_block, head)


def indexed_follower(chain, database_url: str, reorg_window: int) -> Follower:
    follower = build_follower(settings_for(chain, database_url, reorg_window=reorg_window))
    follower.backfill(block_number(chain))
    assert follower.step() is None  # at the head, nothing new to read
    return follower


def shifted(tail: Tail, depth: int) -> list[list]:
    """A different history for the last `depth` blocks: each block's transactions one block later, the last
    block's dropped (what is kept is a prefix of every sender's nonces, in the original order)."""
    replaced = tail.raws[MAX_DEPTH - depth:]
    return [[raw, k + 1] for k, block in enumerate(replaced[:-1]) for raw in block]


# ---------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("depth", range(1, MAX_DEPTH + 1))
def test_a_reorg_of_the_last_blocks_leaves_the_mirror_equal_to_a_rebuild_of_the_new_chain(
        chain, tail, database_url, tmp_path, depth):
    ancestor = tail.head - depth
    assert all(tail.raws[MAX_DEPTH - depth:]), "every replaced block carries business"
    # A window of exactly the depth: the blocks a reorg of this depth replaces, and no more, are journaled.
    follower = indexed_follower(chain, database_url, reorg_window=depth)
    replaced_logs = chain_logs(chain, ancestor + 1, tail.head)
    assert replaced_logs <= mirrored_logs(follower)

    reorg(chain, depth, shifted(tail, depth))
    recovered = follower.step()
    # The first step only rolls back, to the common ancestor (a block with business, so its header is stored).
    assert recovered is not None and recovered.events == 0
    assert follower.mirror.checkpoint().block_number == ancestor
    catch_up(follower)

    assert_equals_rebuild(chain, follower, tmp_path)
    assert not (replaced_logs - chain_logs(chain, ancestor + 1, tail.head)) & mirrored_logs(follower)
    assert not set(tail.hashes[MAX_DEPTH - depth:]) & mirrored_hashes(follower)


def test_a_reorg_that_drops_an_orders_final_approval_puts_the_order_back_as_it_was(
        chain, tail, database_url, tmp_path):
    network = chain.network
    # An order still waiting for approval whose credit would allow it: approving all its remaining stages
    # reserves credit and makes it approved.
    order = next(o for o in chain.activity.orders.values() if o.state == "submitted"
                 and chain.activity.credit[o.distributor][1] + o.amount <= chain.activity.credit[o.distributor][0])
    stages = [s for s in STAGES if order.required & s and not order.approved & s]
    region = chain.activity.place[order.deliver_to].region
    approver = {1: network.region_manager[region], 2: "brand.sales_director", 4: "brand.finance"}
    follower = indexed_follower(chain, database_url, reorg_window=4)
    before = {
        "order": rows(follower, orders, orders.c.id == order.id),
        "approvals": rows(follower, order_approvals, order_approvals.c.order_id == order.id),
        "credit": rows(follower, credits, credits.c.distributor == order.distributor),
    }
    assert before["order"][0]["state"] == 1 and before["order"][0]["approved_stages"] == order.approved

    signer = signer_at(chain, tail.head, *approver.values())
    approved_in = mine(chain, [sign_call(chain, signer, approver[s], "Orders", "approveOrder", (order.id, s))
                               for s in stages])
    mine(chain, [])
    catch_up(follower)
    assert rows(follower, orders, orders.c.id == order.id)[0]["state"] == 2  # approved
    assert rows(follower, credits, credits.c.distributor == order.distributor)[0]["exposure"] == (
        before["credit"][0]["exposure"] + order.amount)
    assert {r["stage"] for r in rows(follower, order_approvals, order_approvals.c.order_id == order.id)} >= set(stages)

    # The new history: as many blocks, none approving anything.
    reorg(chain, block_number(chain) - approved_in + 1, [])
    catch_up(follower)

    assert rows(follower, orders, orders.c.id == order.id) == before["order"]
    assert rows(follower, order_approvals, order_approvals.c.order_id == order.id) == before["approvals"]
    assert rows(follower, credits, credits.c.distributor == order.distributor) == before["credit"]
    assert_equals_rebuild(chain, follower, tmp_path)


def test_a_reorg_that_replaces_a_full_receipt_with_a_short_one_moves_the_stock_the_new_chain_moved(
        chain, tail, database_url, tmp_path):
    shipment = next(s for s in chain.activity.shipments.values() if not s.received and s.cases[0] > 1)
    receiver = chain.network.sender_at[shipment.dest]
    manifest = (shipment.kind, shipment.ref, shipment.source, shipment.lots, shipment.cases)
    follower = indexed_follower(chain, database_url, reorg_window=4)
    lot = shipment.lots[0]
    held = {t.name: (rows(follower, t, t.c[column] == shipment.dest, t.c.lot == lot) or [{"cases": 0}])[0]["cases"]
            for t, column in ((stock_balances, "location"), (stock_in_transit, "to_location"))}

    signer = signer_at(chain, tail.head, receiver)
    full = sign_call(chain, signer, receiver, "Inventory", "confirmReceipt", (shipment.id, manifest, shipment.cases))
    received_in = mine(chain, [full])
    mine(chain, [])
    catch_up(follower)
    assert [r["received"] for r in rows(follower, shipment_lines, shipment_lines.c.shipment_id == shipment.id)] == (
        shipment.cases)
    assert rows(follower, discrepancies, discrepancies.c.shipment_id == shipment.id) == []

    # The same receiver, the same nonce: one case of the first line did not arrive, one block later.
    short = [shipment.cases[0] - 1, *shipment.cases[1:]]
    signer = signer_at(chain, received_in - 1, receiver)
    reorg(chain, 2, [[sign_call(chain, signer, receiver, "Inventory", "confirmReceipt", (shipment.id, manifest, short)),
                      1]])
    catch_up(follower)

    lines = rows(follower, shipment_lines, shipment_lines.c.shipment_id == shipment.id)
    assert [r["received"] for r in lines] == short
    [opened] = rows(follower, discrepancies, discrepancies.c.shipment_id == shipment.id)
    assert (opened["lot"], opened["shipped"], opened["received"], opened["state"]) == (
        lot, shipment.cases[0], shipment.cases[0] - 1, 1)
    [balance] = rows(follower, stock_balances, stock_balances.c.location == shipment.dest, stock_balances.c.lot == lot)
    [transit] = rows(follower, stock_in_transit, stock_in_transit.c.to_location == shipment.dest,
                     stock_in_transit.c.lot == lot)
    assert balance["cases"] == held["stock_balances"] + shipment.cases[0] - 1
    assert transit["cases"] == held["stock_in_transit"] - shipment.cases[0]
    data = chain.codec.encode_call("Inventory", "balanceOf", (shipment.dest, lot))
    on_chain = chain.rpc.call("eth_call", {"to": chain.deployed.addresses["Inventory"], "data": "0x" + data.hex()},
                              "latest")
    assert decode(["uint256"], bytes.fromhex(on_chain[2:]))[0] == balance["cases"]
    assert_equals_rebuild(chain, follower, tmp_path)


def test_a_reorg_of_the_checkpoint_block_is_found_when_there_is_nothing_new_to_read(chain, tail, tmp_path):
    follower = indexed_follower(chain, f"sqlite:///{tmp_path / 'mirror.sqlite3'}", reorg_window=8)
    assert follower.mirror.checkpoint().block_hash == tail.hashes[-1]

    reorg(chain, 3, shifted(tail, 3))
    # Same height: no new block to read, only the checkpoint's own block has another hash.
    assert block_number(chain) == follower.mirror.checkpoint().block_number
    recovered = follower.step()

    assert recovered is not None and recovered.events == 0
    assert follower.mirror.checkpoint().block_number == tail.head - 3
    assert follower.mirror.checkpoint().block_hash == chain.rpc.call(
        "eth_getBlockByNumber", hex(tail.head - 3), False)["hash"]
    catch_up(follower)
    assert_equals_rebuild(chain, follower, tmp_path)


def test_a_reorg_below_the_checkpoint_is_found_at_the_start_of_the_next_range(chain, tail, tmp_path):
    follower = build_follower(settings_for(chain, f"sqlite:///{tmp_path / 'mirror.sqlite3'}", reorg_window=8))
    follower.backfill(tail.head - 3)

    # The replaced blocks reach below the checkpoint; the chain also grows, so the follower reads a range
    # whose first block's parent is no longer the checkpoint.
    reorg(chain, 6, shifted(tail, 6))
    mine(chain, [])
    catch_up(follower)

    assert_equals_rebuild(chain, follower, tmp_path)


class ReorgingNode(NodeClient):
    """A node client that, once, has the chain reorganised right after answering `eth_getLogs`: the chain
    changing between the follower's calls for logs and for headers, which no timing can arrange reliably."""

    def __init__(self, url: str, then) -> None:
        super().__init__(url)
        self.then = then

    def logs(self, first, last, addresses):
        found = super().logs(first, last, addresses)
        if self.then is not None:
            action, self.then = self.then, None
            action()
        return found


def test_a_reorg_while_a_range_is_being_read_is_read_again(chain, tail, tmp_path):
    follower = build_follower(settings_for(chain, f"sqlite:///{tmp_path / 'mirror.sqlite3'}", reorg_window=8))
    follower.backfill(tail.head - 5)
    follower.node = ReorgingNode(chain.rpc.url, lambda: reorg(chain, 3, shifted(tail, 3)))

    catch_up(follower)

    assert follower.node.then is None  # the reorg did happen in the middle of the range
    assert_equals_rebuild(chain, follower, tmp_path)


def test_a_reorg_that_fills_empty_blocks_while_a_range_is_being_read_is_read_again(chain, tail, tmp_path):
    follower = build_follower(settings_for(chain, f"sqlite:///{tmp_path / 'mirror.sqlite3'}", reorg_window=8))
    follower.backfill(tail.head)
    mine(chain, [])
    mine(chain, [])
    # The two empty blocks become one price change: the old blocks had no logs whose block hash could
    # betray them, so only the headers can tell the follower that the logs it read are stale.
    signer = signer_at(chain, tail.head, "brand.sales_director")
    prices = sign_call(chain, signer, "brand.sales_director", "Catalog", "setPrices", ([(1, 0, 123_400)],))
    follower.node = ReorgingNode(chain.rpc.url, lambda: reorg(chain, 2, [[prices, 0]]))

    catch_up(follower)

    assert follower.node.then is None
    assert_equals_rebuild(chain, follower, tmp_path)


def test_a_reorg_deeper_than_the_journal_stops_with_deep_reorg_and_leaves_the_mirror_untouched(
        chain, tail, database_url):
    # Only the last two blocks are journaled; the reorg replaces six blocks, all of them with events.
    follower = indexed_follower(chain, database_url, reorg_window=2)
    before = content_hash(follower.mirror.engine)
    checkpoint = follower.mirror.checkpoint()

    reorg(chain, 6, shifted(tail, 6))
    with pytest.raises(DeepReorg) as raised:
        catch_up(follower)

    message = str(raised.value)
    assert "below the journaled blocks" in message
    assert "indexer backfill" in message  # names a command that exists
    assert content_hash(follower.mirror.engine) == before
    assert follower.mirror.checkpoint() == checkpoint
    # It stays stopped rather than guessing: every later step says the same.
    with pytest.raises(DeepReorg):
        follower.step()
