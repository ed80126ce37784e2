"""A tiny City database in the MaxMind format, and the places the tests look up in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import netaddr
from mmdb_writer import MMDBWriter

# Public addresses the test City database knows; each maps to one place.
LONDON_IP = "81.2.69.160"


PARIS_IPV6 = "2a01:e0a:1:2::3"


LONDON = {
    "city": "London",
    "region": "England",
    "country_code": "GB",
    "latitude": 51.5142,
    "longitude": -0.0931,
}


PARIS = {
    "city": "Paris",
    "region": "Île-de-France",
    "country_code": "FR",
    "latitude": 48.8566,
    "longitude": 2.3522,
}


def _city_record(place: dict[str, Any], region_code: str) -> dict[str, Any]:
    return {
        "city": {"names": {"en": place["city"]}},
        "subdivisions": [{"iso_code": region_code, "names": {"en": place["region"]}}],
        "country": {"iso_code": place["country_code"], "names": {"en": place["country_code"]}},
        "location": {"latitude": place["latitude"], "longitude": place["longitude"]},
    }


def build_city_db(path: Path, database_type: str = "GeoLite2-City") -> Path:
    """A two-network City database in the MaxMind format, the shape GeoLite2 City has."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=database_type)
    writer.insert_network(netaddr.IPSet(["81.2.69.0/24"]), _city_record(LONDON, "ENG"))
    writer.insert_network(netaddr.IPSet(["2a01:e0a::/32"]), _city_record(PARIS, "IDF"))
    writer.to_db_file(str(path))
    return path
