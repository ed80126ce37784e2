"""Response formats the read endpoints share: the JSON envelope and CSV exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from aiohttp import web

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP: CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A value as a CSV cell: text that a spreadsheet would run as a formula is prefixed with
    `'` (shown, never run); booleans are `true`/`false` as in the JSON; numbers stay numbers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_response(
    rows: Iterable[dict[str, Any]], fields: Sequence[str], filename: str
) -> web.Response:
    """Every CSV export: its cells through `csv_cell`."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)
    return web.Response(
        text=buffer.getvalue(),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def data_response(data: object, status: int = 200, **extra: object) -> web.Response:
    """The school API's envelope: `{"data": ...}` plus paging fields."""
    return web.json_response({"data": data, **extra}, status=status)
