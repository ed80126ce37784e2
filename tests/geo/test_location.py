from __future__ import annotations

from pathlib import Path

import pytest

from geo import Locator, default_city_db, open_city_reader, parse_ip
from tests.support.geo import LONDON, LONDON_IP, PARIS, PARIS_IPV6, build_city_db


@pytest.fixture
def locator(city_db: Path) -> Locator:
    return Locator(open_city_reader(city_db), cache_size=100)


def test_public_ipv4_is_located(locator: Locator) -> None:
    found = locator.locate(parse_ip(LONDON_IP))
    assert found.city == LONDON["city"] and found.region == LONDON["region"]
    assert found.country_code == "GB"
    assert (found.latitude, found.longitude) == (LONDON["latitude"], LONDON["longitude"])


def test_public_ipv6_is_located(locator: Locator) -> None:
    found = locator.locate(parse_ip(PARIS_IPV6))
    assert (found.city, found.region, found.country_code) == (
        PARIS["city"],
        PARIS["region"],
        "FR",
    )


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.4", "::1", "fe80::1"])
def test_private_and_loopback_addresses_give_nulls(locator: Locator, address: str) -> None:
    found = locator.locate(parse_ip(address))
    assert (found.city, found.country_code, found.latitude) == (None, None, None)


def test_unknown_public_address_gives_nulls(locator: Locator) -> None:
    assert locator.locate(parse_ip("8.8.8.8")).country_code is None


def test_no_address_gives_nulls(locator: Locator) -> None:
    assert locator.locate(None).city is None


def test_lookups_are_cached(locator: Locator) -> None:
    address = parse_ip(LONDON_IP)
    locator.locate(address)
    locator.locate(address)
    assert locator.locate.cache_info().hits >= 1


def test_a_country_database_is_refused(tmp_path: Path) -> None:
    country_db = build_city_db(tmp_path / "country.mmdb", database_type="GeoLite2-Country")
    with pytest.raises(ValueError, match="City database is needed"):
        open_city_reader(country_db)


def test_the_shipped_default_database_is_a_real_city_database() -> None:
    locator = Locator(open_city_reader(None), cache_size=10)
    assert default_city_db().exists()
    # A long-stable allocation (BT, London) present in every GeoLite2 City edition.
    assert locator.locate(parse_ip(LONDON_IP)).country_code == "GB"
