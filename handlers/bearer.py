"""HTTP authentication: the identity in a request's Bearer token."""

from __future__ import annotations

from aiohttp import web

from handlers.context import TOKENS
from models.errors import Unauthorized
from models.records import Identity


def bearer_identity(request: web.Request) -> Identity:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send `Authorization: Bearer <token>`")
    return request.app[TOKENS].verify(token.strip())
