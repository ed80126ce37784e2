from __future__ import annotations

import random
import string

import pytest

from geo import DeviceParser, DeviceType, default_resolver
from geo.device import MAX_USER_AGENT_CHARS
from tests.support.clients import CHROME_MAC, IPHONE


@pytest.fixture(scope="module")
def parser() -> DeviceParser:
    return DeviceParser(default_resolver(), cache_size=64)


@pytest.mark.parametrize(
    ("user_agent", "browser", "os", "device_type"),
    [
        (CHROME_MAC, "Chrome", "Mac OS X", DeviceType.DESKTOP),
        (IPHONE, "Mobile Safari", "iOS", DeviceType.MOBILE),
        (
            "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
            "Mobile Safari",
            "iOS",
            DeviceType.TABLET,
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36",
            "Chrome Mobile",
            "Android",
            DeviceType.MOBILE,
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
            "Firefox",
            "Windows",
            DeviceType.DESKTOP,
        ),
        (
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Googlebot",
            None,
            DeviceType.BOT,
        ),
        ("node", None, None, DeviceType.OTHER),
    ],
)
def test_user_agents_are_classified(
    parser: DeviceParser,
    user_agent: str,
    browser: str | None,
    os: str | None,
    device_type: DeviceType,
) -> None:
    device = parser.parse(user_agent)
    assert (device.browser, device.os, device.device_type) == (browser, os, device_type)


def test_versions_are_kept(parser: DeviceParser) -> None:
    device = parser.parse(CHROME_MAC)
    assert device.browser_version == "120.0.0" and device.os_version == "10.15.7"


def test_missing_user_agent_is_unknown(parser: DeviceParser) -> None:
    assert parser.parse(None).device_type is DeviceType.OTHER
    assert parser.parse("").browser is None


def test_hostile_user_agents_are_cut_and_the_cache_stays_bounded() -> None:
    parser = DeviceParser(default_resolver(), cache_size=32)
    rng = random.Random(7)
    for _ in range(200):
        noise = "".join(rng.choices(string.printable, k=rng.randint(1, 5000)))
        parser.parse("Mozilla/5.0 (" + noise)
    info = parser.cache.cache_info()
    assert info.currsize <= 32 and info.misses == 200
    # Strings that differ only past the cut share one parse.
    head = "Mozilla/5.0 " + "x" * MAX_USER_AGENT_CHARS
    parser.parse(head + "tail-one")
    parser.parse(head + "tail-two")
    assert parser.cache.cache_info().hits == info.hits + 1
