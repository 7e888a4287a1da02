"""QBFT `extraData`: Besu's own documented examples decode to their validators and encode back byte for byte,
an IBFT 2.0 header is told apart, any value round-trips (property tests), and bytes that are not QBFT's are
refused by name rather than with a stray exception."""

from __future__ import annotations

import pytest
import rlp
from eth_utils import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from consortium import qbft
from consortium.genesis import ChainSettings, qbft_genesis, validators_of

# Besu's "Configure QBFT consensus" page: the genesis example for block header validator selection, ...
DOCS_GENESIS_EXTRA_DATA = (
    "0xf87aa00000000000000000000000000000000000000000000000000000000000000000f8549464a702e6263b7297a96638cac6ae65e"
    "6541f4169943923390ad55e90c237593b3b0e401f3b08a0318594aefdb9a738c9f433e5b6b212a6d62f6370c2f69294c7eeb9a4e00c"
    "e683cf93039b212648e01c6c6b78c080c0")
DOCS_GENESIS_VALIDATORS = ["0x64a702e6263b7297a96638cac6ae65e6541f4169", "0x3923390ad55e90c237593b3b0e401f3b08a03185",
                           "0xaefdb9a738c9f433e5b6b212a6d62f6370c2f692", "0xc7eeb9a4e00ce683cf93039b212648e01c6c6b78"]
# ... its `besu rlp encode --type=QBFT_EXTRA_DATA` example: the toEncode.json list and the encoding it prints, ...
DOCS_TO_ENCODE = ["0x4592c8e45706cc08b8f44b11e43cba0cfc5892cb", "0x06e23768a0f59cf365e18c2e0c89e151bcdedc70",
                  "0xc5327f96ee02d7bcbc1bf1236b8c15148971e1de", "0xab5e7f4061c605820d3744227eed91ff8e2c8908"]
DOCS_ENCODED = (
    "0xf87aa00000000000000000000000000000000000000000000000000000000000000000f854944592c8e45706cc08b8f44b11e43cba0"
    "cfc5892cb9406e23768a0f59cf365e18c2e0c89e151bcdedc7094c5327f96ee02d7bcbc1bf1236b8c15148971e1de94ab5e7f4061c6"
    "05820d3744227eed91ff8e2c8908c080c0")
# ... and its genesis for contract validator selection, which names no validators in extraData.
DOCS_CONTRACT_SELECTION_EXTRA_DATA = "0xe5a00000000000000000000000000000000000000000000000000000000000000000c0c080c0"
# Besu's genesis file page: an IBFT 2.0 example (its vote is an empty string and its round four bytes).
DOCS_IBFT2_EXTRA_DATA = ("0xf83ea00000000000000000000000000000000000000000000000000000000000000000d5949811ebc35d7b06b3"
                         "fa8dc5809a1f9c52751e1deb808400000000c0")


def test_the_documented_qbft_genesis_extra_data_decodes_to_its_four_validators_in_order():
    decoded = qbft.decode(DOCS_GENESIS_EXTRA_DATA)
    assert decoded.validators == tuple(to_checksum_address(a) for a in DOCS_GENESIS_VALIDATORS)
    assert (decoded.vanity, decoded.vote, decoded.round, decoded.seals) == (bytes(32), None, 0, ())


def test_the_documented_qbft_genesis_extra_data_encodes_back_byte_for_byte():
    assert qbft.encode(qbft.decode(DOCS_GENESIS_EXTRA_DATA)) == DOCS_GENESIS_EXTRA_DATA
    assert qbft.genesis_extra_data(DOCS_GENESIS_VALIDATORS) == DOCS_GENESIS_EXTRA_DATA


def test_the_documented_rlp_encode_example_gives_the_encoding_besu_prints():
    assert qbft.genesis_extra_data(DOCS_TO_ENCODE) == DOCS_ENCODED
    assert [a.lower() for a in qbft.decode(DOCS_ENCODED).validators] == DOCS_TO_ENCODE


def test_the_documented_contract_selection_extra_data_names_no_validators():
    assert qbft.decode(DOCS_CONTRACT_SELECTION_EXTRA_DATA).validators == ()
    assert qbft.genesis_extra_data([]) == DOCS_CONTRACT_SELECTION_EXTRA_DATA


def test_an_ibft2_extra_data_is_refused_as_not_qbft():
    with pytest.raises(qbft.ExtraDataError, match="vote"):
        qbft.decode(DOCS_IBFT2_EXTRA_DATA)


@pytest.mark.parametrize("text, problem", [
    ("0xzz", "not hex"),
    (DOCS_GENESIS_EXTRA_DATA[:-6], "not RLP"),
    ("0x" + "c0", "has 0 fields"),
    ("0x" + rlp.encode([bytes(32), [bytes(20), bytes(19)], [], b"", []]).hex(), "validator 2 is 19 bytes"),
    ("0x" + rlp.encode([bytes(32), [], [bytes(20), b"\x01"], b"", []]).hex(), "the vote's type is 0x01"),
    ("0x" + rlp.encode([bytes(32), [], [], b"", [bytes(64)]]).hex(), "seal 1 is 64 bytes"),
])
def test_bytes_that_are_not_a_qbft_extra_data_are_refused_naming_the_part(text, problem):
    with pytest.raises(qbft.ExtraDataError, match=problem):
        qbft.decode(text)


def test_a_genesis_built_for_validators_names_them_back_in_its_extra_data():
    genesis = qbft_genesis(ChainSettings(chain_id=1515), DOCS_TO_ENCODE)
    assert genesis["extraData"] == DOCS_ENCODED
    assert [a.lower() for a in validators_of(genesis)] == DOCS_TO_ENCODE
    # The two header fields Besu's QBFT page gives fixed values.
    assert genesis["difficulty"] == "0x1"
    assert genesis["mixHash"] == "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"


addresses = st.binary(min_size=20, max_size=20).map(to_checksum_address)
extra_data_values = st.builds(
    qbft.ExtraData,
    validators=st.lists(addresses, max_size=12).map(tuple),
    vanity=st.binary(min_size=32, max_size=32),
    vote=st.none() | st.builds(qbft.Vote, address=addresses, add=st.booleans()),
    round=st.integers(min_value=0, max_value=2**32 - 1),
    seals=st.lists(st.binary(min_size=65, max_size=65), max_size=5).map(tuple),
)


@given(extra_data_values)
def test_decoding_an_encoded_extra_data_gives_the_same_value(extra):
    assert qbft.decode(qbft.encode(extra)) == extra


@given(extra_data_values)
def test_encoding_a_decoded_extra_data_gives_the_same_bytes(extra):
    encoded = qbft.encode(extra)
    assert qbft.encode(qbft.decode(encoded)) == encoded


@given(st.binary(max_size=300))
def test_any_bytes_either_decode_and_encode_back_or_are_refused_by_name(raw):
    try:
        decoded = qbft.decode(raw)
    except qbft.ExtraDataError:
        return
    assert qbft.encode(decoded) == "0x" + raw.hex()
