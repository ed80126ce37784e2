"""Domain errors: each has a stable `code` that the edges turn into an ack or a problem body."""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """A refusal the client can understand; the message is safe to show to it."""

    code: ClassVar[str] = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidPayload(DomainError):
    code = "invalid_payload"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class NotJoined(DomainError):
    code = "not_joined"


class RateLimited(DomainError):
    code = "rate_limited"


class RequestTimeout(DomainError):
    """The client did not send its request in time (HTTP 408)."""

    code = "request_timeout"


class Unavailable(DomainError):
    code = "unavailable"


class ValidationFailed(DomainError):
    """Fields of a request body that cannot be taken, each with why (HTTP 422)."""

    code = "validation_failed"

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {why}" for field, why in errors.items()))
        self.errors = errors


class Conflict(DomainError):
    """The request contradicts what is stored (HTTP 409)."""

    code = "conflict"


class AlreadyCheckedIn(Conflict):
    code = "already_checked_in"


class NotCheckedIn(Conflict):
    code = "not_checked_in"
