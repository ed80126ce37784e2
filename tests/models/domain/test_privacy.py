from __future__ import annotations

import ipaddress

import pytest

from config import IpStorage
from models.domain.privacy import stored_ip


@pytest.mark.parametrize(
    ("address", "storage", "expected"),
    [
        ("81.2.69.160", IpStorage.FULL, "81.2.69.160"),
        ("81.2.69.160", IpStorage.TRUNCATED, "81.2.69.0"),
        ("81.2.69.160", IpStorage.NONE, None),
        ("2a01:e0a:1:2::3", IpStorage.TRUNCATED, "2a01:e0a:1::"),
        ("2a01:e0a:1:2::3", IpStorage.FULL, "2a01:e0a:1:2::3"),
    ],
)
def test_ip_is_stored_as_the_setting_allows(
    address: str, storage: IpStorage, expected: str | None
) -> None:
    assert stored_ip(ipaddress.ip_address(address), storage) == expected


def test_no_address_stores_nothing() -> None:
    assert stored_ip(None, IpStorage.FULL) is None
