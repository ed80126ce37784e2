"""Validation of HTTP requests: every bad field of a body, query or path is named in one 422.

`Fields` reads a JSON body or a query string and collects each field's problem; `done()` raises
them together as `ValidationFailed` (problem JSON with `errors: {field: why}`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime
from typing import Any, TypeVar

from aiohttp import web

from handlers.keys import SETTINGS
from models.domain.errors import NotFound, RequestTimeout, ValidationFailed
from models.domain.fields import (
    MAX_NAME_CHARS,
    is_clean,
    parse_aware_time,
    parse_count,
    parse_date,
    parse_id,
    parse_name,
)

T = TypeVar("T")


class Fields:
    """The fields of one request (a JSON object's, or a query string's), and their problems."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values
        self.errors: dict[str, str] = {}

    @classmethod
    def of_body(cls, payload: object) -> Fields:
        if not isinstance(payload, dict):
            raise ValidationFailed({"body": "must be a JSON object"})
        return cls(payload)

    def given(self, key: str) -> bool:
        return self.values.get(key) is not None

    def problem(self, key: str, why: str) -> None:
        self.errors.setdefault(key, why)

    def parsed(self, key: str, parse: Callable[[Any], T], *, required: bool = False) -> T | None:
        """The field through `parse` (a ValueError names the problem); None when absent."""
        value = self.values.get(key)
        if value is None:
            if required:
                self.problem(key, "is required")
            return None
        try:
            return parse(value)
        except ValueError as exc:
            self.problem(key, str(exc))
            return None

    def text(self, key: str, *, required: bool, max_chars: int = MAX_NAME_CHARS) -> str | None:
        """Text of 1 to `max_chars` characters once trimmed, no control characters; trimmed."""
        return self.parsed(key, lambda value: parse_name(value, max_chars), required=required)

    def identifier(self, key: str, *, required: bool) -> str | None:
        return self.parsed(key, parse_id, required=required)

    def time(self, key: str) -> datetime | None:
        """An ISO 8601 time with a zone."""
        return self.parsed(key, parse_aware_time)

    def whole(self, key: str, low: int, high: int) -> int | None:
        """A JSON whole number from `low` to `high` (true and false are not numbers)."""

        def whole(value: Any) -> int:
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"must be a whole number {low}-{high}")
            return value

        return self.parsed(key, whole)

    def number(self, key: str, low: float, high: float) -> float | None:
        """A JSON number from `low` to `high`."""

        def number(value: Any) -> float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"must be a number {low:g}-{high:g}")
            if not low <= value <= high:
                raise ValueError(f"must be a number {low:g}-{high:g}")
            return float(value)

        return self.parsed(key, number)

    def count(self, key: str, low: int, high: int, default: int) -> int:
        """A whole number written in a query string (`?limit=100`)."""
        found = self.parsed(key, lambda value: parse_count(value, low, high))
        return default if found is None else found

    def choice(self, key: str, options: Collection[str], default: str | None = None) -> str | None:
        def one_of(value: Any) -> str:
            if value not in options:
                raise ValueError("must be " + " or ".join(sorted(options)))
            return str(value)

        found = self.parsed(key, one_of)
        return default if found is None else found

    def day(self, key: str, *, required: bool) -> date | None:
        """A date, YYYY-MM-DD."""
        return self.parsed(key, parse_date, required=required)

    def done(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)


def read_query(request: web.Request, read: Callable[[Fields], T]) -> T:
    """What `read` takes from the query string; every bad parameter is named in one 422."""
    query = Fields(request.query)
    for key, value in request.query.items():
        if not is_clean(key) or not is_clean(value):
            query.problem(key if is_clean(key) else "query", "must not hold control characters")
    query.done()
    found = read(query)
    query.done()
    return found


async def json_body(request: web.Request) -> object:
    try:
        async with asyncio.timeout(request.app[SETTINGS].http_read_timeout_s):
            return await request.json()
    except TimeoutError:  # a body trickled in slower than anyone sends one
        raise RequestTimeout("the request body did not arrive in time") from None
    except ValueError:  # not JSON, or not UTF-8
        raise ValidationFailed({"body": "must be JSON"}) from None
    except RecursionError:  # [[[[...]]]] ten thousand deep
        raise ValidationFailed({"body": "is nested too deeply"}) from None


async def text_body(request: web.Request) -> str:
    """A UTF-8 text body (a CSV upload) without control characters but tabs and line ends."""
    try:
        async with asyncio.timeout(request.app[SETTINGS].http_read_timeout_s):
            raw = await request.read()
    except TimeoutError:
        raise RequestTimeout("the request body did not arrive in time") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed({"body": "must be UTF-8 text"}) from None
    if not is_clean(text.replace("\t", "").replace("\r", "").replace("\n", "")):
        raise ValidationFailed({"body": "must not hold control characters"})
    return text


def path_id(request: web.Request, key: str) -> str:
    """The id in the route's `{key}`; a malformed one is a 422 naming the field."""
    fields = Fields(request.match_info)
    found = fields.identifier(key, required=True)
    fields.done()
    assert found is not None  # noqa: S101 - done() raised otherwise
    return found


def path_number(request: web.Request, noun: str) -> int:
    """The numeric id in the route's `{id}` (a record numbered by the database); anything else
    names no such record: 404."""
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise NotFound(f"{noun} {raw} does not exist")
    return int(raw)
