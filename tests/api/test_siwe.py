"""Sign-In with Ethereum messages: the EIP-4361 text format, its strict parser, and signature verification."""

from __future__ import annotations

import dataclasses
import string
from datetime import UTC, datetime, timedelta, timezone

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from ledger_api.siwe import SiweError, SiweMessage, new_nonce, recover_signer, verify

# The example messages from the EIP text.
EIP_EXAMPLE = """\
example.com wants you to sign in with your Ethereum account:
0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2

I accept the ExampleOrg Terms of Service: https://example.com/tos

URI: https://example.com/login
Version: 1
Chain ID: 1
Nonce: 32891756
Issued At: 2021-09-30T16:25:24Z
Resources:
- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/
- https://example.com/my-web2-claim.json"""
EIP_EXAMPLE_WITH_PORT = EIP_EXAMPLE.replace("example.com wants", "example.com:3388 wants")
EIP_EXAMPLE_WITH_SCHEME = EIP_EXAMPLE.replace("example.com wants", "https://example.com wants")
# With no statement the ABNF keeps both blank lines: the one after the address and the one before URI.
EIP_EXAMPLE_WITHOUT_STATEMENT = EIP_EXAMPLE.replace("I accept the ExampleOrg Terms of Service: https://example.com/tos\n", "")

MEMBER = Account.from_key("0x" + "42" * 32)
STRANGER = Account.from_key("0x" + "17" * 32)
NOW = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
DOMAIN = "ledger.example.com"
CHAIN_ID = 31337


SIGN_IN = SiweMessage(
    domain=DOMAIN, address=MEMBER.address, uri="https://ledger.example.com/api/session", chain_id=CHAIN_ID,
    nonce="k3Rb9TqZ0aXw", issued_at=NOW - timedelta(seconds=5), statement="Sign in to the baijiu ledger.",
    expiration_time=NOW + timedelta(minutes=10), not_before=NOW - timedelta(seconds=5), request_id="req-1",
    resources=("https://ledger.example.com/lots",),
)


def sign_in_message(**changes) -> SiweMessage:
    return dataclasses.replace(SIGN_IN, **changes)


def sign(text: str, account=MEMBER) -> str:
    return account.sign_message(encode_defunct(text=text)).signature.to_0x_hex()


def reason_of(call) -> str:
    with pytest.raises(SiweError) as raised:
        call()
    return raised.value.reason


uris = st.from_regex(r"(https://[a-z0-9.-]{1,20}(/[A-Za-z0-9._~!$&'()*+,;=:@-]{0,10}){0,3}|urn:[a-z]{1,8}:[0-9]{1,6})",
                     fullmatch=True)
times = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9000, 1, 1),
                     timezones=st.builds(timezone, st.timedeltas(timedelta(hours=-23), timedelta(hours=23))))


@st.composite
def messages(draw) -> SiweMessage:
    return SiweMessage(
        scheme=draw(st.none() | st.sampled_from(["https", "http", "chrome-extension"])),
        domain=draw(st.from_regex(r"([a-z0-9-]{1,12}\.){0,3}[a-z]{1,8}(:[0-9]{1,5})?|\[::1\](:[0-9]{1,5})?", fullmatch=True)),
        address=to_checksum_address(draw(st.binary(min_size=20, max_size=20))),
        statement=draw(st.none() | st.from_regex(r"[A-Za-z0-9 .,:;!?'()@#$&*+=/~_\[\]-]{1,80}", fullmatch=True)),
        uri=draw(uris),
        chain_id=draw(st.integers(min_value=0, max_value=2**256 - 1)),
        nonce=draw(st.text(string.ascii_letters + string.digits, min_size=8, max_size=40)),
        issued_at=draw(times),
        expiration_time=draw(st.none() | times),
        not_before=draw(st.none() | times),
        request_id=draw(st.none() | st.from_regex(r"[A-Za-z0-9._~!$&'()*+,;=:@-]{0,20}|%[0-9A-F]{2}", fullmatch=True)),
        resources=tuple(draw(st.lists(uris, max_size=4))),
    )


@pytest.mark.parametrize("text", [EIP_EXAMPLE, EIP_EXAMPLE_WITH_PORT, EIP_EXAMPLE_WITH_SCHEME, EIP_EXAMPLE_WITHOUT_STATEMENT])
def test_the_eip_examples_parse_and_reserialise_byte_for_byte(text):
    assert SiweMessage.parse(text).to_text() == text


def test_the_eip_example_parses_into_its_fields():
    message = SiweMessage.parse(EIP_EXAMPLE_WITH_SCHEME)
    assert (message.scheme, message.domain, message.address) == (
        "https", "example.com", "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2")
    assert message.statement == "I accept the ExampleOrg Terms of Service: https://example.com/tos"
    assert (message.uri, message.version, message.chain_id, message.nonce) == (
        "https://example.com/login", "1", 1, "32891756")
    assert message.issued_at == datetime(2021, 9, 30, 16, 25, 24, tzinfo=UTC)
    assert message.resources == ("ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
                                 "https://example.com/my-web2-claim.json")
    assert SiweMessage.parse(EIP_EXAMPLE_WITHOUT_STATEMENT).statement is None


def test_a_message_without_statement_needs_both_blank_lines():
    collapsed = EIP_EXAMPLE_WITHOUT_STATEMENT.replace("Cc2\n\n\nURI", "Cc2\n\nURI")
    # Line 4 then reads as a statement, so the parser misses the blank line that must follow it.
    with pytest.raises(SiweError, match="line 5: expected an empty line") as raised:
        SiweMessage.parse(collapsed)
    assert raised.value.reason == "malformed"


@given(messages())
def test_to_text_then_parse_round_trips(message):
    text = message.to_text()
    assert SiweMessage.parse(text) == message
    assert SiweMessage.parse(text).to_text() == text


def test_times_are_read_in_any_rfc3339_offset_and_written_in_utc():
    text = EIP_EXAMPLE.replace("2021-09-30T16:25:24Z", "2021-09-30T18:25:24.250+02:00")
    message = SiweMessage.parse(text)
    assert message.issued_at == datetime(2021, 9, 30, 16, 25, 24, 250000, tzinfo=UTC)
    assert "Issued At: 2021-09-30T16:25:24.250Z" in message.to_text()


def test_new_nonces_are_alphanumeric_unique_and_accepted_in_a_message():
    nonces = {new_nonce() for _ in range(100)}
    assert len(nonces) == 100
    assert all(nonce.isascii() and nonce.isalnum() and len(nonce) >= 17 for nonce in nonces)
    assert sign_in_message(nonce=nonces.pop()).nonce


def test_a_signed_message_verifies_and_returns_its_address():
    text = sign_in_message().to_text()
    message = verify(text, sign(text), domain=DOMAIN, chain_id=CHAIN_ID, now=NOW)
    assert message == sign_in_message()
    assert recover_signer(text, sign(text)[2:]) == MEMBER.address


@pytest.mark.parametrize("changes", [
    {"scheme": "https"}, {"statement": "Sign in to the baijiu ledger!"}, {"statement": None},
    {"uri": "https://ledger.example.com/api/other"}, {"nonce": "k3Rb9TqZ0aXx"}, {"issued_at": NOW},
    {"expiration_time": NOW + timedelta(hours=1)}, {"not_before": None}, {"request_id": "req-2"},
    {"resources": ("https://ledger.example.com/lots", "https://evil.example/")}, {"domain": "evil.example"},
    {"chain_id": 1}, {"address": STRANGER.address},
], ids=lambda changes: next(iter(changes)))
def test_tampering_with_any_field_of_a_signed_message_fails(changes):
    signature = sign(sign_in_message().to_text())
    tampered = sign_in_message(**changes)
    # Verify against the tampered domain and chain so that only the signature can catch the change.
    reason = reason_of(lambda: verify(tampered.to_text(), signature, domain=tampered.domain,
                                      chain_id=tampered.chain_id, now=NOW))
    assert reason in {"address_mismatch", "bad_signature"}


def test_a_signature_by_another_key_fails_with_address_mismatch():
    text = sign_in_message().to_text()
    with pytest.raises(SiweError, match=STRANGER.address) as raised:
        verify(text, sign(text, STRANGER), domain=DOMAIN, chain_id=CHAIN_ID, now=NOW)
    assert raised.value.reason == "address_mismatch"


@pytest.mark.parametrize("signature", [
    "", "0x", "0x1234", "zz" * 65, "0x" + "00" * 64, "0x" + "00" * 66, "0x" + "00" * 65,
    "0x" + "11" * 64 + "05", "0x" + "ff" * 64 + "1b",
], ids=["empty", "bare-0x", "short", "not-hex", "64-bytes", "66-bytes", "zero-r-s", "unknown-v", "s-out-of-range"])
def test_a_malformed_signature_fails_with_bad_signature(signature):
    text = sign_in_message().to_text()
    assert reason_of(lambda: verify(text, signature, domain=DOMAIN, chain_id=CHAIN_ID, now=NOW)) == "bad_signature"


@pytest.mark.parametrize(("message", "expected", "reason"), [
    (sign_in_message(), {"domain": "other.example.com"}, "domain_mismatch"),
    (sign_in_message(), {"chain_id": 1}, "chain_mismatch"),
    (sign_in_message(expiration_time=NOW), {}, "expired"),
    (sign_in_message(expiration_time=NOW - timedelta(seconds=1)), {}, "expired"),
    (sign_in_message(not_before=NOW + timedelta(seconds=1)), {}, "not_yet_valid"),
    (sign_in_message(issued_at=NOW + timedelta(seconds=61), not_before=None), {}, "not_yet_valid"),
], ids=["wrong-domain", "wrong-chain", "expires-now", "expired", "not-yet-valid", "issued-in-the-future"])
def test_a_validly_signed_message_outside_its_terms_fails_with_its_reason(message, expected, reason):
    text = message.to_text()
    terms = {"domain": DOMAIN, "chain_id": CHAIN_ID, "now": NOW, **expected}
    assert reason_of(lambda: verify(text, sign(text), **terms)) == reason


def test_an_issued_at_within_the_clock_skew_is_accepted():
    text = sign_in_message(issued_at=NOW + timedelta(seconds=60), not_before=None).to_text()
    assert verify(text, sign(text), domain=DOMAIN, chain_id=CHAIN_ID, now=NOW).address == MEMBER.address


@pytest.mark.parametrize(("old", "new", "named"), [
    ("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2", "address"),
    ("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc3", "address"),
    ("Nonce: 32891756", "Nonce: 3289175", "Nonce"),
    ("Nonce: 32891756", "Nonce: 32891756-x", "Nonce"),
    ("Version: 1", "Version: 2", "Version"),
    ("Chain ID: 1", "Chain ID: one", "Chain ID"),
    ("2021-09-30T16:25:24Z", "2021-09-30T16:25:24", "Issued At"),
    ("2021-09-30T16:25:24Z", "2021-02-30T16:25:24Z", "Issued At"),
    ("URI: https://example.com/login", "URI: not a uri", "URI"),
    ("URI: https://example.com/login", "Uri: https://example.com/login", "line 6"),
    ("Terms of Service", "Terms of \"Service\"", "statement"),
    ("example.com wants", "exa mple.com wants", "domain"),
    ("example.com wants", "://example.com wants", "scheme"),
    ("wants you to sign in", "wants you to log in", "line 1"),
    ("Issued At: 2021-09-30T16:25:24Z", "Issued At: 2021-09-30T16:25:24Z\nColour: red", "line 11"),
    ("Issued At: 2021-09-30T16:25:24Z", "Issued At: 2021-09-30T16:25:24Z\nRequest ID: a\nNot Before: 2021-09-30T16:25:24Z",
     "line 12"),
    ("https://example.com/my-web2-claim.json", "https://example.com/my-web2-claim.json\n", "line 14"),
    ("https://example.com/my-web2-claim.json", "https://example.com/my-web2-claim.json\nnot a resource", "line 14"),
    ("- ipfs://", "- not a uri ipfs://", "Resources"),
], ids=["lower-case-address", "bad-checksum", "short-nonce", "nonce-punctuation", "version", "chain-id", "no-offset",
        "no-such-day", "uri", "misspelt-field", "statement-quotes", "domain-space", "empty-scheme", "header",
        "unknown-field", "wrong-order", "trailing-newline", "trailing-junk", "resource-uri"])
def test_a_malformed_message_is_rejected_naming_what_is_wrong(old, new, named):
    assert old in EIP_EXAMPLE
    with pytest.raises(SiweError, match=named) as raised:
        SiweMessage.parse(EIP_EXAMPLE.replace(old, new, 1))
    assert raised.value.reason == "malformed"


def test_building_a_message_validates_it_too():
    assert reason_of(lambda: sign_in_message(address=MEMBER.address.lower())) == "malformed"
    assert reason_of(lambda: sign_in_message(nonce="short")) == "malformed"
    assert reason_of(lambda: sign_in_message(issued_at=datetime(2026, 12, 1))) == "malformed"


def mutations(text: str):
    return st.tuples(st.integers(0, len(text)), st.integers(0, 20), st.text(max_size=20)).map(
        lambda cut: text[: cut[0]] + cut[2] + text[cut[0] + cut[1]:])


@given(st.text() | mutations(EIP_EXAMPLE) | mutations(sign_in_message().to_text()), st.text())
def test_garbage_raises_only_siwe_errors(text, signature):
    for attempt in (lambda: SiweMessage.parse(text), lambda: recover_signer(text, signature),
                    lambda: verify(text, signature, domain=DOMAIN, chain_id=CHAIN_ID, now=NOW)):
        try:
            attempt()
        except SiweError:
            pass
