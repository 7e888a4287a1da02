"""Board benchmark: how fast the brand's fulfilment and risk board (`/board`) and each of its endpoints answer
on the demo network, with what the board's models learned kept per mirror checkpoint (`board_reads.LEARNED`)
and, as the baseline from the same run, with it dropped before every request or page (what each request did
before anything was kept, and what the first board after a new block still does).

`./dev bench board` reads the mirror of a `./dev demo` run (`.data/mirror.sqlite3`, with `.data/brand.sqlite3`
for the scan panel and `.data/keystore` for the brand's sign-in): both databases are copied with SQLite's backup
API into a scratch folder, so a demo still running is neither disturbed nor measured. The API runs in this
process (uvicorn in a thread, the app of `ledger-api serve`) so that the baseline can drop what it keeps; a
bare anvil of the demo's chain id stands in for the node, which the board never asks. The brand's sales
director signs in with Ethereum, as the console does, and:
- each endpoint the board fetches is asked once right after the API started (*cold*), then `--runs` times with
  what is kept (*kept*) and `--runs` times with it dropped before each request (*dropped*), alternating;
  milliseconds from request to the whole answer, median and p90;
- the whole page in headless Chromium (Debian's, through playwright, as `tests/pages/browser.py` launches it):
  a new browser context with the console's saved session, navigation to `/board`, until `main` has
  `data-ready` (every panel drawn or failed); the figure is the page's own `data-ready-ms` (milliseconds since
  navigation); `--page-runs` times each way, alternating, after one page not counted.
It prints the figures and the ratios and writes `bench/results/board.json` and `bench/results/board.md`.
Target: the page under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_account.messages import encode_defunct  # noqa: E402

from ledger_api import board_reads  # noqa: E402
from ledger_api.anvil import free_port, start_anvil, stop_anvil  # noqa: E402
from ledger_api.app import create_app  # noqa: E402
from ledger_api.chain import Keyring  # noqa: E402
from ledger_api.settings import Settings  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DATA = ROOT / ".data"
# What the board fetches for the brand, who chooses no region (ledger_api/pages/board-panels.js).
ENDPOINTS = ("/v1/analytics/cycle-times/weekly", "/v1/analytics/cycle-times", "/v1/analytics/delay-warnings",
             "/v1/analytics/stock-cover", "/v1/analytics/transfer-suggestions", "/v1/analytics/distributor-health",
             "/v1/analytics/price-alerts", "/v1/analytics/scans")
TARGET_PAGE_MS = 1_000
SIGNED_IN = "sales director"  # the demo's brand member the board is drawn for (.data/demo-network.json)


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database, WAL included."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def _figures(values: list[float]) -> dict:
    return {"median_ms": round(statistics.median(values), 1), "p90_ms": round(_percentile(values, 90), 1),
            "runs": len(values)}


@contextmanager
def _serving(settings: Settings, keyring: Keyring) -> Iterator[str]:
    """The API of `ledger-api serve` on a free port in a thread of this process; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(create_app(settings, keyring), host="127.0.0.1", port=settings.api_port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="board-bench-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SystemExit(f"board bench: the API did not start on port {settings.api_port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{settings.api_port}"
    finally:
        server.should_exit = True
        thread.join(15)


def _sign_in(client: httpx.Client, keyring: Keyring, address: str) -> dict:
    """The session the console saves after a Sign-In with Ethereum: {token, address, expires_at, account}."""
    message = client.post("/v1/auth/nonce", json={"address": address}).raise_for_status().json()["message"]
    signature = Account.sign_message(encode_defunct(text=message), keyring.key(address)).signature.hex()
    answer = client.post("/v1/auth/token", json={"message": message, "signature": "0x" + signature})
    token = answer.raise_for_status().json()
    return {"token": token["access_token"], "address": address, "expires_at": int(time.time()) + token["expires_in"],
            "account": token["account"]}


def _ask(client: httpx.Client, path: str, headers: dict) -> float:
    started = time.perf_counter()
    answer = client.get(path, headers=headers)
    elapsed = (time.perf_counter() - started) * 1_000
    if answer.status_code != 200:
        raise SystemExit(f"board bench: {path} answered {answer.status_code}: {answer.text[:300]}")
    return elapsed


def measure_endpoints(client: httpx.Client, headers: dict, runs: int) -> dict:
    cold = {path: _ask(client, path, headers) for path in ENDPOINTS}  # the API's first request of each
    kept: dict[str, list[float]] = {p: [] for p in ENDPOINTS}
    dropped: dict[str, list[float]] = {p: [] for p in ENDPOINTS}
    for _ in range(runs):
        for path in ENDPOINTS:  # the request after everything was dropped keeps it again for the next
            board_reads.LEARNED.clear()
            dropped[path].append(_ask(client, path, headers))
            kept[path].append(_ask(client, path, headers))
    result = {}
    for path in ENDPOINTS:
        ours, baseline = _figures(kept[path]), _figures(dropped[path])
        result[path] = {"cold_ms": round(cold[path], 1), "kept": ours, "dropped": baseline,
                        "ratio": round(baseline["median_ms"] / ours["median_ms"], 1)}
    return result


def measure_page(base_url: str, session: dict, runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.pages.browser import launch

    def draw(browser) -> float:
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
        saved = json.dumps(session)
        context.add_init_script(f"sessionStorage.setItem('ledger.session', {json.dumps(saved)});")
        try:
            page = context.new_page()
            page.goto(base_url + "/board")
            page.wait_for_selector("main[data-ready='true']", timeout=60_000)
            return float(page.get_attribute("main", "data-ready-ms"))
        finally:
            context.close()

    kept: list[float] = []
    dropped: list[float] = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            draw(browser)  # Chromium's own first start, not counted
            for _ in range(runs):
                kept.append(draw(browser))
                board_reads.LEARNED.clear()
                dropped.append(draw(browser))
        finally:
            browser.close()
    ours, baseline = _figures(kept), _figures(dropped)
    return {"kept": ours, "dropped": baseline, "ratio": round(baseline["median_ms"] / ours["median_ms"], 2),
            "target_ms": TARGET_PAGE_MS, "meets_target": ours["median_ms"] < TARGET_PAGE_MS}


def render(result: dict) -> str:
    lines = [f"# Board on the demo network ({result['network']})", "",
             f"Medians over {result['runs']} requests each way (p90 in brackets), milliseconds; *dropped* is the "
             "baseline: what the board's models learned dropped before each request.", "",
             "| endpoint | cold (first) | kept | dropped | dropped ÷ kept |", "|---|---:|---:|---:|---:|"]
    for path, r in result["endpoints"].items():
        lines.append(f"| `{path}` | {r['cold_ms']:.0f} | {r['kept']['median_ms']:.1f} ({r['kept']['p90_ms']:.0f}) "
                     f"| {r['dropped']['median_ms']:.1f} ({r['dropped']['p90_ms']:.0f}) | {r['ratio']}× |")
    page = result["page"]
    lines += ["", f"Whole `/board` in headless Chromium, navigation to `data-ready`, medians over "
                  f"{page['kept']['runs']} pages each way (p90 in brackets):", "",
              "| page | kept | dropped | dropped ÷ kept | target |", "|---|---:|---:|---:|---:|",
              f"| `/board` | {page['kept']['median_ms']:.0f} ({page['kept']['p90_ms']:.0f}) | "
              f"{page['dropped']['median_ms']:.0f} ({page['dropped']['p90_ms']:.0f}) | {page['ratio']}× | "
              f"< {page['target_ms']:,} ms: {'met' if page['meets_target'] else 'missed'} |", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="requests per endpoint each way (default 20)")
    parser.add_argument("--page-runs", type=int, default=7, help="pages drawn each way (default 7)")
    parser.add_argument("--data", type=Path, default=DATA, help="the demo's data folder (default .data)")
    args = parser.parse_args()

    demo = args.data / "demo-network.json"
    if not (args.data / "mirror.sqlite3").exists() or not demo.exists():
        raise SystemExit(f"board bench: no demo mirror in {args.data}; run ./dev demo once first")
    network = json.loads(demo.read_text())
    member = next((s for s in network["sign_ins"] if s["role"] == SIGNED_IN), None)
    if member is None:
        raise SystemExit(f"board bench: {demo} names no {SIGNED_IN}")

    with tempfile.TemporaryDirectory(prefix="board-bench-") as scratch:
        folder = Path(scratch)
        print(f"board bench: copying the demo's mirror from {args.data}", flush=True)
        _copy_sqlite(args.data / "mirror.sqlite3", folder / "mirror.sqlite3")
        _copy_sqlite(args.data / "brand.sqlite3", folder / "brand.sqlite3")
        anvil_port, api_port = free_port(range(8770, 8790)), free_port(range(8190, 8210))
        anvil = start_anvil(anvil_port, int(time.time()), log=folder / "anvil.log")
        try:
            settings = Settings(
                environment="development", network=network["network"], rpc_url=f"http://127.0.0.1:{anvil_port}",
                database_url=f"sqlite:///{folder / 'mirror.sqlite3'}",
                brand_database_url=f"sqlite:///{folder / 'brand.sqlite3'}", keystore_dir=args.data / "keystore",
                api_port=api_port, public_url=f"http://127.0.0.1:{api_port}", siwe_domain=f"127.0.0.1:{api_port}")
            keyring = Keyring(settings.keystore_dir, settings.keystore_password.get_secret_value())
            with _serving(settings, keyring) as base_url, httpx.Client(base_url=base_url, timeout=60) as client:
                session = _sign_in(client, keyring, member["address"])
                headers = {"Authorization": f"Bearer {session['token']}"}
                print(f"board bench: {len(ENDPOINTS)} endpoints, {args.runs} requests each way", flush=True)
                endpoints = measure_endpoints(client, headers, args.runs)
                print(f"board bench: /board in Chromium, {args.page_runs} pages each way", flush=True)
                page = measure_page(base_url, session, args.page_runs)
        finally:
            stop_anvil(anvil)

    result = {"network": f"seed {network['seed']}, {network['scale']} scale, {network['events']:,} events",
              "signed_in": SIGNED_IN, "runs": args.runs, "cpus": os.cpu_count(), "endpoints": endpoints,
              "page": page}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "board.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "board.md").write_text(render(result))
    print(render(result))


if __name__ == "__main__":
    main()
