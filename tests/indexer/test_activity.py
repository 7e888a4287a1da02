"""The activity generator and the raw chain writer together: a small network's months of business are
mined on a real anvil without one failed transaction, emit exactly the events the generator planned, and
leave the chain's counters and stock where the generator's model says; the plan is a pure function of the
seed; and a call that breaks a contract rule stops the writer with the contract's own error."""

from __future__ import annotations


import pytest
from eth_abi import decode
from eth_account import Account
from eth_utils import to_checksum_address

from indexer.contracts import load_artifacts
from ledger_api.activity import DISTRIBUTOR, STORE, Activity, Call, Scale, gs1_check_digit
from ledger_api.rawchain import LedgerCodec, Signer, TransactionFailed, has_code
from tests.indexer.ledger_chain import deploy_new_ledger

SMALL = Scale(regions=2, warehouses=2, distributors_per_region=2, stores_per_distributor=2, skus=6, carriers=2,
              target_events=3_000, days=12)


@pytest.fixture(scope="module")
def codec():
    return LedgerCodec(load_artifacts())


@pytest.fixture(scope="module")
def filled(anvil_rpc):
    """The small network's activity, deployed and written; the writer is kept for further calls."""
    ledger = deploy_new_ledger(anvil_rpc, 7, SMALL)
    ledger.play(ledger.activity.rounds())
    return ledger


def view(world, contract: str, function: str, args=(), returns=("uint256",)):
    data = world.codec.encode_call(contract, function, args)
    result = world.rpc.call("eth_call", {"to": world.deployed.addresses[contract], "data": "0x" + data.hex()}, "latest")
    return decode(list(returns), bytes.fromhex(result[2:]))


def test_every_planned_call_is_mined_and_emits_exactly_the_planned_events(filled):
    assert has_code(filled.rpc, filled.deployed.addresses.values())
    assert filled.writer.totals.events == filled.activity.planned
    assert filled.writer.totals.event_count >= SMALL.target_events
    assert filled.writer.totals.transactions == filled.activity.calls_planned
    # The activity covers the ledger's whole business, not just its commonest calls.
    for event in ("OrderRejected", "CreditReserved", "OrderDelivered", "DiscrepancyOpened", "DiscrepancyResolved",
                  "TransferApproved", "ShipmentCheckpoint", "PriceAlert", "PaymentRecorded", "Anchored"):
        assert filled.activity.planned[event] > 0, event


def test_the_chain_assigns_the_ids_the_generator_predicted(filled):
    counters = filled.activity.counters
    assert view(filled, "Membership", "organisationCount", returns=("uint32",))[0] == counters["organisations"]
    assert view(filled, "Membership", "locationCount", returns=("uint32",))[0] == counters["locations"]
    assert view(filled, "Catalog", "skuCount", returns=("uint32",))[0] == counters["skus"]
    assert view(filled, "Orders", "orderCount")[0] == counters["orders"]
    assert view(filled, "Inventory", "shipmentCount")[0] == counters["shipments"]
    assert view(filled, "Inventory", "transferCount")[0] == counters["transfers"]
    assert view(filled, "Inventory", "discrepancyCount")[0] == counters["discrepancies"]
    assert view(filled, "Anchors", "anchorCount")[0] == counters["anchors"]


def test_stock_at_distributors_and_stores_is_what_the_model_holds(filled):
    activity = filled.activity
    kinds = {p.id: p.kind for p in activity.network.places}
    held = [(location, lot, cases) for location, lots in activity.stock.items() if kinds[location] in (DISTRIBUTOR, STORE)
            for lot, cases in lots.items()]
    assert held
    calls = [("eth_call", [{"to": filled.deployed.addresses["Inventory"],
                            "data": "0x" + filled.codec.encode_call("Inventory", "balanceOf", (loc, lot)).hex()},
                           "latest"]) for loc, lot, _ in held]
    on_chain = [int(r, 16) for r in filled.rpc.batch(calls)]
    assert on_chain == [cases for _, _, cases in held]


def test_blocks_carry_the_simulated_time(filled):
    latest = filled.rpc.call("eth_getBlockByNumber", "latest", False)
    assert int(latest["timestamp"], 16) >= SMALL.start_time + 5 * 86_400
    assert filled.writer.totals.blocks > 24  # many rounds, not one block per call


def test_a_call_that_breaks_a_rule_raises_with_the_contracts_error(filled):
    missing_order = filled.activity.counters["orders"] + 1
    bad = Call("brand.sales_director", "Orders", "approveOrder", (missing_order, 2), ("OrderApproved",))
    with pytest.raises(TransactionFailed, match=rf"Orders.approveOrder.*UnknownOrder\({missing_order}\)"):
        filled.writer.execute_round(None, [bad])
        filled.writer.flush()


def test_the_same_seed_plans_the_same_calls_and_another_seed_does_not():
    def plan(seed):
        return [(r.timestamp, r.calls) for r in Activity(seed, SMALL).rounds()]

    first = plan(3)
    assert first == plan(3)
    assert first != plan(4)


def test_skus_carry_china_gtins_with_valid_check_digits():
    for product in Activity(1, SMALL).network.products:
        digits = f"{product.gtin:014d}"
        assert digits[1:3] == "69"
        assert int(digits[-1]) == gs1_check_digit(digits[:-1])


def test_the_local_signer_builds_the_bytes_eth_account_builds():
    key = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
    signer = Signer({"buyer": key}, 31337)
    signer.nonces["buyer"] = 5
    to = bytes.fromhex("5FbDB2315678afecb367f032d93F642f64180aa3")
    raw, tx_hash = signer.sign("buyer", to, b"\x12\x34", 300_000, 1_000_000_007)
    expected = Account.sign_transaction(
        {"nonce": 5, "gasPrice": 1_000_000_007, "gas": 300_000, "to": to_checksum_address(to), "value": 0,
         "data": b"\x12\x34", "chainId": 31337}, key)
    assert raw == "0x" + expected.raw_transaction.hex()
    assert tx_hash == "0x" + expected.hash.hex()
    assert signer.nonces["buyer"] == 6
