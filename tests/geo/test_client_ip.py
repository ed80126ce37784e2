from __future__ import annotations

import ipaddress

import pytest

from geo import client_ip, parse_ip

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
PROXIES = (ipaddress.ip_network("10.0.0.0/8"),)


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def test_peer_without_header_is_the_client() -> None:
    assert client_ip("203.0.113.9", None, LOOPBACK) == ip("203.0.113.9")


def test_header_from_an_untrusted_peer_is_ignored() -> None:
    # A client connecting directly cannot choose its address by sending the header.
    assert client_ip("198.51.100.7", "81.2.69.160", LOOPBACK) == ip("198.51.100.7")


def test_trusted_proxy_hands_over_the_client_address() -> None:
    assert client_ip("127.0.0.1", "81.2.69.160", LOOPBACK) == ip("81.2.69.160")


def test_only_hops_added_by_trusted_proxies_are_believed() -> None:
    # client spoofs "1.1.1.1", the edge proxy (10.0.0.2) appends the real peer 81.2.69.160.
    chain = "1.1.1.1, 81.2.69.160, 10.0.0.2"
    assert client_ip("10.0.0.1", chain, PROXIES) == ip("81.2.69.160")


def test_garbage_hop_stops_the_walk_at_the_last_trusted_address() -> None:
    assert client_ip("10.0.0.1", "81.2.69.160, nonsense", PROXIES) == ip("10.0.0.1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("81.2.69.160:5555", "81.2.69.160"),
        ("[2a01:e0a::1]:443", "2a01:e0a::1"),
        ("2a01:e0a::1", "2a01:e0a::1"),
        ("::ffff:81.2.69.160", "81.2.69.160"),
        (" 81.2.69.160 ", "81.2.69.160"),
    ],
)
def test_addresses_in_their_usual_spellings(text: str, expected: str) -> None:
    assert parse_ip(text) == ip(expected)


@pytest.mark.parametrize("text", [None, "", "unknown", "999.1.1.1", "1.2.3.4.5", "[zz::1]:80"])
def test_unparseable_addresses_are_none(text: str | None) -> None:
    assert parse_ip(text) is None
