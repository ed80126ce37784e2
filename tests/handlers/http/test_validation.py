"""HTTP request validation: every bad field of a body or query is named in one 422."""

from __future__ import annotations

import pytest

from handlers.http.bodies import breakout_spec, check_event_request
from handlers.http.queries import event_filter_of, page_of, report_query_of
from handlers.http.validation import Fields
from models.domain.errors import ValidationFailed


def errors_of(read: object) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as raised:
        read()  # type: ignore[operator]
    return raised.value.errors


def test_a_body_names_every_bad_field_at_once() -> None:
    errors = errors_of(
        lambda: check_event_request(
            {"user_id": "a b", "type": "lunch", "temperature": True, "timestamp": "noon"}
        )
    )
    assert set(errors) == {"user_id", "school_id", "type", "temperature", "timestamp"}
    assert errors["school_id"] == "is required"


def test_a_body_that_is_not_an_object_is_named_as_the_body() -> None:
    assert errors_of(lambda: breakout_spec([])) == {"body": "must be a JSON object"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"deviceLimit": -1}, "deviceLimit"),
        ({"deviceLimit": True}, "deviceLimit"),
        ({"startsAt": "2026-11-21T09:00:00"}, "startsAt"),
        ({"startsAt": "2026-11-21T10:00Z", "endsAt": "2026-11-21T09:00Z"}, "endsAt"),
        ({"name": " "}, "name"),
        ({"presentMinMinutes": 10, "presentMinPercent": 50}, "presentMinPercent"),
        ({"presentMinPercent": 101}, "presentMinPercent"),
    ],
)
def test_breakout_bodies(body: dict[str, object], field: str) -> None:
    assert field in errors_of(lambda: breakout_spec(body))


def test_a_good_breakout_body_is_taken_trimmed() -> None:
    spec = breakout_spec({"name": "  Maths ", "deviceLimit": 2, "presentMinPercent": 75})
    assert (spec.name, spec.device_limit, spec.present_min_percent) == ("Maths", 2, 75.0)


def test_a_query_names_every_bad_parameter_at_once() -> None:
    query = Fields({"limit": "0", "cursor": "x", "from": "2026-02-01", "to": "2026-01-01"})
    page_of(query, numeric=True)
    event_filter_of(query)
    assert set(errors_of(query.done)) == {"limit", "cursor", "to"}


def test_a_report_query_needs_its_range_and_knows_its_periods() -> None:
    query = Fields({"to": "2026-13-01", "period": "year", "detail": "all"})
    report_query_of(query)
    assert set(errors_of(query.done)) == {"from", "to", "period", "detail"}


def test_good_queries_pass() -> None:
    query = Fields({"limit": "10", "from": "2026-01-01", "to": "2026-01-31", "period": "week"})
    page, wanted = page_of(query), report_query_of(query)
    query.done()
    assert page.limit == 10 and wanted.period.value == "week" and not wanted.detail
