"""HTTP errors as RFC 9457 problem JSON: domain refusals, unknown routes, and our own faults."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from models.domain.errors import DomainError, ValidationFailed

logger = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"

STATUS_BY_CODE = {
    "invalid_payload": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "request_timeout": 408,
    "not_joined": 409,
    "conflict": 409,
    "already_checked_in": 409,
    "not_checked_in": 409,
    "validation_failed": 422,
    "rate_limited": 429,
    "unavailable": 503,
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def problem(
    status: int, code: str, detail: str, errors: dict[str, str] | None = None
) -> web.Response:
    body: dict[str, object] = {
        "type": f"about:blank#{code}",
        "title": code.replace("_", " "),
        "status": status,
        "code": code,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    response = web.json_response(body, status=status, content_type=PROBLEM_TYPE)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ValidationFailed as exc:
        return problem(422, exc.code, exc.message, exc.errors)
    except DomainError as exc:
        return problem(STATUS_BY_CODE.get(exc.code, 400), exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = "not_found" if exc.status == 404 else exc.reason.lower().replace(" ", "_")
        return problem(exc.status, code, exc.reason)
    except TimeoutError:  # a report past the database's command timeout, say: the caller may retry
        logger.warning("%s %s: no answer in time", request.method, request.path)
        return problem(
            503, "unavailable", "the server could not answer in time; try again, or ask for less"
        )
    except Exception:
        logger.exception("%s %s failed", request.method, request.path)
        return problem(500, "internal", "the server could not handle this request")
