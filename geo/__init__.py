"""Enrichment: client IP behind trusted proxies, IP geolocation, User-Agent parsing."""

from geo.client_ip import IpAddress, client_ip, parse_ip
from geo.device import Device, DeviceParser, DeviceType, default_resolver
from geo.location import Location, Locator, default_city_db, open_city_reader
from geo.profile import ClientProfile, Enricher

__all__ = [
    "ClientProfile",
    "Device",
    "DeviceParser",
    "DeviceType",
    "Enricher",
    "IpAddress",
    "Location",
    "Locator",
    "client_ip",
    "default_city_db",
    "default_resolver",
    "open_city_reader",
    "parse_ip",
]
