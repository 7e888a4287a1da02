"""The board's suggestions are bodies the ledger accepts as they are: on the whole stack (anvil, the ledger, the
indexer process, the API over SQLite), a transfer suggestion's `request` sent to `POST /v1/transfers` by the
brand's sales director becomes a requested transfer on chain and in the mirror, after which the board no longer
suggests it; and an order's recommended source sent to `POST /v1/shipments` by that warehouse's dispatcher is
dispatched. The board here reads every region with sales as short and wants ten years of cover, so that the
transfer needed does not depend on how the simulated month happened to end."""

from __future__ import annotations

import pytest

from tests.api.stack import running_stack
from tests.indexer.ledger_chain import running_anvil

SALES_DIRECTOR, DISPATCHER = "brand.sales_director", "brand.dispatcher"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("board-stack")
    with running_anvil(range(8880, 8890)) as rpc:
        with running_stack(rpc, f"sqlite:///{folder / 'mirror.sqlite3'}", folder, board_shortage_days=100_000,
                           board_target_cover_days=3_650) as stack:
            yield stack


def test_an_executed_transfer_suggestion_is_a_transfer_on_chain_and_is_not_suggested_again(stack):
    network, sku = stack.network, stack.network.products[0]
    region, home = sorted(network.home_warehouse.items())[0]
    source = next(w for w in network.warehouse_places if w != home)
    # A large lot at the other warehouse: far more than its own region needs in ten years.
    lot = stack.client.post("/v1/lots", headers=stack.sign_in(DISPATCHER), json={
        "sku": sku.id, "lot_number": "BOARD1", "location": source, "cases": 60_000,
        "bottles": 60_000 * sku.bottles_per_case, "merkle_root": "0x" + "ab" * 32})
    assert lot.status_code == 201, lot.text

    director = stack.sign_in(SALES_DIRECTOR)
    query = {"region": region, "sku": sku.id}
    answer = stack.client.get("/v1/analytics/transfer-suggestions", headers=director, params=query)
    assert answer.status_code == 200, answer.text
    [suggestion] = [s for s in answer.json()["suggestions"] if s["from_location"] == source]
    assert (suggestion["to_location"], suggestion["region"], suggestion["sku"]) == (home, region, sku.id)
    assert sum(line["cases"] for line in suggestion["request"]["lines"]) == suggestion["cases"] > 0

    written = stack.client.post("/v1/transfers", headers=director, json=suggestion["request"])
    assert written.status_code == 201, written.text
    transfer = written.json()["result"]
    assert (transfer["from_location"], transfer["to_location"], transfer["state"], transfer["cases"]) == (
        source, home, "requested", suggestion["cases"])
    assert sorted((line["lot"], line["cases"]) for line in transfer["lines"]) == sorted(
        (line["lot"], line["cases"]) for line in suggestion["request"]["lines"])

    again = stack.client.get("/v1/analytics/transfer-suggestions", headers=director, params=query).json()
    assert again["suggestions"] == []  # the transfer on its way covers the region


def test_an_orders_recommended_source_is_dispatched_as_suggested(stack):
    brand = stack.sign_in(SALES_DIRECTOR)
    approved = stack.client.get("/v1/orders", headers=brand, params={"state": "approved"}).json()["items"]
    assert approved, "the simulated network ends with approved orders waiting for dispatch"
    order = approved[0]["id"]
    sourcing = stack.client.get("/v1/analytics/sourcing", headers=brand, params={"order": order}).json()
    best = next(o for o in sourcing["options"] if o["warehouse"] == sourcing["recommended"])
    assert best["rank"] == 1 and best["dispatch"]["ref"] == order
    dispatcher = stack.sign_in(stack.network.sender_at[best["warehouse"]])
    shipped = stack.client.post("/v1/shipments", headers=dispatcher, json=best["dispatch"])
    assert shipped.status_code == 201, shipped.text
    shipment = shipped.json()["result"]
    assert (shipment["kind"], shipment["ref"], shipment["from_location"], shipment["eta"]) == (
        "order", order, best["warehouse"], best["dispatch"]["eta"])
    assert sum(line["cases"] for line in shipment["lines"]) == best["available_cases"]


def test_the_board_asks_for_sign_in_and_refuses_bad_query_types_by_name(stack):
    assert stack.client.get("/v1/analytics/delay-warnings").status_code == 401
    bad = stack.client.get("/v1/analytics/transfer-suggestions", headers=stack.sign_in(SALES_DIRECTOR),
                           params={"sku": "flagship"})
    assert (bad.status_code, bad.json()["error"]) == (422, "InvalidRequest")
    missing = stack.client.get("/v1/analytics/sourcing", headers=stack.sign_in(SALES_DIRECTOR))
    assert (missing.status_code, missing.json()["error"]) == (422, "InvalidRequest")
    unknown = stack.client.get("/v1/analytics/sourcing", headers=stack.sign_in(SALES_DIRECTOR),
                               params={"order": 999_999})
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "NotFound", "detail": {"what": "order", "id": 999_999}}
