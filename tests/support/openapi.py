"""Real answers checked against the OpenAPI document the server serves (openapi-core)."""

from __future__ import annotations

import json
from functools import cache
from urllib.parse import urlsplit

from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from handlers.api.openapi import DOCUMENT


@cache
def _spec() -> OpenAPI:
    # Problem JSON is JSON; CSV is checked as text.
    config = Config(
        extra_media_type_deserializers={
            "application/problem+json": json.loads,
            "text/csv": lambda raw: raw.decode() if isinstance(raw, bytes) else raw,
        }
    )
    return OpenAPI.from_dict(DOCUMENT, config=config)


def check_answer(
    method: str, url: str, status: int, body: bytes, content_type: str, *, sent: bytes | None = None
) -> None:
    """Raise when the route is not in the document, or the answer does not fit its schema."""
    parts = urlsplit(url)
    args = dict(pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair)
    request = MockRequest(
        f"{parts.scheme}://{parts.netloc}",
        method.lower(),
        parts.path,
        args=args,
        data=sent,
        content_type="application/json",
    )
    response = MockResponse(body, status_code=status, content_type=content_type.split(";")[0])
    _spec().validate_response(request, response)
