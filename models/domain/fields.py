"""What an id, a name or a time may be: the limits every edge checks against, defined once,
and how a time is written out.

Each parser returns the value or raises ValueError with why, worded to follow the field's name
("breakoutId must be a string"); the socket edge turns that into an `invalid_payload` ack, the
HTTP edge into one entry of a 422's `errors`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

MAX_ID_CHARS = 128
MAX_NAME_CHARS = 200
MAX_EMAIL_CHARS = 254
MAX_TIME_CHARS = 40

# Times and dates outside these are mistakes (or probes): nothing of ours happened before 1970,
# and far-future values overflow date arithmetic.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
# Control characters (tab and newline included) and lone surrogates: never part of a name, an
# email or a query parameter; PostgreSQL refuses NUL in text, and a surrogate cannot be encoded.
_UNCLEAN = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
# Ids of breakouts, schools, users and events: nothing to escape in a URL, a room name or a CSV.
_ID = re.compile(r"[A-Za-z0-9_.:-]+")
# A token's subject and org come from an identity provider, where an email address is common.
_TOKEN_ID = re.compile(r"[A-Za-z0-9_.:@-]+")


def parse_id(value: object) -> str:
    """An id of 1 to MAX_ID_CHARS letters, digits and `_ . : -`."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if not 1 <= len(value) <= MAX_ID_CHARS:
        raise ValueError(f"must be 1 to {MAX_ID_CHARS} characters")
    if not _ID.fullmatch(value):
        raise ValueError("may hold only letters, digits and _ . : -")
    return value


def is_clean(text: str) -> bool:
    """Text without control characters or lone surrogates."""
    return _UNCLEAN.search(text) is None


def parse_name(value: object, max_chars: int = MAX_NAME_CHARS) -> str:
    """A name (of a person, a breakout, a school): 1 to `max_chars` characters once trimmed,
    none of them a control character; returned trimmed."""
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= max_chars:
        raise ValueError(f"must be text of 1 to {max_chars} characters")
    if not is_clean(value):
        raise ValueError("must not hold control characters")
    return value.strip()


def parse_count(value: object, low: int, high: int) -> int:
    """A whole number written as ASCII digits (`²` is a digit to Python, not to us)."""
    text = str(value)
    if not (text.isascii() and text.isdigit()) or len(text) > 18 or not low <= int(text) <= high:
        raise ValueError(f"must be a whole number {low}-{high}")
    return int(text)


def is_token_id(value: object) -> bool:
    """A user or org id as a token may carry it (an id, or an email address)."""
    if not isinstance(value, str) or len(value) > MAX_ID_CHARS:
        return False
    return bool(_TOKEN_ID.fullmatch(value))


def parse_aware_time(value: object) -> datetime:
    """An ISO 8601 time with a zone (`2026-11-21T09:30:00Z`), from 1970 to 2200; a time
    without a zone is refused, since the server cannot guess where it was taken."""
    try:
        if not isinstance(value, str) or len(value) > MAX_TIME_CHARS:
            raise ValueError(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 time with a zone") from None
    if moment.tzinfo is None:
        raise ValueError("needs a time zone (Z or +hh:mm)")
    try:
        in_range = EARLIEST <= moment.astimezone(UTC) < LATEST
    except OverflowError:  # 0001-01-01T00:00+14:00 is before year 1 in UTC
        in_range = False
    if not in_range:
        raise ValueError(f"must be between {EARLIEST.year} and {LATEST.year}")
    return moment


def iso_ms(moment: datetime | None) -> str | None:
    """How every time is written out: ISO 8601 in UTC with milliseconds and a Z
    (2026-11-21T09:30:00.123Z)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_date(value: object) -> date:
    """A date, YYYY-MM-DD, from 1970 to 2200."""
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        raise ValueError("must be a date, YYYY-MM-DD") from None
    if not EARLIEST.date() <= day < LATEST.date():
        raise ValueError(f"must be between {EARLIEST.year} and {LATEST.year}")
    return day
