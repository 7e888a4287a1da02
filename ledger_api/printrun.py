"""A lot's print run for the label printer: one QR code per bottle (segno; PNG and/or SVG) naming the bottle's
GS1 Digital Link URL, a CSV manifest (serial, case, URL, image files) and `lot.json` with the lot's Merkle
root, written to one folder.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Callable

import segno

from ledger_api.codes import LotCodes, digital_link

FORMATS = ("png", "svg")


def write_print_run(folder: Path, codes: LotCodes, base_url: str, formats: tuple[str, ...] = FORMATS,
                    progress: Callable[[int, int], None] | None = None, overwrite: bool = False) -> Path:
    """Writes the print run into `folder`; returns the manifest's path.

    Raises:
        FileExistsError: `folder` holds files and `overwrite` is not set.
        ValueError: an image format other than png or svg.
    """
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"QR image formats are png and svg, not {', '.join(sorted(unknown))}")
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(f"{folder} is not empty: a print run is never written over another by accident")
    images = folder / "qr"
    images.mkdir(parents=True, exist_ok=True)
    total = len(codes.serials)
    step = max(1, total // 100)
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["serial", "case", "url", "gtin", "lot", "leaf_index", "png", "svg"])
        for i, serial in enumerate(codes.serials):
            url = digital_link(base_url, codes.gtin, codes.lot, serial)
            # Error correction Q: a label survives scuffs and a printed logo over the code's centre.
            qr = segno.make(url, error="q", micro=False)
            files = {}
            for kind in formats:
                path = images / f"{serial}.{kind}"
                qr.save(str(path), scale=4 if kind == "png" else 1, border=4)
                files[kind] = str(path.relative_to(folder))
            writer.writerow([serial, codes.case_of(i), url, codes.gtin, codes.lot, codes.leaf_node[i],
                             files.get("png", ""), files.get("svg", "")])
            if progress and (i + 1) % step == 0:
                progress(i + 1, total)
    (folder / "lot.json").write_text(json.dumps({
        "gtin": codes.gtin, "lot": codes.lot, "bottles": total, "cases": codes.case_of(total - 1),
        "bottles_per_case": codes.bottles_per_case, "merkle_root": "0x" + codes.root.hex()}, indent=2))
    if progress:
        progress(total, total)
    return manifest
