"""Session ids as the attendance desk makes them."""

from __future__ import annotations

from handlers.http.formats import csv_cell
from models.live.desk import new_session_id


def test_a_session_id_survives_a_csv_export_unchanged() -> None:
    """One id in 32 would begin with `-` or `_`; the export would prefix the `-` ones."""
    ids = [new_session_id() for _ in range(2_000)]
    assert all(csv_cell(session_id) == session_id for session_id in ids)
    assert all(session_id[0].isalnum() and len(session_id) == 16 for session_id in ids)
    assert len(set(ids)) == len(ids)
