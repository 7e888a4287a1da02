"""Writes a member signs itself, on the whole stack (anvil, the indexer process, the API over SQLite): with
`X-Ledger-Signing: client` a write answers the unsigned transaction at the member's next nonce, sends
nothing, and once signed it goes through the relay to the same result as a write the API signs; a refusal
still comes back by name before anything is signed, and reach still hides other members' objects. A store
records a sale of cases through `POST /v1/sales` either way.

The signing mode does not touch the database, so one engine (SQLite) is enough here; the API suites run the
writes themselves on both."""

from __future__ import annotations

import pytest
from eth_account import Account

from ledger_api.vocabulary import OrgKind, Role
from tests.api.stack import running_stack
from tests.api.test_api import distributor_place, labels, small_order
from tests.indexer.ledger_chain import running_anvil

CLIENT = {"X-Ledger-Signing": "client"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("client-signing")
    with running_anvil(range(8730, 8750)) as rpc:
        with running_stack(rpc, f"sqlite:///{folder / 'mirror.sqlite3'}", folder) as stack:
            yield stack


def pending_nonce(stack, address: str) -> int:
    return int(stack.rpc.call("eth_getTransactionCount", address, "pending"), 16)


def sign(stack, label: str, unsigned: dict) -> str:
    tx = {"to": unsigned["to"], "data": unsigned["data"], "gas": unsigned["gas"], "gasPrice": unsigned["gas_price"],
          "nonce": unsigned["nonce"], "chainId": unsigned["chain_id"], "value": unsigned["value"]}
    return "0x" + Account.sign_transaction(tx, stack.network.members[label].key).raw_transaction.hex()


def store_with_stock(stack) -> tuple[str, dict]:
    for label in labels(stack, OrgKind.store, Role.store_staff):
        rows = stack.client.get("/v1/stock", headers=stack.sign_in(label)).json()["items"]
        held = [r for r in rows if r["on_hand"] >= 2]
        if held:
            return label, held[0]
    pytest.fail("no store of the network holds two cases of a lot")


def test_a_write_asked_to_leave_signing_to_the_member_answers_the_unsigned_transaction_and_sends_nothing(stack):
    label = labels(stack, OrgKind.distributor, Role.purchaser)[0]
    member = stack.network.members[label]
    before = pending_nonce(stack, member.address)
    answer = stack.client.post("/v1/orders", json=small_order(stack, label, urgent=True),
                               headers={**stack.sign_in(label), **CLIENT})
    assert answer.status_code == 200, answer.text
    unsigned = answer.json()
    assert set(unsigned) == {"from", "to", "data", "gas", "gas_price", "nonce", "chain_id", "value"}
    assert unsigned["from"] == member.address
    assert unsigned["to"].lower() == stack.ledger.deployed.addresses["Orders"].lower()
    assert unsigned["nonce"] == before and unsigned["chain_id"] == int(stack.rpc.call("eth_chainId"), 16)
    assert unsigned["gas"] > 21_000 and unsigned["value"] == 0
    assert pending_nonce(stack, member.address) == before, "nothing may be sent for an unsigned answer"

    relayed = stack.client.post("/v1/transactions/raw", json={"raw": sign(stack, label, unsigned)},
                                headers=stack.sign_in(label))
    assert relayed.status_code == 201, relayed.text
    assert [e["event"] for e in relayed.json()["result"]["events"]] == ["OrderSubmitted"]
    mine = stack.client.get("/v1/orders", params={"urgent": True}, headers=stack.sign_in(label)).json()["items"]
    assert mine[0]["tx_hash"] == relayed.json()["tx_hash"] and mine[0]["urgent"] is True
    assert mine[0]["deliver_to"] == distributor_place(stack, label)


def test_the_next_unsigned_transaction_takes_the_next_nonce(stack):
    label = labels(stack, OrgKind.distributor, Role.purchaser)[1]
    headers = {**stack.sign_in(label), **CLIENT}
    first = stack.client.post("/v1/orders", json=small_order(stack, label), headers=headers).json()
    again = stack.client.post("/v1/orders", json=small_order(stack, label), headers=headers).json()
    assert again["nonce"] == first["nonce"], "an answer that was never signed takes no nonce"
    relayed = stack.client.post("/v1/transactions/raw", json={"raw": sign(stack, label, first)},
                                headers=stack.sign_in(label))
    assert relayed.status_code == 201, relayed.text
    after = stack.client.post("/v1/orders", json=small_order(stack, label), headers=headers).json()
    assert after["nonce"] == first["nonce"] + 1


def test_a_refusal_comes_back_by_name_before_anything_is_signed(stack):
    label, row = store_with_stock(stack)
    member = stack.network.members[label]
    before = pending_nonce(stack, member.address)
    too_many = {"location": row["location"], "lot": row["lot"], "cases": row["on_hand"] + 1}
    answer = stack.client.post("/v1/sales", json=too_many, headers={**stack.sign_in(label), **CLIENT})
    assert answer.status_code == 409, answer.text
    assert answer.json() == {"error": "InsufficientStock", "detail": {
        "location": row["location"], "lot": row["lot"], "available": row["on_hand"], "requested": row["on_hand"] + 1}}
    assert pending_nonce(stack, member.address) == before


def test_someone_elses_order_is_still_not_found_when_the_member_signs_itself(stack):
    first, second = labels(stack, OrgKind.distributor, Role.purchaser)[:2]
    theirs = stack.client.get("/v1/orders", headers=stack.sign_in(second)).json()["items"][0]["id"]
    answer = stack.client.post(f"/v1/orders/{theirs}/cancel", json={}, headers={**stack.sign_in(first), **CLIENT})
    assert answer.status_code == 404
    assert answer.json() == {"error": "NotFound", "detail": {"what": "order", "id": theirs}}


def test_an_auditor_gets_no_transaction_to_sign(stack):
    answer = stack.client.post("/v1/orders", json=small_order(stack, labels(stack, OrgKind.distributor)[0]),
                               headers={**stack.sign_in("auditor.1"), **CLIENT})
    assert answer.status_code == 403 and answer.json()["error"] == "ReadOnly"


def test_a_store_records_a_sale_and_its_stock_of_the_lot_goes_down(stack):
    label, row = store_with_stock(stack)
    sale = {"location": row["location"], "lot": row["lot"], "cases": 1}
    answer = stack.client.post("/v1/sales", json=sale, headers=stack.sign_in(label))
    assert answer.status_code == 201, answer.text
    assert answer.json()["result"] == {"location": row["location"], "lot": row["lot"], "sold": 1,
                                       "on_hand": row["on_hand"] - 1}


def test_a_distributor_records_no_sale_at_a_store_it_does_not_run(stack):
    """A distributor of the store's region sees the store (it delivers there), so the contract's refusal comes back
    by name; a distributor of another region does not see the store at all."""
    _, row = store_with_stock(stack)
    network = stack.network
    store_region = next(place.region for place in network.places if place.id == row["location"])
    region_of = {organisation.id: organisation.parent for organisation in network.organisations}
    distributors = labels(stack, OrgKind.distributor, Role.purchaser)
    same = next(label for label in distributors if region_of[network.members[label].org] == store_region)
    other = next(label for label in distributors if region_of[network.members[label].org] != store_region)
    sale = {"location": row["location"], "lot": row["lot"], "cases": 1}

    refused = stack.client.post("/v1/sales", json=sale, headers=stack.sign_in(same))
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "MissingRole" and refused.json()["detail"]["anyOf"] == Role.store_staff
    hidden = stack.client.post("/v1/sales", json=sale, headers=stack.sign_in(other))
    assert hidden.status_code == 404 and hidden.json()["detail"]["what"] == "location"


def test_the_openapi_schema_documents_client_signing_on_every_write_and_not_on_the_relay(stack):
    paths = stack.client.get("/openapi.json").json()["paths"]
    writes = {path: ops["post"] for path, ops in paths.items()
              if path.startswith("/v1/") and "post" in ops and ops["post"].get("responses", {}).get("202")}
    assert "/v1/sales" in writes and "/v1/orders/{order_id}/approve" in writes
    for path, op in writes.items():
        if path == "/v1/transactions/raw":
            assert "X-Ledger-Signing" not in [p["name"] for p in op.get("parameters", [])]
            continue
        assert "X-Ledger-Signing" in [p["name"] for p in op.get("parameters", [])], path
        assert "UnsignedTransaction" in str(op["responses"]["200"]), path
