from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from models.domain.fields import iso_ms


def test_timestamps_are_utc_with_milliseconds() -> None:
    moment = datetime(2026, 11, 21, 9, 30, 5, 123456, tzinfo=UTC)
    assert iso_ms(moment) == "2026-11-21T09:30:05.123Z"


def test_other_zones_are_converted_to_utc() -> None:
    moment = datetime(2026, 11, 21, 10, 0, 0, 0, tzinfo=timezone(timedelta(hours=1)))
    assert iso_ms(moment) == "2026-11-21T09:00:00.000Z"
    assert iso_ms(None) is None
