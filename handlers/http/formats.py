"""Response formats the read endpoints share: JSON or CSV chosen by `?format=` or Accept."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from aiohttp import web

from models.domain.errors import InvalidPayload


def wants_csv(request: web.Request) -> bool:
    chosen = request.query.get("format")
    if chosen is not None:
        if chosen not in {"json", "csv"}:
            raise InvalidPayload("format must be json or csv")
        return chosen == "csv"
    return "text/csv" in request.headers.get("Accept", "")


def csv_response(
    rows: Iterable[dict[str, Any]], fields: Sequence[str], filename: str
) -> web.Response:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return web.Response(
        text=buffer.getvalue(),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def json_body(request: web.Request) -> object:
    try:
        return await request.json()
    except ValueError:
        raise InvalidPayload("the body must be JSON") from None


def data_response(data: object, status: int = 200, **extra: object) -> web.Response:
    """The school API's envelope: `{"data": ...}` plus paging fields."""
    return web.json_response({"data": data, **extra}, status=status)
