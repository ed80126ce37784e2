"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, a page that fails its
test on any console error, and screenshots under test-output/ (one of each page a test shows,
and one of the page as it was when a test failed)."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from handlers.pages.dashboard import DIST
from tests.support.servers import RunningServer

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
OUTPUT = Path(
    os.environ.get("TEST_OUTPUT_DIR", Path(__file__).resolve().parents[2] / "test-output")
)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report  # type: ignore[attr-defined]
    return report


_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: `make test` installs it (apt-get install chromium)"
        )
    if not (DIST / ".built").exists():
        pytest.fail("the dashboard is not built: `make test` builds it (web/dashboard)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield launched
        finally:
            await launched.close()


class Shots:
    """Screenshots of one test, named after it."""

    def __init__(self, page: Page, name: str) -> None:
        self.page = page
        self.folder = OUTPUT / "screenshots"
        self.prefix = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)

    async def take(self, label: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.prefix}-{label}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
async def page(
    browser: Browser, server: RunningServer, request: pytest.FixtureRequest
) -> AsyncIterator[Page]:
    """A fresh page (its own sessionStorage) on `server`, which outlives it (a server stopped
    first would be a console error); any console error or uncaught exception, or an alert()
    (an injected script would raise one), fails the test."""
    context = await browser.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    opened = await context.new_page()
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console error: {message.text} at {message.location.get('url')}")

    async def dialog(shown: object) -> None:
        problems.append(f"a dialog opened: {getattr(shown, 'message', shown)}")
        await shown.dismiss()  # type: ignore[attr-defined]

    opened.on("console", console)
    opened.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    opened.on("dialog", dialog)
    shots = Shots(opened, request.node.name)
    opened.shots = shots  # type: ignore[attr-defined]
    # Console errors a test provokes on purpose (Chromium logs every 4xx answer to a fetch).
    expected: list[str] = []
    opened.expected_errors = expected  # type: ignore[attr-defined]
    try:
        yield opened
        reports = request.node.stash.get(_REPORTS, {})
        if "call" in reports and reports["call"].failed:
            path = await shots.take("FAILED")
            request.node.user_properties.append(("screenshot", str(path)))  # junit-xml too
            print(f"screenshot of the failed page: {path}")
        unexpected = [p for p in problems if not any(e in p for e in expected)]
        assert unexpected == [], "\n".join(unexpected)
    finally:
        await context.close()
