"""Corrections of the record (README "Corrections") against the real server and PostgreSQL: the
reports show the corrected figure beside the recorded one, the log keeps every correction, a
correction is withdrawn and never changed or deleted, and only hosts and admins correct."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import pytest

from models.domain.records import Role
from tests.support.api import Api
from tests.support.servers import RunningServer


def _yesterday_at(hour: int, minute: int = 0) -> str:
    day = datetime.now(UTC).date() - timedelta(days=1)
    return datetime.combine(day, time(hour, minute), tzinfo=UTC).isoformat()


async def _report(api: Api, breakout: str) -> tuple[dict[str, Any], dict[str, Any]]:
    status, body = await api.call("GET", f"/api/breakouts/{breakout}/attendance")
    assert status == 200, body
    return body["data"], {user["userId"]: user for user in body["data"]["users"]}


async def test_corrections_show_beside_the_record_and_can_be_withdrawn(
    http: aiohttp.ClientSession, server: RunningServer, held_breakout: tuple[str, str]
) -> None:
    org, breakout = held_breakout  # a 1 h breakout yesterday at 10:00, present from 50%
    api = Api(http, server, org)
    host = api.headers(Role.HOST, "host-1")
    path = f"/api/breakouts/{breakout}/corrections"

    async def correct(body: dict[str, Any]) -> dict[str, Any]:
        status, made = await api.call("POST", path, body, host)
        assert status == 201, made
        return dict(made["data"])

    # Bob (u2, 10:05-10:15) was also on the phone 10:10-10:40: 35 minutes once, not 40.
    phone = await correct(
        {
            "userId": "u2",
            "kind": "stay",
            "reason": "joined_by_phone",
            "from": _yesterday_at(10, 10),
            "to": _yesterday_at(10, 40),
        }
    )
    assert phone["status"] == "active" and phone["madeBy"] == "host-1"
    assert phone["madeByRole"] == "host" and phone["replaces"] is None
    excused = await correct({"userId": "u3", "kind": "present", "reason": "excused"})
    wrong = await correct({"userId": "u1", "kind": "absent", "reason": "recorded_in_error"})
    await correct(
        {
            "userId": "u5",
            "kind": "stay",
            "reason": "joined_by_phone",
            "note": "dialled in",
            "from": _yesterday_at(10),
            "to": _yesterday_at(10, 45),
        }
    )

    report, users = await _report(api, breakout)
    assert (report["attendees"], report["present"], report["recordedPresent"]) == (5, 3, 1)
    assert report["correctedUsers"] == 4 and report["absent"] == 2
    assert users["u1"]["present"] is False and users["u1"]["recordedPresent"] is True
    assert users["u1"]["attendedSeconds"] == users["u1"]["recordedSeconds"] == 2400
    assert users["u2"]["attendedSeconds"] == 2100 and users["u2"]["recordedSeconds"] == 600
    assert users["u2"]["present"] is True and users["u2"]["recordedPresent"] is False
    assert users["u2"]["corrections"] == [phone["id"]] and users["u2"]["corrected"] is True
    assert users["u3"]["present"] is True and users["u3"]["attendedSeconds"] == 0
    assert users["u5"]["attendedSeconds"] == 2700 and users["u5"]["recordedSeconds"] == 0
    assert users["u5"]["present"] is True and users["u5"]["percent"] == 75
    assert users["u4"]["corrected"] is False and users["u4"]["corrections"] == []

    # A later mark replaces the one in force; withdrawing it brings the earlier one back.
    changed = await correct(
        {"userId": "u3", "kind": "absent", "reason": "other", "note": "left at once"}
    )
    assert changed["replaces"] == excused["id"]
    assert (await _report(api, breakout))[1]["u3"]["present"] is False
    status, log = await api.call("GET", path)
    by_id = {entry["id"]: entry for entry in log["data"]}
    assert by_id[excused["id"]]["status"] == "superseded"
    assert by_id[excused["id"]]["supersededBy"] == changed["id"]
    withdraw = f"/api/corrections/{changed['id']}/withdraw"
    status, withdrawn = await api.call("POST", withdraw, {"reason": "mistaken"}, host)
    assert status == 200 and withdrawn["data"]["status"] == "withdrawn"
    assert withdrawn["data"]["withdrawnBy"] == "host-1"
    assert withdrawn["data"]["withdrawnReason"] == "mistaken"
    status, again = await api.call("POST", withdraw, {"reason": "twice"}, host)
    assert status == 409 and again["code"] == "conflict"
    status, _ = await api.call("POST", f"/api/corrections/{wrong['id']}/withdraw", {"reason": "x"})
    assert status == 200  # an admin may withdraw a host's correction
    report, users = await _report(api, breakout)
    assert users["u3"]["present"] is True and users["u1"]["present"] is True
    assert users["u1"]["corrected"] is False and report["present"] == 4

    # The log keeps all five, in order, a page at a time, and as CSV; the org's log too.
    pages, cursor = [], None
    while True:
        status, page = await api.call(
            "GET", path + "?limit=4" + ("" if cursor is None else f"&cursor={cursor}")
        )
        assert status == 200
        pages += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [entry["id"] for entry in pages] == sorted(entry["id"] for entry in pages)
    statuses = {entry["id"]: entry["status"] for entry in pages}
    assert statuses == {
        phone["id"]: "active",
        excused["id"]: "active",
        wrong["id"]: "withdrawn",
        pages[3]["id"]: "active",
        changed["id"]: "withdrawn",
    }
    status, text = await api.text(path + "?format=csv", host)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert status == 200 and [int(row["id"]) for row in rows] == list(statuses)
    assert rows[2]["withdrawnReason"] == "x" and rows[0]["from"].endswith("T10:10:00.000Z")
    status, org_log = await api.call("GET", "/api/corrections", headers=api.headers(Role.ANALYST))
    assert status == 200 and [entry["id"] for entry in org_log["data"]] == list(statuses)
    status, text = await api.text(f"/api/breakouts/{breakout}/attendance?format=csv")
    exported = {row["userId"]: row for row in csv.DictReader(io.StringIO(text))}
    assert exported["u2"]["corrections"] == str(phone["id"])
    assert exported["u2"]["recordedSeconds"] == "600.0"

    # The org's periods count each corrected user as the breakout's report does: Cy (u3, no
    # closed time) and Eve (u5, only the phone) in the day the breakout and her stay began.
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    query = f"from={yesterday}&to={yesterday}&detail=breakouts"
    status, body = await api.call("GET", f"/api/attendances/aggregate/breakouts?{query}")
    (period,) = body["data"]["periods"]
    assert (period["attendees"], period["present"], period["absent"]) == (4, 4, 0)
    assert period["recordedPresent"] == 1
    [judged] = period["perBreakout"]
    assert (judged["breakoutId"], judged["present"], judged["absent"]) == (breakout, 4, 0)


async def test_only_hosts_and_admins_correct_and_bad_corrections_are_refused(
    http: aiohttp.ClientSession, server: RunningServer, held_breakout: tuple[str, str]
) -> None:
    org, breakout = held_breakout
    api = Api(http, server, org)
    path = f"/api/breakouts/{breakout}/corrections"
    mark = {"userId": "u2", "kind": "present", "reason": "excused"}
    for role in (Role.ANALYST, Role.ATTENDEE):
        status, refused = await api.call("POST", path, mark, api.headers(role, "u2"))
        assert status == 403 and refused["code"] == "forbidden", role
    status, _ = await api.call("POST", path, mark, api.headers(Role.ADMIN, org="org-other"))
    assert status == 404  # another org's breakout is one that does not exist
    status, _ = await api.call("GET", path, headers=api.headers(Role.ATTENDEE, "u2"))
    assert status == 403
    assert (await api.call("GET", path, headers=api.headers(Role.ANALYST)))[0] == 200
    status, made = await api.call("POST", path, mark)
    assert status == 201
    withdraw = f"/api/corrections/{made['data']['id']}/withdraw"
    analyst = api.headers(Role.ANALYST)
    assert (await api.call("POST", withdraw, {"reason": "no"}, analyst))[0] == 403
    other_org = api.headers(Role.ADMIN, org="org-other")
    assert (await api.call("POST", withdraw, {"reason": "no"}, other_org))[0] == 404
    assert (await api.call("POST", "/api/corrections/abc/withdraw", {"reason": "no"}))[0] == 404
    assert (await api.call("POST", withdraw, {}))[0] == 422

    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    bad: list[tuple[dict[str, Any], str]] = [
        ({"userId": "u2", "kind": "late", "reason": "excused"}, "kind"),
        ({"userId": "u2", "kind": "present"}, "reason"),
        ({"userId": "u2", "kind": "present", "reason": "other"}, "note"),
        ({"userId": "u2", "kind": "present", "reason": "excused", "note": "a\x00b"}, "note"),
        ({"userId": "u2", "kind": "stay", "reason": "joined_by_phone"}, "from"),
        (mark | {"from": _yesterday_at(10), "to": _yesterday_at(11)}, "from"),
        (mark | {"day": "2026-01-05"}, "day"),
        ({"userId": "bad id!", "kind": "present", "reason": "excused"}, "userId"),
        ({"kind": "present", "reason": "excused"}, "userId"),
        (
            {
                "userId": "u2",
                "kind": "stay",
                "reason": "joined_by_phone",
                "from": _yesterday_at(11),
                "to": _yesterday_at(10),
            },
            "to",
        ),
        (
            {
                "userId": "u2",
                "kind": "stay",
                "reason": "joined_by_phone",
                "from": _yesterday_at(10),
                "to": future,
            },
            "to",
        ),
    ]
    for body, field in bad:
        status, problem = await api.call("POST", path, body)
        assert status == 422 and field in problem["errors"], (body, problem)
    status, problem = await api.call("POST", path, ["not", "an", "object"])
    assert status == 422
    _, log = await api.call("GET", path)
    assert len(log["data"]) == 1  # nothing refused was recorded


async def test_a_correction_is_never_changed_or_deleted_in_the_database(
    http: aiohttp.ClientSession, server: RunningServer, held_breakout: tuple[str, str]
) -> None:
    org, breakout = held_breakout
    api = Api(http, server, org)
    status, made = await api.call(
        "POST",
        f"/api/breakouts/{breakout}/corrections",
        {"userId": "u2", "kind": "present", "reason": "excused"},
    )
    correction_id = made["data"]["id"]
    async with server.pool.acquire() as connection:
        for statement in (
            "UPDATE attendance_corrections SET reason = 'other' WHERE id = $1",
            "UPDATE attendance_corrections SET kind = 'absent' WHERE id = $1",
            "DELETE FROM attendance_corrections WHERE id = $1",
        ):
            with pytest.raises(asyncpg.RestrictViolationError):
                await connection.execute(statement, correction_id)
        withdraw = (
            "UPDATE attendance_corrections SET withdrawn_at = now(), withdrawn_by = 'x',"
            " withdrawn_reason = $2 WHERE id = $1"
        )
        await connection.execute(withdraw, correction_id, "first")
        with pytest.raises(asyncpg.RestrictViolationError):
            await connection.execute(withdraw, correction_id, "second")
        reason = await connection.fetchval(
            "SELECT withdrawn_reason FROM attendance_corrections WHERE id = $1", correction_id
        )
    assert reason == "first"


async def test_an_admin_marks_a_school_day_and_the_school_report_shows_both(
    http: aiohttp.ClientSession, school_server: RunningServer
) -> None:
    api = Api(http, school_server, f"org-{secrets.token_hex(4)}")
    school = await api.school(time_zone="Europe/Madrid", school_days=[1, 2, 3, 4, 5, 6, 7])
    ada, bob = await api.user(school), await api.user(school, name="Bob")
    other_school = await api.school()
    stranger = await api.user(other_school)
    zone = ZoneInfo("Europe/Madrid")
    day = datetime.now(zone).date() - timedelta(days=2)
    # Ada was in for an hour (the day rule wants four); Bob five hours.
    for user, hours in ((ada, 1), (bob, 5)):
        at = datetime.combine(day, time(8), tzinfo=zone)
        assert (await api.check("checkin", user, school, at))[0] == 201
        assert (await api.check("checkout", user, school, at + timedelta(hours=hours)))[0] == 201

    path = f"/api/schools/{school}/corrections"
    mark = {"userId": ada, "day": str(day), "kind": "present", "reason": "excused"}
    host = api.headers(Role.HOST)
    assert (await api.call("POST", path, mark, host))[0] == 403  # school days: admins only
    status, problem = await api.call("POST", path, mark | {"userId": stranger})
    assert status == 422 and "userId" in problem["errors"]
    status, problem = await api.call("POST", path, mark | {"kind": "stay"})
    assert status == 422 and "kind" in problem["errors"]
    status, problem = await api.call("POST", path, {k: v for k, v in mark.items() if k != "day"})
    assert status == 422 and "day" in problem["errors"]
    assert (await api.call("POST", "/api/schools/nope/corrections", mark))[0] == 404
    status, made = await api.call("POST", path, mark)
    assert status == 201 and made["data"]["day"] == str(day)
    status, absent = await api.call(
        "POST", path, mark | {"userId": bob, "kind": "absent", "reason": "recorded_in_error"}
    )
    assert status == 201

    query = f"from={day}&to={day}&period=day&detail=users"
    status, body = await api.call("GET", f"/api/attendances/aggregate/school/{school}?{query}")
    assert status == 200, body
    (period,) = body["data"]["periods"]
    users = {user["user_id"]: user for user in period["users"]}
    assert users[ada]["present"] is True and users[ada]["recorded_present"] is False
    assert users[ada]["corrected_days"] == 1 and users[ada]["seconds"] == 3600
    assert users[bob]["present"] is False and users[bob]["recorded_present"] is True
    assert (period["present"], period["recorded_present"]) == (1, 1)

    status, log = await api.call("GET", path, headers=api.headers(Role.ANALYST))
    assert status == 200 and [e["userId"] for e in log["data"]] == [ada, bob]
    status, _ = await api.call(
        "POST", f"/api/corrections/{absent['data']['id']}/withdraw", {"reason": "x"}, host
    )
    assert status == 403  # a host may not withdraw what only an admin may make
    await api.call("POST", f"/api/corrections/{absent['data']['id']}/withdraw", {"reason": "x"})
    _, body = await api.call("GET", f"/api/attendances/aggregate/school/{school}?{query}")
    users = {user["user_id"]: user for user in body["data"]["periods"][0]["users"]}
    assert users[bob]["present"] is True and users[bob]["corrected_days"] == 0
