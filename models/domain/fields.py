"""What an id, a name or a time may be: the limits every edge checks against, defined once.

Each parser returns the value or raises ValueError with why, worded to follow the field's name
("breakoutId must be a string"); the socket edge turns that into an `invalid_payload` ack, the
HTTP edge into one entry of a 422's `errors`.
"""

from __future__ import annotations

import re
from datetime import datetime

MAX_ID_CHARS = 128
MAX_NAME_CHARS = 200
MAX_EMAIL_CHARS = 254
MAX_TIME_CHARS = 40

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


def is_token_id(value: object) -> bool:
    """A user or org id as a token may carry it (an id, or an email address)."""
    if not isinstance(value, str) or len(value) > MAX_ID_CHARS:
        return False
    return bool(_TOKEN_ID.fullmatch(value))


def parse_aware_time(value: object) -> datetime:
    """An ISO 8601 time with a zone (`2026-11-21T09:30:00Z`); a time without one is refused,
    since the server cannot guess where it was taken."""
    try:
        if not isinstance(value, str) or len(value) > MAX_TIME_CHARS:
            raise ValueError(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 time with a zone") from None
    if moment.tzinfo is None:
        raise ValueError("needs a time zone (Z or +hh:mm)")
    return moment
