"""Rate limits as token buckets: events per socket, connections per client address."""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from collections.abc import Sequence
from enum import Enum

from config import IpNetwork


class TokenBucket:
    """`burst` tokens at most, refilled at `rate_per_s`; each allowed action takes one."""

    __slots__ = ("_burst", "_rate_per_s", "_stamp", "_tokens")

    def __init__(self, rate_per_s: float, burst: int, now: float) -> None:
        self._rate_per_s = rate_per_s
        self._burst = float(burst)
        self._tokens = float(burst)
        self._stamp = now

    def take(self, now: float) -> bool:
        elapsed = max(0.0, now - self._stamp)
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate_per_s)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class Verdict(Enum):
    ALLOW = "allow"
    REFUSE = "refuse"
    DISCONNECT = "disconnect"


class EventLimiter:
    """One socket's events: refused past the bucket, disconnected when refusals keep coming.

    A client that slows down after a refusal is never disconnected: the count of refusals in a
    row starts again at its next allowed event.
    """

    __slots__ = ("_bucket", "_disconnect_after", "_refused_in_a_row")

    def __init__(self, rate_per_s: float, burst: int, disconnect_after: int, now: float) -> None:
        self._bucket = TokenBucket(rate_per_s, burst, now)
        self._disconnect_after = disconnect_after
        self._refused_in_a_row = 0

    def check(self, now: float) -> Verdict:
        if self._bucket.take(now):
            self._refused_in_a_row = 0
            return Verdict.ALLOW
        self._refused_in_a_row += 1
        if self._refused_in_a_row >= self._disconnect_after:
            return Verdict.DISCONNECT
        return Verdict.REFUSE


class AddressLimiter:
    """Connections per client address, with exempt networks and a bounded number of buckets.

    Past `max_tracked` addresses the least recently seen bucket is dropped; an attacker with that
    many addresses gains at most one fresh burst per dropped address.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        exempt: Sequence[IpNetwork],
        max_tracked: int = 100_000,
    ) -> None:
        self._rate_per_s = rate_per_s
        self._burst = burst
        self._exempt = tuple(exempt)
        self._max_tracked = max_tracked
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def allow(
        self, address: ipaddress.IPv4Address | ipaddress.IPv6Address | None, now: float
    ) -> bool:
        if address is None or any(
            address.version == net.version and address in net for net in self._exempt
        ):
            return True
        key = str(address)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self._rate_per_s, self._burst, now)
            if len(self._buckets) > self._max_tracked:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.take(now)

    @property
    def tracked(self) -> int:
        return len(self._buckets)
