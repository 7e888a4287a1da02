"""Bottle-code benchmark: issuing a lot's codes and its Merkle tree, against the naive ways of building the same
tree in the same run.

`./dev bench codes [--bottles 1000000] [--repeat 3]` generates the serials and builds the tree with
`codes.LotCodes.build` (hand-rolled ABI encoding, pycryptodome keccak), then builds the tree over the same
values with `merkle.StandardMerkleTree.of` (eth_abi's `encode` per leaf, the way the library's users would)
and with OpenZeppelin's own JavaScript `StandardMerkleTree.of` in node (timed inside node, without reading
the values). All three roots must be equal. Medians over the repeats; writes `bench/results/codes.json`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from indexer.contracts import PROJECT_ROOT
from ledger_api import codes
from ledger_api.merkle import StandardMerkleTree

RESULTS = Path(__file__).resolve().parent / "results"
GTIN = "06921234000014"
PER_CASE = 6
TARGET_SECONDS = 60  # for a million codes with their tree

NODE_TREE = """
const {StandardMerkleTree} = require(process.argv[1]);
const values = require(process.argv[2]);
const began = performance.now();
const tree = StandardMerkleTree.of(values, ["string", "uint32"]);
console.log(JSON.stringify({seconds: (performance.now() - began) / 1000, root: tree.root}));
"""


def ours(bottles: int) -> tuple[float, float, codes.LotCodes]:
    began = time.perf_counter()
    serials = codes.new_serials(bottles)
    issued = time.perf_counter()
    lot = codes.LotCodes.build(GTIN, "BENCH1", PER_CASE, bottles // PER_CASE, serials=serials)
    return issued - began, time.perf_counter() - began, lot


def naive(lot: codes.LotCodes) -> tuple[float, bytes]:
    values = lot.values()
    began = time.perf_counter()
    root = StandardMerkleTree.of(values, codes.BOTTLE_TYPES).root
    return time.perf_counter() - began, root


def openzeppelin(lot: codes.LotCodes) -> tuple[float, bytes]:
    with tempfile.TemporaryDirectory() as folder:
        values = Path(folder) / "values.json"
        values.write_text(json.dumps(lot.values()))
        answer = subprocess.run(["node", "--max-old-space-size=8192", "-e", NODE_TREE,
                                 str(PROJECT_ROOT / "node_modules/@openzeppelin/merkle-tree"), str(values)],
                                capture_output=True, text=True, check=True)
    result = json.loads(answer.stdout)
    return result["seconds"], bytes.fromhex(result["root"][2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bottles", type=int, default=1_000_002)  # a whole number of cases of 6
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bottles = args.bottles - args.bottles % PER_CASE
    console = Console()
    runs: dict[str, list[float]] = {"serials": [], "ours": [], "naive_python": [], "openzeppelin_js": []}
    for attempt in range(args.repeat):
        console.print(f"run {attempt + 1}/{args.repeat}: {bottles:,} bottles")
        serial_s, total_s, lot = ours(bottles)
        runs["serials"].append(serial_s)
        runs["ours"].append(total_s)
        console.print(f"  ours: {total_s:.1f} s (serials {serial_s:.1f} s)")
        naive_s, naive_root = naive(lot)
        runs["naive_python"].append(naive_s)
        console.print(f"  naive Python tree: {naive_s:.1f} s")
        js_s, js_root = openzeppelin(lot)
        runs["openzeppelin_js"].append(js_s)
        console.print(f"  OpenZeppelin JS tree: {js_s:.1f} s")
        assert naive_root == lot.root == js_root, "the three trees disagree"
    medians = {k: statistics.median(v) for k, v in runs.items()}
    table = Table("what", "median seconds", "vs ours")
    for key, label in (("ours", "serials + tree (LotCodes.build)"), ("naive_python", "tree, eth_abi per leaf"),
                       ("openzeppelin_js", "tree, @openzeppelin/merkle-tree")):
        table.add_row(label, f"{medians[key]:.2f}", f"{medians[key] / medians['ours']:.2f}x")
    console.print(table)
    result = {"bottles": bottles, "bottles_per_case": PER_CASE, "repeats": args.repeat, "runs": runs,
              "median_seconds": medians, "target_seconds": TARGET_SECONDS,
              "meets_target": medians["ours"] < TARGET_SECONDS * bottles / 1_000_000,
              "speedup_vs_naive_python": medians["naive_python"] / medians["ours"],
              "speedup_vs_openzeppelin_js": medians["openzeppelin_js"] / medians["ours"]}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "codes.json").write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {RESULTS / 'codes.json'}")


if __name__ == "__main__":
    main()
