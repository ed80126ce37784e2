"""CSV exports: no cell runs as a formula in a spreadsheet; booleans read as in the JSON."""

from __future__ import annotations

import pytest

from handlers.http.formats import csv_cell


@pytest.mark.parametrize(
    "name",
    [
        '=HYPERLINK("http://evil.example","click")',
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(1+1)",
        "\t=1+1",
        "\r=1+1",
    ],
)
def test_formula_cells_are_neutralised(name: str) -> None:
    assert csv_cell(name) == "'" + name


def test_other_cells_are_left_alone() -> None:
    assert csv_cell("Ada Lovelace") == "Ada Lovelace"
    assert csv_cell(-0.0931) == -0.0931  # a longitude is a number, not a formula
    assert csv_cell(None) is None
    assert (csv_cell(True), csv_cell(False)) == ("true", "false")
