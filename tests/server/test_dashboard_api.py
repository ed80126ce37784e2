"""The routes the dashboard reads, against the real server and PostgreSQL: the breakout list and
one breakout, a breakout's timeline and breakdowns, sessions a page at a time, fever alerts with
names and acknowledgements, who is in a school now, the CSV import of users, aggregate CSVs."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from models.domain.records import Role
from tests.support.api import Api
from tests.support.clients import IPHONE
from tests.support.geo import LONDON_IP
from tests.support.records import new_breakout_id
from tests.support.servers import RunningServer


@pytest.fixture
def org() -> str:
    return f"org-{secrets.token_hex(4)}"


@pytest.fixture
def api(http: aiohttp.ClientSession, server: RunningServer, org: str) -> Api:
    return Api(http, server, org)


async def put(api: Api, breakout: str, **fields: Any) -> None:
    status, body = await api.call("PUT", f"/api/breakouts/{breakout}", fields)
    assert status == 200, body


async def test_the_breakout_list_searches_an_orgs_breakouts_with_state_and_viewers(
    api: Api, server: RunningServer, connect: Any, org: str
) -> None:
    now = datetime.now(UTC)
    live, later, done = (f"b-{name}-{secrets.token_hex(3)}" for name in ("live", "later", "done"))
    await put(api, live, name="Maths 101")
    await put(api, later, name="Physics", startsAt=(now + timedelta(hours=2)).isoformat())
    await put(api, done, name="Maths 102")
    await api.call("POST", f"/api/breakouts/{done}/end")
    await Api(api.http, server, "org-other").call("PUT", f"/api/breakouts/{live}", {"name": "x"})
    viewer = await connect(server, server.token("u1", org=org))
    await viewer.call("join-chat-room", {"breakoutId": live})

    status, body = await api.call("GET", "/api/breakouts", headers=api.headers(Role.ANALYST))
    assert status == 200
    listed = {row["breakoutId"]: row for row in body["data"]}
    assert set(listed) == {live, later, done} and body["next_cursor"] is None
    assert (listed[live]["state"], listed[live]["viewers"]) == ("live", 1)
    assert (listed[later]["state"], listed[later]["viewers"]) == ("scheduled", 0)
    assert listed[done]["state"] == "ended" and listed[done]["endedAt"].endswith("Z")
    assert listed[live]["orgId"] == org

    _, found = await api.call("GET", "/api/breakouts?q=maths&state=live")
    assert [row["breakoutId"] for row in found["data"]] == [live]
    _, page = await api.call("GET", "/api/breakouts?limit=2")
    assert len(page["data"]) == 2 and page["next_cursor"] == page["data"][-1]["breakoutId"]
    _, rest = await api.call("GET", f"/api/breakouts?limit=2&cursor={page['next_cursor']}")
    assert len(rest["data"]) == 1
    _, nothing = await api.call("GET", "/api/breakouts?q=%25")  # LIKE's wildcard is a character
    assert nothing["data"] == []

    status, one = await api.call("GET", f"/api/breakouts/{live}")
    assert status == 200 and one["data"]["name"] == "Maths 101" and one["data"]["viewers"] == 1


async def test_the_breakout_list_refuses_attendees_and_bad_queries(api: Api) -> None:
    status, body = await api.call("GET", "/api/breakouts", headers=api.headers(Role.ATTENDEE))
    assert status == 403 and body["code"] == "forbidden"
    status, body = await api.call("GET", "/api/breakouts?state=over&from=2026-01-02&to=2026-01-01")
    assert status == 422 and set(body["errors"]) == {"state", "to"}
    status, _ = await api.call("GET", f"/api/breakouts/{new_breakout_id()}")
    assert status == 404


async def test_the_timeline_counts_viewers_joins_and_leaves_and_breakdowns_count_clients(
    api: Api, server: RunningServer, connect: Any, org: str
) -> None:
    breakout = new_breakout_id()
    phone = await connect(
        server, server.token("u1", org=org), user_agent=IPHONE, forwarded_for=LONDON_IP
    )
    desk = await connect(server, server.token("u2", org=org))
    await phone.call("join-chat-room", {"breakoutId": breakout})
    await desk.call("join-chat-room", {"breakoutId": breakout})
    await desk.call("leave-chat-room", {"breakoutId": breakout})

    status, body = await api.call("GET", f"/api/breakouts/{breakout}/timeline?step=3600")
    assert status == 200
    timeline = body["data"]
    assert timeline["stepSeconds"] == 3600
    assert sum(b["joins"] for b in timeline["buckets"]) == 2
    assert sum(b["leaves"] for b in timeline["buckets"]) == 1
    assert max(b["peak"] for b in timeline["buckets"]) == 2
    assert timeline["buckets"][-1]["viewers"] == 1

    status, body = await api.call("GET", f"/api/breakouts/{breakout}/breakdowns")
    assert status == 200
    shares = body["data"]
    assert {"value": "mobile", "users": 1, "sessions": 1} in shares["deviceType"]
    assert {"value": "GB", "users": 1, "sessions": 1} in shares["country"]
    assert sum(share["users"] for share in shares["browser"]) == 2

    status, text = await api.text(f"/api/breakouts/{breakout}/timeline?step=3600&format=csv")
    assert status == 200 and text.splitlines()[0] == "start,joins,leaves,peak,viewers"


async def test_sessions_come_a_page_at_a_time(
    api: Api, server: RunningServer, connect: Any, org: str
) -> None:
    breakout = new_breakout_id()
    for user in ("u1", "u2", "u3"):
        viewer = await connect(server, server.token(user, org=org))
        await viewer.call("join-chat-room", {"breakoutId": breakout})
    seen = []
    cursor = ""
    for _ in range(3):
        status, body = await api.call("GET", f"/api/breakouts/{breakout}/sessions?limit=2{cursor}")
        assert status == 200
        seen += [row["userId"] for row in body["data"]]
        if body["next_cursor"] is None:
            break
        cursor = f"&cursor={body['next_cursor']}"
    assert sorted(seen) == ["u1", "u2", "u3"]


async def test_fever_alerts_name_the_user_and_are_acknowledged_once(
    api: Api, server: RunningServer
) -> None:
    school = await api.school()
    user = await api.user(school, name="Grace <b>Hopper</b>")
    status, body = await api.check("checkin", user, school, temp=38.6)
    assert status == 201 and body["data"]["fever_alert"]["user_name"] == "Grace <b>Hopper</b>"
    alert_id = body["data"]["fever_alert"]["id"]

    status, listed = await api.call("GET", "/api/fever-alerts?acknowledged=false")
    assert status == 200 and [a["id"] for a in listed["data"]] == [alert_id]
    host = api.headers(Role.HOST, user="host-1")
    status, acked = await api.call("POST", f"/api/fever-alerts/{alert_id}/acknowledge", None, host)
    assert status == 200 and acked["data"]["acknowledged_by"] == "host-1"
    first_at = acked["data"]["acknowledged_at"]
    _, again = await api.call("POST", f"/api/fever-alerts/{alert_id}/acknowledge")
    assert again["data"]["acknowledged_by"] == "host-1"
    assert again["data"]["acknowledged_at"] == first_at
    _, listed = await api.call("GET", "/api/fever-alerts?acknowledged=false")
    assert listed["data"] == []
    _, listed = await api.call("GET", f"/api/schools/{school}/fever-alerts")
    assert listed["data"][0]["acknowledged_by"] == "host-1"

    analyst = api.headers(Role.ANALYST)
    status, _ = await api.call("POST", f"/api/fever-alerts/{alert_id}/acknowledge", None, analyst)
    assert status == 403
    other = Api(api.http, server, "org-other")
    status, _ = await other.call("POST", f"/api/fever-alerts/{alert_id}/acknowledge")
    assert status == 404


async def test_who_is_in_school_now(api: Api) -> None:
    school = await api.school()
    ada, bob = await api.user(school, name="Ada"), await api.user(school, name="Bob")
    await api.check("checkin", ada, school)
    await api.check("checkin", bob, school)
    await api.check("checkout", bob, school)
    status, body = await api.call("GET", f"/api/schools/{school}/present")
    assert status == 200
    [here] = body["data"]
    assert (here["user_id"], here["user_name"], here["missed_checkout"]) == (ada, "Ada", False)


async def test_importing_users_from_csv_takes_all_or_nothing(api: Api) -> None:
    school = await api.school()
    status, body = await api.upload(
        f"/api/schools/{school}/users/import",
        "name,email,id\nAda,ada@example.org,imp-ada\nBob,not-an-email,\n,x@example.org,\n",
    )
    assert status == 422, body
    assert set(body["errors"]) == {"line 3", "line 4"} and "email" in body["errors"]["line 3"]
    _, users = await api.call("GET", f"/api/users?school_id={school}")
    assert users["data"] == []  # nothing half-imported

    good = "\ufeffname,email,id\r\nAda,ada@example.org,imp-ada\r\nBob,,\r\n"
    status, body = await api.upload(f"/api/schools/{school}/users/import", good)
    assert status == 201 and body["data"]["imported"] == 2
    _, users = await api.call("GET", f"/api/users?school_id={school}")
    assert sorted(u["name"] for u in users["data"]) == ["Ada", "Bob"]

    status, body = await api.upload(f"/api/schools/{school}/users/import", good)
    assert status == 422 and set(body["errors"]) == {"line 2"}  # imp-ada exists
    _, users = await api.call("GET", f"/api/users?school_id={school}")
    assert len(users["data"]) == 2

    status, _ = await api.upload(
        f"/api/schools/{school}/users/import", good, api.headers(Role.ANALYST)
    )
    assert status == 403
    status, body = await api.upload(f"/api/schools/{school}/users/import", "nom,courriel\n")
    assert status == 422 and "line 1" in body["errors"]


async def test_aggregates_download_as_csv(api: Api) -> None:
    school = await api.school()
    user = await api.user(school)
    await api.check("checkin", user, school)
    today = datetime.now(UTC).date().isoformat()
    status, text = await api.text(
        f"/api/attendances/aggregate/school/{school}?from={today}&to={today}&format=csv"
    )
    assert status == 200
    assert text.splitlines()[0] == "start,end,school_days,present,absent,recorded_present"
    status, text = await api.text(
        f"/api/attendances/aggregate/school/{school}?from={today}&to={today}&detail=users"
        "&format=csv"
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert status == 200 and [row["user_id"] for row in rows] == [user]
    assert rows[0]["recorded_present"] == rows[0]["present"] and rows[0]["corrected_days"] == "0"
    status, text = await api.text(
        f"/api/attendances/aggregate/breakouts?from={today}&to={today}&format=csv"
    )
    assert status == 200 and text.startswith("start,end,breakouts,attendees,present,absent")


async def test_a_conflict_writes_its_time_in_utc_with_a_z(api: Api) -> None:
    school = await api.school()
    user = await api.user(school)
    await api.check("checkin", user, school)
    status, body = await api.check("checkin", user, school)
    assert status == 409 and "+00:00" not in body["detail"] and "Z;" in body["detail"]


async def test_a_breakout_report_comes_in_one_answer_of_up_to_100_000_users(
    api: Api, server: RunningServer, connect: Any, org: str
) -> None:
    breakout = new_breakout_id()
    viewer = await connect(server, server.token("u1", org=org))
    await viewer.call("join-chat-room", {"breakoutId": breakout})
    status, body = await api.call("GET", f"/api/breakouts/{breakout}/attendance?limit=100000")
    assert status == 200 and body["data"]["attendees"] == 1 and body["next_cursor"] is None
    status, body = await api.call("GET", f"/api/breakouts/{breakout}/attendance?limit=100001")
    assert status == 422 and set(body["errors"]) == {"limit"}
