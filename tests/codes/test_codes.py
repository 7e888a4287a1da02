"""Bottle codes: serials are unguessable and valid in GS1 AI 21 and in a URL; a lot's tree is exactly the
StandardMerkleTree that `merkle.py` and OpenZeppelin's JavaScript library build over `(serial, case)`, and its
proofs verify; bad lots are refused with a reason; Digital Link URLs parse as the shared vectors say and round
trip for any GTIN, lot and serial GS1 allows."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
from eth_abi import encode
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.contracts import PROJECT_ROOT
from ledger_api import codes, merkle
from ledger_api.activity import gs1_check_digit
from ledger_api.codes import BOTTLE_TYPES, CodeError, LotCodes

GTIN = "09506000134352"
VECTORS = json.loads(Path("/work/shared/vectors/digital_link.json").read_text())
CSET_82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"

gs1_values = st.text(alphabet=CSET_82, min_size=1, max_size=20)


@st.composite
def gtins(draw) -> str:
    body = draw(st.text(alphabet="0123456789", min_size=13, max_size=13))
    return body + str(gs1_check_digit(body))


# -- serials


def test_a_serial_carries_at_least_80_bits_and_fits_ai_21():
    serial = codes.new_serial()
    assert len(serial) * 5 >= 80 and len(serial) <= 20
    assert set(serial) <= set(codes.SERIAL_ALPHABET) and not set(serial) & set("ILOU")
    assert codes.CSET_82.fullmatch(serial)


def test_a_serial_needs_no_percent_encoding_in_a_url_path():
    for serial in codes.new_serials(1_000):
        assert quote(serial, safe="") == serial


def test_every_letter_of_the_alphabet_turns_up_about_equally_often():
    letters = Counter("".join(codes.new_serials(20_000)))
    expected = 20_000 * codes.SERIAL_LENGTH / 32
    assert set(letters) == set(codes.SERIAL_ALPHABET)
    assert all(abs(count - expected) < expected * 0.1 for count in letters.values())


def test_serials_of_one_call_are_all_different_even_when_the_source_repeats_itself():
    calls = []

    def repeating_then_fresh(size: int) -> bytes:
        calls.append(size)
        return bytes(size) if len(calls) == 1 else bytes(range(size))

    serials = codes.new_serials(3, repeating_then_fresh)
    assert len(set(serials)) == 3 and len(calls) == 2


def test_a_source_that_only_repeats_itself_is_refused_rather_than_looped_on():
    with pytest.raises(ValueError, match="repeating"):
        codes.new_serials(2, lambda size: bytes(size))


def test_the_same_random_bytes_give_the_same_serials():
    import random

    assert codes.new_serials(50, random.Random(7).randbytes) == codes.new_serials(50, random.Random(7).randbytes)
    assert codes.new_serials(0) == []


# -- leaves


@pytest.mark.parametrize("serial", ["", "A", "X" * 31, "X" * 32, "X" * 33, "Y" * 64, "Z" * 65, "酒" * 11])
@pytest.mark.parametrize("case_number", [0, 1, 6, 2**32 - 1])
def test_a_bottle_is_abi_encoded_byte_for_byte_as_eth_abi_does(serial, case_number):
    assert codes.encode_bottle(serial, case_number) == encode(list(BOTTLE_TYPES), [serial, case_number])
    assert codes.bottle_leaf(serial, case_number) == merkle.leaf_hash(BOTTLE_TYPES, (serial, case_number))


@pytest.mark.parametrize("case_number", [-1, 2**32])
def test_a_case_number_beyond_uint32_is_refused(case_number):
    with pytest.raises(ValueError, match="uint32"):
        codes.encode_bottle("A", case_number)


@settings(deadline=None)  # a busy shared machine must not fail a property for being slow
@given(st.text(max_size=80), st.integers(0, 2**32 - 1))
def test_any_bottle_s_leaf_is_the_reference_leaf(serial, case_number):
    assert codes.bottle_leaf(serial, case_number) == merkle.leaf_hash(BOTTLE_TYPES, (serial, case_number))


# -- the lot's tree


@pytest.mark.parametrize("bottles_per_case, cases", [(1, 1), (2, 1), (1, 2), (3, 1), (7, 1), (1, 7), (10, 10),
                                                     (6, 1), (6, 17)])
def test_a_lot_s_tree_is_the_reference_standard_merkle_tree(bottles_per_case, cases):
    lot = LotCodes.build(GTIN, "LOT2026A", bottles_per_case, cases)
    reference = merkle.StandardMerkleTree.of([(s, c) for s, c in lot.values()], BOTTLE_TYPES)
    assert lot.nodes == reference.nodes and len(lot.nodes) == 2 * len(lot.serials) - 1
    assert lot.leaf_node == reference.leaf_index
    assert lot.root == reference.root
    assert all(lot.proof(i) == reference.proof(i) for i in range(len(lot.serials)))


def test_a_lot_s_tree_is_the_same_where_pycryptodome_s_library_cannot_be_called_directly(monkeypatch):
    serials = codes.new_serials(42)
    fast = LotCodes.build(GTIN, "LOT2026A", 6, 7, serials=serials)
    monkeypatch.setattr(codes, "_raw_keccak_library", lambda: None)
    assert LotCodes.build(GTIN, "LOT2026A", 6, 7, serials=serials) == fast


def test_bottles_fill_the_cases_in_order():
    lot = LotCodes.build(GTIN, "LOT2026A", 6, 3)
    assert [lot.case_of(i) for i in range(18)] == [1] * 6 + [2] * 6 + [3] * 6
    assert lot.values()[6] == (lot.serials[6], 2) and lot.cases == 3
    with pytest.raises(IndexError):
        lot.case_of(18)


def test_every_bottle_s_proof_leads_from_its_leaf_to_the_root_and_another_case_does_not():
    lot = LotCodes.build(GTIN, "LOT2026A", 6, 5)
    for i, (serial, case_number) in enumerate(lot.values()):
        leaf = codes.bottle_leaf(serial, case_number)
        assert lot.nodes[lot.leaf_node[i]] == leaf
        assert merkle.process_proof(leaf, lot.proof(i)) == lot.root
        assert merkle.process_proof(codes.bottle_leaf(serial, case_number + 1), lot.proof(i)) != lot.root


def test_proof_indexes_name_the_siblings_from_a_leaf_up_to_the_root():
    assert LotCodes.proof_indexes(0) == []
    assert LotCodes.proof_indexes(1) == [2] and LotCodes.proof_indexes(2) == [1]
    assert LotCodes.proof_indexes(9) == [10, 3, 2]
    lot = LotCodes.build(GTIN, "LOT2026A", 6, 4)
    assert all(len(LotCodes.proof_indexes(lot.leaf_node[i])) == len(lot.proof(i)) for i in range(24))


def test_given_serials_are_used_as_they_are_in_bottle_order():
    serials = [f"S{i:04d}" for i in range(12)]
    lot = LotCodes.build(GTIN, "LOT2026A", 6, 2, serials=serials)
    assert lot.serials == tuple(serials)
    assert lot.root == merkle.StandardMerkleTree.of([(s, i // 6 + 1) for i, s in enumerate(serials)],
                                                    BOTTLE_TYPES).root


def test_a_lot_s_tree_equals_openzeppelin_s_javascript_tree(tmp_path):
    lot = LotCodes.build(GTIN, "LOT2026A", 6, 23)
    values_file = tmp_path / "values.json"
    values_file.write_text(json.dumps([[s, c] for s, c in lot.values()]))
    picked = [0, 1, 5, 6, 77, len(lot.serials) - 1]
    script = f"""
const {{ StandardMerkleTree }} = require('@openzeppelin/merkle-tree');
const values = JSON.parse(require('fs').readFileSync({json.dumps(str(values_file))}, 'utf8'));
const tree = StandardMerkleTree.of(values, {json.dumps(list(BOTTLE_TYPES))});
process.stdout.write(JSON.stringify({{ root: tree.root, proofs: {picked}.map((i) => tree.getProof(i)),
                                      nodes: tree.dump().tree }}));
"""
    done = subprocess.run(["node", "-e", script], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    reference = json.loads(done.stdout)
    assert reference["root"] == "0x" + lot.root.hex()
    assert reference["proofs"] == [["0x" + h.hex() for h in lot.proof(i)] for i in picked]
    assert reference["nodes"] == ["0x" + h.hex() for h in lot.nodes]


@pytest.mark.parametrize("gtin, lot, per_case, cases, serials, reason, says", [
    ("9506000134352", "L1", 6, 1, None, "invalid-gtin", "14 digits"),
    ("0950600013435X", "L1", 6, 1, None, "invalid-gtin", "14 digits"),
    ("09506000134353", "L1", 6, 1, None, "bad-gtin-check-digit", "check digit"),
    (GTIN, "", 6, 1, None, "invalid-lot", "1-20 characters"),
    (GTIN, "L" * 21, 6, 1, None, "invalid-lot", "1-20 characters"),
    (GTIN, "LOT 1", 6, 1, None, "invalid-lot", "character set 82"),
    (GTIN, "批次1", 6, 1, None, "invalid-lot", "character set 82"),
    (GTIN, "L1", 0, 1, None, "invalid-count", "at least one bottle"),
    (GTIN, "L1", 6, 0, None, "invalid-count", "1 to"),
    (GTIN, "L1", 2, 1, ["A", "B", "C"], "invalid-count", "3 serials given for 1 cases of 2 bottles"),
    (GTIN, "L1", 2, 1, ["A", "A"], "duplicate-serial", "repeat"),
    (GTIN, "L1", 2, 1, ["A", "B C"], "invalid-serial", "'B C'"),
    (GTIN, "L1", 2, 1, ["A", "S" * 21], "invalid-serial", "character set 82"),
    (GTIN, "L1", 2, 1, ["A", 7], "invalid-serial", "serial 7"),
])
def test_a_bad_lot_is_refused_saying_what_is_wrong(gtin, lot, per_case, cases, serials, reason, says):
    with pytest.raises(CodeError, match=says) as refused:
        LotCodes.build(gtin, lot, per_case, cases, serials=serials)
    assert refused.value.reason == reason and isinstance(refused.value, ValueError)


def test_a_lot_s_repr_stays_short_for_a_big_lot():
    assert len(repr(LotCodes.build(GTIN, "LOT2026A", 6, 100))) < 200


# -- GS1 Digital Link


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_every_shared_digital_link_vector_parses_or_is_refused_as_recorded(vector):
    if vector["valid"]:
        code = codes.parse_digital_link(vector["uri"], require_lot=False)
        assert (code.gtin, code.lot, code.serial) == (vector["gtin"], vector["lot"], vector["serial"])
        if vector["lot"] is None:
            with pytest.raises(CodeError) as refused:
                codes.parse_digital_link(vector["uri"])
            assert refused.value.reason == "missing-lot"
        else:
            assert codes.parse_digital_link(vector["uri"]) == code
    else:
        with pytest.raises(CodeError) as refused:
            codes.parse_digital_link(vector["uri"], require_lot=False)
        assert refused.value.reason == vector["reason"]


@pytest.mark.parametrize("url, reason, says", [
    ("", "not-a-url", "not an http"),
    ("BTL0001", "not-a-url", "not an http"),
    ("ftp://id.gs1.org/01/09506000134352/10/L1/21/S1", "not-a-url", "not an http"),
    ("https:///01/09506000134352/10/L1/21/S1", "not-a-url", "not an http"),
    ("https://id.gs1.org/", "not-a-digital-link", "not a GS1 Digital Link"),
    ("https://id.gs1.org/01/09506000134352/10/L1/21/S1/", "not-a-digital-link", "not a GS1 Digital Link"),
    ("https://id.gs1.org/01/0950600013435A/10/L1/21/S1", "invalid-gtin", "GTIN"),
    ("https://id.gs1.org/01/09506000134353/10/L1/21/S1", "bad-gtin-check-digit", "check digit"),
    ("https://id.gs1.org/414/9506000134352", "missing-gtin", "no GTIN"),
    ("https://id.gs1.org/01/09506000134352/10/L1", "missing-serial", "no serial"),
    ("https://id.gs1.org/01/09506000134352/21/S1", "missing-lot", "no lot"),
    ("https://id.gs1.org/01/09506000134352/10/" + "L" * 21 + "/21/S1", "invalid-lot", "lot"),
    ("https://id.gs1.org/01/09506000134352/10/L%201/21/S1", "invalid-lot", "lot"),
    ("https://id.gs1.org/01/09506000134352/10/L1/21/S%C3%A9", "invalid-serial", "serial"),
    ("https://id.gs1.org/01/09506000134352/10/L1/21/" + "S" * 21, "invalid-serial", "serial"),
    ("https://id.gs1.org/01/09506000134352/21/S1/10/L1", "qualifier-order", "out of order"),
    ("https://id.gs1.org/01/09506000134352/10/L1/21/S1?21=OTHER", "qualifier-in-query", "path"),
    ("https://id.gs1.org/01/09506000134352?10=L1&21=S1", "qualifier-in-query", "path"),
])
def test_a_url_that_is_no_bottle_s_code_is_refused_with_its_reason(url, reason, says):
    with pytest.raises(CodeError, match=says) as refused:
        codes.parse_digital_link(url)
    assert refused.value.reason == reason and refused.value.reason in codes.REASONS


def test_a_code_with_a_cpv_or_data_attributes_still_names_its_bottle():
    code = codes.parse_digital_link("https://id.gs1.org/01/09506000134352/22/V2/10/L1/21/S1?17=261231&lang=zh")
    assert code == codes.BottleCode(GTIN, "L1", "S1")


def test_a_digital_link_goes_under_a_domain_over_https_or_under_a_local_base_url():
    assert codes.digital_link("id.brand.cn", GTIN, "L1", "S1") == f"https://id.brand.cn/01/{GTIN}/10/L1/21/S1"
    assert codes.digital_link("http://127.0.0.1:8000/", GTIN, "L1", "S1") == \
        f"http://127.0.0.1:8000/01/{GTIN}/10/L1/21/S1"
    assert codes.digital_link("https://brand.example.com/dl", GTIN, "L1", "S1") == \
        f"https://brand.example.com/dl/01/{GTIN}/10/L1/21/S1"


def test_reserved_characters_of_a_lot_or_serial_are_percent_encoded():
    url = codes.digital_link("id.brand.cn", GTIN, "A/B%C", "x?y&z")
    assert url == f"https://id.brand.cn/01/{GTIN}/10/A%2FB%25C/21/x%3Fy%26z"
    assert codes.parse_digital_link(url) == codes.BottleCode(GTIN, "A/B%C", "x?y&z")


@pytest.mark.parametrize("base", ["ftp://id.brand.cn", "https://", "https://id.brand.cn/?x=1"])
def test_a_base_that_is_no_web_address_is_refused(base):
    with pytest.raises(ValueError, match="not a domain or an http"):
        codes.digital_link(base, GTIN, "L1", "S1")


def test_a_digital_link_is_not_made_for_a_bad_gtin_lot_or_serial():
    for gtin, lot, serial, reason in [("09506000134353", "L1", "S1", "bad-gtin-check-digit"),
                                      (GTIN, "L 1", "S1", "invalid-lot"), (GTIN, "L1", "", "invalid-serial")]:
        with pytest.raises(CodeError) as refused:
            codes.digital_link("id.brand.cn", gtin, lot, serial)
        assert refused.value.reason == reason


@settings(max_examples=300, deadline=None)
@given(gtins(), gs1_values, gs1_values, st.sampled_from(["id.gs1.org", "http://127.0.0.1:8000",
                                                          "https://brand.example.com/dl/bottles"]))
def test_parsing_a_made_digital_link_gives_back_its_gtin_lot_and_serial(gtin, lot, serial, base):
    assert codes.parse_digital_link(codes.digital_link(base, gtin, lot, serial)) == codes.BottleCode(gtin, lot,
                                                                                                    serial)


@settings(deadline=None)
@given(gtins(), gs1_values)
def test_a_new_serial_round_trips_through_its_digital_link(gtin, lot):
    serial = codes.new_serial()
    assert codes.parse_digital_link(codes.digital_link("id.gs1.org", gtin, lot, serial)).serial == serial
