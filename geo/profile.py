"""One client's enrichment: its real address, where that is, and what it runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from config import IpNetwork
from geo.client_ip import IpAddress, client_ip
from geo.device import MAX_USER_AGENT_CHARS, Device, DeviceParser
from geo.location import Location, Locator


@dataclass(frozen=True, slots=True)
class ClientProfile:
    ip: IpAddress | None
    location: Location
    device: Device
    user_agent: str | None


class Enricher:
    """Pure enrichment over injected readers; everything it returns is cached per IP or UA."""

    def __init__(
        self, locator: Locator, device_parser: DeviceParser, trusted_proxies: Sequence[IpNetwork]
    ) -> None:
        self._locator = locator
        self._device_parser = device_parser
        self._trusted_proxies = tuple(trusted_proxies)

    def describe(
        self, peer: str | None, forwarded_for: str | None, user_agent: str | None
    ) -> ClientProfile:
        address = client_ip(peer, forwarded_for, self._trusted_proxies)
        return ClientProfile(
            ip=address,
            location=self._locator.locate(address),
            device=self._device_parser.parse(user_agent),
            user_agent=user_agent[:MAX_USER_AGENT_CHARS] if user_agent else None,
        )
