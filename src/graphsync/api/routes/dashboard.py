"""The web dashboard: static files (HTML, CSS, ES modules) shipped in ``graphsync/dashboard``.

The files are public (they hold no data); everything the dashboard shows comes from the Graph
API with the user's bearer token, exactly like any other Graph client. Files are read once, at
import, into a fixed table: a request names a table entry or gets a 404, so no request path
ever reaches the file system (no traversal, no directory listings, no symlink surprises).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from graphsync.errors import NotFound

router = APIRouter(tags=["dashboard"], include_in_schema=False)

PREFIX = "/dashboard"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
# No inline script or style, no eval, nothing from another origin; the API is same-origin.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# Not fingerprinted (no build step), so caches must revalidate; the ETag makes that a cheap 304.
CACHE_CONTROL = "no-cache"


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def load_assets() -> dict[str, Asset]:
    """Every servable file under ``graphsync/dashboard``, keyed by its path relative to it."""
    assets: dict[str, Asset] = {}

    def walk(node, prefix: str) -> None:
        for child in node.iterdir():
            name = prefix + child.name
            if child.is_dir():
                walk(child, name + "/")
                continue
            suffix = "." + child.name.rsplit(".", 1)[-1] if "." in child.name else ""
            if suffix in CONTENT_TYPES and not child.name.startswith("."):
                body = child.read_bytes()
                assets[name] = Asset(body, CONTENT_TYPES[suffix], '"' + hashlib.sha256(body).hexdigest()[:32] + '"')

    root = resources.files("graphsync").joinpath("dashboard")
    if root.is_dir():
        walk(root, "")
    return assets


ASSETS = load_assets()


def serve(request: Request, name: str) -> Response:
    asset = ASSETS.get(name)
    if asset is None:
        raise NotFound(f"The dashboard has no file '{name}'.", code="UnknownError")
    headers = dict(SECURITY_HEADERS, **{"Cache-Control": CACHE_CONTROL, "ETag": asset.etag})
    matches = [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]
    if asset.etag in matches or "*" in matches:
        return Response(status_code=304, headers=headers)
    body = b"" if request.method == "HEAD" else asset.body
    headers["Content-Length"] = str(len(asset.body))
    return Response(body, media_type=asset.content_type, headers=headers)


@router.api_route("/", methods=["GET", "HEAD"])
async def root() -> Response:
    return RedirectResponse(PREFIX, status_code=302)


@router.api_route(PREFIX, methods=["GET", "HEAD"])
@router.api_route(PREFIX + "/", methods=["GET", "HEAD"])
async def dashboard_index(request: Request) -> Response:
    # index.html names its files by absolute path, so both spellings serve it.
    return serve(request, "index.html")


@router.api_route(PREFIX + "/{name:path}", methods=["GET", "HEAD"])
async def dashboard_asset(request: Request, name: str) -> Response:
    return serve(request, name)
