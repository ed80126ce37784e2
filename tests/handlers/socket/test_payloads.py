from __future__ import annotations

import pytest

from handlers.socket.payloads import breakout_request, join_request
from models.domain.errors import InvalidPayload
from models.domain.fields import MAX_ID_CHARS
from models.domain.records import SessionType


def test_join_defaults_to_live() -> None:
    request = join_request({"breakoutId": "b-1"})
    assert (request.breakout_id, request.session_type) == ("b-1", SessionType.LIVE)


def test_join_takes_on_demand_and_ignores_unknown_fields() -> None:
    request = join_request({"breakoutId": "org:b_1.x", "type": "on_demand", "extra": 1})
    assert request.session_type is SessionType.ON_DEMAND


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "b1",
        ["b1"],
        {},
        {"breakoutId": 1},
        {"breakoutId": ""},
        {"breakoutId": "x" * (MAX_ID_CHARS + 1)},
        {"breakoutId": "a b"},
        {"breakoutId": "ä"},
        {"breakoutId": "b1", "type": "vod"},
        {"breakoutId": "b1", "type": {"live": 1}},
        {"breakoutId": "b1", "type": ["live"]},
    ],
)
def test_bad_join_payloads_are_invalid(payload: object) -> None:
    with pytest.raises(InvalidPayload):
        join_request(payload)


def test_leave_takes_the_breakout() -> None:
    assert breakout_request({"breakoutId": "b1"}) == "b1"
    with pytest.raises(InvalidPayload):
        breakout_request({"breakoutId": None})
