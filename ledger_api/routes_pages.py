"""The web pages the API serves, and their assets. The consumer's scan page is public and needs no sign-in: the
GS1 Digital Link path printed in every bottle's QR code (`/01/{gtin}/10/{lot}/21/{serial}`) and `/scan` answer
the same HTML page, which asks `POST /v1/scans` for the verdict itself. `/board`, the brand's fulfilment and
risk board, draws its charts from the analytics endpoints as the signed-in member. Every page's scripts, styles
and the vendored browser libraries (jsQR to decode QR codes from camera frames, js-sha3 to check a bottle's Merkle
proof, ethers to open a keystore and sign in the browser, Chart.js for the board's charts) are served under
`/pages/<version>/`: the files of `pages/` by their extension, the libraries from `node_modules`.

The version in the asset path is a digest of every asset, so assets are cached for a year and a new release
is fetched at once; the HTML itself is never cached, since it names the version. The vendored libraries come
from the project's `node_modules` (`./dev setup` installs them); while one is missing its path answers 503
saying so, and the page still judges bottles, it only cannot decode QR codes or check proofs in the browser.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from indexer.contracts import PROJECT_ROOT

router = APIRouter(tags=["scan page"])

PAGES = Path(__file__).resolve().parent / "pages"
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png"}
# Every file of pages/ with one of these extensions is an asset; the HTML files are templates, served by route.
OWN_ASSETS = {path.name: ASSET_TYPES[path.suffix] for path in sorted(PAGES.iterdir()) if path.suffix in ASSET_TYPES}
NODE_MODULES = PROJECT_ROOT / "node_modules"
VENDORED = {"jsQR.js": ("jsqr", NODE_MODULES / "jsqr" / "dist" / "jsQR.js"),
            "sha3.js": ("js-sha3", NODE_MODULES / "js-sha3" / "build" / "sha3.min.js"),
            "ethers.js": ("ethers", NODE_MODULES / "ethers" / "dist" / "ethers.umd.min.js"),
            "chart.js": ("chart.js", NODE_MODULES / "chart.js" / "dist" / "chart.umd.min.js")}

FOREVER = "public, max-age=31536000, immutable"
# The page loads nothing from elsewhere; the camera is for this origin only, and the bottle's URL (its serial)
# is not handed to other sites as a referrer.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
    "Permissions-Policy": "camera=(self)",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@lru_cache(maxsize=1)
def asset_version() -> str:
    """A digest of the page's assets as this process found them first: it names the cacheable asset path."""
    digest = hashlib.sha256()
    for name in sorted(OWN_ASSETS):
        digest.update(name.encode() + b"\0" + (PAGES / name).read_bytes())
    for name, (_package, path) in sorted(VENDORED.items()):
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"missing"))
    return digest.hexdigest()[:12]


@lru_cache(maxsize=None)
def page_html(name: str) -> str:
    """The HTML of `pages/<name>`, its `{{assets}}` pointing at this release's asset path."""
    return (PAGES / name).read_text(encoding="utf-8").replace("{{assets}}", f"/pages/{asset_version()}")


def _page() -> HTMLResponse:
    return HTMLResponse(page_html("scan.html"), headers=PAGE_HEADERS)


@router.get("/01/{gtin}/10/{lot}/21/{serial}", response_class=HTMLResponse, include_in_schema=False)
def bottle_page(gtin: str, lot: str, serial: str) -> HTMLResponse:
    """The page a bottle's QR code opens. The code is judged by `POST /v1/scans`, which the page calls with its
    own URL, so a malformed code gets the same friendly answer as any other."""
    return _page()


@router.get("/scan", response_class=HTMLResponse, include_in_schema=False)
def scan_page() -> HTMLResponse:
    """The page with no code: it offers the camera to scan one."""
    return _page()


# The board shows a member's business: no camera, never framed, and its URL (a region) not handed on.
BOARD_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'; form-action 'none'",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@router.get("/board", response_class=HTMLResponse, include_in_schema=False)
def board_page() -> HTMLResponse:
    """The brand's fulfilment and risk board (regional staff see their region): the page signs in through the
    console and draws its panels from `/v1/analytics/...` as the member may see them."""
    return HTMLResponse(page_html("board.html"), headers=BOARD_HEADERS)


@router.get("/console", response_class=HTMLResponse, include_in_schema=False)
def console_page() -> HTMLResponse:
    """The member console: sign-in with a keystore opened in the browser or a browser wallet, then the pages of
    the member's roles; every transaction is signed in the browser and relayed (`X-Ledger-Signing: client`)."""
    return HTMLResponse(page_html("console.html"), headers={**PAGE_HEADERS, "Permissions-Policy": "camera=()"})


@router.get("/pages/{version}/{name}", include_in_schema=False)
def asset(version: str, name: str) -> Response:
    # A page rendered before a release may ask for an old version: it gets today's asset, but not for a year.
    cache = FOREVER if version == asset_version() else "no-cache"
    headers = {"Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
    if name in OWN_ASSETS:
        return FileResponse(PAGES / name, media_type=OWN_ASSETS[name], headers=headers)
    if name in VENDORED:
        package, path = VENDORED[name]
        if not path.is_file():
            return JSONResponse({"error": "AssetMissing", "detail": {
                "asset": name, "package": package, "path": str(path),
                "message": f"the npm package {package} is not installed: run ./dev setup"}},
                status_code=503, headers={"Cache-Control": "no-store", "Retry-After": "3600"})
        return FileResponse(path, media_type="text/javascript", headers=headers)
    return JSONResponse({"error": "NotFound", "detail": {"what": "page asset", "id": name}}, status_code=404)
