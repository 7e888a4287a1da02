"""Sign-In with Ethereum (EIP-4361): the sign-in message, its strict parser, and signature verification.

A member of the supply chain signs in by signing, with the key behind their Ethereum account, a plain-text
message that names this service's domain, the chain, a one-time nonce and a validity window. This module
builds and parses that message exactly as the EIP's ABNF lays it out, recovers the EIP-191 signer and checks
the message against what the service expects. It is written here rather than taken from PyPI because the
`siwe` package pins web3 < 8, and the project runs web3 8. Pure functions only: the nonce store, the clock
and the HTTP layer belong to the caller.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys.exceptions import BadSignature
from eth_utils import is_checksum_address

CLOCK_SKEW = timedelta(seconds=60)
_HEADER = " wants you to sign in with your Ethereum account:"

# Character sets from RFC 3986, which the EIP's ABNF borrows for domain, statement, URI and request id.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_AUTHORITY = re.compile(
    rf"(?:(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*@)?"
    rf"(?:\[[0-9A-Fa-f:.]+\]|(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})+)(?::[0-9]*)?"
)
_URI = re.compile(rf"[A-Za-z][A-Za-z0-9+.\-]*:(?:[{_UNRESERVED}{_SUB_DELIMS}:/?#\[\]@]|{_PCT})*")
_STATEMENT = re.compile(rf"[{_UNRESERVED}{_SUB_DELIMS}:/?#\[\]@ ]+")
_REQUEST_ID = re.compile(rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})*")
_NONCE = re.compile(r"[A-Za-z0-9]{8,}")
_ADDRESS = re.compile(r"0x[0-9A-Fa-f]{40}")
_CHAIN_ID = re.compile(r"[0-9]{1,78}")  # 78 digits hold any uint256; int() refuses far longer
_SIGNATURE = re.compile(r"[0-9A-Fa-f]{130}")
# [0-9] rather than \d, which would also accept non-ASCII digits.
_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([01][0-9]|2[0-3]):([0-5][0-9]))"
)


class SiweError(ValueError):
    """A sign-in message or signature that cannot be accepted; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _require(ok: bool, field: str, problem: str) -> None:
    if not ok:
        raise SiweError("malformed", f"{field}: {problem}")


def _matches(pattern: re.Pattern[str], value: object) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _utc(moment: object, field: str) -> datetime:
    _require(isinstance(moment, datetime) and moment.tzinfo is not None, field, "must be a timezone-aware datetime")
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise SiweError("malformed", f"{field}: {moment} is out of range in UTC") from exc


def _format_time(moment: datetime) -> str:
    # Whole seconds as in the EIP's examples; a fraction is kept to the microsecond so parsing loses nothing.
    spec = "seconds" if not moment.microsecond else "milliseconds" if not moment.microsecond % 1000 else "microseconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _parse_time(value: str, field: str) -> datetime:
    match = _DATE_TIME.fullmatch(value)
    _require(match is not None, field, f"{value!r} is not an RFC 3339 date-time such as 2026-12-01T20:00:00Z")
    year, month, day, hour, minute, second, fraction, sign, offset_hours, offset_minutes = match.groups()
    offset = timedelta(0)
    if sign:
        offset = (1 if sign == "+" else -1) * timedelta(hours=int(offset_hours), minutes=int(offset_minutes))
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                        int((fraction or "0")[:6].ljust(6, "0")), tzinfo=timezone(offset))
    except ValueError as exc:
        raise SiweError("malformed", f"{field}: {value!r} is not a real date-time ({exc})") from exc


def _found(lines: list[str], index: int) -> str:
    return repr(lines[index]) if index < len(lines) else "the end of the message"


def _take(lines: list[str], index: int, prefix: str, what: str = "") -> str:
    if index >= len(lines) or not lines[index].startswith(prefix):
        expected = what or f"'{prefix}...'"
        raise SiweError("malformed", f"line {index + 1}: expected {expected}, found {_found(lines, index)}")
    return lines[index][len(prefix):]


def _blank(lines: list[str], index: int) -> None:
    if index >= len(lines) or lines[index]:
        raise SiweError("malformed", f"line {index + 1}: expected an empty line, found {_found(lines, index)}")


@dataclass(frozen=True)
class SiweMessage:
    """One EIP-4361 message. Construction validates every field, so `to_text` always yields a valid message.

    `domain` is the RFC 3986 authority (host and optional port); `scheme` is the optional `https://`-style
    prefix the latest EIP text allows in front of it. Times are normalised to UTC.
    """

    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: datetime
    statement: str | None = None
    version: str = "1"
    expiration_time: datetime | None = None
    not_before: datetime | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = ()
    scheme: str | None = None

    def __post_init__(self) -> None:
        _require(self.scheme is None or _matches(_SCHEME, self.scheme), "scheme",
                 f"{self.scheme!r} is not a URI scheme")
        _require(_matches(_AUTHORITY, self.domain), "domain",
                 f"{self.domain!r} is not a host[:port] such as example.com")
        _require(_matches(_ADDRESS, self.address) and is_checksum_address(self.address), "address",
                 f"{self.address!r} is not an EIP-55 checksummed address (use eth_utils.to_checksum_address)")
        # An empty statement would need a third blank line, which readers confuse with "no statement": use None.
        _require(self.statement is None or _matches(_STATEMENT, self.statement), "statement",
                 "must be None or one non-empty line of RFC 3986 characters (letters, digits, spaces, punctuation)")
        _require(_matches(_URI, self.uri), "URI", f"{self.uri!r} is not an RFC 3986 URI such as https://example.com")
        _require(self.version == "1", "Version", f"{self.version!r} is not the only defined version, '1'")
        _require(type(self.chain_id) is int and self.chain_id >= 0, "Chain ID", "must be a non-negative integer")
        _require(_matches(_NONCE, self.nonce), "Nonce", f"{self.nonce!r} is not at least 8 letters or digits")
        _require(self.request_id is None or _matches(_REQUEST_ID, self.request_id), "Request ID",
                 f"{self.request_id!r} contains characters outside RFC 3986 pchar")
        resources = tuple(self.resources) if isinstance(self.resources, (list, tuple)) else None
        _require(resources is not None and all(_matches(_URI, r) for r in resources), "Resources",
                 "must be a sequence of RFC 3986 URIs")
        # Frozen, so normalised values go in through object.__setattr__.
        object.__setattr__(self, "resources", resources)
        for field in ("issued_at", "expiration_time", "not_before"):
            if field == "issued_at" or getattr(self, field) is not None:
                object.__setattr__(self, field, _utc(getattr(self, field), field))

    def to_text(self) -> str:
        """The exact text the wallet signs."""
        origin = f"{self.scheme}://{self.domain}" if self.scheme else self.domain
        # The ABNF puts a blank line after the address and another before URI, so no statement leaves two.
        lines = [origin + _HEADER, self.address, "", *([self.statement, ""] if self.statement is not None else [""])]
        lines += [f"URI: {self.uri}", f"Version: {self.version}", f"Chain ID: {self.chain_id}",
                  f"Nonce: {self.nonce}", f"Issued At: {_format_time(self.issued_at)}"]
        if self.expiration_time is not None:
            lines.append(f"Expiration Time: {_format_time(self.expiration_time)}")
        if self.not_before is not None:
            lines.append(f"Not Before: {_format_time(self.not_before)}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources:
            lines += ["Resources:", *(f"- {resource}" for resource in self.resources)]
        return "\n".join(lines)

    @classmethod
    def parse(cls, text: str) -> SiweMessage:
        """Parse `text` strictly; raises SiweError("malformed") naming the line or field that is wrong."""
        _require(isinstance(text, str), "message", "must be text")
        lines = text.split("\n")
        _require(lines[0].endswith(_HEADER), "line 1", f"must end with {_HEADER.strip()!r}")
        scheme, separator, domain = lines[0][: -len(_HEADER)].rpartition("://")
        address = _take(lines, 1, "", "the address")
        _blank(lines, 2)
        if len(lines) > 3 and not lines[3]:
            statement, index = None, 4
        else:
            statement, index = _take(lines, 3, "", "a statement or an empty line"), 5
            _blank(lines, 4)
        uri, version, chain_id, nonce, issued_at = [
            _take(lines, index + offset, label)
            for offset, label in enumerate(("URI: ", "Version: ", "Chain ID: ", "Nonce: ", "Issued At: "))
        ]
        index += 5
        optional: dict[str, str] = {}
        for label in ("Expiration Time: ", "Not Before: ", "Request ID: "):
            if index < len(lines) and lines[index].startswith(label):
                optional[label] = lines[index][len(label):]
                index += 1
        resources = []
        if index < len(lines) and lines[index] == "Resources:":
            index += 1
            while index < len(lines) and lines[index].startswith("- "):
                resources.append(lines[index][2:])
                index += 1
        if index < len(lines):
            raise SiweError("malformed", f"line {index + 1}: unexpected {lines[index]!r}; fields must come in the "
                                         "EIP-4361 order, each at most once, with nothing after the resources")
        _require(_matches(_CHAIN_ID, chain_id), "Chain ID", f"{chain_id!r} is not a decimal number")
        expires, not_before = optional.get("Expiration Time: "), optional.get("Not Before: ")
        return cls(
            domain=domain, address=address, uri=uri, version=version, chain_id=int(chain_id), nonce=nonce,
            issued_at=_parse_time(issued_at, "Issued At"), statement=statement,
            expiration_time=_parse_time(expires, "Expiration Time") if expires is not None else None,
            not_before=_parse_time(not_before, "Not Before") if not_before is not None else None,
            request_id=optional.get("Request ID: "), resources=tuple(resources), scheme=scheme if separator else None,
        )


def new_nonce() -> str:
    """A fresh sign-in nonce: 32 hex digits (128 bits) from the OS's cryptographic random source."""
    return secrets.token_hex(16)


def recover_signer(text: str, signature: str) -> str:
    """The checksummed address whose key made the EIP-191 personal_sign `signature` over `text`.

    Raises SiweError("bad_signature") if the signature is not 65 bytes of hex or recovers to no address.
    """
    digits = signature[2:] if isinstance(signature, str) and signature[:2] in ("0x", "0X") else signature
    if not _matches(_SIGNATURE, digits):
        raise SiweError("bad_signature", "signature must be 65 bytes as 130 hex digits, optionally 0x-prefixed")
    try:
        return Account.recover_message(encode_defunct(text=text), signature=bytes.fromhex(digits))
    except (BadSignature, ValueError) as exc:  # out-of-range r/s or an unknown recovery id v
        raise SiweError("bad_signature", f"signature cannot be recovered to an address: {exc}") from exc


def verify(text: str, signature: str, *, domain: str, chain_id: int, now: datetime) -> SiweMessage:
    """Check a signed sign-in message against this service and the time `now`, returning the parsed message.

    Requirements: the message parses; names `domain` and `chain_id`; `now` is before its expiration time and
    not before its not-before time; it was not issued more than CLOCK_SKEW ahead of `now`; and the signer is
    the message's address. The caller still has to check and spend the nonce.

    Raises:
        SiweError: with the `reason` of the first check that fails.
        ValueError: if `now` is naive, which is a programming error rather than a bad message.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    message = SiweMessage.parse(text)
    if message.domain != domain:
        raise SiweError("domain_mismatch", f"message is for {message.domain!r}, but this service is {domain!r}")
    if message.chain_id != chain_id:
        raise SiweError("chain_mismatch", f"message is for chain {message.chain_id}, but this service is on {chain_id}")
    if message.expiration_time is not None and now >= message.expiration_time:
        raise SiweError("expired", f"message expired at {_format_time(message.expiration_time)}; sign in again")
    if message.not_before is not None and now < message.not_before:
        raise SiweError("not_yet_valid", f"message is not valid before {_format_time(message.not_before)}")
    if message.issued_at > now + CLOCK_SKEW:
        raise SiweError("not_yet_valid", f"message is issued at {_format_time(message.issued_at)}, in the future; "
                                         "check the signing device's clock")
    signer = recover_signer(text, signature)
    if signer != message.address:
        raise SiweError("address_mismatch", f"signature is by {signer}, not by the message's address {message.address}")
    return message
