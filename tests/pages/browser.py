"""The browser harness of the scan page tests: Debian's Chromium launched headless through playwright with the
flags an offline root container needs, phone-sized pages in a chosen locale with the geo proxy's headers,
a Chromium whose fake camera films a bottle's QR code (a Y4M video made here in pure Python), a screenshot
of every page a test leaves behind, and a thread serving an ASGI app on a real port for the browser.

Pages are 390×844 (a current phone), touch enabled. A test's final screenshot is written to
`tests/artifacts/screenshots/<test name>.png` when the test ends, passed or failed, so a reviewer can see
what the consumer saw.
"""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import segno
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, Playwright

from ledger_api.anvil import free_port

CHROMIUM = "/usr/bin/chromium"
# Root needs --no-sandbox; the rest keep an offline Chromium from reaching for the network or a GPU.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"


def launch(playwright: Playwright, camera_video: Path | None = None) -> Browser:
    """Headless Chromium; with `camera_video`, its only camera plays that file in a loop and camera prompts
    are accepted (a page still needs the `camera` permission, which `Pages.new(camera=True)` grants)."""
    args = list(CHROMIUM_ARGS)
    if camera_video is not None:
        args += ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 f"--use-file-for-fake-video-capture={camera_video}"]
    return playwright.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)


def fake_camera_video(text: str, path: Path, width: int = 640, height: int = 480, frames: int = 10,
                      module_px: int = 8) -> Path:
    """Writes a Y4M video (YUV4MPEG2, 4:2:0) of `text` as a black-on-white QR code, centered, with its quiet
    zone: what a phone's camera sees held over a bottle's label. Returns `path`."""
    matrix = segno.make(text, error="m", micro=False).matrix
    quiet = 4
    size = len(matrix) + 2 * quiet
    px = min(module_px, min(width, height) // size)
    assert px >= 2, f"a {len(matrix)}-module code does not fit a {width}x{height} frame"
    white, black = 235, 16  # video (studio) range luma
    left, top = (width - size * px) // 2, (height - size * px) // 2
    blank = bytes([white]) * width
    rows = []
    for y in range(height):
        module_row = (y - top) // px - quiet
        if not 0 <= module_row < len(matrix) or y < top:
            rows.append(blank)
            continue
        row = bytearray(blank)
        for x, dark in enumerate(matrix[module_row]):
            if dark:
                start = left + (x + quiet) * px
                row[start:start + px] = bytes([black]) * px
        rows.append(bytes(row))
    luma = b"".join(rows)
    chroma = bytes([128]) * ((width // 2) * (height // 2) * 2)  # no color: both chroma planes neutral
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            video.write(b"FRAME\n" + luma + chroma)
    return path


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if not (ARTIFACTS / ".gitignore").exists():
        (ARTIFACTS / ".gitignore").write_text("*\n!.gitignore\n")
    path = SCREENSHOTS / (re.sub(r"[^\w.\[\]-]+", "_", name) + ".png")
    # A full-screen dialog (the camera views) is fixed to the viewport: the whole page behind it says nothing.
    dialog_open = page.locator("[aria-modal=true]").count() > 0
    page.screenshot(path=str(path), full_page=not dialog_open)
    return path


class Pages:
    """Opens phone pages for one test and, at its end, screenshots them, closes their contexts and fails if a
    page's scripts threw an uncaught exception."""

    def __init__(self, browser: Browser, test_name: str):
        self.browser, self.test_name = browser, test_name
        self.contexts: list[BrowserContext] = []
        self.pages: list[Page] = []
        self.uncaught: list[str] = []

    def new(self, locale: str = "en-US", headers: dict[str, str] | None = None, camera: bool = False,
            browser: Browser | None = None) -> Page:
        """A fresh phone page (its own storage, so its own anonymous device) in `locale`, sending `headers`
        with every request (as the geo proxy adds them); `camera` grants the camera permission."""
        context = (browser or self.browser).new_context(
            viewport=PHONE, locale=locale, is_mobile=True, has_touch=True, device_scale_factor=1,
            extra_http_headers=headers or {}, permissions=["camera"] if camera else [])
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.uncaught.append(f"{page.url}: {error}"))
        self.pages.append(page)
        return page

    def finish(self) -> list[Path]:
        written = []
        for i, page in enumerate(self.pages):
            if page.is_closed():
                continue
            try:
                written.append(screenshot(page, self.test_name if i == 0 else f"{self.test_name}-{i + 1}"))
            except Exception:  # noqa: BLE001 - a page that crashed must not hide the test's own failure
                pass
        for context in self.contexts:
            context.close()
        # An exception the page's own scripts did not catch is a bug even when the assertions passed.
        assert not self.uncaught, "the page threw: " + "; ".join(self.uncaught)
        return written


@contextmanager
def serving(app, ports: range) -> Iterator[str]:
    """Serves the ASGI `app` on 127.0.0.1 on a free port of `ports` in a thread; yields its base URL."""
    port = free_port(ports)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name=f"page-server-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, f"the page server did not start on {port}"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


# ---------------------------------------------------------------- stand-ins for the scan endpoint and content

GTIN, LOT, SERIAL = "06921234000011", "B261130000001", "7K2MXQ4PB9WZ3D8HJR5T"
STORY_IMAGE = ('<svg xmlns="http://www.w3.org/2000/svg" width="320" height="180" viewBox="0 0 320 180">'
               '<rect width="320" height="180" fill="#7a1c1c"/><circle cx="160" cy="90" r="60" fill="#f4e4c1"/></svg>')


def bottle_path(gtin: str = GTIN, lot: str = LOT, serial: str = SERIAL) -> str:
    return f"/01/{gtin}/10/{lot}/21/{serial}"


def stand_in_answer(base_url: str, verdict: str = "genuine", reason_code: str = "genuine", **changes) -> dict:
    """A scan answer of the endpoint's contract for a bottle with a three-stop journey, a story with one image,
    and a real Merkle proof (so the page's own check passes); `changes` replace top-level fields."""
    from ledger_api.merkle import StandardMerkleTree, leaf_hash

    bottles = [(SERIAL, 1), ("OTHERSERIAL000000001", 1), ("OTHERSERIAL000000002", 2)]
    tree = StandardMerkleTree.of(bottles, ("string", "uint32"))
    root = "0x" + tree.root.hex()
    warehouse = {"name": "Renhuai warehouse", "region": "South West", "region_code": "SW", "kind": "warehouse"}
    seller = {"name": "Hangzhou West Lake Wines", "region": "East China", "region_code": "EAST", "kind": "distributor"}
    url = base_url + bottle_path()
    answer = {
        "verdict": verdict, "reason_code": reason_code, "reason": f"English reason for {reason_code}.",
        "scan_count": 1,
        "first_scan": {"at": "2026-11-30T08:00:00Z", "place": "Hangzhou", "region": "East China"},
        "this_scan": {"at": "2026-11-30T08:00:00Z", "place": "Hangzhou", "region": "East China"},
        "code": {"gtin": GTIN, "lot": LOT, "serial": SERIAL, "url": url},
        "product": {"gtin": GTIN, "name": "Feitian 53% vol 500 ml", "bottles_per_case": 6, "story": {
            "title": {"zh": "赤水河畔的酿造", "en": "Brewed on the Chishui river"},
            "text": {"zh": "九次蒸煮，八次发酵，七次取酒。",
                     "en": "Nine steamings, eight fermentations, seven distillations."},
            "media": [{"kind": "image", "content_type": "image/svg+xml", "url": "/content/bafystory",
                       "cid": "bafystory"}]}},
        "lot": {"id": "1", "number": LOT, "commissioned_at": "2026-06-01T02:00:00Z", "recalled": False,
                "recall_reason": None, "merkle_root": root, "tx_hash": "0x" + "ab" * 32},
        "journey": [
            {"step": "commissioned", "at": "2026-06-01T02:00:00Z", "location": warehouse, "to": None, "carrier": None,
             "eta": None, "place": None, "tx_hash": "0x" + "ab" * 32},
            {"step": "dispatched", "at": "2026-06-03T09:00:00Z", "location": warehouse, "to": seller,
             "carrier": "SF Express", "eta": "2026-06-06T09:00:00Z", "place": None, "tx_hash": "0x" + "cd" * 32},
            {"step": "received", "at": "2026-06-05T15:30:00Z", "location": seller, "to": None, "carrier": None,
             "eta": None, "place": None, "tx_hash": "0x" + "ef" * 32}],
        "proof": {"lot_id": "1", "serial": SERIAL, "case": 1, "leaf": "0x" + leaf_hash(("string", "uint32"),
                                                                                         bottles[0]).hex(),
                  "siblings": ["0x" + s.hex() for s in tree.proof(0)], "root": root, "chain_id": 31337,
                  "inventory": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
                  "verify_command": f"./dev ledger-api verify-scan '{url}'"},
    }
    answer.update(changes)
    return answer


def stand_in_endpoint(page: Page, answer: dict | None = None, status: int = 200, body: dict | None = None) -> list:
    """Answers the page's `POST /v1/scans` (and `/opened`) with `answer` (or `body` at `status`) and serves the
    story image under `/content/`; returns the list the requests' JSON bodies are appended to."""
    asked: list = []

    def scans(route):
        asked.append(route.request.post_data_json)
        route.fulfill(status=status, json=answer if answer is not None else body)

    page.route("**/v1/scans*", scans)
    page.route("**/v1/scans/opened", scans)
    page.route("**/content/*", lambda route: route.fulfill(body=STORY_IMAGE, content_type="image/svg+xml"))
    return asked


def wait_for(locator, predicate: str, timeout: float = 10.0):
    """Polls `locator.evaluate(predicate)` until it is truthy and returns it. (`page.wait_for_function` evaluates
    a string inside the page, which the scan page's content security policy rightly refuses.)"""
    deadline = time.monotonic() + timeout
    while True:
        value = locator.evaluate(predicate)
        if value:
            return value
        assert time.monotonic() < deadline, f"still false after {timeout} s: {predicate}"
        time.sleep(0.05)
