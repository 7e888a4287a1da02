"""`ledger-api`: the command line of the Ledger API.

    ledger-api serve                    serve the API (LEDGER_API_HOST / LEDGER_API_PORT)
    ledger-api keystore import FILE     encrypt the private key in FILE (hex) into the keystore folder
    ledger-api keystore dev-accounts N  development only: keystores for the local chain's first N accounts
    ledger-api keystore list            the addresses this API can sign for
    ledger-api accounts                 the accounts this API holds keys for, as the mirror knows them
    ledger-api token ADDRESS            sign in to a running API with a held key; prints a bearer token

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
    return keyring


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
    import httpx
    from eth_account.messages import encode_defunct
    from eth_utils import is_hex_address, to_checksum_address

    settings = load_settings()
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
    print(answer.json()["access_token"])


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
