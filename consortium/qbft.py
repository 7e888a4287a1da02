"""QBFT block header `extraData`: encoding the genesis block's validator list and decoding any block's.

Besu's QBFT `extraData` is the RLP list `[vanity (32 bytes), [validator addresses (20 bytes each)], vote,
round, [seals]]`. The vote is an empty list or `[address, 0xff to add | 0x00 to drop]`; the round is an RLP
integer (0 is the empty string, 0x80, unlike IBFT 2.0's fixed four bytes); each seal is a 65-byte signature.
A genesis block carries only the validators: no vote, round 0, no seals. This is what
`besu rlp encode --type=QBFT_EXTRA_DATA` writes for a JSON list of validator addresses, with the validators
in the order given (Besu's documentation asks for ascending order).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import rlp
from eth_utils import is_hex_address, to_checksum_address
from rlp.sedes import big_endian_int

VANITY_LENGTH = 32
ADDRESS_LENGTH = 20
SEAL_LENGTH = 65
VOTE_ADD = b"\xff"
VOTE_DROP = b"\x00"


class ExtraDataError(ValueError):
    """The bytes are not a QBFT `extraData`; the message says which part is wrong."""


@dataclass(frozen=True)
class Vote:
    """A validator's proposal, carried in a block it proposes: add `address` to the validators, or drop it."""

    address: str
    add: bool


@dataclass(frozen=True)
class ExtraData:
    """A decoded QBFT `extraData`. Addresses are checksum addresses, in the order the header holds them."""

    validators: tuple[str, ...]
    vanity: bytes = bytes(VANITY_LENGTH)
    vote: Vote | None = None
    round: int = 0
    seals: tuple[bytes, ...] = ()


def _address_bytes(address: str) -> bytes:
    if not isinstance(address, str) or not is_hex_address(address):
        raise ExtraDataError(f"{address!r} is not an address (0x and 40 hex digits)")
    return bytes.fromhex(address[2:])


def encode(extra: ExtraData) -> str:
    """The `extraData` of `extra` as 0x-prefixed hex, as a genesis file or a block header holds it."""
    if len(extra.vanity) != VANITY_LENGTH:
        raise ExtraDataError(f"the vanity is {len(extra.vanity)} bytes; QBFT's is {VANITY_LENGTH}")
    if extra.round < 0 or extra.round >= 2**32:
        raise ExtraDataError(f"round {extra.round} is not a 32-bit unsigned number")
    for seal in extra.seals:
        if len(seal) != SEAL_LENGTH:
            raise ExtraDataError(f"a seal is {len(seal)} bytes; a secp256k1 signature is {SEAL_LENGTH}")
    vote = [] if extra.vote is None else [_address_bytes(extra.vote.address), VOTE_ADD if extra.vote.add else VOTE_DROP]
    payload = [extra.vanity, [_address_bytes(a) for a in extra.validators], vote,
               big_endian_int.serialize(extra.round), list(extra.seals)]
    return "0x" + rlp.encode(payload).hex()


def genesis_extra_data(validators: Iterable[str]) -> str:
    """The genesis block's `extraData` for these validators, in the order given: no vote, round 0, no seals."""
    return encode(ExtraData(validators=tuple(validators)))


def _expect_bytes(item: object, length: int | None, what: str) -> bytes:
    if not isinstance(item, bytes):
        raise ExtraDataError(f"{what} is a list where QBFT has a byte string")
    if length is not None and len(item) != length:
        raise ExtraDataError(f"{what} is {len(item)} bytes; QBFT's is {length}")
    return item


def _expect_list(item: object, what: str) -> list:
    if not isinstance(item, list):
        raise ExtraDataError(f"{what} is a byte string where QBFT has a list")
    return item


def decode(extra_data: str | bytes) -> ExtraData:
    """Reads a QBFT `extraData` (hex, with or without 0x, or bytes).

    Raises:
        ExtraDataError: not hex, not RLP, or not the five QBFT fields of the right sizes.
    """
    if isinstance(extra_data, str):
        text = extra_data.removeprefix("0x").removeprefix("0X")
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise ExtraDataError("extraData is not hex") from None
    else:
        raw = bytes(extra_data)
    try:
        fields = rlp.decode(raw)
    except rlp.exceptions.DecodingError as exc:
        raise ExtraDataError(f"extraData is not RLP ({exc})") from None
    fields = _expect_list(fields, "extraData")
    if len(fields) != 5:
        raise ExtraDataError(f"extraData has {len(fields)} fields; QBFT's has 5 (vanity, validators, vote, "
                             "round, seals); an IBFT 2.0 or Clique extraData is not QBFT's")
    vanity_item, validators_item, vote_item, round_item, seals_item = fields
    vanity = _expect_bytes(vanity_item, VANITY_LENGTH, "the vanity")
    validators = tuple(
        to_checksum_address(_expect_bytes(v, ADDRESS_LENGTH, f"validator {i + 1}"))
        for i, v in enumerate(_expect_list(validators_item, "the validators")))
    vote_fields = _expect_list(vote_item, "the vote")
    if not vote_fields:
        vote = None
    elif len(vote_fields) == 2:
        address = to_checksum_address(_expect_bytes(vote_fields[0], ADDRESS_LENGTH, "the vote's address"))
        kind = _expect_bytes(vote_fields[1], 1, "the vote's type")
        if kind not in (VOTE_ADD, VOTE_DROP):
            raise ExtraDataError(f"the vote's type is 0x{kind.hex()}; QBFT's are 0xff (add) and 0x00 (drop)")
        vote = Vote(address, kind == VOTE_ADD)
    else:
        raise ExtraDataError(f"the vote has {len(vote_fields)} fields; QBFT's is empty or [address, type]")
    try:
        round_number = big_endian_int.deserialize(_expect_bytes(round_item, None, "the round"))
    except rlp.exceptions.DeserializationError:
        raise ExtraDataError("the round is not a minimal RLP integer") from None
    if round_number >= 2**32:
        raise ExtraDataError(f"round {round_number} is not a 32-bit unsigned number")
    seals = tuple(_expect_bytes(s, SEAL_LENGTH, f"seal {i + 1}")
                  for i, s in enumerate(_expect_list(seals_item, "the seals")))
    return ExtraData(validators=validators, vanity=vanity, vote=vote, round=round_number, seals=seals)
