"""Bottle codes: random serials, the lot's Merkle tree over its bottles, and GS1 Digital Link URLs.

A serial is 17 characters of Crockford base32 (85 random bits from the operating system's generator): valid
in GS1 AI 21, safe in a URL path as it is, and not guessable. Bottle i of a lot lies in case
`i // bottles_per_case + 1`; the lot is committed on chain by the root of OpenZeppelin's StandardMerkleTree
over `(string serial, uint32 case)`, which `LotCodes.build` computes with a hand-rolled ABI encoding (the
same bytes `eth_abi` gives, at a fraction of the cost) so a million bottles take seconds. A bottle's URL is
`https://<domain>/01/<GTIN>/10/<lot>/21/<serial>`, parsed back with `biip`. Pure functions only.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Callable, Sequence
from urllib.parse import quote, unquote, urlsplit

from biip import ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from Crypto.Hash import keccak

BOTTLE_TYPES = ("string", "uint32")
SERIAL_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
SERIAL_LENGTH = 17  # 85 bits
# GS1's character set 82, as AI 10 (lot) and AI 21 (serial) allow it: up to 20 characters.
CSET_82 = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")


class CodeError(ValueError):
    """A URL or value that is not a valid bottle code; `reason` names what is wrong."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class BottleCode:
    gtin: str
    lot: str  # empty when the URL names none
    serial: str


def new_serials(n: int, randbytes: Callable[[int], bytes] = secrets.token_bytes) -> list[str]:
    """`n` distinct random serials."""
    alphabet = SERIAL_ALPHABET
    mask = (1 << 85) - 1
    seen: set[str] = set()
    serials: list[str] = []
    while len(serials) < n:
        want = min(n - len(serials), 4_096)  # small integers: shifting a huge one would cost its whole length
        raw = randbytes(want * 11)  # 88 bits a serial, 85 used
        for k in range(want):
            value = int.from_bytes(raw[k * 11:k * 11 + 11], "big") & mask
            serial = "".join(alphabet[(value >> shift) & 31] for shift in range(0, 85, 5))
            if serial not in seen:
                seen.add(serial)
                serials.append(serial)
    return serials


def new_serial(randbytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    return new_serials(1, randbytes)[0]


_HEAD = (0x40).to_bytes(32, "big")


def encode_bottle(serial: str, case: int) -> bytes:
    """`abi.encode(string serial, uint32 case)`."""
    data = serial.encode()
    padded = data + b"\0" * (-len(data) % 32)
    return _HEAD + case.to_bytes(32, "big") + len(data).to_bytes(32, "big") + padded


def _keccak(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def bottle_leaf(serial: str, case: int) -> bytes:
    """The StandardMerkleTree leaf of one bottle: keccak256(keccak256(abi.encode(serial, case)))."""
    return _keccak(_keccak(encode_bottle(serial, case)))


def gtin_check_digit(body: str) -> int:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def check_gtin(gtin: str) -> None:
    if not (len(gtin) == 14 and gtin.isdigit()):
        raise CodeError("invalid_gtin", f"GTIN {gtin!r} is not 14 digits")
    if gtin_check_digit(gtin[:13]) != int(gtin[13]):
        raise CodeError("gtin_check_digit", f"GTIN {gtin} has a wrong check digit (expected "
                                            f"{gtin_check_digit(gtin[:13])})")


def check_lot(lot: str) -> None:
    if not CSET_82.match(lot) or len(lot.encode()) > 20:
        raise CodeError("invalid_lot", f"lot {lot!r} is not 1-20 characters of GS1 character set 82")


def sibling_indexes(node_index: int) -> list[int]:
    """The node indexes of a leaf's proof, from the leaf up, in OpenZeppelin's flat layout."""
    path = []
    i = node_index
    while i > 0:
        path.append(i - 1 if i % 2 == 0 else i + 1)
        i = (i - 1) // 2
    return path


@dataclass(frozen=True)
class LotCodes:
    """A lot's bottle codes and their tree: `nodes` is the flat tree (root at 0), `leaf_node[i]` the index of
    bottle i's leaf in it."""

    gtin: str
    lot: str
    bottles_per_case: int
    serials: tuple[str, ...]
    nodes: tuple[bytes, ...]
    leaf_node: tuple[int, ...]

    @classmethod
    def build(cls, gtin: str, lot: str, bottles_per_case: int, cases: int,
              serials: Sequence[str] | None = None) -> "LotCodes":
        """Codes for `cases` cases of `bottles_per_case` bottles; new random serials unless given.

        Raises:
            CodeError: a bad GTIN, lot, count or serial list.
        """
        check_gtin(gtin)
        check_lot(lot)
        if bottles_per_case < 1 or cases < 1:
            raise CodeError("invalid_count", "a lot needs at least one case of at least one bottle")
        n = bottles_per_case * cases
        serials = tuple(new_serials(n) if serials is None else serials)
        if len(serials) != n:
            raise CodeError("invalid_count", f"{len(serials)} serials given for {n} bottles")
        if len(set(serials)) != n:
            raise CodeError("duplicate_serial", "the serials are not all different")
        for s in serials[:1] + serials[-1:]:
            if not CSET_82.match(s):
                raise CodeError("invalid_serial", f"serial {s!r} is not valid in GS1 AI 21")
        new = keccak.new
        leaves = []
        append = leaves.append
        for i, serial in enumerate(serials):
            data = serial.encode()
            encoded = _HEAD + (i // bottles_per_case + 1).to_bytes(32, "big") + len(data).to_bytes(32, "big") + \
                data + b"\0" * (-len(data) % 32)
            append((new(digest_bits=256, data=new(digest_bits=256, data=encoded).digest()).digest(), i))
        # OpenZeppelin sorts the leaves by hash and fills the array's end with them, then hashes pairs upward.
        leaves.sort()
        size = 2 * n - 1
        nodes: list[bytes] = [b""] * size
        leaf_node = [0] * n
        for position, (h, original) in enumerate(leaves):
            slot = size - 1 - position
            nodes[slot] = h
            leaf_node[original] = slot
        for i in range(size - 1 - n, -1, -1):
            a, b = nodes[2 * i + 1], nodes[2 * i + 2]
            nodes[i] = new(digest_bits=256, data=a + b if a < b else b + a).digest()
        return cls(gtin, lot, bottles_per_case, serials, tuple(nodes), tuple(leaf_node))

    @property
    def root(self) -> bytes:
        return self.nodes[0]

    def case_of(self, i: int) -> int:
        return i // self.bottles_per_case + 1

    def proof(self, i: int) -> list[bytes]:
        return [self.nodes[j] for j in sibling_indexes(self.leaf_node[i])]

    def values(self) -> list[tuple[str, int]]:
        return [(s, self.case_of(i)) for i, s in enumerate(self.serials)]


def digital_link(base: str, gtin: str, lot: str, serial: str) -> str:
    """The bottle's GS1 Digital Link URL on `base` (a domain, or a URL such as http://127.0.0.1:8000)."""
    if "://" not in base:
        base = f"https://{base}"
    return f"{base.rstrip('/')}/01/{gtin}/10/{quote(lot, safe='')}/21/{quote(serial, safe='')}"


def parse_digital_link(url: str) -> BottleCode:
    """The GTIN, lot and serial a bottle's Digital Link URL names.

    Raises:
        CodeError: not a URL, not a Digital Link, or without a valid GTIN, lot or serial.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CodeError("not_a_url", "the code is not an http(s) URL")
    try:
        parsed = GS1DigitalLinkURI.parse(url.strip())
    except ParseError as exc:
        raise CodeError("not_a_digital_link", f"not a GS1 Digital Link: {exc}") from None
    found = {e.ai.ai: e for e in parsed.element_strings}
    if "01" not in found:
        raise CodeError("missing_gtin", "the URL names no GTIN (AI 01)")
    gtin = found["01"]
    if gtin.gtin_error or gtin.gtin is None:
        raise CodeError("gtin_check_digit", f"GTIN {gtin.value}: {gtin.gtin_error or 'invalid'} (wrong check digit)")
    check_gtin(gtin.value)
    if "21" not in found:
        raise CodeError("missing_serial", "the URL names no serial (AI 21): it is not one bottle's code")
    # A lot is optional in a Digital Link; every code the brand prints names one, so a code without is no
    # bottle of the brand's (the registry finds no such bottle), not a malformed URL.
    lot, serial = unquote(found["10"].value) if "10" in found else "", unquote(found["21"].value)
    if lot:
        check_lot(lot)
    if not CSET_82.match(serial):
        raise CodeError("invalid_serial", f"serial {serial!r} is not valid in GS1 AI 21")
    return BottleCode(gtin.value, lot, serial)
