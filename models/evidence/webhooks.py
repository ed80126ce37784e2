"""Webhooks (README "Webhooks"): an org's admins register endpoints for events; every node sends
due deliveries from the durable outbox, each signed (HMAC-SHA256 over a timestamp and the raw
body) and carrying its event's id as an idempotency key, retried with exponential backoff for a
day. Only http(s) URLs whose every address is outside the server's own networks (unless a
setting allows a network) are ever called.

The HTTP client is the edge's (a Transport); what an event's body holds is the edge's too (a
Renderer): this module decides when, where, how signed and how often."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import asyncpg

from models.domain.access import require_role
from models.domain.errors import NotFound, ValidationFailed
from models.domain.fields import iso_ms
from models.domain.records import Identity, Role, now_ms
from models.store.database import Connection
from models.store.webhooks import (
    Delivery,
    Endpoint,
    Leased,
    delete_endpoint,
    endpoint_exists,
    fetch_endpoints,
    fetch_log,
    insert_endpoint,
    lease_due,
    postpone,
    record_attempt,
    set_body,
)

logger = logging.getLogger(__name__)

EVENTS = ("breakout.ended", "attendance.corrected")
MAX_URL_CHARS = 2048
MIN_SECRET_CHARS = 16
MAX_SECRET_CHARS = 256
MAX_BACKOFF = timedelta(hours=1)
# A breakout's report waits this long at most for its last sessions to close on every node.
SETTLE_MAX = timedelta(seconds=60)
SETTLE_STEP = timedelta(seconds=1)
LEASED_PER_ROUND = 20
SIGNATURE_HEADER = "Attendance-Signature"
ADMINS = frozenset({Role.ADMIN})
MANAGE = "manage webhooks"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class DeliveryError(Exception):
    """An attempt that got no HTTP answer: refused, timed out, a forbidden address."""


class Transport(Protocol):
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POSTs `body` (no redirects followed) and answers the HTTP status, or raises
        DeliveryError."""


# The data of an event's body, from its subject; None when it is not ready yet (and `must`
# is False: past the wait, it renders what there is).
Renderer = Callable[[Leased, bool], Awaitable[dict[str, Any] | None]]


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `Attendance-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
    "<t>.<body>" keyed with the endpoint's secret>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def retry_at(attempts: int, now: datetime, base_s: float) -> datetime:
    """When attempt `attempts + 1` goes: `base_s` doubling each time, at most an hour apart,
    give or take a fifth (so receivers that failed together are not retried together)."""
    wait = min(timedelta(seconds=base_s * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)
    return now + wait * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not secrecy


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses a webhook may reach: public ones, and those of `allowed` networks."""

    allowed: tuple[Network, ...] = ()

    def permits(self, address: Address) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed):
            return True
        return address.is_global and not address.is_multicast

    async def addresses(self, host: str, port: int) -> list[str]:
        """Every address `host` resolves to, when each is permitted; DeliveryError otherwise
        (one bad answer among good ones is a rebinding trick, not a detail)."""
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            found = [literal]
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
            except OSError as exc:
                raise DeliveryError(f"{host} does not resolve: {exc.strerror or exc}") from None
            found = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not found:
            raise DeliveryError(f"{host} resolves to no address")
        refused = [str(a) for a in found if not self.permits(a)]
        if refused:
            raise DeliveryError(
                f"{host} resolves to {', '.join(refused)}, inside the server's own networks "
                "(WEBHOOK_ALLOW_NETWORKS allows one)"
            )
        return [str(address) for address in found]


def checked_url(url: object) -> tuple[str, str, int]:
    """An http(s) URL with a host and no credentials: the URL, its host and port."""
    if not isinstance(url, str) or not 1 <= len(url) <= MAX_URL_CHARS:
        raise ValidationFailed({"url": f"must be a URL of at most {MAX_URL_CHARS} characters"})
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise ValidationFailed({"url": "has a bad port"}) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed({"url": "must be an http or https URL with a host"})
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise ValidationFailed({"url": "must not hold credentials or a fragment"})
    if any(ord(char) < 33 for char in url):
        raise ValidationFailed({"url": "must not hold spaces or control characters"})
    return url, parts.hostname, port or (443 if parts.scheme == "https" else 80)


class Webhooks:
    """The org's endpoints, behind the admin role; and their delivery logs."""

    def __init__(self, pool: asyncpg.Pool, policy: AddressPolicy) -> None:
        self._pool = pool
        self._policy = policy

    async def register(
        self, identity: Identity, url: object, events: Sequence[str], secret: str | None
    ) -> tuple[Endpoint, str]:
        """A new endpoint and its secret (made here unless given: shown this once)."""
        require_role(identity, ADMINS, MANAGE)
        checked, host, port = checked_url(url)
        try:
            await self._policy.addresses(host, port)
        except DeliveryError as exc:
            raise ValidationFailed({"url": str(exc)}) from None
        secret = secret or secrets.token_urlsafe(32)
        async with self._pool.acquire() as connection:
            made = await insert_endpoint(
                connection, identity.org_id, checked, secret, sorted(set(events)), identity.user_id
            )
        return made, secret

    async def endpoints(self, identity: Identity, after: int, limit: int) -> list[Endpoint]:
        require_role(identity, ADMINS, MANAGE)
        async with self._pool.acquire() as connection:
            return await fetch_endpoints(connection, identity.org_id, after, limit)

    async def delete(self, identity: Identity, endpoint_id: int) -> None:
        """Nothing more goes to it; what was pending is given up (and logged so)."""
        require_role(identity, ADMINS, MANAGE)
        async with self._pool.acquire() as connection, connection.transaction():
            await self._require_endpoint(connection, identity, endpoint_id)
            await delete_endpoint(connection, identity.org_id, endpoint_id, now_ms())

    async def log(
        self, identity: Identity, endpoint_id: int, after: int, limit: int
    ) -> list[Delivery]:
        require_role(identity, ADMINS, MANAGE)
        async with self._pool.acquire() as connection:
            await self._require_endpoint(connection, identity, endpoint_id)
            return await fetch_log(connection, endpoint_id, after, limit)

    @staticmethod
    async def _require_endpoint(
        connection: Connection, identity: Identity, endpoint_id: int
    ) -> None:
        if not await endpoint_exists(connection, identity.org_id, endpoint_id):
            raise NotFound(f"webhook {endpoint_id} does not exist")


class WebhookSender:
    """One round: lease what is due, send it, record how it went (a Loop runs the rounds)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        transport: Transport,
        render: Renderer,
        policy: AddressPolicy,
        *,
        timeout_s: float,
        retry_base_s: float,
        retry_for: timedelta,
    ) -> None:
        self._pool = pool
        self._transport = transport
        self._render = render
        self._policy = policy
        self._retry_base_s = retry_base_s
        self._retry_for = retry_for
        # Past its lease another node may send it: longer than any attempt lasts.
        self._lease_s = 2 * timeout_s + 30

    async def round(self) -> int:
        """Sends what is due now; how many attempts it made."""
        async with self._pool.acquire() as connection:
            leased = await lease_due(connection, LEASED_PER_ROUND, self._lease_s)
        outcomes = await asyncio.gather(*(self._deliver(one) for one in leased))
        return sum(outcomes)

    async def _deliver(self, leased: Leased) -> int:
        now = now_ms()
        body = leased.body
        if body is None:
            data = await self._render(leased, now - leased.occurred_at > SETTLE_MAX)
            if data is None:
                async with self._pool.acquire() as connection:
                    await postpone(connection, leased, now + SETTLE_STEP)
                return 0
            envelope = {
                "id": leased.event_id,
                "type": leased.event,
                "occurredAt": iso_ms(leased.occurred_at),
                "orgId": leased.org_id,
                "data": data,
            }
            rendered = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
            async with self._pool.acquire() as connection:
                body = await set_body(connection, leased.event_id, rendered)
        raw = body.encode()
        status, error = None, None
        try:
            _, host, port = checked_url(leased.url)
            await self._policy.addresses(host, port)
            status = await self._transport.post(leased.url, raw, self._headers(leased, raw))
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except DeliveryError as exc:
            error = str(exc)
        except ValidationFailed:
            error = "the endpoint's URL is no longer acceptable"
        at = now_ms()
        delivered = error is None
        next_at = None if delivered else retry_at(leased.attempts + 1, at, self._retry_base_s)
        give_up = next_at is not None and next_at - leased.occurred_at > self._retry_for
        if not delivered:
            logger.info("webhook %s to %s failed: %s", leased.event_id, leased.url, error)
        async with self._pool.acquire() as connection:
            await record_attempt(
                connection,
                leased,
                at=at,
                status=status,
                error=error,
                delivered=delivered,
                next_attempt_at=next_at,
                give_up=give_up,
            )
        return 1

    @staticmethod
    def _headers(leased: Leased, raw: bytes) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "User-Agent": "attendance-webhooks/1",
            "Attendance-Event": leased.event,
            "Idempotency-Key": leased.event_id,
            SIGNATURE_HEADER: signature(leased.secret, int(now_ms().timestamp()), raw),
        }
