"""What a connecting client is, from its aiohttp request: address, place, device."""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from config import IpStorage
from geo import ClientProfile, Enricher
from models.domain.privacy import stored_ip
from models.domain.records import ClientInfo


def client_info(profile: ClientProfile, ip_storage: IpStorage) -> ClientInfo:
    """The profile as stored: the address cut per IP_STORAGE before it is written anywhere."""
    # Location's and Device's fields are named as ClientInfo's.
    device = asdict(profile.device) | {"device_type": profile.device.device_type.value}
    return ClientInfo(
        ip=stored_ip(profile.ip, ip_storage),
        user_agent=profile.user_agent,
        **asdict(profile.location),
        **device,
    )


def request_profile(request: web.BaseRequest, enricher: Enricher) -> ClientProfile:
    # request.remote is the TCP peer; python-engineio's environ REMOTE_ADDR is always 127.0.0.1.
    return enricher.describe(
        request.remote,
        request.headers.get("X-Forwarded-For"),
        request.headers.get("User-Agent"),
    )
