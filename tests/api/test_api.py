"""The Ledger API against a real chain and the real indexer, on SQLite and PostgreSQL: members sign in with
Ethereum, write through the API and read their own writes, contract refusals come back by name, a nonce or
token cannot be replayed, an auditor cannot write, a deactivated account loses access at once, concurrent
writes never share a nonce, and no log line or answer carries a token or a key."""

from __future__ import annotations

import logging
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

from eth_account import Account
from eth_account.messages import encode_defunct

from ledger_api.auth import issue_token
from ledger_api.vocabulary import OrgKind, Role


def labels(stack, kind: OrgKind, role: Role | None = None) -> list[str]:
    orgs = {o.id: o for o in stack.network.organisations}
    return [m.label for m in stack.network.members.values()
            if orgs.get(m.org) is not None and orgs[m.org].kind == kind and (role is None or m.roles & role)]


def distributor_place(stack, label: str) -> int:
    member = stack.network.members[label]
    return next(p.id for p in stack.network.places if p.org == member.org)


def region_manager_of(stack, label: str) -> str:
    member = stack.network.members[label]
    region = next(o.parent for o in stack.network.organisations if o.id == member.org)
    return stack.network.region_manager[region]


def small_order(stack, label: str, cases: int = 2, urgent: bool = False) -> dict:
    sku = stack.network.products[0].id
    return {"deliver_to": distributor_place(stack, label), "urgent": urgent, "lines": [{"sku": sku, "cases": cases}]}


# ----------------------------------------------------------------------------------------------- sign-in


def test_a_member_signs_in_with_ethereum_and_sees_its_account(stack):
    label = labels(stack, OrgKind.distributor)[0]
    me = stack.client.get("/v1/auth/me", headers=stack.sign_in(label))
    assert me.status_code == 200
    member = stack.network.members[label]
    assert me.json()["address"] == member.address
    assert me.json()["org"] == member.org
    assert set(me.json()["roles"]) == {"purchaser", "dispatcher", "receiver"}


def signed(stack, label: str) -> tuple[str, str]:
    member = stack.network.members[label]
    message = stack.client.post("/v1/auth/nonce", json={"address": member.address}).json()["message"]
    return message, "0x" + Account.sign_message(encode_defunct(text=message), member.key).signature.hex()


def test_a_sign_in_nonce_works_once(stack):
    message, signature = signed(stack, labels(stack, OrgKind.store)[0])
    first = stack.client.post("/v1/auth/token", json={"message": message, "signature": signature})
    again = stack.client.post("/v1/auth/token", json={"message": message, "signature": signature})
    assert first.status_code == 200
    assert again.status_code == 401
    assert again.json() == {"error": "SignInRefused", "detail": {
        "reason": "nonce_invalid", "problem": "the nonce is unknown, expired or already used"}}


def test_a_message_signed_by_another_key_is_refused(stack):
    message, _ = signed(stack, labels(stack, OrgKind.store)[0])
    forged = "0x" + Account.sign_message(encode_defunct(text=message), Account.create().key).signature.hex()
    answer = stack.client.post("/v1/auth/token", json={"message": message, "signature": forged})
    assert answer.status_code == 401
    assert answer.json()["detail"]["reason"] == "address_mismatch"


def test_an_address_that_is_no_member_gets_no_token(stack):
    stranger = Account.create()
    message = stack.client.post("/v1/auth/nonce", json={"address": stranger.address}).json()["message"]
    signature = "0x" + Account.sign_message(encode_defunct(text=message), stranger.key).signature.hex()
    answer = stack.client.post("/v1/auth/token", json={"message": message, "signature": signature})
    assert answer.status_code == 403
    assert answer.json()["error"] == "NotAMember"


def test_an_expired_or_forged_token_is_refused(stack):
    member = stack.network.members[labels(stack, OrgKind.distributor)[0]]
    secret = stack.settings.token_secret.get_secret_value()
    expired = issue_token(member.address, secret, 60, int(time.time()) - 3_600)
    forged = issue_token(member.address, "not-the-secret", 60, int(time.time()))
    for token, error in ((expired, "TokenExpired"), (forged, "InvalidToken"), ("garbage", "InvalidToken")):
        answer = stack.client.get("/v1/orders", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, token
        assert answer.json()["error"] == error
    assert stack.client.get("/v1/orders").json()["error"] == "SignInRequired"


# ------------------------------------------------------------------------------------------------ writes


def test_an_order_goes_through_its_approvals_and_each_answer_is_the_mirrored_order(stack):
    purchaser = labels(stack, OrgKind.distributor)[0]
    submitted = stack.client.post("/v1/orders", json=small_order(stack, purchaser, urgent=True),
                                  headers=stack.sign_in(purchaser))
    assert submitted.status_code == 201, submitted.text
    order = submitted.json()["result"]
    assert order["state"] == "submitted"
    assert order["pending_stages"] == ["region_manager"]
    # Read-your-writes: the order is in the mirror when the answer arrives.
    seen = stack.client.get(f"/v1/orders/{order['id']}", headers=stack.sign_in(purchaser))
    assert seen.status_code == 200 and seen.json()["state"] == "submitted"

    manager = region_manager_of(stack, purchaser)
    approved = stack.client.post(f"/v1/orders/{order['id']}/approve", json={}, headers=stack.sign_in(manager))
    assert approved.status_code == 200, approved.text
    assert approved.json()["result"]["state"] == "approved"
    assert approved.json()["result"]["approvals"][0]["approver"] == stack.network.members[manager].address


def test_a_contract_refusal_comes_back_by_name_with_its_arguments(stack):
    purchaser = labels(stack, OrgKind.distributor)[0]
    order = stack.client.post("/v1/orders", json=small_order(stack, purchaser), headers=stack.sign_in(purchaser))
    order_id = order.json()["result"]["id"]
    manager = region_manager_of(stack, purchaser)
    assert stack.client.post(f"/v1/orders/{order_id}/approve", json={"stage": "region_manager"},
                             headers=stack.sign_in(manager)).status_code == 200
    again = stack.client.post(f"/v1/orders/{order_id}/approve", json={"stage": "region_manager"},
                              headers=stack.sign_in(manager))
    assert again.status_code == 409
    assert again.json()["error"] == "InvalidState"
    assert again.json()["detail"] == {"orderId": order_id, "state": 2}


def test_dispatching_more_than_the_stock_is_refused_with_the_stock_figures(stack):
    purchaser = labels(stack, OrgKind.distributor)[0]
    source = distributor_place(stack, purchaser)
    store = stack.network.stores_of_distributor[source][0]
    stock = stack.client.get("/v1/stock", params={"location": source}, headers=stack.sign_in(purchaser)).json()
    line = next(row for row in stock["items"] if row["on_hand"] > 0)
    carrier = stack.network.carrier_orgs[0]
    answer = stack.client.post("/v1/shipments", headers=stack.sign_in(purchaser), json={
        "kind": "delivery", "from_location": source, "to_location": store, "carrier": carrier,
        "eta": stack.chain_time() + 86_400, "lines": [{"lot": line["lot"], "cases": line["on_hand"] + 1}]})
    assert answer.status_code == 409, answer.text
    assert answer.json() == {"error": "InsufficientStock", "detail": {
        "location": source, "lot": line["lot"], "available": line["on_hand"], "requested": line["on_hand"] + 1}}


def test_a_delivery_is_dispatched_tracked_and_received_short_with_a_discrepancy(stack):
    purchaser = labels(stack, OrgKind.distributor)[0]
    source = distributor_place(stack, purchaser)
    store = stack.network.stores_of_distributor[source][0]
    store_staff = stack.network.sender_at[store]
    stock = stack.client.get("/v1/stock", params={"location": source}, headers=stack.sign_in(purchaser)).json()
    line = next(row for row in stock["items"] if row["on_hand"] >= 2)
    carrier = stack.network.carrier_orgs[0]
    sent = stack.client.post("/v1/shipments", headers=stack.sign_in(purchaser), json={
        "kind": "delivery", "from_location": source, "to_location": store, "carrier": carrier,
        "eta": stack.chain_time() + 86_400, "lines": [{"lot": line["lot"], "cases": 2}]})
    assert sent.status_code == 201, sent.text
    shipment = sent.json()["result"]
    assert shipment["state"] == "in_transit" and shipment["to_location"] == store

    courier = stack.network.carrier_sender[carrier]
    checkpoint = stack.client.post(f"/v1/shipments/{shipment['id']}/checkpoints", headers=stack.sign_in(courier),
                                   json={"status": 2, "place": "Hangzhou hub"})
    assert checkpoint.status_code == 201, checkpoint.text
    assert checkpoint.json()["result"]["checkpoints"][-1]["place"] == "Hangzhou hub"

    received = stack.client.post(f"/v1/shipments/{shipment['id']}/receipt", headers=stack.sign_in(store_staff),
                                 json={"lines": [{"lot": line["lot"], "received": 1}]})
    assert received.status_code == 200, received.text
    result = received.json()["result"]
    assert result["state"] == "received"
    assert result["lines"][0]["received"] == 1
    assert [(d["shipped"], d["received"]) for d in result["discrepancies"]] == [(2, 1)]


def test_an_auditor_reads_everything_and_writes_nothing(stack):
    auditor = labels(stack, OrgKind.auditor)[0]
    headers = stack.sign_in(auditor)
    assert stack.client.get("/v1/orders", headers=headers).json()["total"] > 0
    answer = stack.client.post("/v1/orders", json=small_order(stack, labels(stack, OrgKind.distributor)[0]),
                               headers=headers)
    assert answer.status_code == 403
    assert answer.json()["error"] == "ReadOnly"


def test_a_member_acting_on_another_organisations_order_gets_not_found(stack):
    first, second = labels(stack, OrgKind.distributor)[:2]
    order = stack.client.post("/v1/orders", json=small_order(stack, first), headers=stack.sign_in(first))
    order_id = order.json()["result"]["id"]
    for method, path in (("get", f"/v1/orders/{order_id}"), ("post", f"/v1/orders/{order_id}/cancel")):
        answer = stack.client.request(method, path, json={} if method == "post" else None,
                                      headers=stack.sign_in(second))
        assert answer.status_code == 404
        assert answer.json() == {"error": "NotFound", "detail": {"what": "order", "id": order_id}}


def test_concurrent_writes_from_one_account_never_share_a_nonce(stack):
    purchaser = labels(stack, OrgKind.distributor)[1]
    headers = stack.sign_in(purchaser)
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda _: stack.client.post("/v1/orders", json=small_order(stack, purchaser, 1),
                                                            headers=headers), range(24)))
    assert [a.status_code for a in answers] == [201] * 24, [a.text for a in answers if a.status_code != 201]
    hashes = {a.json()["tx_hash"] for a in answers}
    transactions = [stack.rpc.call("eth_getTransactionByHash", h) for h in hashes]
    nonces = sorted(int(tx["nonce"], 16) for tx in transactions)
    assert len(hashes) == 24
    assert nonces == list(range(nonces[0], nonces[0] + 24))
    assert len({a.json()["result"]["id"] for a in answers}) == 24


def test_a_deactivated_account_loses_access_at_once(stack):
    store_staff = labels(stack, OrgKind.store)[-1]
    headers = stack.sign_in(store_staff)
    assert stack.client.get("/v1/auth/me", headers=headers).status_code == 200
    member = stack.network.members[store_staff]
    answer = stack.client.post(f"/v1/accounts/{member.address}/deactivate", headers=stack.sign_in("brand.admin"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["active"] is False
    refused = stack.client.get("/v1/auth/me", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["error"] == "AccountInactive"


def test_a_client_signed_transaction_is_relayed_and_one_signed_by_someone_else_is_refused(stack):
    purchaser = labels(stack, OrgKind.distributor)[2]
    member = stack.network.members[purchaser]
    codec, addresses = stack.ledger.codec, stack.ledger.deployed.addresses
    data = codec.encode_call("Orders", "submitOrder", [distributor_place(stack, purchaser), False,
                                                       [stack.network.products[0].id], [1]])
    nonce = int(stack.rpc.call("eth_getTransactionCount", member.address, "pending"), 16)
    tx = {"to": addresses["Orders"], "data": "0x" + data.hex(), "gas": 600_000, "gasPrice": 10**9, "nonce": nonce,
          "chainId": 31337, "value": 0}
    raw = "0x" + Account.sign_transaction(tx, member.key).raw_transaction.hex()
    answer = stack.client.post("/v1/transactions/raw", json={"raw": raw}, headers=stack.sign_in(purchaser))
    assert answer.status_code == 201, answer.text
    assert {"contract": "Orders", "event": "OrderSubmitted"} in answer.json()["result"]["events"]

    other = labels(stack, OrgKind.distributor)[3]
    refused = stack.client.post("/v1/transactions/raw", json={"raw": raw}, headers=stack.sign_in(other))
    assert refused.status_code == 422
    assert refused.json()["error"] == "InvalidTransaction"


def test_a_write_the_mirror_has_not_reached_in_time_answers_202_and_is_followed_up(stack):
    purchaser = labels(stack, OrgKind.distributor)[0]
    headers = stack.sign_in(purchaser)
    os.kill(stack.indexer.pid, signal.SIGSTOP)
    try:
        stack.client.app.state.services.settings.write_timeout = 0.5
        answer = stack.client.post("/v1/orders", json=small_order(stack, purchaser), headers=headers)
    finally:
        stack.client.app.state.services.settings.write_timeout = 10.0
        os.kill(stack.indexer.pid, signal.SIGCONT)
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "mined"
    tx_hash = answer.json()["tx_hash"]
    deadline = time.monotonic() + 10
    while (status := stack.client.get(f"/v1/transactions/{tx_hash}", headers=headers).json())["status"] != "mirrored":
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    assert {"contract": "Orders", "event": "OrderSubmitted"} in status["events"]
    other = stack.sign_in(labels(stack, OrgKind.distributor)[1])
    assert stack.client.get(f"/v1/transactions/{tx_hash}", headers=other).status_code == 404


# ----------------------------------------------------------------------------------------------- service


def test_health_readiness_and_metrics_answer(stack):
    assert stack.client.get("/health").json()["status"] == "ok"
    ready = stack.client.get("/ready")
    assert ready.status_code == 200 and ready.json()["lag_blocks"] <= stack.settings.ready_max_lag
    metrics = stack.client.get("/metrics").text
    assert "ledger_api_requests_total" in metrics and "ledger_api_mirror_block" in metrics


def test_no_log_line_or_answer_carries_a_token_or_a_key(stack, caplog):
    label = labels(stack, OrgKind.distributor)[0]
    stack.tokens.pop(label, None)
    with caplog.at_level(logging.DEBUG, logger="ledger_api"):
        headers = stack.sign_in(label)
        answer = stack.client.post("/v1/orders", json=small_order(stack, label), headers=headers)
    token = headers["Authorization"].split()[1]
    key = stack.network.members[label].key.hex()
    logged = "\n".join(r.getMessage() + str(getattr(r, "fields", "")) for r in caplog.records)
    assert token not in logged and key not in logged
    # What is logged instead: one structured line per request, naming the route template and the account.
    lines = [r.fields for r in caplog.records if r.name == "ledger_api.requests"]
    assert {"method": "POST", "route": "/v1/orders", "status": 201,
            "account": stack.network.members[label].address}.items() <= lines[-1].items()
    assert key not in answer.text and stack.settings.keystore_password.get_secret_value() not in answer.text


def test_a_transaction_sent_past_the_api_does_not_stall_the_accounts_next_write(stack):
    purchaser = labels(stack, OrgKind.distributor)[1]
    headers = stack.sign_in(purchaser)
    assert stack.client.post("/v1/orders", json=small_order(stack, purchaser), headers=headers).status_code == 201
    # The same key sends on its own (another tool of the same organisation): the API's count is now stale.
    member = stack.network.members[purchaser]
    nonce = int(stack.rpc.call("eth_getTransactionCount", member.address, "pending"), 16)
    data = stack.ledger.codec.encode_call("Orders", "submitOrder", [distributor_place(stack, purchaser), False,
                                                                    [stack.network.products[0].id], [1]])
    tx = {"to": stack.ledger.deployed.addresses["Orders"], "data": "0x" + data.hex(), "gas": 600_000,
          "gasPrice": 10**9, "nonce": nonce, "chainId": 31337, "value": 0}
    stack.rpc.call("eth_sendRawTransaction", "0x" + Account.sign_transaction(tx, member.key).raw_transaction.hex())
    answer = stack.client.post("/v1/orders", json=small_order(stack, purchaser), headers=headers)
    assert answer.status_code == 201, answer.text
    sent = stack.rpc.call("eth_getTransactionByHash", answer.json()["tx_hash"])
    assert int(sent["nonce"], 16) == nonce + 1


def test_an_expired_sign_in_nonce_is_refused_even_with_a_valid_signature(stack):
    from sqlalchemy import update

    from indexer.db import open_database
    from indexer.schema import sign_in_nonces

    label = labels(stack, OrgKind.store)[0]
    message, signature = signed(stack, label)
    nonce = message.split("Nonce: ")[1].split("\n")[0]
    engine = open_database(stack.settings.database_url)
    with engine.begin() as conn:
        conn.execute(update(sign_in_nonces).where(sign_in_nonces.c.nonce == nonce).values(expires_at=0))
    engine.dispose()
    answer = stack.client.post("/v1/auth/token", json={"message": message, "signature": signature})
    assert answer.status_code == 401
    assert answer.json()["detail"]["reason"] == "nonce_invalid"


def test_the_brand_admin_onboards_an_organisation_with_a_location_and_an_account(stack):
    admin = stack.sign_in("brand.admin")
    region = next(o.id for o in stack.network.organisations if o.kind == OrgKind.region)
    org = stack.client.post("/v1/organisations", headers=admin, json={
        "kind": "distributor", "parent": region, "price_tier": 1, "name": "Suzhou Gusu Liquor Trading Co.",
        "code": "D-SUZHOU"})
    assert org.status_code == 201, org.text
    org_id = org.json()["result"]["id"]
    place = stack.client.post("/v1/locations", headers=admin,
                              json={"org": org_id, "name": "Suzhou Wuzhong depot", "gln": "6937702000028"})
    assert place.status_code == 201, place.text
    assert place.json()["result"]["region"] == region
    newcomer = Account.create()
    account = stack.client.post("/v1/accounts", headers=admin, json={
        "address": newcomer.address, "org": org_id, "roles": ["purchaser"], "name": "Suzhou purchasing desk"})
    assert account.status_code == 200, account.text
    assert account.json()["result"]["roles"] == ["purchaser"]
    # A distributor may not hold a brand role: the contract's refusal, by name.
    refused = stack.client.post("/v1/accounts", headers=admin, json={
        "address": newcomer.address, "org": org_id, "roles": ["finance"], "name": "Suzhou purchasing desk"})
    assert refused.status_code == 422
    assert refused.json()["error"] == "RolesNotAllowed"
