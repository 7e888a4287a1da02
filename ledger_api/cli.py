"""`ledger-api`: the command line of the Ledger API.

    ledger-api serve                    serve the API (LEDGER_API_HOST / LEDGER_API_PORT)
    ledger-api keystore new             create a fresh key in the keystore folder; prints its address
    ledger-api keystore import FILE     encrypt the private key in FILE (hex) into the keystore folder
    ledger-api keystore dev-accounts N  development only: keystores for the local chain's first N accounts
    ledger-api keystore list            the addresses this API can sign for
    ledger-api accounts                 the accounts this API holds keys for, as the mirror knows them
    ledger-api token ADDRESS            sign in to a running API with a held key; prints a bearer token
    ledger-api verify-scan URL          check a bottle's proof against the chain, trusting no server
    ledger-api anchor ADDRESS           anchor the scan log and opened marks since the last anchor (daily job)

Settings come from `LEDGER_*` environment variables (see ledger_api/settings.py). A setting that cannot work
(a published development secret in production, a missing deployment, a node that does not answer) ends the
command with one line saying what to change.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer
import uvicorn
from eth_account import Account
from pydantic import ValidationError
from rich.console import Console

from indexer.contracts import DeploymentError
from ledger_api.app import configure_logging, create_app
from ledger_api.chain import Keyring, write_keystore
from ledger_api.settings import Settings

# anvil's (and hardhat's) published development mnemonic: its accounts hold no value anywhere else.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_KDF_ITERATIONS = 2_048  # development keys only: opens in milliseconds instead of about a second

app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0], pretty_exceptions_enable=False)
keystore = typer.Typer(help="the encrypted keys this API signs with")
app.add_typer(keystore, name="keystore")
console = Console(stderr=True, soft_wrap=True)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        console.print(f"[red]ledger-api:[/] {problems}")
        raise typer.Exit(2) from None


@app.command()
def serve() -> None:
    """Serve the API until interrupted."""
    settings = load_settings()
    keyring = preflight(settings)
    configure_logging()
    try:
        uvicorn.run(create_app(settings, keyring), host=settings.api_host, port=settings.api_port, log_config=None,
                    access_log=False, lifespan="on")
    except (DeploymentError, RuntimeError) as exc:
        console.print(f"[red]ledger-api:[/] {exc}")
        raise typer.Exit(1) from None


def preflight(settings: Settings) -> Keyring:
    """What would otherwise fail inside the server's startup, checked first so it ends in one line; returns
    the keyring, opened once, for the server to use."""
    from indexer.contracts import load_deployment
    from ledger_api.chain import KeystoreError
    from ledger_api.rawchain import Rpc

    try:
        load_deployment(settings.network, settings.deployments_dir)
        keyring = Keyring(settings.keystore_dir, settings.keystore_password.get_secret_value())
        keyring.check()
    except (DeploymentError, KeystoreError) as exc:
        console.print(f"[red]ledger-api:[/] {exc}")
        raise typer.Exit(2) from None
    if not Rpc(settings.rpc_url, timeout=5).is_up():
        console.print(f"[red]ledger-api:[/] the node at {settings.rpc_url} does not answer (LEDGER_RPC_URL)")
        raise typer.Exit(2)
    _require_current_schema(settings.database_url)
    return keyring


def _require_current_schema(database_url: str) -> None:
    """Replicas never migrate the mirror: the indexer does, once, before they start (`indexer migrate`)."""
    from sqlalchemy.exc import ArgumentError, OperationalError

    from indexer.cli import make_url_safe
    from indexer.db import SchemaNotCurrent, open_database, require_current_schema

    try:
        engine = open_database(database_url, pool_size=1)
        try:
            require_current_schema(engine)
        finally:
            engine.dispose()
    except SchemaNotCurrent as exc:
        console.print(f"[red]ledger-api:[/] {exc}")
        raise typer.Exit(2) from None
    except (ArgumentError, OperationalError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        console.print(f"[red]ledger-api:[/] cannot open the mirror database {make_url_safe(database_url)} "
                      f"(LEDGER_DATABASE_URL): {reason}")
        raise typer.Exit(2) from None


@keystore.command("new")
def new_key() -> None:
    """Creates a fresh private key, encrypted into the keystore folder with LEDGER_KEYSTORE_PASSWORD, and prints
    its address (a new member account, or the new key of a rotation)."""
    settings = load_settings()
    account = Account.create()
    path = write_keystore(settings.keystore_dir, bytes(account.key), settings.keystore_password.get_secret_value())
    console.print(f"wrote {path}")
    print(account.address)


@keystore.command("import")
def import_key(key_file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                               help="a file holding one private key as hex")) -> None:
    """Encrypts a private key into the keystore folder with LEDGER_KEYSTORE_PASSWORD."""
    settings = load_settings()
    text = key_file.read_text().strip().removeprefix("0x")
    try:
        key = bytes.fromhex(text)
        if len(key) != 32:
            raise ValueError
    except ValueError:
        console.print(f"[red]ledger-api:[/] {key_file} does not hold a 32-byte hex private key")
        raise typer.Exit(2) from None
    path = write_keystore(settings.keystore_dir, key, settings.keystore_password.get_secret_value())
    console.print(f"wrote {path}")


@keystore.command("dev-accounts")
def dev_accounts(count: int = typer.Argument(20, min=1, max=100)) -> None:
    """Development only: keystores for the local chain's first COUNT accounts (the published mnemonic)."""
    settings = load_settings()
    if settings.environment != "development":
        console.print("[red]ledger-api:[/] dev-accounts writes published keys; it runs only in development")
        raise typer.Exit(2)
    Account.enable_unaudited_hdwallet_features()
    held = set(Keyring(settings.keystore_dir, "").addresses)
    written = 0
    for index in range(count):
        account = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
        if account.address in held:
            continue
        write_keystore(settings.keystore_dir, bytes(account.key), settings.keystore_password.get_secret_value(),
                       iterations=DEV_KDF_ITERATIONS)
        written += 1
    console.print(f"{written} new development keystores in {settings.keystore_dir} ({count - written} were there)")


@keystore.command("list")
def list_keys() -> None:
    """The addresses this API can sign for."""
    for address in Keyring(load_settings().keystore_dir, "").addresses:
        print(address)


@app.command()
def accounts() -> None:
    """The accounts this API holds keys for, with their organisation and roles from the mirror."""
    from rich.table import Table

    from indexer.db import open_database
    from ledger_api import reads
    from ledger_api.vocabulary import role_names

    settings = load_settings()
    engine = open_database(settings.database_url)
    table = Table("address", "name", "organisation", "kind", "roles")
    with engine.connect() as conn:
        for address in Keyring(settings.keystore_dir, "").addresses:
            caller = reads.load_caller(conn, address)
            if caller is not None:
                table.add_row(address, caller.name, caller.org_name, caller.org_kind.name,
                              ", ".join(role_names(caller.roles)))
    engine.dispose()
    Console().print(table)


@app.command()
def token(address: str = typer.Argument(..., help="an account whose key this API holds")) -> None:
    """Signs in to the running API (LEDGER_PUBLIC_URL) with a held key, as a browser wallet would, and prints
    the access token: `curl -H "Authorization: Bearer $(ledger-api token 0x...)" .../v1/orders`."""
    print(_token(load_settings(), address))


def _token(settings: Settings, address: str) -> str:
    import httpx
    from eth_account.messages import encode_defunct
    from eth_utils import is_hex_address, to_checksum_address

    if not is_hex_address(address):
        console.print(f"[red]ledger-api:[/] {address} is not an address")
        raise typer.Exit(2)
    keyring = Keyring(settings.keystore_dir, settings.keystore_password.get_secret_value())
    address = to_checksum_address(address)
    if not keyring.holds(address):
        console.print(f"[red]ledger-api:[/] no keystore for {address} in {settings.keystore_dir}")
        raise typer.Exit(2)
    try:
        with httpx.Client(base_url=settings.public_url, timeout=10) as client:
            message = client.post("/v1/auth/nonce", json={"address": address}).raise_for_status().json()["message"]
            signature = Account.sign_message(encode_defunct(text=message), keyring.key(address)).signature.hex()
            answer = client.post("/v1/auth/token", json={"message": message, "signature": "0x" + signature})
    except httpx.HTTPError as exc:
        console.print(f"[red]ledger-api:[/] the API at {settings.public_url} did not answer: {exc}")
        raise typer.Exit(1) from None
    if answer.status_code != 200:
        console.print(f"[red]ledger-api:[/] sign-in refused: {answer.text}")
        raise typer.Exit(1)
    return answer.json()["access_token"]


@app.command("verify-scan")
def verify_scan(
    url: str = typer.Argument(..., help="the bottle's Digital Link URL (as printed in its QR code)"),
    rpc: str = typer.Option(None, help="a JSON-RPC node of the ledger's chain (default: LEDGER_RPC_URL)"),
    inventory: str = typer.Option(None, help="the Inventory contract's address from the brand's published "
                                              "deployment (default: deployments/<LEDGER_NETWORK>.json, if present)"),
    answer_file: Path = typer.Option(None, "--answer", exists=True, dir_okay=False,
                                     help="a saved scan or provenance answer (JSON) instead of asking the URL's site"),
) -> None:
    """Fetches the bottle's provenance from the site the URL names (or reads a saved answer), then verifies the
    bottle's Merkle proof against the lot root on chain. Exit status 0: the chain confirms the bottle."""
    import json
    from urllib.parse import urlsplit

    import httpx

    from indexer.contracts import load_deployment
    from ledger_api.verify import verify_answer

    settings = load_settings()
    if answer_file is not None:
        answer = json.loads(answer_file.read_text())
    else:
        parts = urlsplit(url)
        try:
            reply = httpx.get(f"{parts.scheme}://{parts.netloc}/v1/provenance/bottle", params={"url": url}, timeout=15)
        except httpx.HTTPError as exc:
            console.print(f"[red]ledger-api:[/] {parts.netloc} did not answer: {exc}")
            raise typer.Exit(1) from None
        if reply.status_code == 404:
            console.print("[red]COUNTERFEIT:[/] the brand never issued this code")
            raise typer.Exit(1)
        if reply.status_code != 200:
            console.print(f"[red]ledger-api:[/] {reply.status_code} {reply.text}")
            raise typer.Exit(1)
        answer = reply.json()
    if inventory is None:
        try:
            inventory = load_deployment(settings.network, settings.deployments_dir).address("Inventory")
        except (DeploymentError, FileNotFoundError, KeyError):
            inventory = None
    try:
        result = verify_answer(answer, rpc or settings.rpc_url, inventory)
    except ValueError as exc:
        console.print(f"[red]ledger-api:[/] {exc}")
        raise typer.Exit(1) from None
    except Exception as exc:  # noqa: BLE001 - the node's failures come in many types; say which node
        console.print(f"[red]ledger-api:[/] the node at {rpc or settings.rpc_url} failed: {exc}")
        raise typer.Exit(1) from None
    for what, passed, detail in result.checks:
        mark = "[green]ok[/]  " if passed else "[red]FAIL[/]"
        console.print(f"  {mark} {what}" + (f"  [dim]{detail}[/]" if detail else ""))
    if result.genuine_on_chain:
        console.print("[green]the chain confirms this bottle[/]")
        return
    console.print("[red]the chain does NOT confirm this bottle[/]")
    raise typer.Exit(1)


@app.command()
def anchor(address: str = typer.Argument(..., help="a brand admin account whose key this API holds")) -> None:
    """Anchors the consumer scan log and the opened-bottle marks on chain up to now (run it daily, e.g. from a
    systemd timer or cron); a log with nothing new is left as it is."""
    import httpx

    settings = load_settings()
    bearer = _token(settings, address)
    for log in ("consumer-scans", "opened-bottles"):
        reply = httpx.post(f"{settings.public_url}/v1/anchors/{log}", json={},
                           headers={"Authorization": f"Bearer {bearer}"}, timeout=60)
        if reply.status_code == 409:
            console.print(f"  {log}: nothing new to anchor")
        elif reply.status_code in (200, 201):
            result = reply.json().get("result") or {}
            console.print(f"  {log}: {result.get('entries')} entries anchored, root {result.get('merkle_root')}, "
                          f"tx {reply.json().get('tx_hash')}")
        else:
            console.print(f"[red]ledger-api:[/] {log}: {reply.status_code} {reply.text}")
            raise typer.Exit(1)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
