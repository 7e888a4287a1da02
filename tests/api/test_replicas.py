"""The production profile's shape: one indexer writing a PostgreSQL mirror, and two `ledger-api serve` replicas
in production mode on that mirror with the same token secret, as a load balancer would spread members over
them. A sign-in begun on one replica completes on the other, a token from one is good on the other, a write
sent through one is read back through the other, a nonce is spent for both, both are ready, and a replica
pointed at a database the indexer never migrated refuses to start in one line instead of migrating it."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from indexer.db import scratch_postgres_database
from ledger_api.anvil import free_port
from ledger_api.vocabulary import OrgKind
from tests.api.stack import mirrored_ledger
from tests.api.test_api import labels, small_order
from tests.conftest import postgres_admin_url
from tests.indexer.ledger_chain import running_anvil
from tests.scan_site import API, api_environment, serve_api, sign_in, stop_api

TOKEN_SECRET = "replica-test-token-secret-shared-by-every-replica"
DOMAIN = "ledger.test"  # the load balancer's name, which every replica puts in its sign-in messages


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replicas")
    admin = postgres_admin_url()
    with running_anvil(range(9030, 9040)) as rpc, \
            scratch_postgres_database(admin, prefix="ledger_replicas") as mirror_url, \
            scratch_postgres_database(admin, prefix="ledger_replicas_brand") as brand_url, \
            mirrored_ledger(rpc, mirror_url, folder, siwe_domain=DOMAIN,
                            public_url=f"https://{DOMAIN}") as (ledger, settings, _indexer):
        first = free_port(range(9040, 9045))
        second = free_port(range(9045, 9050))
        environments = {port: {**api_environment(settings, f"sqlite:///{folder / 'brand.sqlite3'}", port),
                               "LEDGER_BRAND_DATABASE_URL": brand_url, "LEDGER_ENVIRONMENT": "production",
                               "LEDGER_TOKEN_SECRET": TOKEN_SECRET} for port in (first, second)}
        processes = []
        try:
            for port, env in environments.items():
                processes.append(serve_api(env, f"http://127.0.0.1:{port}", folder / f"api-{port}.log"))
            yield SimpleNamespace(a=f"http://127.0.0.1:{first}", b=f"http://127.0.0.1:{second}",
                                  network=ledger.activity.network, environment=environments[first], admin=admin)
        finally:
            for process in processes:
                stop_api(process)


def member(replicas, kind: OrgKind):
    return replicas.network.members[labels(replicas, kind)[0]]


def signed_nonce(base_url: str, who) -> dict:
    answer = httpx.post(f"{base_url}/v1/auth/nonce", json={"address": who.address}).raise_for_status()
    message = answer.json()["message"]
    return {"message": message, "signature": "0x" + Account.sign_message(encode_defunct(text=message),
                                                                          who.key).signature.hex()}


def test_both_replicas_are_ready_on_the_one_mirror(replicas):
    for base_url in (replicas.a, replicas.b):
        answer = httpx.get(f"{base_url}/ready", timeout=5)
        assert answer.status_code == 200 and answer.json()["status"] == "ready", answer.text


def test_a_sign_in_begun_on_one_replica_completes_on_the_other_and_its_nonce_is_spent_for_both(replicas):
    store = member(replicas, OrgKind.store)
    signed = signed_nonce(replicas.a, store)
    token = httpx.post(f"{replicas.b}/v1/auth/token", json=signed)
    assert token.status_code == 200, token.text
    again = httpx.post(f"{replicas.a}/v1/auth/token", json=signed)
    assert again.status_code == 401
    assert again.json()["detail"]["reason"] == "nonce_invalid"


def test_a_token_from_one_replica_is_good_on_the_other(replicas):
    store = member(replicas, OrgKind.store)
    headers = sign_in(replicas.a, store.key)
    me = httpx.get(f"{replicas.b}/v1/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["address"] == store.address


def test_an_order_sent_through_one_replica_is_read_back_through_the_other(replicas):
    purchaser = labels(replicas, OrgKind.distributor)[0]
    headers = sign_in(replicas.a, replicas.network.members[purchaser].key)
    submitted = httpx.post(f"{replicas.a}/v1/orders", json=small_order(replicas, purchaser), headers=headers,
                           timeout=30)
    assert submitted.status_code == 201, submitted.text
    order = submitted.json()["result"]
    # The answer comes once the mirror holds the order, and the mirror is the one both replicas read.
    seen = httpx.get(f"{replicas.b}/v1/orders/{order['id']}", headers=headers)
    assert seen.status_code == 200, seen.text
    assert seen.json()["state"] == "submitted" and seen.json()["lines"] == order["lines"]


def test_a_replica_refuses_in_one_line_a_database_the_indexer_never_migrated(replicas):
    with scratch_postgres_database(replicas.admin, prefix="ledger_replicas_empty") as empty:
        done = subprocess.run([str(API), "serve"], env={**replicas.environment, "LEDGER_DATABASE_URL": empty},
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "has no ledger schema" in done.stderr and "indexer migrate" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
