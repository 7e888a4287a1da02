"""Provenance answers and their independent verification against the chain (anvil), by the library call and
by the `ledger-api verify-scan` command; who may see lots, cases and orders; and the scan log's anchors,
which catch an edited scan count."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import select, update

from indexer.contracts import load_deployment
from indexer.db import open_database
from indexer.schema import anchors, orders
from ledger_api import anchoring, codes, registry
from ledger_api.verify import verify_answer
from tests.scan_site import sign_in

API = Path(sys.executable).parent / "ledger-api"


def provenance(site, url: str) -> httpx.Response:
    return httpx.get(f"{site.base_url}/v1/provenance/bottle", params={"url": url}, timeout=30)


def inventory(site) -> str:
    return load_deployment(site.settings.network, site.settings.deployments_dir).address("Inventory")


def test_a_bottles_proof_is_confirmed_by_the_chain_itself(scan_site):
    answer = scan_site.scan(scan_site.fresh("genuine"), headers=scan_site.region_headers["genuine"]).json()
    result = verify_answer(answer, scan_site.settings.rpc_url, inventory(scan_site))
    assert result.genuine_on_chain and all(passed for _what, passed, _detail in result.checks)


def test_a_tampered_proof_is_not_confirmed(scan_site):
    answer = provenance(scan_site, scan_site.fresh("genuine")).json()
    answer["proof"]["siblings"][0] = "0x" + "11" * 32
    assert not verify_answer(answer, scan_site.settings.rpc_url, inventory(scan_site)).genuine_on_chain
    answer = provenance(scan_site, scan_site.fresh("genuine")).json()
    answer["proof"]["case"] += 1  # the right serial claimed for another case
    assert not verify_answer(answer, scan_site.settings.rpc_url, inventory(scan_site)).genuine_on_chain


def test_provenance_reads_without_counting_a_scan(scan_site):
    url = scan_site.fresh("genuine")
    body = provenance(scan_site, url).json()
    assert body["scans"] == 0 and body["journey"][0]["step"] == "commissioned" and "verdict" not in body
    assert scan_site.scan(url, headers=scan_site.region_headers["genuine"]).json()["scan_count"] == 1


def test_the_verify_command_confirms_a_genuine_bottle_and_rejects_a_counterfeit(scan_site):
    env = {**os.environ, "LEDGER_RPC_URL": scan_site.settings.rpc_url, "LEDGER_NETWORK": scan_site.settings.network,
           "LEDGER_DEPLOYMENTS_DIR": str(scan_site.settings.deployments_dir)}
    genuine = subprocess.run([str(API), "verify-scan", scan_site.fresh("genuine")], env=env, capture_output=True,
                             text=True, timeout=60)
    assert genuine.returncode == 0, genuine.stderr
    assert "the chain confirms this bottle" in genuine.stderr
    fake = subprocess.run([str(API), "verify-scan", scan_site.fresh("unknown")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert fake.returncode == 1 and "COUNTERFEIT" in fake.stderr


def test_lot_and_case_provenance_is_for_the_brand_and_auditors(scan_site):
    bottle = scan_site.fresh_bottle("genuine")
    network = scan_site.ledger.activity.network
    auditor = next(label for label in network.members if label.startswith("auditor"))
    headers = sign_in(scan_site.base_url, network.members[auditor].key)
    case = httpx.get(f"{scan_site.base_url}/v1/provenance/lots/{bottle.lot_id}/cases/{bottle.case}", headers=headers)
    assert case.status_code == 200, case.text
    assert bottle.serial in case.json()["serials"] and case.json()["journey"][0]["step"] == "commissioned"
    lot = httpx.get(f"{scan_site.base_url}/v1/provenance/lots/{bottle.lot_id}", headers=headers)
    assert lot.status_code == 200 and lot.json()["shipments"]
    distributor = next(label for label in network.members if label.startswith("distributor."))
    refused = httpx.get(f"{scan_site.base_url}/v1/provenance/lots/{bottle.lot_id}",
                        headers=sign_in(scan_site.base_url, network.members[distributor].key))
    assert refused.status_code == 403
    assert httpx.get(f"{scan_site.base_url}/v1/provenance/lots/{bottle.lot_id}").status_code == 401


def test_an_orders_provenance_is_shown_to_its_distributor_and_not_to_another(scan_site):
    network = scan_site.ledger.activity.network
    engine = open_database(scan_site.settings.database_url)
    with engine.connect() as conn:
        order = conn.execute(select(orders.c.id, orders.c.distributor).where(orders.c.cases_dispatched > 0)
                             .limit(1)).first()
    engine.dispose()
    purchasers = [m for m in network.members.values() if m.label.startswith("distributor")]
    own = next(m for m in purchasers if m.org == order.distributor)
    other = next(m for m in purchasers if m.org != order.distributor)
    mine = httpx.get(f"{scan_site.base_url}/v1/provenance/orders/{order.id}",
                     headers=sign_in(scan_site.base_url, own.key))
    assert mine.status_code == 200 and mine.json()["shipments"], mine.text
    theirs = httpx.get(f"{scan_site.base_url}/v1/provenance/orders/{order.id}",
                       headers=sign_in(scan_site.base_url, other.key))
    assert theirs.status_code == 404


def test_the_scan_log_is_anchored_and_an_edited_scan_no_longer_matches(scan_site):
    for kind in ("genuine", "diverted", "unknown"):
        scan_site.scan(scan_site.fresh(kind), headers=scan_site.region_headers[kind])
    network = scan_site.ledger.activity.network
    refused = httpx.post(f"{scan_site.base_url}/v1/anchors/consumer-scans", json={},
                         headers=sign_in(scan_site.base_url, network.members["brand.dispatcher"].key), timeout=30)
    assert refused.status_code == 403, refused.text
    # The period ends at the chain's clock: let it pass the scans just made.
    scan_site.ledger.rpc.call("evm_increaseTime", 2)
    scan_site.ledger.rpc.call("evm_mine")
    admin = sign_in(scan_site.base_url, network.members["brand.admin"].key)
    answer = httpx.post(f"{scan_site.base_url}/v1/anchors/consumer-scans", json={}, headers=admin, timeout=30)
    assert answer.status_code == 201, answer.text
    anchored = answer.json()["result"]
    mirror = open_database(scan_site.settings.database_url)
    with mirror.connect() as conn:
        row = conn.execute(select(anchors).where(anchors.c.id == anchored["anchor"])).first()
    mirror.dispose()
    brand = open_database(scan_site.brand_url)
    with brand.begin() as conn:
        rows = registry.scans_between(conn, row.period_start, row.period_end)
        assert len(rows) == row.entry_count >= 3
        assert "0x" + anchoring.log_root(anchoring.CONSUMER_SCANS, rows).hex() == row.merkle_root
        conn.execute(update(registry.scans).where(registry.scans.c.id == rows[0].id).values(verdict="genuine",
                                                                                             region="EDITED"))
        edited = registry.scans_between(conn, row.period_start, row.period_end)
        assert "0x" + anchoring.log_root(anchoring.CONSUMER_SCANS, edited).hex() != row.merkle_root
        conn.rollback()
    brand.dispose()
    again = httpx.post(f"{scan_site.base_url}/v1/anchors/consumer-scans", json={}, headers=admin, timeout=30)
    assert again.status_code == 409 and again.json()["error"] == "NothingToAnchor"


def test_a_code_parsed_from_its_url_names_its_lot(scan_site):
    code = codes.parse_digital_link(scan_site.urls["genuine"])
    assert len(code.gtin) == 14 and code.lot and code.serial
