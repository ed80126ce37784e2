"""The school API against the real server and PostgreSQL: CRUD, check events, alerts, reports."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from models.domain.records import Role, org_place
from tests.support.api import Api
from tests.support.servers import RunningServer


@pytest.fixture
async def server(make_server: Any) -> RunningServer:
    """The reports below are fed a month of history, entered by an admin."""
    return await make_server(checkin_max_past_days=60)  # type: ignore[no-any-return]


@pytest.fixture
def api(http: aiohttp.ClientSession, server: RunningServer) -> Api:
    return Api(http, server, f"org-{secrets.token_hex(4)}")


async def test_schools_and_users_crud_with_status_codes_and_shapes(api: Api) -> None:
    status, created = await api.call(
        "POST", "/api/schools", {"name": "Hill", "time_zone": "Europe/Madrid"}
    )
    assert status == 201
    school = created["data"]
    assert school["name"] == "Hill" and school["time_zone"] == "Europe/Madrid"
    assert school["school_days"] == [1, 2, 3, 4, 5] and school["org_id"] == api.org
    path = f"/api/schools/{school['id']}"

    assert (await api.call("GET", path))[1]["data"] == school
    status, patched = await api.call("PATCH", path, {"school_days": [1, 2, 3]})
    assert status == 200 and patched["data"]["school_days"] == [1, 2, 3]
    assert patched["data"]["name"] == "Hill"
    status, listed = await api.call("GET", "/api/schools")
    assert status == 200 and [s["id"] for s in listed["data"]] == [school["id"]]

    user_id = await api.user(school["id"], email="ada@example.org")
    status, user = await api.call("GET", f"/api/users/{user_id}")
    assert status == 200 and user["data"]["school_id"] == school["id"]
    status, users = await api.call("GET", f"/api/users?school_id={school['id']}")
    assert [u["id"] for u in users["data"]] == [user_id]
    status, put = await api.call(
        "PUT", f"/api/users/{user_id}", {"school_id": school["id"], "name": "Ada L."}
    )
    assert status == 200 and put["data"]["name"] == "Ada L." and put["data"]["email"] is None

    status, refused = await api.call("DELETE", path)
    assert status == 409 and refused["code"] == "conflict"
    assert (await api.call("DELETE", f"/api/users/{user_id}"))[0] == 204
    assert (await api.call("GET", f"/api/users/{user_id}"))[0] == 404
    assert (await api.call("DELETE", path))[0] == 204
    status, missing = await api.call("GET", path)
    assert status == 404 and missing["code"] == "not_found"


async def test_bad_bodies_get_422_naming_every_field(api: Api) -> None:
    status, body = await api.call(
        "POST", "/api/schools", {"name": "", "time_zone": "Mars/Olympus", "school_days": [0, 8]}
    )
    assert status == 422
    assert set(body["errors"]) == {"name", "time_zone", "school_days"}
    status, body = await api.call("POST", "/api/users", {"email": "nope"})
    assert status == 422 and set(body["errors"]) == {"school_id", "name", "email"}
    status, body = await api.call("POST", "/api/users", {"school_id": "nowhere", "name": "A"})
    assert status == 422 and "school_id" in body["errors"]
    status, body = await api.call("POST", "/api/attendances", [1, 2])
    assert status == 422 and "body" in body["errors"]


async def test_roles_and_tenants(api: Api) -> None:
    school = await api.school()
    analyst = api.headers(Role.ANALYST)
    assert (await api.call("GET", f"/api/schools/{school}", headers=analyst))[0] == 200
    status, body = await api.call("POST", "/api/schools", {"name": "X"}, headers=analyst)
    assert status == 403 and body["code"] == "forbidden"
    other_org = api.headers(Role.ADMIN, org="org-elsewhere")
    assert (await api.call("GET", f"/api/schools/{school}", headers=other_org))[0] == 404
    attendee = api.headers(Role.ATTENDEE)
    assert (await api.call("GET", "/api/schools", headers=attendee))[0] == 403
    assert (await api.call("GET", "/api/schools", headers={}))[0] == 401


async def test_two_orgs_may_use_the_same_school_and_user_ids(
    http: aiohttp.ClientSession, server: RunningServer
) -> None:
    """An id taken in one org is free in another: the second create is a 201 (a 409 would tell
    it that the id exists elsewhere), and each org sees, checks in and reports only its own."""
    orgs = [Api(http, server, f"org-{secrets.token_hex(4)}") for _ in range(2)]
    for api in orgs:
        assert await api.school(id="hill") == "hill"
        assert await api.user("hill", id="ada", name=f"Ada of {api.org}") == "ada"
    now = datetime.now(UTC)
    first, second = orgs
    assert (await first.check("checkin", "ada", "hill", now, temp=38.5))[0] == 201
    assert (await first.check("checkin", "ada", "hill", now))[0] == 409  # hers is open
    assert (await second.check("checkin", "ada", "hill", now))[0] == 201  # another Ada

    for api in orgs:
        status, user = await api.call("GET", "/api/users/ada")
        assert status == 200 and user["data"]["name"] == f"Ada of {api.org}"
        status, events = await api.call("GET", "/api/attendances?school_id=hill")
        assert status == 200 and len(events["data"]) == 1
        _, alerts = await api.call("GET", "/api/schools/hill/fever-alerts")
        assert len(alerts["data"]) == (1 if api is first else 0)
        status, report = await _aggregate(api, "hill", f"from={now.date()}&to={now.date()}")
        assert status == 200 and report["data"]["periods"][0]["present"] == 1

    assert (await first.call("DELETE", "/api/users/ada"))[0] == 204  # erased with her events
    assert (await first.call("GET", "/api/attendances?school_id=hill"))[1]["data"] == []
    assert (await second.call("GET", "/api/users/ada"))[0] == 200
    assert len((await second.call("GET", "/api/attendances?school_id=hill"))[1]["data"]) == 1


async def test_check_in_and_out_rules(api: Api) -> None:
    school = await api.school()
    other_school = await api.school(name="Elsewhere")
    ada = await api.user(school)

    status, body = await api.check("checkout", ada, school)
    assert status == 409 and body["code"] == "not_checked_in"
    status, checkin = await api.check("checkin", ada, school)
    assert status == 201 and checkin["data"]["type"] == "checkin"
    assert checkin["data"]["fever_alert"] is None
    status, body = await api.check("checkin", ada, school)
    assert status == 409 and body["code"] == "already_checked_in"
    status, body = await api.check("checkin", ada, other_school)
    assert status == 422 and "user_id" in body["errors"]
    status, checkout = await api.check("checkout", ada, school)
    assert status == 201

    for temperature in (28, 43, 27.9, "hot", True):
        status, body = await api.check("checkin", ada, school, temp=temperature)  # type: ignore[arg-type]
        assert status == 422 and "temperature" in body["errors"], temperature
    naive = {"user_id": ada, "school_id": school, "type": "checkin", "temperature": 36.5}
    status, body = await api.call("POST", "/api/attendances", naive | {"timestamp": "2026-01-01"})
    assert status == 422 and body["errors"]["timestamp"].startswith("needs a time zone")
    for query in ("from=yesterday", "from=2026-01-01T08:00:00", "from=2026-02-01&to=2026-01-01"):
        status, body = await api.call("GET", f"/api/attendances?{query}")
        assert status == 422 and set(body["errors"]) <= {"from", "to"}, query
    future = datetime.now(UTC) + timedelta(hours=1)
    status, body = await api.check("checkin", ada, school, at=future)
    assert status == 422 and "timestamp" in body["errors"]
    status, body = await api.call(
        "POST",
        "/api/attendances",
        {
            "user_id": ada,
            "school_id": school,
            "type": "checkin",
            "temperature": 36.5,
            "image": "data:image/png;base64,AAAA",
        },
    )
    assert status == 422 and "image" in body["errors"]

    event_id = checkout["data"]["id"]
    assert (await api.call("GET", f"/api/attendances/{event_id}"))[1]["data"] == {
        k: v for k, v in checkout["data"].items() if k != "fever_alert"
    }
    status, listed = await api.call("GET", f"/api/attendances?user_id={ada}&limit=1")
    assert [e["id"] for e in listed["data"]] == [checkin["data"]["id"]]
    status, page_two = await api.call(
        "GET", f"/api/attendances?user_id={ada}&limit=1&cursor={listed['next_cursor']}"
    )
    assert [e["id"] for e in page_two["data"]] == [event_id]
    # Taking back the check-in while its check-out stands is refused; in order it works.
    assert (await api.call("DELETE", f"/api/attendances/{checkin['data']['id']}"))[0] == 409
    assert (await api.call("DELETE", f"/api/attendances/{event_id}"))[0] == 204
    status, body = await api.check("checkin", ada, school)
    assert status == 409  # the check-out is gone, so the visit is open again
    assert (await api.call("GET", "/api/attendances/999999999999"))[0] == 404
    assert (await api.call("GET", "/api/attendances/not-a-number"))[0] == 404


async def test_attendees_record_their_own_check_ins_only(api: Api) -> None:
    school = await api.school()
    ada, bob = await api.user(school), await api.user(school, name="Bob")
    own = api.headers(Role.ATTENDEE, user=ada)
    body = {"user_id": ada, "school_id": school, "type": "checkin", "temperature": 36.4}
    assert (await api.call("POST", "/api/attendances", body, headers=own))[0] == 201
    status, refused = await api.call(
        "POST", "/api/attendances", body | {"user_id": bob}, headers=own
    )
    assert status == 403 and refused["code"] == "forbidden"


async def test_a_fever_reaches_a_hosts_socket_and_the_alert_list(
    api: Api, server: RunningServer, connect: Any
) -> None:
    school = await api.school()
    ada = await api.user(school)
    host = await connect(server, server.token("host-1", role=Role.HOST, org=api.org))
    elsewhere = await connect(server, server.token("host-2", role=Role.HOST, org="org-other"))

    status, body = await api.check("checkin", ada, school, temp=38.4)
    assert status == 201 and body["data"]["fever_alert"]["temperature"] == 38.4

    alert = await host.next("fever-alert")
    assert alert["user_id"] == ada and alert["school_id"] == school
    assert alert["attendance_id"] == body["data"]["id"]
    assert elsewhere.queue("fever-alert").empty()
    status, alerts = await api.call("GET", f"/api/schools/{school}/fever-alerts")
    assert status == 200 and [a["id"] for a in alerts["data"]] == [alert["id"]]
    status, _ = await api.check("checkout", ada, school, temp=37.9)
    assert len((await api.call("GET", f"/api/schools/{school}/fever-alerts"))[1]["data"]) == 1


def _local(day: date, hour: float, zone: str = "UTC") -> datetime:
    from zoneinfo import ZoneInfo

    start = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone))
    return start + timedelta(hours=hour)


async def _aggregate(api: Api, school: str, query: str) -> tuple[int, Any]:
    return await api.call("GET", f"/api/attendances/aggregate/school/{school}?{query}")


async def test_aggregate_unions_overlaps_and_counts_the_threshold_exactly(api: Api) -> None:
    school = await api.school()
    ada, bob, cy = await api.user(school), await api.user(school), await api.user(school)
    day = datetime.now(UTC).date() - timedelta(days=7)
    # Ada: 08-10 and (sent late by a kiosk) 09-12: four hours once the overlap counts once.
    for start, end in ((8, 10), (9, 12)):
        assert (await api.check("checkin", ada, school, _local(day, start)))[0] == 201
        assert (await api.check("checkout", ada, school, _local(day, end)))[0] == 201
    # Bob: 3 h 59 min. Cy: nothing.
    await api.check("checkin", bob, school, _local(day, 8))
    await api.check("checkout", bob, school, _local(day, 8 + 239 / 60))

    status, body = await _aggregate(api, school, f"from={day}&to={day}&period=day&detail=users")
    assert status == 200, body
    (period,) = body["data"]["periods"]
    users = {u["user_id"]: u for u in period["users"]}
    assert users[ada]["seconds"] == 4 * 3600 and users[ada]["present"] is True
    assert users[ada]["name"] == "Ada" and body["data"]["users"] == 3
    assert users[bob]["present"] is False and users[cy]["present"] is False
    expected_absent = 0 if day.isoweekday() > 5 else 2
    assert (period["present"], period["absent"]) == (1, expected_absent)

    status, body = await _aggregate(api, school, f"from={day}&to={day - timedelta(days=1)}")
    assert status == 422 and body["code"] == "validation_failed" and "to" in body["errors"]
    status, body = await _aggregate(api, school, "from=2026-13-01&to=2026-12-01&period=year")
    assert status == 422 and set(body["errors"]) == {"from", "period"}  # every bad field named
    assert (await _aggregate(api, "no-such-school", f"from={day}&to={day}"))[0] == 404


async def test_an_empty_school_is_all_absent_and_now_checked_in_is_present(api: Api) -> None:
    school = await api.school(school_days=[1, 2, 3, 4, 5, 6, 7])
    ada, bob = await api.user(school), await api.user(school)
    today = datetime.now(UTC).date()
    week_ago = today - timedelta(days=6)
    status, body = await _aggregate(api, school, f"from={week_ago}&to={today - timedelta(days=1)}")
    assert status == 200
    assert [(p["present"], p["absent"]) for p in body["data"]["periods"]] == [(0, 2)] * 6

    assert (await api.check("checkin", ada, school))[0] == 201
    status, body = await _aggregate(api, school, f"from={today}&to={today}&detail=users")
    (period,) = body["data"]["periods"]
    assert (period["present"], period["absent"]) == (1, 1)
    assert {u["user_id"]: u["present"] for u in period["users"]} == {ada: True, bob: False}


async def test_days_follow_the_schools_time_zone_around_midnight(api: Api) -> None:
    school = await api.school(time_zone="Asia/Tokyo", school_days=[1, 2, 3, 4, 5, 6, 7])
    ada = await api.user(school)
    day = datetime.now(UTC).date() - timedelta(days=10)
    # 21:00 to 03:00 Tokyo time: 3 h on one local day and 3 h on the next, none of it on the
    # UTC day that holds the whole stay (12:00-18:00 UTC).
    await api.check("checkin", ada, school, _local(day, 21, "Asia/Tokyo"))
    await api.check("checkout", ada, school, _local(day, 27, "Asia/Tokyo"))
    status, body = await _aggregate(
        api, school, f"from={day}&to={day + timedelta(days=1)}&detail=users"
    )
    assert status == 200
    seconds = [p["users"][0]["seconds"] for p in body["data"]["periods"]]
    assert seconds == [3 * 3600, 3 * 3600]
    assert [p["present"] for p in body["data"]["periods"]] == [0, 0]


async def test_rollups_give_the_same_report_and_follow_late_changes(
    api: Api, server: RunningServer
) -> None:
    from models.reports.rollups import roll_up_all

    school = await api.school(school_days=[1, 2, 3, 4, 5, 6, 7])
    ada, bob = await api.user(school), await api.user(school)
    first = datetime.now(UTC).date() - timedelta(days=20)
    for offset in range(5):
        day = first + timedelta(days=offset)
        await api.check("checkin", ada, school, _local(day, 8))
        await api.check("checkout", ada, school, _local(day, 8 + offset * 1.5))
    _, last_checkout = await api.check("checkin", bob, school, _local(first, 9))
    query = f"from={first}&to={first + timedelta(days=4)}&detail=users"

    _, live = await _aggregate(api, school, query)
    await roll_up_all(server.pool)
    async with server.pool.acquire() as connection:
        rolled = await connection.fetchval(
            "SELECT count(*) FROM presence_daily WHERE place_id = $1",
            org_place(api.org, school),
        )
        stale = await connection.fetchval(
            "SELECT count(*) FROM presence_daily_stale WHERE place_id = $1",
            org_place(api.org, school),
        )
    assert rolled == 5 and stale == 0  # five days of Ada (the first lasts 0 s); Bob is open
    _, from_rollups = await _aggregate(api, school, query)
    assert from_rollups == live
    assert [p["present"] for p in live["data"]["periods"]] == [0, 0, 0, 1, 1]

    # Bob's check-out arrives days late: his first day is stale again and counts at once.
    await api.check("checkout", bob, school, _local(first, 14))
    _, after = await _aggregate(api, school, query)
    assert after["data"]["periods"][0]["present"] == 1
    await roll_up_all(server.pool)
    assert (await _aggregate(api, school, query))[1] == after


def noon_zone(now: datetime) -> str:
    """A fixed-offset zone (Etc/GMT-N is N hours east of UTC) where it is 12:xx now."""
    east = 12 - now.hour
    return f"Etc/GMT{-east:+d}" if east else "UTC"


async def test_today_is_rolled_up_only_once_nobody_is_in(api: Api, server: RunningServer) -> None:
    from models.reports.rollups import roll_up_all

    # A school where it is about noon now, so that the last five minutes are all today's.
    zone = noon_zone(datetime.now(UTC))
    school = await api.school(school_days=[1, 2, 3, 4, 5, 6, 7], time_zone=zone)
    ada = await api.user(school)
    today = datetime.now(ZoneInfo(zone)).date()
    started = datetime.now(UTC) - timedelta(minutes=5)
    await api.check("checkin", ada, school, started)
    query = f"from={today}&to={today}&detail=users"

    async def stale_days() -> int:
        async with server.pool.acquire() as connection:
            return int(
                await connection.fetchval(
                    "SELECT count(*) FROM presence_daily_stale WHERE place_id = $1",
                    org_place(api.org, school),
                )
            )

    await roll_up_all(server.pool)
    assert await stale_days() == 1  # Ada is in: today stays live, her open visit counting
    _, body = await _aggregate(api, school, query)
    (user,) = body["data"]["periods"][0]["users"]
    assert user["present"] is True and 290 < user["seconds"] < 400

    await api.check("checkout", ada, school, started + timedelta(minutes=2))
    await roll_up_all(server.pool)
    assert await stale_days() == 0
    _, body = await _aggregate(api, school, query)
    (user,) = body["data"]["periods"][0]["users"]
    assert user["present"] is False and user["seconds"] == 120


async def test_a_new_time_zone_moves_the_schools_days(api: Api, server: RunningServer) -> None:
    from models.reports.rollups import roll_up_all

    school = await api.school(school_days=[1, 2, 3, 4, 5, 6, 7])
    ada = await api.user(school)
    day = datetime.now(UTC).date() - timedelta(days=12)
    await api.check("checkin", ada, school, _local(day, 23))
    await api.check("checkout", ada, school, _local(day, 25))
    query = f"from={day}&to={day + timedelta(days=1)}&detail=users"
    await roll_up_all(server.pool)
    _, before = await _aggregate(api, school, query)
    assert [p["users"][0]["seconds"] for p in before["data"]["periods"]] == [3600, 3600]

    status, _ = await api.call("PATCH", f"/api/schools/{school}", {"time_zone": "Asia/Tokyo"})
    assert status == 200
    _, after = await _aggregate(api, school, query)  # 08:00-10:00 in Tokyo, the next day
    assert [p["users"][0]["seconds"] for p in after["data"]["periods"]] == [0, 7200]
    await roll_up_all(server.pool)
    assert (await _aggregate(api, school, query))[1] == after


async def test_an_attendee_cannot_backdate_its_own_check_in(
    api: Api, server: RunningServer
) -> None:
    school = await api.school()
    ada = await api.user(school)
    own = api.headers(Role.ATTENDEE, user=ada)
    body = {"user_id": ada, "school_id": school, "type": "checkin", "temperature": 36.6}
    status, answer = await api.call(
        "POST", "/api/attendances", body | {"timestamp": "1970-01-02T08:00:00Z"}, headers=own
    )
    assert status == 422 and "server's time" in answer["errors"]["timestamp"]
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    status, _ = await api.call("POST", "/api/attendances", body | {"timestamp": yesterday}, own)
    assert status == 422
    a_moment_ago = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
    status, answer = await api.call(
        "POST", "/api/attendances", body | {"timestamp": a_moment_ago}, headers=own
    )
    assert status == 201 and answer["data"]["entered_by"] == ada


async def test_an_admin_enters_past_events_within_the_window_and_is_named(
    api: Api, server: RunningServer
) -> None:
    school = await api.school()
    ada = await api.user(school)
    status, answer = await api.check("checkin", ada, school, datetime.now(UTC) - timedelta(days=90))
    assert status == 422 and "days ago" in answer["errors"]["timestamp"]
    status, answer = await api.check("checkin", ada, school, datetime.now(UTC) - timedelta(days=3))
    assert status == 201 and answer["data"]["entered_by"] == "staff"


@pytest.mark.parametrize("zone", ["right/UTC", "posixrules", "localtime"])
async def test_time_zones_postgresql_does_not_know_are_refused(api: Api, zone: str) -> None:
    status, body = await api.call("POST", "/api/schools", {"name": "Hill", "time_zone": zone})
    assert status == 422 and "time_zone" in body["errors"], body
