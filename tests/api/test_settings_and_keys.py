"""The API's parts that need no chain: settings refuse the published development secrets outside
development, keystores open only with their password (and `keystore new` makes one), contract errors decode by name with JSON-safe
arguments, and every custom error of the contracts maps to a deliberate HTTP status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak
from pydantic import ValidationError

from indexer.contracts import load_artifacts
from ledger_api.chain import KeyNotHeld, Keyring, KeystoreError, contract_error, json_value, write_keystore
from ledger_api.rawchain import LedgerCodec
from ledger_api.errors import FORBIDDEN, INVALID, NOT_FOUND, contract_status
from ledger_api.settings import Settings

API_CLI = Path(sys.executable).parent / "ledger-api"


def test_production_refuses_the_published_token_secret_and_keystore_password():
    with pytest.raises(ValidationError) as refused:
        Settings(environment="production")
    message = str(refused.value)
    assert "LEDGER_TOKEN_SECRET" in message and "LEDGER_KEYSTORE_PASSWORD" in message


def test_production_refuses_a_short_token_secret():
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(environment="production", token_secret="short", keystore_password="a real password")


def test_production_starts_with_secrets_of_its_own():
    settings = Settings(environment="production", token_secret="s" * 40, keystore_password="a real password")
    assert settings.token_secret.get_secret_value() == "s" * 40
    assert "s" * 40 not in repr(settings)  # secrets never print


def test_development_accepts_the_defaults():
    assert Settings(environment="development").environment == "development"


def test_a_keystore_opens_with_its_password_only(tmp_path):
    account = Account.create()
    write_keystore(tmp_path, bytes(account.key), "right", iterations=16)
    assert Keyring(tmp_path, "right").key(account.address) == bytes(account.key)
    with pytest.raises(KeystoreError, match="LEDGER_KEYSTORE_PASSWORD"):
        Keyring(tmp_path, "wrong").check()
    with pytest.raises(KeyNotHeld):
        Keyring(tmp_path, "right").key(Account.create().address)
    assert (tmp_path / f"{account.address}.json").stat().st_mode & 0o077 == 0


def test_a_file_that_is_no_keystore_is_skipped(tmp_path):
    (tmp_path / "notes.json").write_text("[1, 2]")
    assert Keyring(tmp_path, "x").addresses == []


@pytest.fixture(scope="module")
def abi():
    return LedgerCodec(load_artifacts())


def test_a_custom_error_decodes_by_name_with_named_arguments_and_big_numbers_as_strings(abi):
    lot = (7 << 160) | 12345
    data = keccak(text="InsufficientStock(uint32,uint256,uint256,uint256)")[:4] + encode(
        ["uint32", "uint256", "uint256", "uint256"], [3, lot, 10, 500])
    error = contract_error(abi, "0x" + data.hex())
    assert error.name == "InsufficientStock"
    assert error.detail == {"location": 3, "lot": str(lot), "available": 10, "requested": 500}


def test_reasons_panics_and_foreign_errors_decode_too(abi):
    reason = "0x08c379a0" + encode(["string"], ["no"]).hex()
    panic = "0x4e487b71" + encode(["uint256"], [0x11]).hex()
    assert contract_error(abi, reason).detail == {"reason": "no"}
    assert contract_error(abi, panic).name == "Panic"
    assert contract_error(abi, "0xdeadbeef").name == "UnknownContractError"
    assert contract_error(abi, None).name == "Reverted"
    assert contract_error(abi, "0xzz").name == "Reverted"


def test_json_values_keep_every_integer_exact():
    assert json_value(2**53 - 1) == 2**53 - 1
    assert json_value(2**53) == str(2**53)
    assert json_value(b"\x01\x02") == "0x0102"
    assert json_value([1, 2**70]) == [1, str(2**70)]


def test_every_contract_error_has_a_deliberate_status(abi):
    names = {error.name for error in abi.errors.values()}
    for name in names:
        if name.startswith("Unknown"):
            assert contract_status(name) == 404, name
        elif name.endswith("State"):  # the object is in the wrong state for the call: a conflict
            assert contract_status(name) == 409, name
        elif name.startswith(("Invalid", "Zero")):
            assert contract_status(name) == 422, name
    assert contract_status("MissingRole") == contract_status("WrongOrganisation") == 403
    assert contract_status("InsufficientStock") == contract_status("CreditLimitExceeded") == 409
    # Every name the tables list is a real error of the contracts (or the built-in Panic).
    assert (FORBIDDEN | NOT_FOUND | INVALID) - names <= {"Panic"}


def test_keystore_new_writes_a_fresh_key_that_opens_with_the_keystore_password(tmp_path):
    env = {**os.environ, "LEDGER_KEYSTORE_DIR": str(tmp_path), "LEDGER_KEYSTORE_PASSWORD": "rotation password"}
    made = [subprocess.run([str(API_CLI), "keystore", "new"], env=env, capture_output=True, text=True, check=True)
            for _ in range(2)]
    addresses = [done.stdout.strip() for done in made]
    assert addresses[0] != addresses[1]
    keyring = Keyring(tmp_path, "rotation password")
    assert sorted(keyring.addresses) == sorted(addresses)
    assert Account.from_key(keyring.key(addresses[0])).address == addresses[0]
