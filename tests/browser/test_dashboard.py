"""The dashboard in a real browser (Chromium) against the real server, PostgreSQL and Socket.IO
clients: signing in by link, a host watching viewers come and go and ending the breakout, an
analyst's report against the API and its CSV, the charts, a school admin's CSV import, names
shown as text, and every page free of console errors."""

from __future__ import annotations

import csv
import io
import secrets
import time
from typing import Any

import aiohttp
from playwright.async_api import Page, expect

from handlers.keys import SIO
from models.domain.records import Role
from tests.support.api import Api
from tests.support.clients import IPHONE
from tests.support.geo import LONDON_IP
from tests.support.servers import RunningServer

XSS_NAME = "<img src=x onerror=alert(1)>"


def org_of_test() -> str:
    return f"org-{secrets.token_hex(4)}"


def link(server: RunningServer, path: str, token: str) -> str:
    return f"{server.url}{path}#token={token}"


async def test_a_host_signs_in_by_link_and_sees_a_viewer_join_and_leave_within_a_second(
    page: Page, server: RunningServer, connect: Any
) -> None:
    org, breakout = org_of_test(), f"live-{secrets.token_hex(3)}"
    host = server.token("host-1", name="Hilda Host", role=Role.HOST, org=org)
    await page.goto(link(server, f"/dashboard/breakouts/{breakout}", host))
    await expect(page.locator("#socket-status")).to_have_text("Live")
    assert "#" not in page.url and "token" not in page.url  # the fragment left the address bar
    stored = await page.evaluate("sessionStorage.getItem('attendance.token')")
    assert stored == host

    viewer = await connect(
        server,
        server.token("u1", name="Ada Lovelace", org=org),
        user_agent=IPHONE,
        forwarded_for=LONDON_IP,
    )
    started = time.monotonic()
    await viewer.call("join-chat-room", {"breakoutId": breakout})
    row = page.locator("#viewers tbody tr", has_text="Ada Lovelace")
    await expect(row).to_be_visible(timeout=1000)
    await expect(page.locator("#viewer-count")).to_have_text("1", timeout=1000)
    assert time.monotonic() - started < 1.0
    await expect(row).to_contain_text("London, GB")
    await expect(row).to_contain_text("Mobile Safari")
    await expect(row.locator("td.activity")).to_have_text("–")  # nothing said yet
    await viewer.call("activity", {"breakoutId": breakout, "state": "playing"})
    await expect(row.locator("td.activity")).to_contain_text("playing since", timeout=1000)
    await page.shots.take("live")  # type: ignore[attr-defined]

    started = time.monotonic()
    await viewer.call("leave-chat-room", {"breakoutId": breakout})
    await expect(row).to_have_count(0, timeout=1000)
    await expect(page.locator("#viewer-count")).to_have_text("0", timeout=1000)
    assert time.monotonic() - started < 1.0
    await expect(page.locator("#feed")).to_contain_text("Ada Lovelace left (left)")


async def test_a_host_ends_the_breakout_after_confirming(
    page: Page, server: RunningServer, connect: Any, http: aiohttp.ClientSession
) -> None:
    org, breakout = org_of_test(), f"end-{secrets.token_hex(3)}"
    api = Api(http, server, org)
    await api.call("PUT", f"/api/breakouts/{breakout}", {"name": "Chemistry"})
    viewer = await connect(server, server.token("u1", org=org))
    await viewer.call("join-chat-room", {"breakoutId": breakout})
    host = server.token("host-1", role=Role.HOST, org=org)
    await page.goto(link(server, f"/dashboard/breakouts/{breakout}", host))
    await expect(page.locator("#viewer-count")).to_have_text("1")
    await expect(page.locator("#s-name")).to_have_value("Chemistry")

    await page.click("#end-breakout")
    await page.click("#end-confirm")
    await expect(page.locator("#breakout-state")).to_have_text("ended")
    await expect(page.locator("#viewer-count")).to_have_text("0", timeout=2000)
    _, body = await api.call("GET", f"/api/breakouts/{breakout}")
    assert body["data"]["state"] == "ended" and body["data"]["endedAt"]
    _, sessions = await api.call("GET", f"/api/breakouts/{breakout}/sessions")
    assert [row["exitReason"] for row in sessions["data"]] == ["breakout_ended"]


async def test_a_host_changes_the_breakouts_settings(
    page: Page, server: RunningServer, http: aiohttp.ClientSession
) -> None:
    org, breakout = org_of_test(), f"set-{secrets.token_hex(3)}"
    api = Api(http, server, org)
    await api.call("PUT", f"/api/breakouts/{breakout}", {"name": "Biology"})
    await page.goto(
        link(server, f"/dashboard/breakouts/{breakout}", server.token("h", role=Role.HOST, org=org))
    )
    await page.fill("#s-name", "Biology II")
    await page.fill("#s-limit", "2")
    await page.select_option("#s-rule", "percent")
    await page.fill("#s-amount", "60")
    await page.click("#settings button[type=submit]")
    await expect(page.locator("#settings")).to_contain_text("Saved.")
    _, body = await api.call("GET", f"/api/breakouts/{breakout}")
    stored = body["data"]
    assert (stored["name"], stored["deviceLimit"], stored["presentMinPercent"]) == (
        "Biology II",
        2,
        60,
    )


async def test_an_analysts_report_shows_the_apis_figures_draws_its_charts_and_downloads_csv(
    page: Page, server: RunningServer, connect: Any, http: aiohttp.ClientSession
) -> None:
    org, breakout = org_of_test(), f"rep-{secrets.token_hex(3)}"
    for user, agent in (("u1", IPHONE), ("u2", None), ("u3", None)):
        viewer = await connect(
            server,
            server.token(user, name=f"User {user}", org=org),
            **({"user_agent": agent} if agent else {}),
            forwarded_for=LONDON_IP,
        )
        await viewer.call("join-chat-room", {"breakoutId": breakout})
        if user != "u3":
            await viewer.call("leave-chat-room", {"breakoutId": breakout})
    api = Api(http, server, org)
    status, _ = await api.call(  # u3 is still in: excused, they count as present
        "POST",
        f"/api/breakouts/{breakout}/corrections",
        {"userId": "u3", "kind": "present", "reason": "excused"},
        api.headers(Role.HOST),
    )
    assert status == 201
    _, report = await api.call(
        "GET", f"/api/breakouts/{breakout}/attendance", headers=api.headers(Role.ANALYST)
    )

    analyst = server.token("an-1", name="Ana Lyst", role=Role.ANALYST, org=org)
    await page.goto(
        link(server, f"/dashboard/breakouts/{breakout}", analyst)
    )  # an analyst lands on the report
    await expect(page).to_have_url(f"{server.url}/dashboard/breakouts/{breakout}/report")
    for key in ("attendees", "present", "absent"):
        await expect(page.locator(f"#fig-{key}")).to_have_text(str(report["data"][key]))
    await expect(page.locator("#report tbody tr")).to_have_count(3)
    await page.fill(".table-filter", "user u2")
    await expect(page.locator("#report tbody tr")).to_have_count(1)
    await page.fill(".table-filter", "")
    await page.click("#report th[data-key=userId]")
    await page.click("#report th[data-key=userId]")  # descending
    await expect(page.locator("#report tbody tr").first).to_contain_text("u3")
    await expect(page.locator("#report tbody tr").first).to_contain_text(
        "yes (corrected; recorded: no)"
    )
    recorded = report["data"]["recordedPresent"]
    await expect(page.locator("#fig-corrected")).to_have_text(
        f"1 (present as recorded: {recorded})"
    )

    charts = page.locator("[data-chart]")
    await expect(charts).to_have_count(7)
    for number in range(7):
        await expect(charts.nth(number)).to_have_attribute("data-drawn", "true")
    await page.shots.take("report")  # type: ignore[attr-defined]

    async with page.expect_download() as waiting:
        await page.click("#csv-attendance")
    download = await waiting.value
    assert download.suggested_filename == f"attendance-{breakout}.csv"
    text = (await download.path()).read_text(encoding="utf-8")  # noqa: ASYNC240 - a small file
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(row["userId"] for row in rows) == ["u1", "u2", "u3"]
    assert {"activeSeconds", "idleSeconds", "comments"} <= set(rows[0])

    async with page.expect_download() as waiting:
        await page.click("#csv-analytics")
    download = await waiting.value
    text = (await download.path()).read_text(encoding="utf-8")  # noqa: ASYNC240 - a small file
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(row["userId"] for row in rows) == ["u1", "u2", "u3"]
    assert {"deviceMix", "locationMix", "activeSeconds"} <= set(rows[0])

    async with page.expect_download() as waiting:
        await page.click("#csv-corrections")
    download = await waiting.value
    text = (await download.path()).read_text(encoding="utf-8")  # noqa: ASYNC240 - a small file
    (row,) = csv.DictReader(io.StringIO(text))
    assert (row["userId"], row["kind"], row["status"]) == ("u3", "present", "active")


async def test_the_organisation_page_charts_present_and_absent(
    page: Page, server: RunningServer, connect: Any
) -> None:
    org = org_of_test()
    viewer = await connect(server, server.token("u1", org=org))
    await viewer.call("join-chat-room", {"breakoutId": "org-page"})
    await viewer.call("leave-chat-room", {"breakoutId": "org-page"})
    await page.goto(
        link(server, "/dashboard/organisation", server.token("a", role=Role.ANALYST, org=org))
    )
    await expect(page.locator("#org-table tbody tr")).to_have_count(1)
    await expect(page.locator("[data-chart=org]")).to_have_attribute("data-drawn", "true")
    async with page.expect_download() as waiting:
        await page.click("#csv-org")
    assert (await waiting.value).suggested_filename == "breakouts-day.csv"


async def test_a_school_admin_imports_users_and_a_bad_line_imports_nothing(
    page: Page, server: RunningServer, http: aiohttp.ClientSession
) -> None:
    org = org_of_test()
    api = Api(http, server, org)
    school = await api.school(name="Hill School")
    await page.goto(
        link(server, f"/dashboard/schools/{school}", server.token("adm", role=Role.ADMIN, org=org))
    )
    await expect(page.locator("h1")).to_have_text("Hill School")

    page.expected_errors.append("status of 422")  # type: ignore[attr-defined]
    bad = b"name,email,id\nAda,ada@example.org,\nBob,not-an-email,\n"
    await page.set_input_files(
        "#import-file", files=[{"name": "users.csv", "mimeType": "text/csv", "buffer": bad}]
    )
    await page.click("#import button[type=submit]")
    await expect(page.locator(".import-errors li")).to_have_count(1)
    await expect(page.locator(".import-errors")).to_contain_text("line 3")
    _, users = await api.call("GET", f"/api/users?school_id={school}")
    assert users["data"] == []

    good = b"name,email\nAda,ada@example.org\nBob,\n"
    await page.set_input_files(
        "#import-file", files=[{"name": "users.csv", "mimeType": "text/csv", "buffer": good}]
    )
    await page.click("#import button[type=submit]")
    await expect(page.locator("#import-result")).to_contain_text("Imported 2 users.")
    await page.shots.take("school")  # type: ignore[attr-defined]


async def test_fever_alerts_arrive_live_with_the_name_and_are_acknowledged(
    page: Page, server: RunningServer, http: aiohttp.ClientSession
) -> None:
    org = org_of_test()
    api = Api(http, server, org)
    school = await api.school()
    user = await api.user(school, name="Grace Hopper")
    await page.goto(link(server, "/dashboard/alerts", server.token("h-2", role=Role.HOST, org=org)))
    await expect(page.locator("main")).to_contain_text("No alerts.")
    await page.wait_for_timeout(300)  # the page's socket joins the staff room
    await api.check("checkin", user, school, temp=38.9)
    row = page.locator("#alerts tbody tr", has_text="Grace Hopper")
    await expect(row).to_be_visible(timeout=2000)
    await row.locator("button.acknowledge").click()
    await expect(row).to_contain_text("by h-2")


async def test_names_are_shown_as_text_never_run_as_markup(
    page: Page, server: RunningServer, connect: Any
) -> None:
    org, breakout = org_of_test(), f"xss-{secrets.token_hex(3)}"
    await page.goto(
        link(server, f"/dashboard/breakouts/{breakout}", server.token("h", role=Role.HOST, org=org))
    )
    await expect(page.locator("#socket-status")).to_have_text("Live")
    viewer = await connect(server, server.token("evil", name=XSS_NAME, org=org))
    await viewer.call("join-chat-room", {"breakoutId": breakout})
    await expect(page.locator("#viewers td.name")).to_have_text(XSS_NAME)
    assert await page.locator("#viewers img").count() == 0
    await page.goto(f"{server.url}/dashboard/breakouts/{breakout}/report")
    await expect(page.locator("#report td").first).to_have_text(XSS_NAME)
    assert await page.locator("main img").count() == 0  # the page fixture fails on any alert()


async def test_every_page_loads_without_console_errors_under_its_csp(
    page: Page, server: RunningServer, http: aiohttp.ClientSession
) -> None:
    org = org_of_test()
    api = Api(http, server, org)
    await api.call("PUT", "/api/breakouts/tour", {"name": "Tour"})
    school = await api.school()
    admin = server.token("adm", name="Ad Min", role=Role.ADMIN, org=org)
    async with http.get(f"{server.url}/dashboard/") as response:
        csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    await page.goto(link(server, "/dashboard/", admin))
    await expect(page.locator("#breakouts tbody tr")).to_have_count(1)
    pages = {
        "home": "/dashboard/",
        "breakout": "/dashboard/breakouts/tour",
        "report": "/dashboard/breakouts/tour/report",
        "organisation": "/dashboard/organisation",
        "alerts": "/dashboard/alerts",
        "schools": "/dashboard/schools",
        "school": f"/dashboard/schools/{school}",
        "api-reference": "/api/docs/",
    }
    for label, path in pages.items():
        await page.goto(server.url + path)
        await page.wait_for_load_state("networkidle")
        await page.shots.take(label)  # type: ignore[attr-defined]
    await expect(page.locator(".swagger-ui")).to_contain_text("/api/breakouts")


async def test_an_attendee_finds_nothing_for_their_role(page: Page, server: RunningServer) -> None:
    await page.goto(link(server, "/dashboard/", server.token("u1", role=Role.ATTENDEE)))
    await expect(page.locator("#nothing h1")).to_have_text("Nothing here for your role")
    await expect(page.locator("nav a")).to_have_count(0)


async def test_root_leads_to_the_dashboard_and_a_bad_token_to_signing_in(
    page: Page, server: RunningServer
) -> None:
    await page.goto(server.url + "/")
    await expect(page).to_have_url(f"{server.url}/dashboard/")
    await expect(page.locator("h1")).to_have_text("Sign in")
    await page.fill("#token", server.token("h", role=Role.HOST))
    await page.click("form button[type=submit]")
    await expect(page.locator("h1")).to_have_text("Breakouts")


async def test_a_host_reads_the_chat_live_deletes_a_comment_and_mutes_its_author(
    page: Page, server: RunningServer, connect: Any
) -> None:
    org, breakout = org_of_test(), f"chat-{secrets.token_hex(3)}"
    viewer = await connect(server, server.token("u1", name=XSS_NAME, org=org))
    await viewer.call("join-chat-room", {"breakoutId": breakout})
    await viewer.call("send-comment", {"breakoutId": breakout, "text": "before the host came"})
    host = server.token("h", role=Role.HOST, org=org)
    await page.goto(link(server, f"/dashboard/breakouts/{breakout}", host))
    chat = page.locator("#chat li")
    await expect(chat).to_have_count(1)  # what was said before the host opened the page

    ack = await viewer.call(
        "send-comment", {"breakoutId": breakout, "text": "<b>bold?</b>\nline 2"}
    )
    said = chat.filter(has_text="bold?")
    await expect(said).to_have_count(1, timeout=1000)
    await expect(said.locator(".text")).to_have_text("<b>bold?</b>\nline 2")
    await expect(said.locator(".author")).to_have_text(XSS_NAME)
    assert await page.locator("#chat b, #chat img").count() == 0

    await said.locator(".delete-comment").click()
    await expect(said).to_have_count(0)
    assert await viewer.next("comment-deleted") == {
        "breakoutId": breakout,
        "commentId": ack["comment"]["id"],
    }
    await chat.first.locator(".mute-user").click()
    await expect(page.locator(".card", has=page.locator("#chat"))).to_contain_text(
        "muted for 10 min"
    )
    refused = await viewer.call("send-comment", {"breakoutId": breakout, "text": "hello?"})
    assert refused["error"]["code"] == "forbidden"


async def test_a_viewer_whose_connection_drops_shows_as_reconnecting(
    page: Page, server: RunningServer, connect: Any
) -> None:
    org, breakout = org_of_test(), f"blip-{secrets.token_hex(3)}"
    host = server.token("h", role=Role.HOST, org=org)
    await page.goto(link(server, f"/dashboard/breakouts/{breakout}", host))
    await expect(page.locator("#socket-status")).to_have_text("Live")
    viewer = await connect(server, server.token("u1", name="Blip", org=org))
    ack = await viewer.call("join-chat-room", {"breakoutId": breakout})
    row = page.locator(f"#viewers tr[data-session='{ack['sessionId']}']")
    await expect(row.locator(".state")).to_have_text("live")
    host_sid = next(iter(server.app[SIO].manager.rooms["/"].get(f"staff-{org}", {})), None)
    for sid, engine_socket in list(server.app[SIO].eio.sockets.items()):
        if server.app[SIO].manager.sid_from_eio_sid(sid, "/") != host_sid:
            engine_socket.drop()  # the viewer's TCP connection is cut: it may still resume
    await expect(row.locator(".state")).to_have_text("reconnecting", timeout=3000)
    await expect(page.locator("#viewer-count")).to_have_text("1")  # still counted meanwhile


async def test_a_host_corrects_a_users_attendance_and_opens_their_certificate(
    page: Page, server: RunningServer, connect: Any, http: aiohttp.ClientSession
) -> None:
    org, breakout = org_of_test(), f"fix-{secrets.token_hex(3)}"
    viewer = await connect(server, server.token("u1", name="Ada Lovelace", org=org))
    await viewer.call("join-chat-room", {"breakoutId": breakout})
    await viewer.call("leave-chat-room", {"breakoutId": breakout})
    host = server.token("host-1", name="Hilda Host", role=Role.HOST, org=org)
    await page.goto(link(server, f"/dashboard/breakouts/{breakout}/report", host))
    row = page.locator("#report tbody tr", has_text="u1")
    await expect(row).to_contain_text("no")  # seconds in: short of the default rule

    await row.locator("button.correct").click()
    await expect(page.locator("#c-user")).to_have_value("u1")
    await page.select_option("#c-kind", "present")
    await page.select_option("#c-reason", "technical_problem")
    await page.fill("#c-note", "the stream froze")
    await page.click("#correction-form button[type=submit]")
    await expect(page.locator("#fig-corrected")).to_contain_text("1 (present as recorded: 0)")
    row = page.locator("#report tbody tr", has_text="u1")
    await expect(row).to_contain_text("yes (corrected; recorded: no)")
    await expect(page.locator("#corrections-table tbody tr")).to_have_count(1)
    await expect(page.locator("#corrections-table tbody tr")).to_contain_text("the stream froze")

    async with page.context.expect_page() as opened:
        await row.locator("button.certificate").click()
    certificate = await opened.value
    await expect(certificate.locator("#status")).to_have_text("valid")
    await expect(certificate.locator("dl")).to_contain_text("Ada Lovelace (u1)")
    await expect(certificate.locator("svg")).to_have_count(1)  # the QR code
    await page.shots.take("report-corrected")  # type: ignore[attr-defined]
    shots = page.shots  # type: ignore[attr-defined]
    await certificate.screenshot(path=str(shots.folder / f"{shots.prefix}-certificate.png"))

    await page.locator("#corrections-table button.withdraw").click()
    await page.fill("#corrections-table .withdraw-reason", "entered twice")
    await page.locator("#corrections-table button.withdraw-confirm").click()
    await expect(page.locator("#corrections-table .correction-state")).to_have_text(
        "withdrawn: entered twice"
    )
    await expect(page.locator("#fig-corrected")).to_have_text("none")
    await certificate.reload()
    await expect(certificate.locator("#status")).to_have_text("revoked")
    api = Api(http, server, org)
    _, log = await api.call("GET", "/api/corrections", headers=api.headers(Role.ANALYST))
    assert [c["status"] for c in log["data"]] == ["withdrawn"]
