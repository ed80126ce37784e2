"""The HTTP client webhooks go out through: aiohttp, resolving names only to addresses the
AddressPolicy permits (checked at connection time too, so a name that re-resolves to an inside
address between the check and the call is still refused), never following a redirect."""

from __future__ import annotations

import socket
from collections.abc import Mapping

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from models.evidence.webhooks import AddressPolicy, DeliveryError

# Of a receiver's answer only the status matters; read this much at most.
MAX_ANSWER_BYTES = 64 * 1024


class GuardedResolver(AbstractResolver):
    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            addresses = await self._policy.addresses(host, port)
        except DeliveryError as exc:
            raise OSError(str(exc)) from None
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None


class HttpTransport:
    """Posts deliveries; one connection pool for every endpoint of this node."""

    def __init__(self, policy: AddressPolicy, timeout_s: float) -> None:
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(policy), limit=50)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            auto_decompress=False,
        )

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        try:
            async with self._session.post(
                url, data=body, headers=dict(headers), allow_redirects=False
            ) as answer:
                await answer.content.read(MAX_ANSWER_BYTES)
                return answer.status
        except TimeoutError:
            raise DeliveryError("no answer in time") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(str(exc) or type(exc).__name__) from None

    async def close(self) -> None:
        await self._session.close()
