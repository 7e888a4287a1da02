"""The API as operators run it, `ledger-api serve` in a process of its own: it refuses to start with the
published development secrets in production or with a wrong keystore password, saying so in one line; and
killed in the middle of concurrent writes, it starts again with the same tokens valid, every write it had
sent mined and mirrored, and the next write taking the next nonce."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from ledger_api.anvil import free_port
from tests.api.stack import mirrored_ledger
from tests.indexer.ledger_chain import running_anvil

API = Path(sys.executable).parent / "ledger-api"


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api-process")
    with running_anvil(range(8750, 8760)) as rpc:
        port = free_port(range(8770, 8780))
        with mirrored_ledger(rpc, f"sqlite:///{folder / 'mirror.sqlite3'}", folder,
                             siwe_domain=f"127.0.0.1:{port}", public_url=f"http://127.0.0.1:{port}") as running:
            yield (*running, rpc, port, folder)


def environment(settings, port: int, **extra: str) -> dict[str, str]:
    return {**os.environ, "LEDGER_RPC_URL": settings.rpc_url, "LEDGER_NETWORK": settings.network,
            "LEDGER_DEPLOYMENTS_DIR": str(settings.deployments_dir), "LEDGER_DATABASE_URL": settings.database_url,
            "LEDGER_KEYSTORE_DIR": str(settings.keystore_dir),
            "LEDGER_KEYSTORE_PASSWORD": settings.keystore_password.get_secret_value(),
            "LEDGER_API_PORT": str(port), "LEDGER_SIWE_DOMAIN": settings.siwe_domain,
            "LEDGER_PUBLIC_URL": settings.public_url, **extra}


def serve(settings, port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen([str(API), "serve"], env=environment(settings, port), stdout=log.open("a"),
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text()[-2000:]
        try:
            if httpx.get(f"{settings.public_url}/ready", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the API did not become ready"
        time.sleep(0.1)


def sign_in(url: str, member) -> dict[str, str]:
    message = httpx.post(f"{url}/v1/auth/nonce", json={"address": member.address}).json()["message"]
    signature = "0x" + Account.sign_message(encode_defunct(text=message), member.key).signature.hex()
    token = httpx.post(f"{url}/v1/auth/token", json={"message": message, "signature": signature}).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def one_line_refusal(settings, port: int, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(API), "serve"], env=environment(settings, port, **extra), capture_output=True,
                          text=True, timeout=60)


def test_production_with_the_development_secrets_refuses_to_start_in_one_line(ledger):
    _, settings, _, _, port, _ = ledger
    done = one_line_refusal(settings, port, LEDGER_ENVIRONMENT="production")
    assert done.returncode == 2
    assert "LEDGER_TOKEN_SECRET" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_wrong_keystore_password_refuses_to_start_in_one_line(ledger):
    _, settings, _, _, port, _ = ledger
    done = one_line_refusal(settings, port, LEDGER_KEYSTORE_PASSWORD="wrong")
    assert done.returncode == 2
    assert "LEDGER_KEYSTORE_PASSWORD" in done.stderr and "Traceback" not in done.stderr


def test_a_killed_api_starts_again_and_its_writes_carry_on(ledger):
    new_ledger, settings, _, rpc, port, folder = ledger
    network = new_ledger.activity.network
    label = next(m for m in network.members if m.startswith("distributor."))
    member = network.members[label]
    place = next(p.id for p in network.places if p.org == member.org)
    order = {"deliver_to": place, "lines": [{"sku": network.products[0].id, "cases": 1}]}
    url = settings.public_url
    log = folder / "api.log"

    api = serve(settings, port, log)
    headers = sign_in(url, member)

    def submit(_):
        try:
            return httpx.post(f"{url}/v1/orders", json=order, headers=headers, timeout=30)
        except httpx.HTTPError as exc:
            return exc

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(submit, i) for i in range(40)]
        time.sleep(0.6)
        api.send_signal(signal.SIGKILL)
        api.wait(10)
        answers = [f.result() for f in futures]
    answered = [a for a in answers if isinstance(a, httpx.Response) and a.status_code == 201]
    assert answered, "no write finished before the kill"
    assert len(answered) < 40, "every write finished before the kill: the test proved nothing"

    api = serve(settings, port, log)
    try:
        # The token outlives the process: it is checked, not remembered.
        after = httpx.post(f"{url}/v1/orders", json=order, headers=headers, timeout=30)
        assert after.status_code == 201, after.text
        sent = rpc.call("eth_getTransactionByHash", after.json()["tx_hash"])
        pending = int(rpc.call("eth_getTransactionCount", member.address, "pending"), 16)
        assert int(sent["nonce"], 16) == pending - 1
        for answer in answered:
            status = httpx.get(f"{url}/v1/transactions/{answer.json()['tx_hash']}", headers=headers).json()
            assert status["status"] == "mirrored", status
        # Nothing was left half-sent: the account has no transaction waiting in the pool.
        assert pending == int(rpc.call("eth_getTransactionCount", member.address, "latest"), 16)
    finally:
        api.terminate()
        api.wait(10)
