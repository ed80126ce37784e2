from __future__ import annotations

import ipaddress

from models.domain.rates import AddressLimiter, EventLimiter, TokenBucket, Verdict


def test_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate_per_s=2, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.5) is True  # one token back after half a second at 2/s
    assert bucket.take(0.5) is False


def test_event_limiter_refuses_then_disconnects_a_flood_but_forgives_a_pause() -> None:
    limiter = EventLimiter(rate_per_s=1, burst=1, disconnect_after=3, now=0.0)
    assert limiter.check(0.0) is Verdict.ALLOW
    assert [limiter.check(0.0) for _ in range(2)] == [Verdict.REFUSE, Verdict.REFUSE]
    assert limiter.check(1.5) is Verdict.ALLOW  # slowed down: the count starts again
    assert [limiter.check(1.5) for _ in range(3)] == [
        Verdict.REFUSE,
        Verdict.REFUSE,
        Verdict.DISCONNECT,
    ]


def test_address_limiter_is_per_address_exempts_networks_and_stays_bounded() -> None:
    limiter = AddressLimiter(
        rate_per_s=0.001, burst=1, exempt=(ipaddress.ip_network("10.0.0.0/8"),), max_tracked=3
    )
    one, two = ipaddress.ip_address("81.2.69.1"), ipaddress.ip_address("81.2.69.2")
    assert limiter.allow(one, 0.0) and not limiter.allow(one, 0.0)
    assert limiter.allow(two, 0.0)
    assert all(limiter.allow(ipaddress.ip_address("10.1.2.3"), 0.0) for _ in range(10))
    assert limiter.allow(None, 0.0)
    for n in range(10):
        limiter.allow(ipaddress.ip_address(f"81.2.70.{n}"), 0.0)
    assert limiter.tracked == 3
