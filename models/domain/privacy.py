"""What of a client's address may be written, per the IP_STORAGE setting."""

from __future__ import annotations

import ipaddress

from config import IpStorage

_TRUNCATED_PREFIX = {4: 24, 6: 48}


def stored_ip(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None, storage: IpStorage
) -> str | None:
    """The address as it may be stored: whole, cut to its /24 or /48 network, or not at all."""
    if address is None or storage is IpStorage.NONE:
        return None
    if storage is IpStorage.FULL:
        return str(address)
    network = ipaddress.ip_network(f"{address}/{_TRUNCATED_PREFIX[address.version]}", strict=False)
    return str(network.network_address)
