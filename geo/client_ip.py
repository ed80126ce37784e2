"""Which address a request really came from, believing X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from config import IpNetwork

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(text: str | None) -> IpAddress | None:
    """An address from a peer string or a forwarded hop (`[v6]:port`, `v4:port`), else None."""
    if not text:
        return None
    candidate = text.strip()
    if candidate.startswith("["):
        candidate = candidate[1:].split("]", 1)[0]
    elif candidate.count(":") == 1:
        candidate = candidate.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_trusted(address: IpAddress, trusted: Sequence[IpNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def client_ip(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[IpNetwork]
) -> IpAddress | None:
    """The client address: walk X-Forwarded-For from the right while each hop is a trusted proxy.

    Hops added by the client itself (left of the first untrusted one) are never believed, so a
    client connecting directly cannot choose its address by sending the header.
    """
    address = parse_ip(peer)
    if address is None or not forwarded_for:
        return address
    for hop in reversed(forwarded_for.split(",")):
        if not is_trusted(address, trusted):
            break
        forwarded = parse_ip(hop)
        if forwarded is None:
            break
        address = forwarded
    return address
