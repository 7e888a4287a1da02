"""Bottle-code benchmark: issuing a lot's serials and building its Merkle tree, beside the naive ways of building
the same tree, in the same run.

`./dev bench codes [--bottles 1000000] [--repeat 3]` generates the serials and builds the tree, 6 bottles a case
(the count is rounded down to whole cases), with `codes.LotCodes.build` (hand-rolled ABI encoding, pycryptodome's
keccak on one state). The baselines build the tree over the same values: `merkle.StandardMerkleTree.of`
(`eth_abi.encode` per leaf, as a user of the libraries would write it) and OpenZeppelin's own JavaScript
`StandardMerkleTree.of` in node (timed inside node with `performance.now()`, without reading the values). All
three roots must be equal. A baseline that takes over 3 minutes at full size is measured at 200,004 bottles
instead, and the output says so. Figures are medians over the repeats; results go to `bench/results/codes.json`.
"""

from __future__ import annotations

import argparse
import json
import platform
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
TARGET_SECONDS = 20  # for a million bottles: serials and tree (the hard limit is 60)
BASELINE_LIMIT_SECONDS = 180  # a slower baseline is measured on a smaller lot
SMALL_BASELINE_BOTTLES = 200_004

NODE_TREE = """
const { StandardMerkleTree } = require(process.argv[1]);
const values = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
const began = performance.now();
const tree = StandardMerkleTree.of(values, ['string', 'uint32']);
const seconds = (performance.now() - began) / 1000;
process.stdout.write(JSON.stringify({ seconds, root: tree.root }));
"""


def ours(bottles: int) -> tuple[float, float, codes.LotCodes]:
    """Seconds for the serials, seconds for serials and tree together, and the lot."""
    began = time.perf_counter()
    serials = codes.new_serials(bottles)
    issued = time.perf_counter()
    lot = codes.LotCodes.build(GTIN, "BENCH1", PER_CASE, bottles // PER_CASE, serials=serials)
    return issued - began, time.perf_counter() - began, lot


def naive_python(lot: codes.LotCodes) -> tuple[float, bytes]:
    values = lot.values()
    began = time.perf_counter()
    root = StandardMerkleTree.of(values, codes.BOTTLE_TYPES).root
    return time.perf_counter() - began, root


def openzeppelin_js(lot: codes.LotCodes) -> tuple[float, bytes]:
    with tempfile.TemporaryDirectory() as folder:
        values = Path(folder) / "values.json"
        values.write_text(json.dumps(lot.values()))
        answer = subprocess.run(["node", "--max-old-space-size=8192", "-e", NODE_TREE,
                                 str(PROJECT_ROOT / "node_modules/@openzeppelin/merkle-tree"), str(values)],
                                capture_output=True, text=True, check=True)
    result = json.loads(answer.stdout)
    return result["seconds"], bytes.fromhex(result["root"][2:])


BASELINES = {"naive_python": naive_python, "openzeppelin_js": openzeppelin_js}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bottles", type=int, default=1_000_000, help="bottles in the lot, 6 a case")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-limit", type=float, default=BASELINE_LIMIT_SECONDS,
                        help="seconds a baseline may take at full size before it is measured on a smaller lot")
    args = parser.parse_args()
    bottles = args.bottles - args.bottles % PER_CASE
    if bottles < PER_CASE or args.repeat < 1:
        parser.error("the lot needs at least one case of 6 bottles and one run")
    console = Console()
    runs: dict[str, list[float]] = {"serials": [], "ours": [], "naive_python": [], "openzeppelin_js": []}
    sizes = {"ours": bottles, "naive_python": bottles, "openzeppelin_js": bottles}
    dropped: dict[str, float] = {}
    small_lot = None
    for attempt in range(args.repeat):
        console.print(f"run {attempt + 1}/{args.repeat}: {bottles:,} bottles, {bottles // PER_CASE:,} cases")
        serials_s, ours_s, lot = ours(bottles)
        runs["serials"].append(serials_s)
        runs["ours"].append(ours_s)
        console.print(f"  ours: {ours_s:.2f} s (of which serials {serials_s:.2f} s)")
        for name, baseline in BASELINES.items():
            if sizes[name] < bottles and small_lot is None:
                small_lot = ours(sizes[name])[2]
            measured = lot if sizes[name] == bottles else small_lot
            seconds, root = baseline(measured)
            assert root == measured.root, f"{name}'s root differs from LotCodes.build's at {sizes[name]:,} bottles"
            console.print(f"  {name}: {seconds:.2f} s at {sizes[name]:,} bottles, same root")
            if sizes[name] == bottles and seconds > args.baseline_limit and bottles > SMALL_BASELINE_BOTTLES:
                console.print(f"  [yellow]{name} took over {args.baseline_limit:g} s: measured at "
                              f"{SMALL_BASELINE_BOTTLES:,} bottles from now on[/yellow]")
                dropped[name] = seconds
                sizes[name] = SMALL_BASELINE_BOTTLES
                continue
            runs[name].append(seconds)
    if small_lot is not None:  # a baseline that ran small is measured as often as the others all the same
        for name in dropped:
            while len(runs[name]) < args.repeat:
                runs[name].append(BASELINES[name](small_lot)[0])
    medians = {name: statistics.median(values) for name, values in runs.items()}
    # Per bottle, so a baseline measured on a smaller lot still compares with ours.
    per_bottle = {name: medians[name] / sizes.get(name, bottles) * 1e6 for name in medians}

    table = Table("tree built by", "bottles", "median s", "µs/bottle", "ours faster")
    for name, label in (("ours", "ours: serials + tree"), ("serials", "  of which serials"),
                        ("naive_python", "merkle.py, eth_abi"), ("openzeppelin_js", "OpenZeppelin JS")):
        faster = "" if name in ("ours", "serials") else f"{per_bottle[name] / per_bottle['ours']:.1f}×"
        table.add_row(label, f"{sizes.get(name, bottles):,}", f"{medians[name]:.2f}", f"{per_bottle[name]:.2f}",
                      faster)
    console.print(table)
    target = TARGET_SECONDS * bottles / 1_000_000
    console.print(f"target: serials + tree for {bottles:,} bottles ≤ {target:.1f} s: "
                  f"{'pass' if medians['ours'] <= target else 'miss'}")
    result = {
        "bottles": bottles, "bottles_per_case": PER_CASE, "repeats": args.repeat,
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "baseline_bottles": {name: sizes[name] for name in ("naive_python", "openzeppelin_js")},
        "baselines_dropped_at_full_size_seconds": dropped,
        "runs": runs, "median_seconds": medians, "microseconds_per_bottle": per_bottle,
        "speedup_vs_naive_python": per_bottle["naive_python"] / per_bottle["ours"],
        "speedup_vs_openzeppelin_js": per_bottle["openzeppelin_js"] / per_bottle["ours"],
        "target_seconds": target, "meets_target": medians["ours"] <= target, "roots_equal": True,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "codes.json").write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {RESULTS / 'codes.json'}")


if __name__ == "__main__":
    main()
