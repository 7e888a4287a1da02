"""Bottle codes: serials fit GS1 AI 21 with at least 80 random bits; a lot's tree is exactly OpenZeppelin's (the
Python reference and the JavaScript library agree); Digital Link URLs parse as the vectors say; a print run's
QR images decode to its manifest's URLs."""

from __future__ import annotations

import csv
import json
import math
import subprocess
from pathlib import Path

import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.contracts import PROJECT_ROOT
from ledger_api import codes
from ledger_api.merkle import StandardMerkleTree, leaf_hash, process_proof
from ledger_api.printrun import write_print_run

VECTORS = json.loads((PROJECT_ROOT.parent / "shared" / "vectors" / "digital_link.json").read_text())
GTIN = "06921234000014"


def test_a_serial_carries_at_least_80_bits_and_fits_ai_21_and_a_url():
    serials = codes.new_serials(2_000)
    assert len(set(serials)) == 2_000
    for serial in serials:
        assert len(serial) <= 20 and codes.CSET_82.match(serial) and set(serial) <= set(codes.SERIAL_ALPHABET)
    assert codes.SERIAL_LENGTH * math.log2(len(codes.SERIAL_ALPHABET)) >= 80
    # Every character position takes every symbol: nothing is fixed or guessable from the others.
    for position in range(codes.SERIAL_LENGTH):
        assert len({s[position] for s in serials}) == 32


def test_serials_are_distinct_even_when_the_random_source_repeats():
    repeating = iter([bytes(11)] * 3 + [bytes([7]) * 11])
    assert len(set(codes.new_serials(2, randbytes=lambda n: next(repeating)))) == 2


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x4e00), max_size=70), st.integers(0, 2**32 - 1))
def test_the_leaf_equals_the_abi_encoders(serial, case):
    assert codes.bottle_leaf(serial, case) == leaf_hash(codes.BOTTLE_TYPES, (serial, case))


@pytest.mark.parametrize("cases", [1, 2, 3, 7, 100])
def test_the_lot_tree_is_the_reference_tree(cases):
    lot = codes.LotCodes.build(GTIN, "B1", 1 if cases < 5 else 6, cases)
    reference = StandardMerkleTree.of(lot.values(), codes.BOTTLE_TYPES)
    assert lot.nodes == reference.nodes and lot.leaf_node == reference.leaf_index
    for i, (serial, case) in enumerate(lot.values()):
        assert process_proof(codes.bottle_leaf(serial, case), lot.proof(i)) == lot.root


def test_the_lot_tree_is_openzeppelins(tmp_path):
    lot = codes.LotCodes.build(GTIN, "B2", 6, 9)
    values = tmp_path / "values.json"
    values.write_text(json.dumps(lot.values()))
    script = (f"const {{StandardMerkleTree}} = require({json.dumps(str(PROJECT_ROOT / 'node_modules/@openzeppelin/merkle-tree'))});"
              f"const v = require({json.dumps(str(values))});"
              "const t = StandardMerkleTree.of(v, ['string', 'uint32']);"
              "console.log(JSON.stringify({root: t.root, proofs: v.map((_, i) => t.getProof(i))}));")
    answer = json.loads(subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout)
    assert answer["root"] == "0x" + lot.root.hex()
    assert answer["proofs"] == [["0x" + p.hex() for p in lot.proof(i)] for i in range(len(lot.serials))]


@pytest.mark.parametrize("bad, reason", [
    ({"gtin": "06921234000015"}, "gtin_check_digit"), ({"gtin": "123"}, "invalid_gtin"),
    ({"lot": ""}, "invalid_lot"), ({"lot": "X" * 21}, "invalid_lot"), ({"lot": "批号"}, "invalid_lot"),
    ({"cases": 0}, "invalid_count"), ({"serials": ["A"] * 6}, "duplicate_serial"),
    ({"serials": ["A", "B"]}, "invalid_count"),
])
def test_a_lot_with_bad_input_is_refused_by_name(bad, reason):
    args = {"gtin": GTIN, "lot": "B3", "bottles_per_case": 6, "cases": 1, "serials": None} | bad
    with pytest.raises(codes.CodeError) as refused:
        codes.LotCodes.build(**args)
    assert refused.value.reason == reason


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_digital_link_vectors_parse_as_recorded(vector):
    if vector["valid"]:
        code = codes.parse_digital_link(vector["uri"])
        assert (code.gtin, code.lot or None, code.serial) == (vector["gtin"], vector["lot"] or None, vector["serial"])
    else:
        with pytest.raises(codes.CodeError) as refused:
            codes.parse_digital_link(vector["uri"])
        assert refused.value.reason


@pytest.mark.parametrize("url, reason", [
    ("not a url", "not_a_url"), ("ftp://x/01/06921234000014/21/A", "not_a_url"),
    ("https://x/01/06921234000015/10/L/21/A", "gtin_check_digit"),
    ("https://x/01/06921234000014/10/L", "missing_serial"), ("https://x/10/L/21/A", "not_a_digital_link"),
])
def test_bad_urls_are_named_errors(url, reason):
    with pytest.raises(codes.CodeError) as refused:
        codes.parse_digital_link(url)
    assert refused.value.reason == reason


@settings(max_examples=200)
@given(st.from_regex(r"[!%&'()*+,\-.0-9:;<=>?A-Z_a-z]{1,20}", fullmatch=True),
       st.from_regex(r"[!%&'()*+,\-.0-9:;<=>?A-Z_a-z]{1,20}", fullmatch=True))
def test_a_bottle_url_parses_back_to_its_code(lot, serial):
    url = codes.digital_link("brand.example", GTIN, lot, serial)
    assert url.startswith("https://brand.example/01/")
    assert codes.parse_digital_link(url) == codes.BottleCode(GTIN, lot, serial)


def test_a_print_runs_qr_codes_decode_to_its_manifest(tmp_path):
    lot = codes.LotCodes.build(GTIN, "B4", 6, 2)
    manifest = write_print_run(tmp_path / "run", lot, "https://brand.example")
    rows = list(csv.DictReader(manifest.open()))
    assert [(r["serial"], int(r["case"])) for r in rows] == lot.values()
    for row in rows[:4]:
        decoded = zxingcpp.read_barcodes(_png_image(tmp_path / "run" / row["png"]))
        assert [d.text for d in decoded] == [row["url"]]
        assert (tmp_path / "run" / row["svg"]).read_text().startswith("<?xml")
    assert json.loads((tmp_path / "run" / "lot.json").read_text())["merkle_root"] == "0x" + lot.root.hex()
    with pytest.raises(FileExistsError):
        write_print_run(tmp_path / "run", lot, "https://brand.example")


def _png_image(path: Path):
    """The PNG as zxing-cpp's ImageView: segno writes 1-bit greyscale, unpacked here without Pillow."""
    import zlib

    data = path.read_bytes()
    chunks, at = {}, 8
    while at < len(data):
        size = int.from_bytes(data[at:at + 4], "big")
        kind = data[at + 4:at + 8].decode()
        chunks.setdefault(kind, b"")
        chunks[kind] += data[at + 8:at + 8 + size]
        at += 12 + size
    width, height = int.from_bytes(chunks["IHDR"][:4], "big"), int.from_bytes(chunks["IHDR"][4:8], "big")
    depth, colour = chunks["IHDR"][8], chunks["IHDR"][9]
    raw = zlib.decompress(chunks["IDAT"])
    stride = (width * depth + 7) // 8
    pixels = bytearray()
    previous = bytearray(stride)
    for y in range(height):
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        assert raw[y * (stride + 1)] in (0, 2), "segno writes unfiltered or up-filtered rows"
        if raw[y * (stride + 1)] == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, previous))
        previous = line
        for x in range(width):
            bit = (line[x * depth // 8] >> (7 - (x * depth) % 8)) & ((1 << depth) - 1)
            pixels.append(255 if bit else 0)
    assert colour in (0, 3)
    return zxingcpp.ImageView(bytes(pixels), width, height, zxingcpp.ImageFormat.Lum)
