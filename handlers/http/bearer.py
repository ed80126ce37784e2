"""HTTP authentication: the identity in a request's Bearer token."""

from __future__ import annotations

from aiohttp import web

from handlers.keys import TOKENS
from models.domain.errors import Unauthorized
from models.domain.records import Identity


def bearer_identity(request: web.Request) -> Identity:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send `Authorization: Bearer <token>`")
    return request.app[TOKENS].verify(token.strip())
