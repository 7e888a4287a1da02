"""Bottle codes: random serials, a lot's Merkle tree over its bottles, and the GS1 Digital Link URL on each label.

A serial is 17 characters of Crockford base32 (85 random bits from the operating system's generator): valid in
GS1 AI 21, safe in a URL path as it is, and not guessable. Bottle i of a lot lies in case
`i // bottles_per_case + 1`, and the lot is committed on chain by the root of OpenZeppelin's StandardMerkleTree
over `(string serial, uint32 case)`, the leaf `Inventory.verifyBottle` checks. `LotCodes.build` makes the same
tree as `merkle.StandardMerkleTree.of` (and as OpenZeppelin's JavaScript library) with a hand-rolled ABI encoding
and a keccak state of its own, so a million bottles take seconds rather than a minute. A bottle's URL is
`https://<domain>/01/<GTIN>/10/<lot>/21/<serial>`, read back with `biip`; a URL that is no bottle's code raises
`CodeError` with a reason code. Pure: no files, no database, no network.
"""

from __future__ import annotations

import ctypes
import functools
import re
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence
from urllib.parse import parse_qs, quote, urlsplit

from biip import ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from Crypto.Hash import keccak

from ledger_api.activity import gs1_check_digit as gtin_check_digit

BOTTLE_TYPES = ("string", "uint32")
SERIAL_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O or U to misread
SERIAL_LENGTH = 17  # 17 characters of 5 bits: 85 bits
LOT_BYTES = 20  # the chain stores a lot number as bytes20
UINT32_MAX = 2**32 - 1
# GS1 character set 82 as AI 10 (lot) and AI 21 (serial) allow it: 1 to 20 characters.
CSET_82 = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}")
# Key qualifiers belong in the URL's path; one in the query could name another bottle than the path does.
KEY_AIS = ("01", "10", "21")
REASONS = ("not-a-url", "not-a-digital-link", "qualifier-order", "qualifier-in-query", "missing-gtin",
           "invalid-gtin", "bad-gtin-check-digit", "missing-lot", "invalid-lot", "missing-serial",
           "invalid-serial", "invalid-count", "duplicate-serial")
_BYTE_TO_LETTER = bytes(ord(SERIAL_ALPHABET[b % 32]) for b in range(256))
_HEAD = (0x40).to_bytes(32, "big")  # abi.encode(string, uint32): the string's tail starts after two words
_KECCAK_OF_NOTHING = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")


class CodeError(ValueError):
    """A value or URL that is not a valid bottle code; `reason` (one of `REASONS`) names what is wrong."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class BottleCode:
    """What a bottle's URL names. `lot` is None only when the URL names none and the caller allowed that."""

    gtin: str
    lot: str | None
    serial: str


# -- serials


def new_serials(n: int, randbytes: Callable[[int], bytes] = secrets.token_bytes) -> list[str]:
    """`n` distinct random serials of `SERIAL_LENGTH` Crockford base32 characters.

    Raises:
        ValueError: `n` is negative, or `randbytes` keeps giving serials already drawn.
    """
    if n < 0:
        raise ValueError(f"cannot make {n} serials")
    unique: dict[str, None] = {}
    for _attempt in range(8):
        before = len(unique)
        unique.update(dict.fromkeys(_draw_serials(n - len(unique), randbytes)))
        if len(unique) == n:
            return list(unique)
        if len(unique) == before:
            break
    raise ValueError("the random source keeps repeating itself: serials would not be unguessable")


def new_serial(randbytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """One random serial."""
    return new_serials(1, randbytes)[0]


def _draw_serials(n: int, randbytes: Callable[[int], bytes]) -> list[str]:
    # One random byte per character, its low 5 bits picking the letter (256 is a multiple of 32, so each letter
    # is equally likely): `bytes.translate` then makes a million serials at C speed.
    size = n * SERIAL_LENGTH
    raw = randbytes(size)
    if len(raw) != size:
        raise ValueError(f"the random source gave {len(raw)} bytes, not the {size} asked for")
    text = raw.translate(_BYTE_TO_LETTER).decode("ascii")
    return [text[i:i + SERIAL_LENGTH] for i in range(0, size, SERIAL_LENGTH)]


# -- leaves


def encode_bottle(serial: str, case_number: int) -> bytes:
    """`abi.encode(string serial, uint32 caseNumber)`, the bytes `eth_abi.encode(BOTTLE_TYPES, ...)` gives.

    Raises:
        ValueError: the case number does not fit a uint32.
    """
    if not 0 <= case_number <= UINT32_MAX:
        raise ValueError(f"case number {case_number} does not fit a uint32")
    data = serial.encode()
    return _HEAD + case_number.to_bytes(32, "big") + len(data).to_bytes(32, "big") + data + b"\0" * (-len(data) % 32)


def _keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def bottle_leaf(serial: str, case_number: int) -> bytes:
    """The StandardMerkleTree leaf of one bottle: keccak256(keccak256(abi.encode(serial, caseNumber)))."""
    return _keccak256(_keccak256(encode_bottle(serial, case_number)))


@functools.cache
def _raw_keccak_library() -> ctypes.CDLL | None:
    """pycryptodome's keccak library for ctypes calls of our own, or None when pycryptodome does not use ctypes."""
    raw = getattr(keccak, "_raw_keccak_lib", None)
    if not isinstance(raw, ctypes.CDLL):
        return None
    try:
        # A CDLL of its own: setting argtypes on pycryptodome's function objects would change its own calls.
        library = ctypes.CDLL(raw._name)
        library.keccak_init.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_ubyte]
        library.keccak_reset.argtypes = [ctypes.c_void_p]
        library.keccak_absorb.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        library.keccak_digest.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_ubyte]
        library.keccak_destroy.argtypes = [ctypes.c_void_p]
    except (OSError, AttributeError):
        return None
    return library


@contextmanager
def _keccak256_for_one_build() -> Iterator[Callable[[bytes], bytes]]:
    """A keccak256 function on a state of its own, reset for every message.

    `keccak.new` builds a hash object per call, about half of a node's cost; calling pycryptodome's own C
    functions on one state halves it. The state belongs to one build (the function is not thread-safe), and
    `keccak.new` stands in wherever pycryptodome does not run on ctypes.
    """
    library = _raw_keccak_library()
    state = ctypes.c_void_p()
    if library is None or library.keccak_init(ctypes.byref(state), 64, 24):
        yield _keccak256
        return
    handle, out = state.value, ctypes.create_string_buffer(32)
    reset, absorb, digest = library.keccak_reset, library.keccak_absorb, library.keccak_digest

    def keccak256(data: bytes) -> bytes:
        reset(handle)
        absorb(handle, data, len(data))
        digest(handle, out, 32, 1)
        return out.raw

    try:
        yield keccak256 if keccak256(b"") == _KECCAK_OF_NOTHING else _keccak256
    finally:
        library.keccak_destroy(handle)


# -- checks


def check_gtin(gtin: str) -> None:
    """Raises CodeError unless `gtin` is a GTIN-14 with a right check digit."""
    if not (isinstance(gtin, str) and len(gtin) == 14 and gtin.isascii() and gtin.isdigit()):
        raise CodeError("invalid-gtin", f"GTIN {gtin!r} is not 14 digits: write a GTIN-13 with a leading 0")
    expected = gtin_check_digit(gtin[:13])
    if expected != int(gtin[13]):
        raise CodeError("bad-gtin-check-digit", f"GTIN {gtin} has a wrong check digit: expected {expected}, "
                                                f"not {gtin[13]}; check the number on the label")


def check_lot(lot: str) -> None:
    """Raises CodeError unless `lot` is a valid GS1 AI 10 value that fits the chain's bytes20."""
    if not (isinstance(lot, str) and CSET_82.fullmatch(lot) and len(lot.encode()) <= LOT_BYTES):
        raise CodeError("invalid-lot", f"lot {lot!r} is not 1-20 characters of GS1 character set 82 (letters, "
                                       "digits and !\"%&'()*+,-./:;<=>?_)")


def check_serial(serial: str) -> None:
    """Raises CodeError unless `serial` is a valid GS1 AI 21 value."""
    if not (isinstance(serial, str) and CSET_82.fullmatch(serial)):
        raise CodeError("invalid-serial", f"serial {serial!r} is not 1-20 characters of GS1 character set 82 "
                                          "(letters, digits and !\"%&'()*+,-./:;<=>?_)")


# -- the lot


@dataclass(frozen=True)
class LotCodes:
    """A lot's bottle codes and their StandardMerkleTree.

    `nodes` is OpenZeppelin's flat array (root at 0, n leaves in 2n-1 nodes) and `leaf_node[i]` the index of
    bottle i's leaf in it; bottle i is `serials[i]`, in case `i // bottles_per_case + 1`.
    """

    gtin: str
    lot: str
    bottles_per_case: int
    serials: tuple[str, ...] = field(repr=False)
    nodes: tuple[bytes, ...] = field(repr=False)
    leaf_node: tuple[int, ...] = field(repr=False)

    @classmethod
    def build(cls, gtin: str, lot: str, bottles_per_case: int, cases: int,
              serials: Sequence[str] | None = None) -> "LotCodes":
        """Codes for `cases` full cases of `bottles_per_case` bottles; new random serials unless given.

        Raises:
            CodeError: a bad GTIN or lot, a count below one, or serials that are too few, too many, repeated or
                not valid in GS1 AI 21.
        """
        check_gtin(gtin)
        check_lot(lot)
        if isinstance(bottles_per_case, bool) or not isinstance(bottles_per_case, int) or bottles_per_case < 1:
            raise CodeError("invalid-count", f"a case holds at least one bottle, not {bottles_per_case!r}")
        if isinstance(cases, bool) or not isinstance(cases, int) or not 1 <= cases <= UINT32_MAX:
            raise CodeError("invalid-count", f"a lot has 1 to {UINT32_MAX} cases, not {cases!r}")
        n = bottles_per_case * cases
        serials = tuple(new_serials(n) if serials is None else serials)
        if len(serials) != n:
            raise CodeError("invalid-count", f"{len(serials)} serials given for {cases} cases of "
                                             f"{bottles_per_case} bottles ({n} bottles)")
        try:
            valid = all(map(CSET_82.fullmatch, serials))  # at C speed; a serial that is no string raises
        except TypeError:
            valid = False
        if not valid:
            check_serial(next(s for s in serials if not (isinstance(s, str) and CSET_82.fullmatch(s))))
        if len(set(serials)) != n:
            raise CodeError("duplicate-serial", f"serials repeat: only {len(set(serials))} of the {n} differ")
        nodes, leaf_node = _tree(serials, bottles_per_case)
        return cls(gtin, lot, bottles_per_case, serials, nodes, leaf_node)

    @property
    def root(self) -> bytes:
        return self.nodes[0]

    @property
    def cases(self) -> int:
        return len(self.serials) // self.bottles_per_case

    def case_of(self, i: int) -> int:
        """The case number (from 1) of bottle i."""
        if not 0 <= i < len(self.serials):
            raise IndexError(f"the lot has bottles 0-{len(self.serials) - 1}, not {i}")
        return i // self.bottles_per_case + 1

    def proof(self, i: int) -> list[bytes]:
        """Bottle i's proof: sibling hashes from its leaf up, as `Inventory.verifyBottle` takes them."""
        nodes = self.nodes
        return [nodes[j] for j in self.proof_indexes(self.leaf_node[i])]

    @staticmethod
    def proof_indexes(node_index: int) -> list[int]:
        """The node indexes of a proof from the leaf at `node_index` up, so a store can fetch just those."""
        path = []
        while node_index > 0:
            path.append(node_index - 1 if node_index % 2 == 0 else node_index + 1)
            node_index = (node_index - 1) // 2
        return path

    def values(self) -> list[tuple[str, int]]:
        """The tree's values, `(serial, case)` per bottle in bottle order."""
        per_case = self.bottles_per_case
        return [(serial, i // per_case + 1) for i, serial in enumerate(self.serials)]


def _tree(serials: tuple[str, ...], bottles_per_case: int) -> tuple[tuple[bytes, ...], tuple[int, ...]]:
    """OpenZeppelin's StandardMerkleTree over `(serial, case)`: leaves sorted by hash fill the array from its
    end, then each parent is the hash of its two children in sorted order."""
    n = len(serials)
    size = 2 * n - 1
    leaves = [b""] * n
    with _keccak256_for_one_build() as keccak256:
        # The head of a bottle's encoding depends only on its case and the serial's length: build it per case.
        tails: dict[int, bytes] = {}
        i = 0
        for case_number in range(1, n // bottles_per_case + 1):
            head = _HEAD + case_number.to_bytes(32, "big")
            for serial in serials[i:i + bottles_per_case]:
                data = serial.encode()
                length = len(data)
                tail = tails.get(length)
                if tail is None:
                    tail = tails[length] = length.to_bytes(32, "big")
                leaves[i] = keccak256(keccak256(head + tail + data + b"\0" * (-length % 32)))
                i += 1
        ordered = sorted(leaves)  # a key-less sort of bytes runs at C speed
        position = {leaf: p for p, leaf in enumerate(ordered)}
        leaf_node = tuple([size - 1 - position[leaf] for leaf in leaves])
        ordered.reverse()
        nodes = [b""] * (n - 1) + ordered
        for i in range(n - 2, -1, -1):
            a, b = nodes[2 * i + 1], nodes[2 * i + 2]
            nodes[i] = keccak256(a + b if a < b else b + a)
    return tuple(nodes), leaf_node


# -- GS1 Digital Link


def digital_link(base: str, gtin: str, lot: str, serial: str) -> str:
    """The bottle's GS1 Digital Link URL under `base`: a domain (`id.brand.cn`, served over https) or a URL
    with a scheme and maybe a path (`http://127.0.0.1:8000`, `https://brand.example.com/dl`).

    Raises:
        CodeError: a bad GTIN, lot or serial.
        ValueError: `base` is neither a domain nor an http(s) URL without query or fragment.
    """
    check_gtin(gtin)
    check_lot(lot)
    check_serial(serial)
    url = base if "://" in base else f"https://{base}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"{base!r} is not a domain or an http(s) URL to put bottle codes under")
    # GS1 Digital Link percent-encodes every character of set 82 outside RFC 3986's unreserved ones.
    return f"{url.rstrip('/')}/01/{gtin}/10/{quote(lot, safe='')}/21/{quote(serial, safe='')}"


_BIIP_AI = re.compile(r"GS1 AI \((\d+)\)")
_AI_REASONS = {"01": "invalid-gtin", "10": "invalid-lot", "21": "invalid-serial"}
_AI_WHAT = {"01": "a GTIN (AI 01) of 14 digits", "10": "a lot (AI 10)", "21": "a serial (AI 21)"}


def parse_digital_link(url: str, *, require_lot: bool = True) -> BottleCode:
    """The GTIN, lot and serial a bottle's GS1 Digital Link URL names.

    A Digital Link may leave the lot out; every label the brand prints names one, so a code without a lot is
    refused unless `require_lot` is False (then `lot` is None). Whether the GTIN is the brand's is the
    registry's question, not this function's.

    Raises:
        CodeError: not an http(s) URL, not a Digital Link, key qualifiers out of order or in the query, no GTIN
            or a wrong check digit, no lot, no serial, or a lot or serial not valid for GS1 AI 10 or 21.
    """
    if not isinstance(url, str):
        raise CodeError("not-a-url", "the code is not text: scan the QR code on the bottle's label")
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise CodeError("not-a-url", f"{url[:80]!r} is not an http(s) URL: scan the QR code on the bottle's label")
    try:
        parsed = GS1DigitalLinkURI.parse(url)
    except ParseError as error:
        raise _parse_error(url, error) from None
    in_query = sorted(set(parse_qs(parts.query)) & set(KEY_AIS))
    if in_query:
        raise CodeError("qualifier-in-query", f"the URL's query names AI {', '.join(in_query)}: a GTIN, lot and "
                                              "serial belong in the path, /01/<GTIN>/10/<lot>/21/<serial>")
    found = {element.ai.ai: element for element in parsed.element_strings}
    if "01" not in found:
        raise CodeError("missing-gtin", "the URL names no GTIN (AI 01): it is not a bottle's code")
    gtin = found["01"]
    if gtin.gtin_error:
        raise CodeError("bad-gtin-check-digit", f"the GTIN has a wrong check digit: {gtin.gtin_error}")
    if "21" not in found:
        raise CodeError("missing-serial", "the URL names no serial (AI 21): it is not one bottle's code")
    lot = found["10"].value if "10" in found else None
    if lot is None and require_lot:
        raise CodeError("missing-lot", "the URL names no lot (AI 10): every bottle's code names its lot")
    check_gtin(gtin.value)
    if lot is not None:
        check_lot(lot)
    check_serial(found["21"].value)
    return BottleCode(gtin.value, lot, found["21"].value)


def _parse_error(url: str, error: ParseError) -> CodeError:
    """biip's parse error as a reason: biip says which AI failed only in its message."""
    message = str(error)
    if "qualifier" in message:
        return CodeError("qualifier-order", f"the URL's key qualifiers are out of order ({message}); a bottle's "
                                            "code reads /01/<GTIN>/10/<lot>/21/<serial>")
    failed = _BIIP_AI.search(message)
    if failed and failed.group(1) in _AI_REASONS:
        ai = failed.group(1)
        return CodeError(_AI_REASONS[ai], f"the URL does not hold {_AI_WHAT[ai]} valid in GS1: {message}")
    return CodeError("not-a-digital-link", f"the URL is not a GS1 Digital Link ({message}); a bottle's code "
                                           "reads /01/<GTIN>/10/<lot>/21/<serial>")
