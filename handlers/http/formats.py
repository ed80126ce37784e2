"""Response formats the read endpoints share: the JSON envelope and CSV exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from aiohttp import web


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


def data_response(data: object, status: int = 200, **extra: object) -> web.Response:
    """The school API's envelope: `{"data": ...}` plus paging fields."""
    return web.json_response({"data": data, **extra}, status=status)
