"""A lot's print run for the label printer, written to one folder: a QR code per bottle naming its GS1 Digital Link
URL (segno, error correction Q, PNG and/or SVG, in `qr/<serial>.<format>`), `manifest.csv` (one row per bottle:
serial, case, URL, GTIN, lot, leaf index and image files) and `lot.json` (the lot's counts and Merkle root). The
manifest and `lot.json` are written last, under temporary names renamed into place, so a folder with a manifest
holds a whole run. This is the I/O edge of `ledger_api.codes`.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Callable, Sequence

import segno

from ledger_api.codes import LotCodes, digital_link

FORMATS = ("png", "svg")
MANIFEST_COLUMNS = ("serial", "case", "url", "gtin", "lot", "leaf_index", "png", "svg")
PNG_SCALE = 4  # pixels per module: a 17-character serial's URL is a version 4-5 code, about 150 pixels wide
QUIET_ZONE = 4  # modules of margin, as ISO/IEC 18004 asks for scanners to find the code


def write_print_run(folder: Path, codes: LotCodes, base_url: str, formats: Sequence[str] = FORMATS,
                    progress: Callable[[int, int], None] | None = None, overwrite: bool = False) -> Path:
    """Writes the lot's print run into `folder` (created if missing) and returns the manifest's path.

    `progress(done, total)` is called about every 1% of the bottles and once at the end. With `overwrite`, the
    QR images, manifest and `lot.json` of an earlier run in `folder` are removed first; other files are kept.

    Raises:
        FileExistsError: `folder` holds files and `overwrite` is not set, or `folder` is a file.
        ValueError: no image format, or one other than png and svg.
    """
    formats = tuple(dict.fromkeys(formats))
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ValueError(f"QR image formats are png and svg, not {', '.join(unknown) or 'none'}")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} is a file: give a folder for the print run")
    if folder.exists() and any(folder.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{folder} is not empty: choose an empty folder, or pass overwrite=True "
                                  "(--overwrite) to replace the print run in it")
        _remove_earlier_run(folder)
    images = folder / "qr"
    images.mkdir(parents=True, exist_ok=True)

    total = len(codes.serials)
    step = max(1, total // 100)
    manifest = folder / "manifest.csv"
    partial = folder / "manifest.csv.partial"
    with partial.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(MANIFEST_COLUMNS)
        for i, serial in enumerate(codes.serials):
            url = digital_link(base_url, codes.gtin, codes.lot, serial)
            # Q restores a quarter of the code: a label survives scuffs and a seal printed over a corner.
            qr = segno.make_qr(url, error="q", boost_error=False)
            files = {"png": "", "svg": ""}
            for kind in formats:
                relative = f"qr/{serial}.{kind}"
                qr.save(str(folder / relative), kind=kind, scale=PNG_SCALE if kind == "png" else 1,
                        border=QUIET_ZONE)
                files[kind] = relative
            writer.writerow((serial, codes.case_of(i), url, codes.gtin, codes.lot, codes.leaf_node[i],
                             files["png"], files["svg"]))
            if progress is not None and (i + 1) % step == 0 and i + 1 < total:
                progress(i + 1, total)
    _write_text(folder / "lot.json", json.dumps({
        "gtin": codes.gtin, "lot": codes.lot, "bottles": total, "cases": codes.cases,
        "bottles_per_case": codes.bottles_per_case, "merkle_root": "0x" + codes.root.hex()}, indent=2) + "\n")
    os.replace(partial, manifest)
    if progress is not None:
        progress(total, total)
    return manifest


def _remove_earlier_run(folder: Path) -> None:
    # Only what a print run writes: stale images of another lot must not sit beside this lot's manifest.
    for name in ("manifest.csv", "manifest.csv.partial", "lot.json"):
        (folder / name).unlink(missing_ok=True)
    images = folder / "qr"
    if images.is_dir():
        for kind in FORMATS:
            for image in images.glob(f"*.{kind}"):
                image.unlink()


def _write_text(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
