"""A print run is what the label printer needs and nothing else: every PNG decodes (with zxing-cpp, as a
phone's scanner would) to exactly its manifest row's URL, the manifest parses back into the lot's serials,
cases and leaves, `lot.json` carries the root, an earlier run is never overwritten by accident, and progress
is reported as the run goes."""

from __future__ import annotations

import csv
import json
import struct
import zlib
from pathlib import Path

import pytest
import zxingcpp

from ledger_api import codes
from ledger_api.printrun import MANIFEST_COLUMNS, write_print_run

BASE = "http://127.0.0.1:8000"


def read_png_grey(path: Path) -> memoryview:
    """The PNG as 8-bit greyscale rows, the buffer zxing-cpp reads (the venv has neither PIL nor numpy)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = {}, 8
    while at < len(data):
        (length,), kind = struct.unpack(">I", data[at:at + 4]), data[at + 4:at + 8]
        chunks.setdefault(kind, []).append(data[at + 8:at + 8 + length])
        at += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"][0])
    assert colour in (0, 3) and depth in (1, 2, 4, 8) and not interlace, "a greyscale or palette PNG"
    palette = chunks.get(b"PLTE", [b""])[0]
    raw = zlib.decompress(b"".join(chunks[b"IDAT"]))
    stride = (width * depth + 7) // 8
    pixels, previous, at = bytearray(), bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[at], bytearray(raw[at + 1:at + 1 + stride])
        at += 1 + stride
        for i in range(stride):  # PNG's five row filters, one byte per pixel step below 8 bits
            left, up = line[i - 1] if i else 0, previous[i]
            corner = previous[i - 1] if i else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                nearest = min((abs(p - left), 0, left), (abs(p - up), 1, up), (abs(p - corner), 2, corner))[2]
                line[i] = (line[i] + nearest) & 255
        previous = line
        top = (1 << depth) - 1
        for x in range(width):
            bit = x * depth
            value = (line[bit // 8] >> (8 - depth - bit % 8)) & top
            pixels.append(palette[3 * value] if colour == 3 else value * 255 // top)
    return memoryview(bytes(pixels)).cast("B", (height, width))


@pytest.fixture(scope="module")
def lot() -> codes.LotCodes:
    return codes.LotCodes.build("06921234000014", "B2612A/01", 6, 2)


@pytest.fixture(scope="module")
def run(tmp_path_factory, lot) -> Path:
    folder = tmp_path_factory.mktemp("print") / "B2612A"
    write_print_run(folder, lot, BASE)
    return folder


def manifest_rows(folder: Path) -> list[dict]:
    with (folder / "manifest.csv").open(newline="") as manifest:
        return list(csv.DictReader(manifest))


def test_every_png_decodes_to_exactly_the_url_in_its_manifest_row(run):
    rows = manifest_rows(run)
    for row in rows:
        found = zxingcpp.read_barcodes(read_png_grey(run / row["png"]))
        assert [(b.format, b.text) for b in found] == [(zxingcpp.BarcodeFormat.QRCode, row["url"])]


def test_the_manifest_parses_back_into_the_lot_s_serials_cases_and_leaves(run, lot):
    rows = manifest_rows(run)
    assert tuple(rows[0]) == MANIFEST_COLUMNS
    assert [r["serial"] for r in rows] == list(lot.serials)
    assert [int(r["case"]) for r in rows] == [1] * 6 + [2] * 6
    assert [int(r["leaf_index"]) for r in rows] == list(lot.leaf_node)
    for row in rows:
        assert codes.parse_digital_link(row["url"]) == codes.BottleCode(lot.gtin, lot.lot, row["serial"])
        assert (row["gtin"], row["lot"]) == (lot.gtin, lot.lot)
        assert row["png"] == f"qr/{row['serial']}.png" and row["svg"] == f"qr/{row['serial']}.svg"
        assert (run / row["svg"]).read_text().lstrip().startswith(("<?xml", "<svg"))


def test_lot_json_carries_the_counts_and_the_merkle_root(run, lot):
    assert json.loads((run / "lot.json").read_text()) == {
        "gtin": lot.gtin, "lot": lot.lot, "bottles": 12, "cases": 2, "bottles_per_case": 6,
        "merkle_root": "0x" + lot.root.hex()}
    assert sorted(p.name for p in run.iterdir()) == ["lot.json", "manifest.csv", "qr"]


def test_a_folder_holding_a_print_run_is_not_written_over_by_accident(run, lot):
    before = (run / "manifest.csv").read_bytes()
    with pytest.raises(FileExistsError, match="not empty.*overwrite"):
        write_print_run(run, lot, BASE)
    assert (run / "manifest.csv").read_bytes() == before


def test_overwriting_replaces_the_earlier_run_s_images_and_keeps_other_files(tmp_path, lot):
    write_print_run(tmp_path, lot, BASE)
    (tmp_path / "notes.txt").write_text("label stock: 60 x 40 mm")
    other = codes.LotCodes.build("06921234000014", "B2612B", 6, 1)
    write_print_run(tmp_path, other, BASE, formats=("svg",), overwrite=True)
    assert sorted(p.name for p in (tmp_path / "qr").iterdir()) == sorted(f"{s}.svg" for s in other.serials)
    assert [r["serial"] for r in manifest_rows(tmp_path)] == list(other.serials)
    assert all(r["png"] == "" for r in manifest_rows(tmp_path))
    assert (tmp_path / "notes.txt").exists()


def test_progress_is_reported_about_every_percent_and_ends_at_the_total(tmp_path):
    lot = codes.LotCodes.build("06921234000014", "B2612C", 6, 50)
    seen = []
    write_print_run(tmp_path, lot, BASE, formats=("svg",), progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (300, 300) and {total for _, total in seen} == {300}
    assert [done for done, _ in seen] == sorted({done for done, _ in seen})
    assert 90 <= len(seen) <= 101


def test_an_unknown_image_format_is_refused_before_anything_is_written(tmp_path, lot):
    with pytest.raises(ValueError, match="png and svg, not jpg"):
        write_print_run(tmp_path / "run", lot, BASE, formats=("png", "jpg"))
    assert not (tmp_path / "run").exists()
