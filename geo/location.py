"""IP address -> city, region, country and coordinates from a MaxMind-format City database."""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass
from pathlib import Path

import geoip2.database
import geoip2.errors

from geo.client_ip import IpAddress

DEFAULT_CITY_DB_PACKAGE = "_maxminddb_geolite2"
DEFAULT_CITY_DB_FILE = "GeoLite2-City.mmdb"


@dataclass(frozen=True, slots=True)
class Location:
    """Where an address is; every field None when the database does not know."""

    city: str | None = None
    region: str | None = None
    country_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None


UNKNOWN_LOCATION = Location()


def default_city_db() -> Path:
    """The GeoLite2 City file shipped by the maxminddb-geolite2 package (old but real)."""
    return Path(str(importlib.resources.files(DEFAULT_CITY_DB_PACKAGE) / DEFAULT_CITY_DB_FILE))


def open_city_reader(path: Path | None) -> geoip2.database.Reader:
    """Open a City database, refusing other kinds (a Country file would fail on every lookup)."""
    reader = geoip2.database.Reader(str(path or default_city_db()))
    database_type = reader.metadata().database_type
    if "City" not in database_type:
        reader.close()
        raise ValueError(f"{path} is a {database_type} database; a City database is needed")
    return reader


class Locator:
    """Looks addresses up with a bounded cache; private and unknown addresses give nulls."""

    def __init__(self, reader: geoip2.database.Reader, cache_size: int) -> None:
        self._reader = reader
        self.locate = functools.lru_cache(maxsize=cache_size)(self._lookup)

    def _lookup(self, address: IpAddress | None) -> Location:
        if address is None or not address.is_global:
            return UNKNOWN_LOCATION
        try:
            found = self._reader.city(address)
        except geoip2.errors.AddressNotFoundError:
            return UNKNOWN_LOCATION
        region = found.subdivisions.most_specific
        return Location(
            city=found.city.name,
            region=region.name,
            country_code=found.country.iso_code,
            latitude=found.location.latitude,
            longitude=found.location.longitude,
        )
