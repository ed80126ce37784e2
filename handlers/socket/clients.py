"""What a connecting client is, from its aiohttp request: address, place, device."""

from __future__ import annotations

from aiohttp import web

from config import IpStorage
from geo import ClientProfile, Enricher
from models.domain.privacy import stored_ip
from models.domain.records import ClientInfo


def client_info(profile: ClientProfile, ip_storage: IpStorage) -> ClientInfo:
    """The profile as stored: the address cut per IP_STORAGE before it is written anywhere."""
    location, device = profile.location, profile.device
    return ClientInfo(
        ip=stored_ip(profile.ip, ip_storage),
        city=location.city,
        region=location.region,
        country_code=location.country_code,
        latitude=location.latitude,
        longitude=location.longitude,
        browser=device.browser,
        browser_version=device.browser_version,
        os=device.os,
        os_version=device.os_version,
        device_type=device.device_type.value,
        user_agent=profile.user_agent,
    )


def request_profile(request: web.BaseRequest, enricher: Enricher) -> ClientProfile:
    # request.remote is the TCP peer; python-engineio's environ REMOTE_ADDR is always 127.0.0.1.
    return enricher.describe(
        request.remote,
        request.headers.get("X-Forwarded-For"),
        request.headers.get("User-Agent"),
    )
