"""Cross-origin access for browsers: same origin only unless CORS_ORIGINS allows more."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from handlers.http.problems import Handler

ANY_ORIGIN = "*"
PREFLIGHT_MAX_AGE_S = "600"


def socketio_origins(origins: Sequence[str]) -> str | list[str] | None:
    """python-engineio's form: None checks the same origin, "*" allows any, else a list."""
    if not origins:
        return None
    if ANY_ORIGIN in origins:
        return ANY_ORIGIN
    return list(origins)


def cors_middleware(origins: Sequence[str]) -> web.middleware:  # type: ignore[valid-type]
    """Adds CORS headers for allowed origins; with none configured, adds nothing (same origin)."""
    allowed = frozenset(origins)

    def is_allowed(origin: str | None) -> bool:
        return origin is not None and (ANY_ORIGIN in allowed or origin in allowed)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if not is_allowed(origin) or request.path.startswith("/socket.io"):
            return await handler(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response: web.StreamResponse = web.Response(status=204)
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE_S
        else:
            response = await handler(request)
        assert origin is not None  # noqa: S101 - is_allowed() checked it
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        return response

    return middleware
