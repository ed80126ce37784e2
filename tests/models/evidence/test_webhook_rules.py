"""The webhook rules that need no server: the signature, the backoff, which addresses and URLs
are refused."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from models.domain.errors import ValidationFailed
from models.evidence.webhooks import AddressPolicy, checked_url, retry_at, signature

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def test_the_signature_is_an_hmac_of_the_timestamp_and_the_raw_body() -> None:
    body = b'{"id":"e1"}'
    header = signature("s3cret-s3cret-s3cret", 1_700_000_000, body)
    expected = hmac.new(b"s3cret-s3cret-s3cret", b"1700000000." + body, hashlib.sha256)
    assert header == f"t=1700000000,v1={expected.hexdigest()}"
    assert header != signature("s3cret-s3cret-s3cret", 1_700_000_000, body + b" ")


def test_retries_double_from_the_base_and_are_at_most_an_hour_apart() -> None:
    waits = [(retry_at(n, NOW, 10) - NOW).total_seconds() for n in range(1, 12)]
    for attempt, wait in enumerate(waits, start=1):
        expected = min(10 * 2 ** (attempt - 1), 3600)
        assert 0.8 * expected <= wait <= 1.2 * expected
    assert max(waits) <= 1.2 * timedelta(hours=1).total_seconds()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address refused, not bound
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
        "255.255.255.255",
    ],
)
def test_addresses_inside_are_refused_unless_a_network_is_allowed(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert not AddressPolicy().permits(ip)
    # An IPv4 address mapped into IPv6 is judged as the IPv4 address it is.
    inner = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
    assert AddressPolicy((ipaddress.ip_network(inner),)).permits(ip)


def test_public_addresses_are_permitted() -> None:
    for address in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"):
        assert AddressPolicy().permits(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/",
        "http://",
        "http://u:p@example.org/",
        "http://example.org/#x",
        "https://example.org:0x50/",
        "http://exa mple.org/",
        42,
        "h" * 3000,
        "javascript:alert(1)",
    ],
)
def test_only_plain_http_urls_with_a_host_are_taken(url: object) -> None:
    with pytest.raises(ValidationFailed):
        checked_url(url)


def test_a_good_url_gives_its_host_and_port() -> None:
    assert checked_url("https://hooks.example.org/in") == (
        "https://hooks.example.org/in",
        "hooks.example.org",
        443,
    )
    assert checked_url("http://[2001:db8::1]:8080/x")[1:] == ("2001:db8::1", 8080)
