"""Fixtures the model tests share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from models.writes.journal import Journal


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    """An open journal in a temp dir; small segments, so tests cross segment boundaries."""
    journal = Journal(tmp_path / "journal", segment_max_entries=3)
    journal.open()
    yield journal
    journal.close()
