"""User-Agent -> browser, OS and device type: ua-parser's Rust resolver, user-agents' rules."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum

import ua_parser
from ua_parser import Domain, Resolver, load_builtins
from user_agents.parsers import (
    UserAgent,
    parse_browser,
    parse_device,
    parse_operating_system,
)

# Longer strings are cut before parsing and caching: no real browser sends more, and a hostile
# client must not make us run the regex set over megabytes.
MAX_USER_AGENT_CHARS = 512


class DeviceType(StrEnum):
    DESKTOP = "desktop"
    MOBILE = "mobile"
    TABLET = "tablet"
    BOT = "bot"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Device:
    """What a client runs; None where the User-Agent does not say."""

    browser: str | None = None
    browser_version: str | None = None
    os: str | None = None
    os_version: str | None = None
    device_type: DeviceType = DeviceType.OTHER


UNKNOWN_DEVICE = Device()


class _ParsedUserAgent(UserAgent):  # type: ignore[misc]
    """user-agents' classification rules over a result the fast resolver produced.

    user-agents parses with ua-parser's pure-`re` legacy API (~0.6 ms a string); we keep its
    is_mobile/is_tablet/is_bot/is_pc rules and feed them the Rust resolver's result (~10 us).
    """

    def __init__(self, text: str, result: ua_parser.Result) -> None:
        agent = result.user_agent or ua_parser.UserAgent()
        system = result.os or ua_parser.OS()
        hardware = result.device or ua_parser.Device()
        self.ua_string = text
        self.browser = parse_browser(
            agent.family, agent.major, agent.minor, agent.patch, agent.patch_minor
        )
        self.os = parse_operating_system(
            system.family, system.major, system.minor, system.patch, system.patch_minor
        )
        self.device = parse_device(hardware.family, hardware.brand, hardware.model)


def _device_type(agent: _ParsedUserAgent) -> DeviceType:
    if agent.is_bot:
        return DeviceType.BOT
    if agent.is_tablet:
        return DeviceType.TABLET
    if agent.is_mobile:
        return DeviceType.MOBILE
    if agent.is_pc:
        return DeviceType.DESKTOP
    return DeviceType.OTHER


def _known(value: str | None) -> str | None:
    return None if not value or value == "Other" else value


def default_resolver() -> Resolver:
    """ua-parser's best resolver (ua-parser-rs when installed) over its bundled regexes."""
    return ua_parser.BestAvailableResolver(load_builtins())


class DeviceParser:
    """Parses User-Agent strings with a bounded cache keyed by the (cut) string."""

    def __init__(self, resolver: Resolver, cache_size: int) -> None:
        self._resolver = resolver
        self._parse_cached = functools.lru_cache(maxsize=cache_size)(self._parse)

    @property
    def cache(self) -> functools._lru_cache_wrapper[Device]:
        return self._parse_cached

    def parse(self, user_agent: str | None) -> Device:
        if not user_agent:
            return UNKNOWN_DEVICE
        return self._parse_cached(user_agent[:MAX_USER_AGENT_CHARS])

    def _parse(self, text: str) -> Device:
        result = self._resolver(text, Domain.ALL).complete()
        agent = _ParsedUserAgent(text, result)
        return Device(
            browser=_known(agent.browser.family),
            browser_version=agent.browser.version_string or None,
            os=_known(agent.os.family),
            os_version=agent.os.version_string or None,
            device_type=_device_type(agent),
        )
