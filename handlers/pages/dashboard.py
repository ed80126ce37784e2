"""The dashboard (hosts, analysts, school admins) and the API reference page, served from the
front-end build in web/dashboard/dist (made by the set-up: `make run`, `make test`).

Every page path under /dashboard/ answers the one page shell (the front end reads the path);
its scripts, styles and the world map's outlines come from /dashboard/assets/. Nothing is
loaded from another origin, and the Content-Security-Policy allows no inline script.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from models.domain.errors import NotFound, Unavailable

DIST = Path(__file__).resolve().parents[2] / "web" / "dashboard" / "dist"
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# Asset names: no directories, nothing hidden.
_ASSET = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")
_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".map": "application/json",
    ".txt": "text/plain",
    ".html": "text/html",
}


def _built(relative: str) -> Path:
    found = DIST / relative
    if not (DIST / ".built").is_file():
        raise Unavailable(
            "the dashboard is not built: `make run` builds it (or `cd web/dashboard && npm ci"
            " && npm run build`)"
        )
    return found


def _file(folder: str, name: str, *, cache: str) -> web.FileResponse:
    if not _ASSET.fullmatch(name) or name.startswith("."):
        raise NotFound(f"no asset {name}")
    path = _built(folder) / name
    if not path.is_file():
        raise NotFound(f"no asset {name}")
    content_type = _TYPES.get(path.suffix, "application/octet-stream")
    headers = {**PAGE_HEADERS, "Cache-Control": cache, "Content-Type": content_type}
    return web.FileResponse(path, headers=headers)


async def to_dashboard(_: web.Request) -> web.Response:
    raise web.HTTPFound("/dashboard/")


async def dashboard_page(_: web.Request) -> web.FileResponse:
    return _file(".", "index.html", cache="no-cache")


async def dashboard_asset(request: web.Request) -> web.FileResponse:
    return _file("assets", request.match_info["name"], cache="no-cache")


async def to_reference(_: web.Request) -> web.Response:
    raise web.HTTPFound("/api/docs/")


async def reference_page(_: web.Request) -> web.FileResponse:
    return _file("api-docs", "index.html", cache="no-cache")


async def reference_asset(request: web.Request) -> web.FileResponse:
    return _file("api-docs", request.match_info["name"], cache="max-age=3600")


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/", to_dashboard)
    router.add_get("/dashboard", to_dashboard)
    router.add_get("/dashboard/assets/{name}", dashboard_asset)
    router.add_get("/dashboard/{page:.*}", dashboard_page)
    router.add_get("/api/docs", to_reference)
    router.add_get("/api/docs/", reference_page)
    router.add_get("/api/docs/{name}", reference_asset)
