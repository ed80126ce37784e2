"""Socket acks: a handler's answer, or `{ok:false, error:{code, message}}` for a refusal."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec

from handlers.wire.records import Json
from models.domain.errors import DomainError

logger = logging.getLogger(__name__)

P = ParamSpec("P")


def error_ack(code: str, message: str) -> Json:
    return {"ok": False, "error": {"code": code, "message": message}}


def acked(handler: Callable[P, Awaitable[Json]]) -> Callable[P, Awaitable[Json]]:
    """Turn a socket event handler's refusals into `{ok:false, error}` acks.

    Domain errors carry a message meant for the client; anything else is logged here and the
    client learns only that the server could not do it, never a traceback.
    """

    @functools.wraps(handler)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Json:
        try:
            return await handler(*args, **kwargs)
        except DomainError as exc:
            return error_ack(exc.code, exc.message)
        except Exception:
            logger.exception("event handler %s failed", handler.__name__)
            return error_ack("unavailable", "the server could not handle this event")

    return wrapper
